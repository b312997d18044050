"""Rebalance plans: draft -> approved -> applied, with the audit log and a CRM-ready export.

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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from core.db import session_scope
from core.models import Account, AssignmentHistory, PlanMove, RebalancePlan, Rep, Territory, utcnow
from core.rebalance.result import Move, TeamMetrics, TerritoryChange, metrics_from_json
from core.spreadsheet import safe_for_spreadsheet


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


@dataclass(frozen=True)
class SavedPlan:
    """A saved plan as read back: the plan's record and the solver result it stores, typed.

    ``moves``, ``territories`` and ``team_before`` / ``team_after`` are the result's own types
    (``core.rebalance.result``), equal to what was saved.
    """

    id: int
    name: str
    status: str  # draft | approved | applied | discarded
    created_at: datetime
    created_by: str | None
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
        )


def assignments_fingerprint(engine: Engine) -> str:
    """A hash of every (account, territory) pair: changes when any account changes hands."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(col(Account.id), col(Account.territory_id)).order_by(col(Account.id))
        ).all()
    digest = hashlib.sha256()
    for account_id, territory_id in rows:
        digest.update(f"{account_id}:{territory_id};".encode())
    return digest.hexdigest()


def save_plan(
    engine: Engine,
    *,
    name: str,
    scenario_toml: str,
    result: dict,
    fingerprint: str,
    created_by: str | None = None,
) -> int:
    """Store a solver result as a draft plan. ``result`` is the solver's JSON dict (external ids)."""
    with session_scope(engine) as session:
        accounts = _ids(session, Account)
        territories = _ids(session, Territory)
        plan = RebalancePlan(
            name=name,
            scenario=scenario_toml,
            result=json.dumps(result, default=str),
            assignments_fingerprint=fingerprint,
            created_by=created_by,
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


def approve_plan(engine: Engine, plan_id: int, *, approver: str) -> None:
    with session_scope(engine) as session:
        plan = _plan_for_update(session, plan_id)
        if plan.status != "draft":
            raise PlanError(f"plan {plan_id} is {plan.status}; only a draft can be approved")
        plan.status, plan.approved_by, plan.approved_at = "approved", approver, utcnow()


def discard_plan(engine: Engine, plan_id: int) -> None:
    with session_scope(engine) as session:
        plan = _plan_for_update(session, plan_id)
        if plan.status == "applied":
            raise PlanError(f"plan {plan_id} is applied; it cannot be discarded")
        plan.status = "discarded"


def apply_plan(engine: Engine, plan_id: int, *, actor: str, effective_date: date | None = None) -> int:
    """Move the plan's accounts in one transaction; returns the number of accounts moved.

    Refused unless the plan is approved and no assignment changed since it was computed.
    """
    effective_date = effective_date or date.today()
    current = assignments_fingerprint(engine)
    with session_scope(engine) as session:
        plan = _plan_for_update(session, plan_id)
        if plan.status != "approved":
            raise PlanError(f"plan {plan_id} is {plan.status}; approve it before applying")
        moves = session.execute(select(PlanMove).where(col(PlanMove.plan_id) == plan_id)).scalars().all()
        _check_unchanged(session, plan, moves, current)
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
                    actor=actor,
                    note=move.reason,
                )
            )
        plan.status, plan.applied_by, plan.applied_at = "applied", actor, utcnow()
        plan.effective_date = effective_date
        return len(moves)


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
