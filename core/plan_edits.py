"""Move-by-move review of a plan before approval: reject a move, pin an account, re-solve around them.

A planner edits a draft (or a rejected plan): ``edit_plan`` rejects moves (the account stays, and
may not go to that territory again) and pins accounts to territories (the account ends there: a
manual move when it is not its own). ``resolve_plan`` runs the optimizer again with the plan's
stored scenario on today's book, the edits as hard rules (``Scenario.edits``: pins and forbidden
moves) within the scenario's same limits, and says what the edits cost in balance against the
unedited solve.

Every edit and re-solve is one plan revision: ``RebalancePlan.revision`` + 1 (a conditional
update on the status and the revision read, so two planners cannot overwrite each other), one
``PlanEdit`` row per edit (the record a later re-solve reads its rules from), the plan's moves
(``PlanMove`` rows and the result JSON) recomputed by the optimizer's own evaluation
(``core.rebalance.result.plan_result``), and an audit event, all in one transaction. The plan keeps
its fingerprint: it is edited against the book it was computed on, and refused when that changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from core.audit import record
from core.auth import actor_in, require
from core.config import get_settings
from core.db import session_scope
from core.format import number, solver_words
from core.models import Account, PlanEdit, PlanMove, RebalancePlan, Territory
from core.plans import PlanError, SavedPlan, _fingerprint, _refusal
from core.queries import load_book_tables
from core.rebalance import POINT, Problem, RebalanceResult, Scenario, build_problem, objective_value, solve
from core.rebalance.constraints import broken_rules
from core.rebalance.frames import problem_frames
from core.rebalance.result import TeamMetrics, plan_of, plan_result
from core.rebalance.scenario import EditRules
from core.rebalance.solve import objective_terms
from core.rebalance.validate import ScenarioError

EDITABLE = ("draft", "rejected")
EDITED = "EDITED"  # the solver status of a plan whose moves a planner changed since its solve


@dataclass(frozen=True)
class Edit:
    """One ``PlanEdit`` row read back, with external ids."""

    revision: int
    kind: str  # reject | pin | resolve
    account: str | None
    territory: str | None
    reason: str
    detail: dict[str, Any]
    actor: str
    at: datetime

    def describe(self) -> str:
        """What the edit did, in words: "reject SW-A001 -> SW-T002", "pin SW-A003 to SW-T001"."""
        if self.kind == "reject":
            return f"reject {self.account} -> {self.territory}"
        if self.kind == "pin":
            return f"pin {self.account} to {self.territory}"
        return f"re-solve: {self.detail.get('cost', '')}".rstrip(": ")


@dataclass(frozen=True)
class Balance:
    """The figures an edit's cost is told in: the team CV of potential after the plan, and its moves."""

    cv: float | None
    moves: int

    @classmethod
    def of(cls, team_after: TeamMetrics | None, moves: int) -> Balance:
        return cls(team_after.cv if team_after is not None else None, moves)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Balance:
        cv = data.get("cv")
        return cls(None if cv is None else float(cv), int(data.get("moves") or 0))

    def as_json(self) -> dict[str, object]:
        return {"cv": self.cv, "moves": self.moves}


def cost_sentence(unedited: Balance, edited: Balance) -> str:
    """What the edits cost: "CV 0.142 -> 0.151 (+0.009) against the unedited solve; 2 fewer moves"."""
    if unedited.cv is None or edited.cv is None:
        cv = f"CV {number(unedited.cv, 3)} -> {number(edited.cv, 3)}"
    else:
        cv = f"CV {number(unedited.cv, 3)} -> {number(edited.cv, 3)} ({edited.cv - unedited.cv:+.3f})"
    change = edited.moves - unedited.moves
    moves = (
        "as many moves"
        if change == 0
        else f"{abs(change)} {'fewer' if change < 0 else 'more'} move{'s' if abs(change) != 1 else ''}"
    )
    return f"{cv} against the unedited solve; {moves}"


@dataclass(frozen=True)
class EditOutcome:
    """A plan revision: its number, its moves, what the edits cost, and any rule the moves break."""

    plan_id: int
    revision: int
    moves: int
    cost: str
    # hard rules the edited moves break (a re-solve finds a plan that keeps them)
    broken: tuple[str, ...] = ()

    def describe(self) -> str:
        text = f"plan {self.plan_id} revision {self.revision}: {self.moves} moves; {self.cost}"
        if self.broken:
            text += (
                f". The edited moves break {len(self.broken)} rule(s), e.g. {self.broken[0]}; "
                "re-solve around your edits to get a plan that keeps them"
            )
        return text


# --- reading -------------------------------------------------------------------------------------


def plan_edits(engine: Engine, plan_id: int) -> list[Edit]:
    """The plan's edits, oldest first."""
    with session_scope(engine) as session:
        return _edits(session, plan_id)


def edit_rules(edits: Iterable[Edit], base: EditRules | None = None) -> EditRules:
    """The hard rules a plan's edits add up to (a later edit of the same account wins)."""
    pins = dict(base.pins) if base is not None else {}
    forbidden = list(base.forbidden) if base is not None else []
    for edit in edits:
        if edit.account is None or edit.territory is None:
            continue
        pair = (edit.account, edit.territory)
        if edit.kind == "pin":
            pins[edit.account] = edit.territory
            forbidden = [f for f in forbidden if tuple(f) != pair]
        elif edit.kind == "reject":
            if pins.get(edit.account) == edit.territory:
                del pins[edit.account]
            if pair not in forbidden:
                forbidden.append(pair)
    return EditRules(pins=pins, forbidden=forbidden)


def _edits(session: Session, plan_id: int) -> list[Edit]:
    accounts = _labels(session, Account)
    territories = _labels(session, Territory)
    rows = session.execute(
        select(PlanEdit).where(col(PlanEdit.plan_id) == plan_id).order_by(col(PlanEdit.id))
    ).scalars()
    return [
        Edit(
            revision=row.revision,
            kind=row.kind,
            account=accounts.get(row.account_id) if row.account_id is not None else None,
            territory=territories.get(row.territory_id) if row.territory_id is not None else None,
            reason=row.reason,
            detail=json.loads(row.detail or "{}"),
            actor=row.actor,
            at=row.at,
        )
        for row in rows
    ]


def _labels(session: Session, model: type[Account] | type[Territory]) -> dict[int, str]:
    return dict(session.execute(select(col(model.id), col(model.external_id))).tuples().all())


# --- editing -------------------------------------------------------------------------------------


def edit_plan(
    engine: Engine,
    plan_id: int,
    *,
    reject: Sequence[str] = (),
    pin: Mapping[str, str] | None = None,
    reason: str,
    actor: str,
    source: str = "cli",
    as_of: date | None = None,
) -> EditOutcome:
    """Reject moves of the plan (accounts, by external id) and pin accounts to territories, with a reason.

    A rejected account stays where it is and may not go to that territory in a re-solve; a pinned
    account ends in its territory (a manual move when that is not its own). The plan's moves and
    before/after figures are recomputed; nothing is written when anything is refused.
    """
    pin = dict(pin or {})
    if not reason or not reason.strip():
        raise PlanError("an edit needs a reason saying why (--reason TEXT)")
    if not reject and not pin:
        raise PlanError(
            "nothing to edit: reject a move (--reject ACCOUNT) or pin one (--pin ACCOUNT=TERRITORY)"
        )
    saved, edits = _editable(engine, plan_id, actor)
    moved = {m.account: m.to_territory for m in saved.moves}
    not_moved = sorted(set(reject) - set(moved))
    if not_moved:
        raise PlanError(
            f"plan {plan_id} does not move {', '.join(not_moved)}: only a move of the plan can be rejected"
        )
    new = [_pending("reject", a, moved[a], reason) for a in reject]
    new += [_pending("pin", a, t, reason) for a, t in pin.items()]
    problem = _problem(engine, saved, [*edits, *new], as_of=as_of)
    assignment = _today(problem)
    for move in saved.moves:
        assignment[move.account] = move.to_territory
    for account, territory in pin.items():
        assignment[account] = territory
    for account in reject:
        if pin.get(account) is None:
            assignment[account] = _today(problem)[account]
    plan = plan_of(problem, assignment)
    result = plan_result(
        plan, status=EDITED, objective=objective_value(plan) / POINT, objective_terms=objective_terms(plan)
    )
    broken = tuple(broken_rules(plan))
    return _store(engine, saved, edits, result, new, actor=actor, source=source, broken=broken)


def resolve_plan(
    engine: Engine,
    plan_id: int,
    *,
    actor: str,
    source: str = "cli",
    time_limit_s: float | None = None,
    as_of: date | None = None,
) -> EditOutcome:
    """Solve the plan's scenario again on today's book with its edits as hard rules (pins and
    manual moves kept, rejected moves forbidden, the same limits); the new solve's moves replace
    the plan's. Refused, with the solver's reason, when no plan keeps every rule."""
    saved, edits = _editable(engine, plan_id, actor)
    if not edits:
        raise PlanError(
            f"plan {plan_id} has no edits to re-solve around: reject a move or pin an account first"
        )
    problem = _problem(engine, saved, edits, as_of=as_of)
    result = solve(problem, time_limit_s=time_limit_s)
    if not result.has_plan:
        why = " ".join(result.explanation[:2]) or solver_words(result.status)
        raise PlanError(f"no plan keeps every rule and your edits: {why}")
    resolve = _pending("resolve", None, None, "re-solve around the edits")
    return _store(engine, saved, edits, result, [resolve], actor=actor, source=source)


def _pending(kind: str, account: str | None, territory: str | None, reason: str) -> Edit:
    """An edit about to be written (revision and time are set when it is)."""
    return Edit(0, kind, account, territory, reason, {}, "", datetime.min)


def _editable(engine: Engine, plan_id: int, actor: str) -> tuple[SavedPlan, list[Edit]]:
    """The plan (editable by this actor, on the book it was computed on) and its edits so far."""
    with session_scope(engine) as session:
        require(actor_in(session, actor), "plan.edit")
        plan = session.get(RebalancePlan, plan_id)
        if plan is None:
            raise PlanError(f"there is no plan {plan_id}")
        if plan.status not in EDITABLE:
            raise PlanError(
                f"plan {plan_id} is {plan.status}; only a draft (or a rejected plan) can be edited"
            )
        if _fingerprint(session) != plan.assignments_fingerprint:
            raise PlanError(
                f"plan {plan_id} was computed on assignments that have changed since: "
                "run the optimizer again on today's book instead of editing it"
            )
        return SavedPlan.from_record(plan), _edits(session, plan_id)


def _problem(engine: Engine, saved: SavedPlan, edits: Sequence[Edit], *, as_of: date | None) -> Problem:
    """The plan's scenario on today's book with the edits as hard rules; an unknown id is one line."""
    scenario = Scenario.from_toml(saved.scenario_toml)
    scenario = scenario.model_copy(update={"edits": edit_rules(edits, scenario.edits)})
    day = as_of or date.today()
    accounts, territories = problem_frames(
        load_book_tables(engine=engine), as_of=day, settings=get_settings()
    )
    try:
        return build_problem(accounts, territories, scenario, as_of=day, settings=get_settings())
    except ScenarioError as error:
        raise PlanError(str(error)) from None


def _today(problem: Problem) -> pd.Series:
    """Account external id -> its territory's external id today."""
    labels = problem.territories["external_id"].astype(str).to_numpy()
    return pd.Series(
        labels[problem.accounts["territory"].to_numpy()], index=problem.accounts["external_id"].astype(str)
    )


# --- writing -------------------------------------------------------------------------------------


def _store(
    engine: Engine,
    saved: SavedPlan,
    edits: Sequence[Edit],
    result: RebalanceResult,
    new: Sequence[Edit],
    *,
    actor: str,
    source: str,
    broken: tuple[str, ...] = (),
) -> EditOutcome:
    """The new revision: plan row (conditionally), moves, edit rows and audit event in one transaction."""
    unedited = _unedited(saved, edits)
    after = Balance.of(result.team_after, len(result.moves))
    cost = cost_sentence(unedited, after)
    payload = result.to_json_dict()
    payload["explanation"] = list(broken)
    with session_scope(engine) as session:
        who = actor_in(session, actor)
        require(who, "plan.edit")
        revision = _next_revision(session, saved, payload, result)
        accounts, territories = _ids(session, Account), _ids(session, Territory)
        session.execute(delete(PlanMove).where(col(PlanMove.plan_id) == saved.id))
        for move in result.moves:
            session.add(
                PlanMove(
                    plan_id=saved.id,
                    account_id=accounts[move.account],
                    from_territory_id=territories.get(move.from_territory),
                    to_territory_id=territories[move.to_territory],
                    reason=move.reason,
                    risks=",".join(move.risks),
                )
            )
        detail = {"unedited": unedited.as_json(), "after": after.as_json(), "cost": cost}
        for edit in new:
            session.add(
                PlanEdit(
                    plan_id=saved.id,
                    revision=revision,
                    kind=edit.kind,
                    account_id=accounts.get(edit.account) if edit.account else None,
                    territory_id=territories.get(edit.territory) if edit.territory else None,
                    reason=edit.reason,
                    detail=json.dumps(detail),
                    actor=who.email,
                )
            )
        what = "; ".join(_said(edit) for edit in new)
        record(
            session,
            who.email,
            "plan.edit",
            f"plan {saved.id} revision {revision}: {what}; {cost}",
            source,
            plan_id=saved.id,
        )
    return EditOutcome(saved.id, revision, len(result.moves), cost, broken)


def _said(edit: Edit) -> str:
    if edit.kind == "resolve":
        return "re-solved around the edits"
    return f"{edit.describe()} ({edit.reason})"


def _next_revision(
    session: Session, saved: SavedPlan, payload: dict[str, object], result: RebalanceResult
) -> int:
    """Bump the revision if the plan is still editable and still at the revision the edit was made on."""
    changed = session.execute(
        update(RebalancePlan)
        .where(col(RebalancePlan.id) == saved.id)
        .where(col(RebalancePlan.status).in_(EDITABLE))
        .where(col(RebalancePlan.revision) == saved.revision)
        .values(
            status="draft",
            revision=saved.revision + 1,
            result=json.dumps(payload, default=str),
            solver_status=result.status,
            objective=result.objective,
            gap=result.gap,
            moves_count=len(result.moves),
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        plan = session.get(RebalancePlan, saved.id)
        if plan is None:
            raise PlanError(f"there is no plan {saved.id}")
        session.refresh(plan)
        if plan.status not in EDITABLE:
            raise PlanError(_refusal(plan, "draft"))
        raise PlanError(
            f"plan {saved.id} was edited by someone else meanwhile "
            f"(now revision {plan.revision}): look at it again, then edit"
        )
    return saved.revision + 1


def _unedited(saved: SavedPlan, edits: Sequence[Edit]) -> Balance:
    """The unedited solve's figures: kept in every edit's detail, read off the plan before the first."""
    for edit in edits:
        if isinstance(edit.detail.get("unedited"), dict):
            return Balance.from_json(edit.detail["unedited"])
    return Balance.of(saved.team_after, len(saved.moves))


def _ids(session: Session, model: type[Account] | type[Territory]) -> dict[str, int]:
    return {
        external: id_
        for id_, external in session.execute(select(col(model.id), col(model.external_id))).tuples()
    }
