"""Rebalance plans: draft -> submitted -> approved | rejected -> [scheduled ->] applied | refused,
audited, exactly once.

A plan stores the scenario (TOML), the solver result (JSON) and a fingerprint of every account's
assignment when it was computed. ``get_plan`` reads a plan back as a ``SavedPlan``: its record and
the stored result typed (moves, territories before/after, team metrics), never a dict by key.

Applying is one transaction and is refused when any assignment changed since (the plan's
before/after numbers would no longer be true); it moves the accounts, stamps ``last_moved_at``
(the cooldown starts), writes one AssignmentHistory row per move and the quota that follows the
accounts (QuotaAdjustment rows, ``core.quota``). A plan applied for a later date is ``scheduled``;
``apply_due_plans`` applies it on that date, or refuses it if the book changed (docs/plans.md).
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from core.alerts.email import (
    PRODUCT,
    RenderedEmail,
    deliver_pending,
    one_line,
    plans_link,
    render_plan_applied,
    render_plan_submitted,
)
from core.audit import record
from core.auth import SYSTEM, Actor, actor_in, require
from core.config import get_settings
from core.db import session_scope
from core.format import day_label, money
from core.models import (
    Account,
    AssignmentHistory,
    Notification,
    PlanMove,
    Quota,
    QuotaAdjustment,
    RebalancePlan,
    Rep,
    Territory,
    User,
    utcnow,
)
from core.quota import DEFAULT_QUOTA_METHOD, QUOTA_METHODS, QuotaTransfer, adjustment_rows, quota_transfers
from core.rebalance.result import Move, TeamMetrics, TerritoryChange, metrics_from_json
from core.spreadsheet import safe_for_spreadsheet

if TYPE_CHECKING:
    from core.handoff import HandoffPack

log = logging.getLogger(__name__)


class PlanError(Exception):
    """A plan action that cannot be done, with the reason in words."""


@dataclass(frozen=True)
class PlanSummary:
    id: int
    name: str
    status: str
    created_at: str
    moves: int
    gap: float | None
    solver_status: str
    created_by: str | None = None
    approved_by: str | None = None
    applied_by: str | None = None
    rejected_by: str | None = None
    review_comment: str | None = None
    effective_date: str | None = None  # YYYY-MM-DD once scheduled or applied
    scheduled_by: str | None = None
    quota_method: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def status_words(self) -> str:
        return status_words(self.status, self.effective_date)


def status_words(status: str, effective_date: date | str | None) -> str:
    """A plan's status as a person reads it: "scheduled for 2026-12-01", "applied, effective ..."."""
    if status == "scheduled":
        return f"scheduled for {day_label(effective_date)}"
    if status == "applied" and effective_date:
        return f"applied, effective {day_label(effective_date)}"
    return status


@dataclass(frozen=True)
class SavedPlan:
    """A saved plan as read back: the plan's record and the solver result it stores, typed.

    ``moves``, ``territories`` and ``team_before`` / ``team_after`` are the result's own types
    (``core.rebalance.result``), equal to what was saved.
    """

    id: int
    name: str
    status: str  # draft | submitted | approved | rejected | scheduled | applied | refused | discarded
    created_at: datetime
    created_by: str | None
    submitted_at: datetime | None
    submitted_by: str | None
    rejected_at: datetime | None
    rejected_by: str | None
    review_comment: str | None
    approved_at: datetime | None
    approved_by: str | None
    applied_at: datetime | None
    applied_by: str | None
    effective_date: date | None
    scenario_toml: str
    solver_status: str
    objective: float | None
    gap: float | None
    moves: tuple[Move, ...]
    territories: tuple[TerritoryChange, ...]
    team_before: TeamMetrics | None
    team_after: TeamMetrics | None
    revision: int = 1  # +1 per move-by-move edit or re-solve (core.plan_edits)
    scheduled_at: datetime | None = None
    scheduled_by: str | None = None
    quota_method: str | None = None

    @property
    def status_words(self) -> str:
        return status_words(self.status, self.effective_date)

    @classmethod
    def from_record(cls, plan: RebalancePlan) -> SavedPlan:
        result = json.loads(plan.result or "{}")
        team = result.get("team") or {}
        before, after = team.get("before"), team.get("after")
        return cls(
            id=plan.id or 0,
            name=plan.name,
            status=plan.status,
            created_at=plan.created_at,
            created_by=plan.created_by,
            submitted_at=plan.submitted_at,
            submitted_by=plan.submitted_by,
            rejected_at=plan.rejected_at,
            rejected_by=plan.rejected_by,
            review_comment=plan.review_comment,
            approved_at=plan.approved_at,
            approved_by=plan.approved_by,
            applied_at=plan.applied_at,
            applied_by=plan.applied_by,
            effective_date=plan.effective_date,
            scenario_toml=plan.scenario,
            solver_status=plan.solver_status,
            objective=plan.objective,
            gap=plan.gap,
            moves=tuple(Move.from_json_dict(m) for m in result.get("moves") or ()),
            territories=tuple(TerritoryChange.from_json_dict(t) for t in result.get("territories") or ()),
            team_before=None if before is None else metrics_from_json(TeamMetrics, before),
            team_after=None if after is None else metrics_from_json(TeamMetrics, after),
            revision=plan.revision,
            scheduled_at=plan.scheduled_at,
            scheduled_by=plan.scheduled_by,
            quota_method=plan.quota_method,
        )


def assignments_fingerprint(engine: Engine) -> str:
    """A hash of every (account, territory) pair: changes when any account changes hands."""
    with Session(engine) as session:
        return _fingerprint(session)


def save_plan(
    engine: Engine,
    *,
    name: str,
    scenario_toml: str,
    result: dict,
    fingerprint: str,
    created_by: str | None = None,
    source: str = "cli",
) -> int:
    """Store a solver result as a draft plan. ``result`` is the solver's JSON dict (external ids).

    ``created_by`` is the planner saving it (None: a job acting as ``system``).
    """
    with session_scope(engine) as session:
        who = _actor(session, created_by or SYSTEM, "plan.create")
        accounts = _ids(session, Account)
        territories = _ids(session, Territory)
        plan = RebalancePlan(
            name=name,
            scenario=scenario_toml,
            result=json.dumps(result, default=str),
            assignments_fingerprint=fingerprint,
            created_by=who.email,
            solver_status=str(result.get("status", "")),
            objective=result.get("objective"),
            gap=result.get("gap"),
            moves_count=len(result.get("moves", [])),
        )
        session.add(plan)
        session.flush()
        if plan.id is None:
            raise RuntimeError("the database assigned no id to the new plan on flush")
        for move in result.get("moves", []):
            session.add(
                PlanMove(
                    plan_id=plan.id,
                    account_id=accounts[move["account"]],
                    from_territory_id=territories.get(move["from"]),
                    to_territory_id=territories[move["to"]],
                    reason=move.get("reason", ""),
                    risks=",".join(move.get("risks", [])),
                )
            )
        record(
            session,
            who.email,
            "plan.create",
            f"saved plan {plan.id} ({name}): {plan.moves_count} moves",
            source,
            plan_id=plan.id,
        )
        return plan.id


def _ids(session: Session, model: type[Account] | type[Territory]) -> dict[str, int]:
    rows = session.execute(select(col(model.id), col(model.external_id))).all()
    return {external: id_ for id_, external in rows}


def list_plans(engine: Engine) -> list[PlanSummary]:
    with session_scope(engine) as session:
        plans = session.execute(select(RebalancePlan).order_by(col(RebalancePlan.id).desc())).scalars().all()
        return [
            PlanSummary(
                p.id or 0,
                p.name,
                p.status,
                f"{p.created_at:%Y-%m-%d %H:%M}",
                p.moves_count,
                p.gap,
                p.solver_status,
                p.created_by,
                p.approved_by,
                p.applied_by,
                p.rejected_by,
                p.review_comment,
                None if p.effective_date is None else p.effective_date.isoformat(),
                p.scheduled_by,
                p.quota_method,
            )
            for p in plans
        ]


def get_plan(engine: Engine, plan_id: int) -> SavedPlan:
    """A saved plan, typed (the one way plans are read back)."""
    with session_scope(engine) as session:
        plan = session.get(RebalancePlan, plan_id)
        if plan is None:
            raise PlanError(f"there is no plan {plan_id}")
        return SavedPlan.from_record(plan)


# --- the workflow: draft -> submitted -> approved | rejected -> applied ----------------------------
# Each transition is one conditional UPDATE (... WHERE status IN expected) run first in the
# transaction that also writes its effects and its audit event: of any number of concurrent
# callers exactly one changes the row (SQLite serialises writers; PostgreSQL re-checks the WHERE
# after the row lock is released), and every other one finds the plan already moved on.
DONE_COLUMNS = {
    "submitted": ("submitted_by", "submitted_at"),
    "approved": ("approved_by", "approved_at"),
    "rejected": ("rejected_by", "rejected_at"),
    "applied": ("applied_by", "applied_at"),
    "scheduled": ("scheduled_by", "scheduled_at"),
}


def _transition(
    session: Session, plan_id: int, *, expected: tuple[str, ...], to: str, actor: str, **values: object
) -> RebalancePlan:
    """Move the plan from one of ``expected`` to ``to`` or raise PlanError saying why not."""
    by, at = DONE_COLUMNS.get(to, (None, None))
    stamps: dict[str, object] = {by: actor, at: utcnow()} if by and at else {}
    changed = session.execute(
        update(RebalancePlan)
        .where(col(RebalancePlan.id) == plan_id)
        .where(col(RebalancePlan.status).in_(expected))
        .values(status=to, **stamps, **values)
        .execution_options(synchronize_session=False)
    )
    plan = session.get(RebalancePlan, plan_id)
    if plan is None:
        raise PlanError(f"there is no plan {plan_id}")
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise PlanError(_refusal(plan, to))
    session.refresh(plan)
    return plan


def _refusal(plan: RebalancePlan, to: str) -> str:
    if (
        (plan.status == to and to in DONE_COLUMNS)
        or (to in ("approved", "rejected") and plan.status in ("approved", "rejected", "applied"))
        or (to == "scheduled" and plan.status == "applied")
    ):
        by, at = DONE_COLUMNS[plan.status]
        when = getattr(plan, at)
        return (
            f"plan {plan.id} was already {plan.status} by {getattr(plan, by)} at {when:%Y-%m-%d %H:%M:%S} UTC"
        )
    if to in ("applied", "scheduled") and plan.status == "draft":
        return f"plan {plan.id} is a draft: submit it, and have an approver approve it, before applying"
    if to in ("applied", "scheduled") and plan.status == "submitted":
        return f"plan {plan.id} is waiting for approval: an approver must approve it before it is applied"
    if to in ("applied", "scheduled") and plan.status == "scheduled":
        return (
            f"plan {plan.id} is scheduled for {day_label(plan.effective_date)} by {plan.scheduled_by}: "
            "it is applied on that date (cancel the schedule to apply it on another date)"
        )
    needs = {
        "submitted": "only a draft (or a rejected plan) can be submitted",
        "approved": "only a submitted plan can be approved",
        "rejected": "only a submitted or approved plan can be rejected",
        "applied": "only an approved plan can be applied",
        "scheduled": "only an approved plan can be applied",
        "refused": "only a scheduled plan can be refused",
        "discarded": "an applied plan cannot be discarded",
        "draft": "only a draft can be edited",
    }[to]
    return f"plan {plan.id} is {plan.status}; {needs}"


def _actor(session: Session, email: str | None, action: str) -> Actor:
    actor = actor_in(session, email)
    require(actor, action)
    return actor


def _not_own(plan: RebalancePlan, actor: Actor, words: str) -> None:
    if get_settings().allow_self_approval or actor.email == SYSTEM:
        return
    if plan.created_by and plan.created_by.lower() == actor.email:
        raise PlanError(
            f"plan {plan.id} was created by {actor.email}: another approver must {words} it "
            "(TERRITORY_ALLOW_SELF_APPROVAL allows self-approval)"
        )


def submit_plan(
    engine: Engine, plan_id: int, *, actor: str, source: str = "cli", comment: str | None = None
) -> None:
    """Send a draft (or a rejected plan, revised) for approval; emails the approvers."""
    with session_scope(engine) as session:
        who = _actor(session, actor, "plan.submit")
        plan = _transition(
            session,
            plan_id,
            expected=("draft", "rejected"),
            to="submitted",
            actor=who.email,
            review_comment=comment,
        )
        record(
            session,
            who.email,
            "plan.submit",
            f"submitted plan {plan_id} ({plan.name}){_said(comment)}",
            source,
            plan_id=plan_id,
        )
        queue_emails(session, plan_submitted_emails(session, plan))
    deliver_outbox(engine)


def approve_plan(
    engine: Engine, plan_id: int, *, approver: str, source: str = "cli", comment: str | None = None
) -> None:
    """Approve a submitted plan (not one's own unless self-approval is allowed)."""
    with session_scope(engine) as session:
        who = _actor(session, approver, "plan.approve")
        plan = _transition(
            session, plan_id, expected=("submitted",), to="approved", actor=who.email, review_comment=comment
        )
        _not_own(plan, who, "approve")
        record(
            session,
            who.email,
            "plan.approve",
            f"approved plan {plan_id} ({plan.name}){_said(comment)}",
            source,
            plan_id=plan_id,
        )


def reject_plan(engine: Engine, plan_id: int, *, actor: str, comment: str, source: str = "cli") -> None:
    """Reject a submitted (or approved, not yet applied) plan, with a comment saying why."""
    if not comment or not comment.strip():
        raise PlanError("a rejection needs a comment saying why (--comment TEXT)")
    with session_scope(engine) as session:
        who = _actor(session, actor, "plan.reject")
        plan = _transition(
            session,
            plan_id,
            expected=("submitted", "approved"),
            to="rejected",
            actor=who.email,
            review_comment=comment,
        )
        _not_own(plan, who, "reject")
        record(
            session,
            who.email,
            "plan.reject",
            f"rejected plan {plan_id} ({plan.name}){_said(comment)}",
            source,
            plan_id=plan_id,
        )


def rename_plan(engine: Engine, plan_id: int, name: str, *, actor: str, source: str = "cli") -> None:
    """Edit a draft's name (the only part of a plan a person edits; its moves come from the solver)."""
    with session_scope(engine) as session:
        who = _actor(session, actor, "plan.edit")
        plan = _transition(
            session, plan_id, expected=("draft", "rejected"), to="draft", actor=who.email, name=name
        )
        record(
            session, who.email, "plan.edit", f"renamed plan {plan_id} to {name!r}", source, plan_id=plan.id
        )


def discard_plan(engine: Engine, plan_id: int, *, actor: str = SYSTEM, source: str = "cli") -> None:
    with session_scope(engine) as session:
        who = _actor(session, actor, "plan.discard")
        _transition(
            session,
            plan_id,
            expected=("draft", "submitted", "approved", "rejected", "scheduled"),
            to="discarded",
            actor=who.email,
        )
        record(session, who.email, "plan.discard", f"discarded plan {plan_id}", source, plan_id=plan_id)


def _said(comment: str | None) -> str:
    return f": {comment}" if comment else ""


# --- applying: today, or scheduled for a later date and applied by the scheduler on that date ------
class BookChanged(PlanError):
    """The book changed under a plan since it was computed (its before/after numbers no longer hold)."""


@dataclass(frozen=True)
class DueRun:
    """What one ``apply_due_plans`` run did: the plans it applied and those it refused, by id."""

    applied: tuple[int, ...] = ()
    refused: tuple[int, ...] = ()


def apply_plan(
    engine: Engine,
    plan_id: int,
    *,
    actor: str,
    effective_date: date | None = None,
    quota_method: str = DEFAULT_QUOTA_METHOD,
    source: str = "cli",
    today: date | None = None,
) -> int:
    """Apply an approved plan today, or schedule it for a later effective date; returns the accounts moved.

    The effective date is today (the default) or later, never earlier. Today: one transaction moves
    the accounts, writes one AssignmentHistory row per move and the quota that follows them
    (``quota_method``: none | potential | revenue, see ``core.quota``), and emails each affected rep.
    A later date: the plan becomes ``scheduled`` (nothing moves; ``apply_due_plans`` applies it on
    that date) and 0 is returned. Both are refused unless the plan is approved and no assignment
    changed since it was computed; of concurrent callers exactly one succeeds (conditional update).
    ``today`` is the clock (the date the apply runs; the real date unless a test sets it).
    """
    today = today or date.today()
    day = effective_date or today
    check_apply_options(day, quota_method, today=today)
    if day > today:
        _schedule(engine, plan_id, actor=actor, day=day, quota_method=quota_method, source=source)
        return 0
    metrics = _account_metrics(engine, day, quota_method)
    with session_scope(engine) as session:
        who, plan, moves = _leave_approved(session, plan_id, actor, "applied", day, quota_method)
        transfers = _carry_out(session, plan, moves, metrics, actor=who.email)
        record(
            session, who.email, "plan.apply", _applied_words(plan, moves, transfers), source, plan_id=plan_id
        )
        queue_emails(session, plan_applied_emails(session, plan, moves, transfers))
    deliver_outbox(engine)
    return len(moves)


def check_apply_options(day: date, quota_method: str, *, today: date | None = None) -> None:
    """Refuse, in one line, an effective date before today or an unknown quota method."""
    today = today or date.today()
    if day < today:
        raise PlanError(
            f"the effective date must be today ({today}) or later, not {day}: "
            "a plan cannot take effect in the past"
        )
    if quota_method not in QUOTA_METHODS:
        raise PlanError(f"the quota method must be one of {', '.join(QUOTA_METHODS)}, not {quota_method!r}")


def _leave_approved(
    session: Session, plan_id: int, actor: str, to: str, day: date, quota_method: str
) -> tuple[Actor, RebalancePlan, list[PlanMove]]:
    """approved -> ``to`` (applied or scheduled) for ``day``, refused when the book changed since."""
    who = _actor(session, actor, "plan.apply")
    plan = _transition(
        session,
        plan_id,
        expected=("approved",),
        to=to,
        actor=who.email,
        effective_date=day,
        quota_method=quota_method,
    )
    moves = _moves(session, plan_id)
    _check_unchanged(session, plan, moves, _fingerprint(session))
    return who, plan, moves


def _schedule(engine: Engine, plan_id: int, *, actor: str, day: date, quota_method: str, source: str) -> None:
    """approved -> scheduled for ``day`` (the book is checked now too, and again on the day)."""
    with session_scope(engine) as session:
        who, plan, moves = _leave_approved(session, plan_id, actor, "scheduled", day, quota_method)
        record(
            session,
            who.email,
            "plan.schedule",
            f"scheduled plan {plan_id} ({plan.name}) to apply on {day_label(day)}: {len(moves)} accounts "
            f"will move, quota method {quota_method}",
            source,
            plan_id=plan_id,
        )


def unschedule_plan(
    engine: Engine, plan_id: int, *, actor: str, source: str = "cli", comment: str | None = None
) -> None:
    """Cancel a scheduled plan: it is approved again (apply it on another date, or discard it)."""
    with session_scope(engine) as session:
        who = _actor(session, actor, "plan.apply")
        changed = session.execute(
            update(RebalancePlan)
            .where(col(RebalancePlan.id) == plan_id)
            .where(col(RebalancePlan.status) == "scheduled")
            .values(
                status="approved",
                effective_date=None,
                scheduled_by=None,
                scheduled_at=None,
                quota_method=None,
            )
            .execution_options(synchronize_session=False)
        )
        plan = _plan_for_update(session, plan_id)
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise PlanError(f"plan {plan_id} is {plan.status}; only a scheduled plan can be cancelled")
        session.refresh(plan)
        record(
            session,
            who.email,
            "plan.unschedule",
            f"cancelled the schedule of plan {plan_id} ({plan.name}); it is approved again{_said(comment)}",
            source,
            plan_id=plan_id,
        )


def apply_due_plans(engine: Engine, today: date | None = None) -> DueRun:
    """Apply every scheduled plan whose effective date has come, as ``system`` for its approver.

    Each plan is applied with the quota method chosen when it was scheduled and its own effective
    date. A plan whose book changed since (any assignment) is ``refused`` instead: the reason goes
    in its review comment, the audit log and an email to the approver who scheduled it. Run from
    any number of processes at once, each plan is applied (or refused) exactly once.
    """
    today = today or date.today()
    with Session(engine) as session:
        due = session.execute(
            select(col(RebalancePlan.id))
            .where(col(RebalancePlan.status) == "scheduled")
            .where(col(RebalancePlan.effective_date) <= today)
            .order_by(col(RebalancePlan.effective_date), col(RebalancePlan.id))
        ).scalars()
        plan_ids = [int(i) for i in due]
    applied, refused = [], []
    for plan_id in plan_ids:
        try:
            _apply_scheduled(engine, plan_id)
            applied.append(plan_id)
        except BookChanged as changed:
            if _refuse_scheduled(engine, plan_id, str(changed)):
                refused.append(plan_id)
        except PlanError as error:  # another run got there first, or an approver cancelled it
            log.info("scheduled plan %s not applied by this run: %s", plan_id, error)
    if applied or refused:
        deliver_outbox(engine)
    return DueRun(tuple(applied), tuple(refused))


def _apply_scheduled(engine: Engine, plan_id: int) -> None:
    with Session(engine) as session:
        waiting = _plan_for_update(session, plan_id)
        day, method = waiting.effective_date or date.today(), waiting.quota_method or DEFAULT_QUOTA_METHOD
    metrics = _account_metrics(engine, day, method)
    with session_scope(engine) as session:
        plan = _transition(
            session, plan_id, expected=("scheduled",), to="applied", actor=waiting.scheduled_by or SYSTEM
        )
        moves = _moves(session, plan_id)
        reason = _book_change(session, plan, moves)
        if reason:  # rolls the transition back: the refusal is written in its own transaction
            raise BookChanged(reason)
        transfers = _carry_out(session, plan, moves, metrics, actor=plan.applied_by or SYSTEM)
        words = _applied_words(plan, moves, transfers)
        record(
            session,
            SYSTEM,
            "plan.apply",
            f"{words}; scheduled by {plan.scheduled_by}",
            "scheduler",
            plan_id=plan_id,
        )
        queue_emails(session, plan_applied_emails(session, plan, moves, transfers))


def _refuse_scheduled(engine: Engine, plan_id: int, reason: str) -> bool:
    """scheduled -> refused with the reason, audited, and the approver who scheduled it told."""
    try:
        with session_scope(engine) as session:
            plan = _transition(
                session, plan_id, expected=("scheduled",), to="refused", actor=SYSTEM, review_comment=reason
            )
            record(session, SYSTEM, "plan.refuse", reason, "scheduler", plan_id=plan_id)
            if plan.scheduled_by:
                url = get_settings().dashboard_url
                queue_emails(
                    session, [(plan.scheduled_by, render_plan_refused(plan.id or 0, plan.name, reason, url))]
                )
    except PlanError as error:  # another run refused it first
        log.info("scheduled plan %s not refused by this run: %s", plan_id, error)
        return False
    return True


def _moves(session: Session, plan_id: int) -> list[PlanMove]:
    return list(session.execute(select(PlanMove).where(col(PlanMove.plan_id) == plan_id)).scalars())


def _carry_out(
    session: Session,
    plan: RebalancePlan,
    moves: Sequence[PlanMove],
    metrics: pd.DataFrame | None,
    *,
    actor: str,
) -> list[QuotaTransfer]:
    """Write the quota that follows the accounts, then move them (one history row each)."""
    day = plan.effective_date or date.today()
    transfers = _write_quota(session, plan, moves, metrics, actor=actor)
    for move in moves:
        account = session.get(Account, move.account_id)
        assert account is not None  # foreign key
        account.territory_id = move.to_territory_id
        account.last_moved_at = day
        account.owned_since = day
        session.add(
            AssignmentHistory(
                account_id=move.account_id,
                from_territory_id=move.from_territory_id,
                to_territory_id=move.to_territory_id,
                effective_date=day,
                source="plan",
                plan_id=plan.id,
                actor=actor,
                note=move.reason,
            )
        )
    return transfers


# --- quota that follows the accounts ---------------------------------------------------------------
def _account_metrics(engine: Engine, day: date, method: str) -> pd.DataFrame | None:
    """Each account's potential and trailing revenue as the optimizer sees them (None: method none).

    Read before the apply's transaction (it loads the whole book's revenue); the assignments the
    quota is computed on are read inside it.
    """
    if method == "none":
        return None
    from core.queries import (
        load_accounts,
        load_opportunities,
        load_potentials,
        load_revenue,
        load_territories,
    )
    from core.rebalance.frames import BookTables, problem_frames

    tables = BookTables(
        accounts=load_accounts(engine=engine),
        territories=load_territories(engine=engine),
        revenue=load_revenue(engine=engine),
        opportunities=load_opportunities(engine=engine),
        forecast_potential=load_potentials(engine=engine).set_index("account_id")["potential"],
    )
    accounts, _ = problem_frames(tables, as_of=day, settings=get_settings())
    return accounts[["account_id", "potential", "revenue_ttm"]]


def _write_quota(
    session: Session,
    plan: RebalancePlan,
    moves: Sequence[PlanMove],
    metrics: pd.DataFrame | None,
    *,
    actor: str,
) -> list[QuotaTransfer]:
    """QuotaAdjustment rows for each (losing, gaining) pair the plan moves quota between."""
    method = plan.quota_method or DEFAULT_QUOTA_METHOD
    if metrics is None or method == "none" or not moves:
        return []
    day = plan.effective_date or date.today()
    transfers = quota_transfers(
        pd.DataFrame(
            [(m.account_id, m.from_territory_id, m.to_territory_id) for m in moves],
            columns=["account_id", "from_territory_id", "to_territory_id"],
        ),
        _book_before(session).merge(metrics, on="account_id", how="left"),
        _frame(session, [Territory.id, Territory.owner_rep_id], ["territory_id", "owner_rep_id"]),
        _frame(
            session,
            [Quota.rep_id, Quota.period_start, Quota.period_end, Quota.amount],
            ["rep_id", "period_start", "period_end", "amount"],
        ),
        _frame(
            session,
            [
                QuotaAdjustment.rep_id,
                QuotaAdjustment.period_start,
                QuotaAdjustment.effective_date,
                QuotaAdjustment.amount,
            ],
            ["rep_id", "period_start", "effective_date", "amount"],
        ),
        effective_date=day,
        method=method,
    )
    names = dict(session.execute(select(col(Territory.id), col(Territory.name))).tuples().all())
    for transfer in transfers:
        moved = sum(
            1
            for m in moves
            if m.from_territory_id == transfer.from_territory_id
            and m.to_territory_id == transfer.to_territory_id
        )
        losing = names.get(transfer.from_territory_id or -1, "unassigned")
        reason = (
            f"plan {plan.id} ({plan.name}): {moved} accounts moved from {losing} "
            f"to {names.get(transfer.to_territory_id)}"
        )
        for row in adjustment_rows([transfer], effective_date=day):
            session.add(QuotaAdjustment(**row, method=method, plan_id=plan.id, reason=reason, actor=actor))  # type: ignore[arg-type]
    return transfers


def _book_before(session: Session) -> pd.DataFrame:
    """Every account's territory inside the apply's transaction (before its moves are written)."""
    return _frame(session, [Account.id, Account.territory_id], ["account_id", "territory_id"])


def _frame(session: Session, columns: Sequence[object], names: list[str]) -> pd.DataFrame:
    rows = session.execute(select(*[col(c) for c in columns])).all()  # type: ignore[arg-type]
    return pd.DataFrame([tuple(r) for r in rows], columns=names)


def quota_moved(transfers: Sequence[QuotaTransfer]) -> float:
    """The quota a plan moved between reps, in dollars (each transfer counted once)."""
    return round(sum(t.amount for t in transfers if not t.skipped), 2)


def _applied_words(plan: RebalancePlan, moves: Sequence[PlanMove], transfers: Sequence[QuotaTransfer]) -> str:
    method = plan.quota_method or DEFAULT_QUOTA_METHOD
    head = (
        f"applied plan {plan.id} ({plan.name}): {len(moves)} accounts moved, "
        f"effective {day_label(plan.effective_date)}"
    )
    if method == "none":
        return f"{head}; no quota moved (quota method none)"
    moving = [t for t in transfers if not t.skipped and t.amount]
    return (
        f"{head}; quota moved by {method}: {money(quota_moved(moving))} in {len(moving)} transfer(s), "
        "team total unchanged"
    )


def _book_change(session: Session, plan: RebalancePlan, moves: Sequence[PlanMove]) -> str | None:
    """Why a scheduled plan cannot be applied on its date (the book changed since), or None."""
    if _fingerprint(session) == plan.assignments_fingerprint:
        return None
    changed = [m for m in moves if _territory_of(session, m.account_id) != m.from_territory_id]
    since = f"since it was scheduled on {day_label(plan.scheduled_at)}"
    detail = (
        f"{len(changed)} of its {len(moves)} accounts changed territory {since}"
        if changed
        else f"other accounts changed territory {since}, so its before/after numbers no longer hold"
    )
    return (
        f"plan {plan.id} was not applied on {day_label(plan.effective_date)}: {detail}. "
        "Run the optimizer again on today's book."
    )


def render_plan_refused(plan_id: int, plan_name: str, reason: str, dashboard_url: str) -> RenderedEmail:
    """To the approver who scheduled a plan: it was not applied on its date, and why."""
    link = plans_link(dashboard_url)
    subject = f"[{PRODUCT}] Plan {plan_id} was not applied: {one_line(plan_name)}"
    text = f"{reason}\nThe plan is marked refused; nothing moved. Plans: {link}\n"
    body = (
        f"<p>{html.escape(reason)}</p><p>The plan is marked refused; nothing moved.</p>"
        f'<p><a href="{html.escape(link)}">Open the plans</a></p>'
    )
    return RenderedEmail(subject, text, body)


# --- emails -------------------------------------------------------------------------------------
def plan_submitted_emails(session: Session, plan: RebalancePlan) -> list[tuple[str, RenderedEmail]]:
    """One email per active approver (and admin): a plan waits for them."""
    approvers = session.execute(
        select(col(User.email)).where(col(User.active)).where(col(User.role).in_(("approver", "admin")))
    ).scalars()
    url = get_settings().dashboard_url
    return [
        (
            email,
            render_plan_submitted(plan.id or 0, plan.name, plan.moves_count, plan.submitted_by or "", url),
        )
        for email in approvers
        if email != plan.submitted_by
    ]


def plan_applied_emails(
    session: Session,
    plan: RebalancePlan,
    moves: Sequence[PlanMove],
    transfers: Sequence[QuotaTransfer] = (),
) -> list[tuple[str, RenderedEmail]]:
    """One email per rep whose territory gains or loses accounts: their accounts in and out, the quota
    that moves with them, and the rep's handoff pack (core.handoff) as its HTML."""
    from core.handoff import with_pack  # imported here: core.handoff reads plans through this module

    changes: dict[int, dict[str, list[str]]] = {}
    for move in moves:
        account = session.get(Account, move.account_id)
        name = account.name if account is not None else str(move.account_id)
        if move.from_territory_id is not None:
            changes.setdefault(move.from_territory_id, {"in": [], "out": []})["out"].append(name)
        changes.setdefault(move.to_territory_id, {"in": [], "out": []})["in"].append(name)
    url = get_settings().dashboard_url
    packs = _handoff_packs(session, plan)
    emails = []
    for territory_id, change in sorted(changes.items()):
        territory = session.get(Territory, territory_id)
        rep = session.get(Rep, territory.owner_rep_id) if territory and territory.owner_rep_id else None
        if territory is None or rep is None or not rep.email:
            continue
        rendered = render_plan_applied(
            rep.name,
            territory.name,
            plan.id or 0,
            plan.effective_date,
            change["in"],
            change["out"],
            url,
            quota_note=_quota_note(plan, territory_id, transfers),
        )
        pack = packs.get(territory_id)  # the rep's handoff pack rides in the email (core.handoff)
        emails.append((rep.email, rendered if pack is None else with_pack(rendered, pack)))
    return emails


def _handoff_packs(session: Session, plan: RebalancePlan) -> dict[int, HandoffPack]:
    """The plan's handoff packs by territory id; none (and a logged error) when they cannot be built:
    a pack never stops a plan from being applied."""
    from core.handoff import packs_in

    try:
        return {pack.territory.id: pack for pack in packs_in(session, plan.id or 0)}
    except Exception:  # noqa: BLE001 - the emails go without packs; `territory plans handoff` remakes them
        log.exception("could not build the handoff packs of plan %s", plan.id)
        return {}


def _quota_note(plan: RebalancePlan, territory_id: int, transfers: Sequence[QuotaTransfer]) -> str:
    """The quota this territory's rep gains or loses with the accounts, in one sentence."""
    if (plan.quota_method or DEFAULT_QUOTA_METHOD) == "none":
        return "Quota stays as it was (this plan moves no quota)."
    net = sum(
        (t.amount if t.to_territory_id == territory_id else -t.amount)
        for t in transfers
        if not t.skipped and territory_id in (t.from_territory_id, t.to_territory_id)
    )
    if not net:
        return "Your quota does not change with this plan."
    verb = "rises" if net > 0 else "falls"
    return (
        f"Your quota for the current period {verb} by {money(abs(net))} from "
        f"{day_label(plan.effective_date)}: the unelapsed quota follows the accounts "
        f"(by {plan.quota_method}); what was already expected stays."
    )


def queue_emails(session: Session, emails: Sequence[tuple[str, RenderedEmail]]) -> None:
    """Put emails in the outbox (pending when an SMTP host is set: ``deliver_outbox`` sends them)."""
    status = "pending" if get_settings().smtp_host else "outbox"
    for recipient, rendered in emails:
        session.add(
            Notification(
                recipient=recipient,
                subject=rendered.subject,
                body_text=rendered.text,
                body_html=rendered.html,
                status=status,
            )
        )


def deliver_outbox(engine: Engine) -> None:
    """Send pending emails now; a server that is down leaves them pending for the next alerts run."""
    settings = get_settings()
    if not settings.smtp_host:
        return
    try:
        with Session(engine) as session:
            deliver_pending(session, settings, sleep=lambda _: None)
    except Exception:  # noqa: BLE001 - the plan change is committed; email is best effort here
        logging.getLogger(__name__).exception("could not deliver plan emails now; they stay pending")


def _fingerprint(session: Session) -> str:
    rows = session.execute(select(col(Account.id), col(Account.territory_id)).order_by(col(Account.id))).all()
    digest = hashlib.sha256()
    for account_id, territory_id in rows:
        digest.update(f"{account_id}:{territory_id};".encode())
    return digest.hexdigest()


def _check_unchanged(session: Session, plan: RebalancePlan, moves: Sequence[PlanMove], current: str) -> None:
    if current == plan.assignments_fingerprint:
        return
    changed = [m for m in moves if _territory_of(session, m.account_id) != m.from_territory_id]
    detail = (
        f"{len(changed)} of its {len(moves)} accounts changed territory since"
        if changed
        else "other accounts changed territory since, so its before/after numbers no longer hold"
    )
    raise PlanError(
        f"plan {plan.id} was computed on assignments that have changed: {detail}. "
        "Run the optimizer again on today's book."
    )


def _territory_of(session: Session, account_id: int) -> int | None:
    """The account's territory now (None when vacant or when the account is gone)."""
    account = session.get(Account, account_id)
    return account.territory_id if account is not None else None


def _plan_for_update(session: Session, plan_id: int) -> RebalancePlan:
    plan = session.get(RebalancePlan, plan_id)
    if plan is None:
        raise PlanError(f"there is no plan {plan_id}")
    return plan


def plan_export(engine: Engine, plan_id: int, *, effective_date: date | None = None) -> pd.DataFrame:
    """The CRM-ready moves: account id, name, old owner, new owner, effective date, reason (formula-safe)."""
    plan = get_plan(engine, plan_id)
    day = plan.effective_date or effective_date or date.today()
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                col(Account.external_id),
                col(Account.name),
                col(PlanMove.from_territory_id),
                col(PlanMove.to_territory_id),
                col(PlanMove.reason),
                col(PlanMove.risks),
            )
            .join(Account, col(Account.id) == col(PlanMove.account_id))
            .where(col(PlanMove.plan_id) == plan_id)
            .order_by(col(Account.external_id))
        ).all()
        owners = {
            tid: (rep_ext, rep_name)
            for tid, rep_ext, rep_name in connection.execute(
                select(col(Territory.id), col(Rep.external_id), col(Rep.name)).join(
                    Rep, col(Rep.id) == col(Territory.owner_rep_id), isouter=True
                )
            ).all()
        }
    frame = pd.DataFrame(
        [
            {
                "account_id": ext,
                "account_name": name,
                "old_owner_id": owners.get(old, (None, None))[0],
                "old_owner": owners.get(old, (None, None))[1],
                "new_owner_id": owners.get(new, (None, None))[0],
                "new_owner": owners.get(new, (None, None))[1],
                "effective_date": day.isoformat(),
                "reason": reason,
                "risks": risks,
            }
            for ext, name, old, new, reason, risks in rows
        ],
        columns=[
            "account_id",
            "account_name",
            "old_owner_id",
            "old_owner",
            "new_owner_id",
            "new_owner",
            "effective_date",
            "reason",
            "risks",
        ],
    )
    return safe_for_spreadsheet(frame)
