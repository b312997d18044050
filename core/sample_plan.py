"""The sample books' past plan: a rebalance applied four months before the book's as-of date.

A new user opens the Plan review page on the first day and finds a plan whose 30/60/90-day review is
complete. The book as generated is the book *after* that plan (its KPIs, potentials and alerts are
what they were before the plan was planted); ``plant_past_plan`` only writes the plan's history into
it:

* the *receiver* is the territory with the least potential that carries no other planted story and
  has a same-state neighbour; the *giver* is that neighbour with the most potential (state lines held);
* the moved accounts are the receiver's established accounts (not strategic, 15 months of revenue
  before the move and revenue in each of its last 3 months) nearest the giver's rep: a fifth of the
  receiver's book, 2 to 6 accounts;
* they are stamped moved on the effective date (``owned_since`` / ``last_moved_at``), their
  activities before it were the giver's rep's, and the one with the least revenue before the move has
  had no activity since (the story the "moved account without activity" alert catches).

``store_past_plan`` writes the plan into a database the book was imported into: a RebalancePlan
(applied, its stored result the optimizer's own before/after of that move computed as of the
effective date), its PlanMove rows, one AssignmentHistory row per move (source ``plan``) and the
audit events of its lifecycle. docs/review.md tells the southwest plan's story.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.book import Book, PastPlan
from core.db import session_scope
from core.models import Account, AssignmentHistory, AuditEvent, PlanMove, RebalancePlan, Territory
from core.months import add_months, month_start
from core.rebalance.result import RebalanceResult

PAST_PLAN_DAYS = 120  # the plan took effect this many days before the book's as-of date
HISTORY_BEFORE_MOVE_MONTHS = 15
MOVES_SHARE, MIN_MOVES, MAX_MOVES = 0.2, 2, 6


def plant_past_plan(
    reps: pd.DataFrame,
    accounts: pd.DataFrame,
    revenue: pd.DataFrame,
    activities: pd.DataFrame,
    *,
    as_of: date,
    prefix: str,
    story_territories: set[int],
) -> tuple[pd.DataFrame, pd.DataFrame, PastPlan | None]:
    """The book's accounts and activities with the past plan's history written in, and the plan.

    ``accounts`` carries ``_t`` (territory position); ``reps`` the territories in position order.
    """
    effective = as_of - timedelta(days=PAST_PLAN_DAYS)
    pair = _receiver_and_giver(reps, accounts, story_territories)
    if pair is None:
        return accounts, activities, None
    receiver, giver = reps.iloc[pair[0]], reps.iloc[pair[1]]
    moved = _moved_accounts(accounts, revenue, pair[0], giver, effective)
    if len(moved) < MIN_MOVES:
        return accounts, activities, None
    before = [
        d if d < effective else effective - timedelta(days=180) for d in accounts.loc[moved, "owned_since"]
    ]
    accounts = accounts.copy()
    accounts.loc[moved, "owned_since"] = effective
    accounts.loc[moved, "last_moved_at"] = effective
    ids = accounts.loc[moved, "account_id"]
    silent = _least_revenue(ids, revenue, effective)
    activities = _with_handover(activities, ids, silent, giver["rep_id"], effective)
    plan = PastPlan(
        name=f"Rebalance {receiver['territory_name']} from {giver['territory_name']}",
        effective_date=effective,
        moves=tuple((str(a), str(giver["territory_id"]), str(receiver["territory_id"])) for a in ids),
        owned_since_before=tuple(before),
        silent_account=silent,
        planner=f"revops@{prefix.lower()}.example.com",
        approver=f"sales.lead@{prefix.lower()}.example.com",
    )
    return accounts, activities, plan


def _receiver_and_giver(
    reps: pd.DataFrame, accounts: pd.DataFrame, story_territories: set[int]
) -> tuple[int, int] | None:
    potential = accounts.groupby("_t")["_target"].first()
    free = [t for t in range(len(reps)) if t not in story_territories and reps["territory_id"].iat[t]]
    for receiver in sorted(free, key=lambda t: (potential.get(t, 0.0), t)):
        peers = [t for t in free if t != receiver and reps["state"].iat[t] == reps["state"].iat[receiver]]
        if peers:
            return receiver, max(peers, key=lambda t: (potential.get(t, 0.0), -t))
    return None


def _moved_accounts(
    accounts: pd.DataFrame, revenue: pd.DataFrame, receiver: int, giver: pd.Series, effective: date
) -> pd.Index:
    """The receiver's established accounts nearest the giver's rep (index labels of ``accounts``)."""
    book = accounts[(accounts["_t"] == receiver) & ~accounts["strategic"].astype(bool)]
    cutoff = month_start(effective)
    months = pd.to_datetime(revenue["month"]).dt.date
    paying = revenue[(revenue["amount"] > 0) & (months < cutoff)]
    first = paying.groupby("account_id")["month"].min()
    recent = paying[pd.to_datetime(paying["month"]).dt.date >= add_months(cutoff, -3)]
    steady = recent.groupby("account_id")["month"].nunique() == 3
    established = first[first <= add_months(cutoff, -HISTORY_BEFORE_MOVE_MONTHS)].index
    eligible = book[book["account_id"].isin(established) & book["account_id"].isin(steady[steady].index)]
    distance = np.hypot(eligible["lat"] - giver["home_lat"], eligible["lon"] - giver["home_lon"])
    k = int(np.clip(round(MOVES_SHARE * (accounts["_t"] == receiver).sum()), MIN_MOVES, MAX_MOVES))
    return eligible.index[np.argsort(distance.to_numpy(), kind="stable")[:k]]


def _least_revenue(ids: pd.Series, revenue: pd.DataFrame, effective: date) -> str:
    months = pd.to_datetime(revenue["month"]).dt.date
    before = revenue[revenue["account_id"].isin(ids) & (months < month_start(effective))]
    totals = before.groupby("account_id")["amount"].sum().reindex(ids).fillna(0.0)
    return str(totals.sort_values(kind="stable").index[0])


def _with_handover(
    activities: pd.DataFrame, ids: pd.Series, silent: str, giver_rep: str, effective: date
) -> pd.DataFrame:
    """Activities before the move were the giver's rep's; the silent account has none since."""
    day = pd.to_datetime(activities["occurred_on"]).dt.date
    moved = activities["account_id"].isin(ids)
    activities = activities.loc[~((activities["account_id"] == silent) & (day >= effective))].copy()
    earlier = moved.loc[activities.index] & (day.loc[activities.index] < effective)
    activities.loc[earlier, "rep_id"] = giver_rep
    return activities.reset_index(drop=True)


# --- into the database ----------------------------------------------------------------------------


def store_past_plan(engine: Engine, book: Book) -> int | None:
    """Write the book's past plan (applied) into a database holding the book; returns its id.

    Does nothing (None) when the book has no past plan or the plan is already there (a reload).
    """
    past = book.past_plan
    if past is None:
        return None
    with session_scope(engine) as session:
        if session.execute(select(col(RebalancePlan.id)).where(col(RebalancePlan.name) == past.name)).first():
            return None
        result, scenario = _result(book, past)
        accounts = dict(session.execute(select(col(Account.external_id), col(Account.id))).all())
        territories = dict(session.execute(select(col(Territory.external_id), col(Territory.id))).all())
        at = _moments(past.effective_date)
        plan = RebalancePlan(
            name=past.name,
            status="applied",
            created_at=at["create"],
            created_by=past.planner,
            submitted_at=at["submit"],
            submitted_by=past.planner,
            approved_at=at["approve"],
            approved_by=past.approver,
            applied_at=at["apply"],
            applied_by=past.approver,
            effective_date=past.effective_date,
            quota_method="none",
            scenario=scenario,
            result=json.dumps(result.to_json_dict(), default=str),
            assignments_fingerprint="sample",
            solver_status=result.status,
            objective=result.objective,
            gap=result.gap,
            moves_count=len(result.moves),
        )
        session.add(plan)
        session.flush()
        assert plan.id is not None
        for move in result.moves:
            account, source = accounts[move.account], territories[move.from_territory]
            target = territories[move.to_territory]
            session.add(
                PlanMove(
                    plan_id=plan.id,
                    account_id=account,
                    from_territory_id=source,
                    to_territory_id=target,
                    reason=move.reason,
                    risks=",".join(move.risks),
                )
            )
            session.add(
                AssignmentHistory(
                    account_id=account,
                    from_territory_id=source,
                    to_territory_id=target,
                    changed_at=at["apply"],
                    effective_date=past.effective_date,
                    source="plan",
                    plan_id=plan.id,
                    actor=past.approver,
                    note=move.reason,
                )
            )
        for step, who in (("create", past.planner), ("submit", past.planner), ("approve", past.approver),
                          ("apply", past.approver)):  # fmt: skip
            what = f"{step} plan {plan.id} ({past.name}): {len(result.moves)} moves (sample book)"
            session.add(AuditEvent(at=at[step], actor=who, action=f"plan.{step}", what=what, source="cli",
                                   plan_id=plan.id))  # fmt: skip
        return plan.id


def _moments(effective: date) -> dict[str, datetime]:
    """Created a week before the effective date, submitted the next day, approved and applied after."""
    day = datetime.combine(effective, time(9), tzinfo=UTC)
    return {
        "create": day - timedelta(days=7),
        "submit": day - timedelta(days=6),
        "approve": day - timedelta(days=3),
        "apply": day - timedelta(days=3, hours=-1),
    }


def _result(book: Book, past: PastPlan) -> tuple[RebalanceResult, str]:
    """The optimizer's own result for the plan's moves, on the book as it stood on the effective date."""
    from core.rebalance.book import problem_from_book
    from core.rebalance.result import plan_of, plan_result
    from core.rebalance.scenario import Scenario, Scope

    moved = {account: source for account, source, _ in past.moves}
    before_since = dict(zip([a for a, _, _ in past.moves], past.owned_since_before, strict=True))
    accounts = book.accounts.assign(
        territory_id=book.accounts["account_id"].map(moved).fillna(book.accounts["territory_id"]),
        owned_since=book.accounts["account_id"].map(before_since).fillna(book.accounts["owned_since"]),
    )
    territories = sorted({t for _, s, r in past.moves for t in (s, r)})
    scenario = Scenario(
        name="targeted (sample)",
        description="Bring the receiver's potential up from its same-state neighbour, fewest moves.",
        scope=Scope(kind="territories", territories=territories),
    )
    deals = book.opportunities
    open_then = deals[
        (deals["created_on"] <= past.effective_date) & (deals["close_date"] > past.effective_date)
    ]
    before = Book(
        reps=book.reps,
        accounts=accounts,
        revenue=book.revenue,
        opportunities=open_then.assign(status="open"),
        as_of=past.effective_date,
    )
    problem = problem_from_book(before, scenario, as_of=past.effective_date)
    after = book.accounts.set_index("account_id")["territory_id"].astype(str)
    result = plan_result(plan_of(problem, after), status="OPTIMAL", objective=float(len(past.moves)), gap=0.0)
    return result, scenario.to_toml()
