"""Rebalance plans: draft -> submitted -> approved | rejected -> applied, audited, exactly once.

A plan stores the scenario (TOML), the solver result (JSON) and a fingerprint of every account's
assignment when it was computed. ``get_plan`` reads a plan back as a ``SavedPlan``: its record and
the stored result typed (moves, territories before/after, team metrics), never a dict by key.

Applying is one transaction and is refused when any assignment changed since (the plan's
before/after numbers would no longer be true); it moves the accounts, stamps ``last_moved_at``
(the cooldown starts) and writes one AssignmentHistory row per move.
"""

from __future__ import annotations

import hashlib
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

from core.alerts.email import RenderedEmail, deliver_pending, render_plan_applied, render_plan_submitted
from core.audit import record
from core.auth import SYSTEM, Actor, actor_in, require
from core.config import get_settings
from core.db import session_scope
from core.models import (
    Account,
    AssignmentHistory,
    Notification,
    PlanMove,
    RebalancePlan,
    Rep,
    Territory,
    User,
    utcnow,
)
from core.rebalance.result import Move, TeamMetrics, TerritoryChange, metrics_from_json
from core.spreadsheet import safe_for_spreadsheet

if TYPE_CHECKING:
    from core.handoff import HandoffPack


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

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class SavedPlan:
    """A saved plan as read back: the plan's record and the solver result it stores, typed.

    ``moves``, ``territories`` and ``team_before`` / ``team_after`` are the result's own types
    (``core.rebalance.result``), equal to what was saved.
    """

    id: int
    name: str
    status: str  # draft | submitted | approved | rejected | applied | discarded
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
    if (plan.status == to and to in DONE_COLUMNS) or (
        to in ("approved", "rejected") and plan.status in ("approved", "rejected", "applied")
    ):
        by, at = DONE_COLUMNS[plan.status]
        when = getattr(plan, at)
        return (
            f"plan {plan.id} was already {plan.status} by {getattr(plan, by)} at {when:%Y-%m-%d %H:%M:%S} UTC"
        )
    if to == "applied" and plan.status == "draft":
        return f"plan {plan.id} is a draft: submit it, and have an approver approve it, before applying"
    if to == "applied" and plan.status == "submitted":
        return f"plan {plan.id} is waiting for approval: an approver must approve it before it is applied"
    needs = {
        "submitted": "only a draft (or a rejected plan) can be submitted",
        "approved": "only a submitted plan can be approved",
        "rejected": "only a submitted or approved plan can be rejected",
        "applied": "only an approved plan can be applied",
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
            expected=("draft", "submitted", "approved", "rejected"),
            to="discarded",
            actor=who.email,
        )
        record(session, who.email, "plan.discard", f"discarded plan {plan_id}", source, plan_id=plan_id)


def _said(comment: str | None) -> str:
    return f": {comment}" if comment else ""


def apply_plan(
    engine: Engine, plan_id: int, *, actor: str, effective_date: date | None = None, source: str = "cli"
) -> int:
    """Move the plan's accounts in one transaction; returns the number of accounts moved.

    Refused unless the plan is approved and no assignment changed since it was computed; of
    concurrent applies exactly one moves the accounts (the status changes first, conditionally).
    Emails each affected rep (the owners of the territories that gain or lose accounts).
    """
    effective_date = effective_date or date.today()
    with session_scope(engine) as session:
        who = _actor(session, actor, "plan.apply")
        plan = _transition(
            session,
            plan_id,
            expected=("approved",),
            to="applied",
            actor=who.email,
            effective_date=effective_date,
        )
        moves = session.execute(select(PlanMove).where(col(PlanMove.plan_id) == plan_id)).scalars().all()
        _check_unchanged(session, plan, moves, _fingerprint(session))
        for move in moves:
            account = session.get(Account, move.account_id)
            assert account is not None  # foreign key
            account.territory_id = move.to_territory_id
            account.last_moved_at = effective_date
            account.owned_since = effective_date
            session.add(
                AssignmentHistory(
                    account_id=move.account_id,
                    from_territory_id=move.from_territory_id,
                    to_territory_id=move.to_territory_id,
                    effective_date=effective_date,
                    source="plan",
                    plan_id=plan_id,
                    actor=who.email,
                    note=move.reason,
                )
            )
        record(
            session,
            who.email,
            "plan.apply",
            f"applied plan {plan_id} ({plan.name}): {len(moves)} accounts moved, effective {effective_date}",
            source,
            plan_id=plan_id,
        )
        queue_emails(session, plan_applied_emails(session, plan, moves))
        moved = len(moves)
    deliver_outbox(engine)
    return moved


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
    session: Session, plan: RebalancePlan, moves: Sequence[PlanMove]
) -> list[tuple[str, RenderedEmail]]:
    """One email per rep whose territory gains or loses accounts, listing their accounts in and out,
    with the rep's handoff pack (core.handoff) as its HTML."""
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
            rep.name, territory.name, plan.id or 0, plan.effective_date, change["in"], change["out"], url
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
        logging.getLogger(__name__).exception("could not build the handoff packs of plan %s", plan.id)
        return {}


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
