"""Plan lifecycle on a real SQLite file: save -> approve -> apply, refusals, audit log, export."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core.db import session_scope
from core.models import Account, AssignmentHistory, Rep, Territory
from core.plans import (
    PlanError,
    apply_plan,
    approve_plan,
    assignments_fingerprint,
    get_plan,
    list_plans,
    plan_export,
    save_plan,
)


@pytest.fixture
def book(engine):
    with session_scope(engine) as session:
        reps = [
            Rep(external_id=f"R{i}", name=name) for i, name in enumerate(["=cmd|' /C calc'!A0", "Bo Li"], 1)
        ]
        session.add_all(reps)
        session.flush()
        territories = [
            Territory(external_id=f"T{i}", name=f"T{i}", owner_rep_id=r.id) for i, r in enumerate(reps, 1)
        ]
        session.add_all(territories)
        session.flush()
        session.add_all(
            [
                Account(external_id=f"A{i}", name=f"Acct {i}", territory_id=territories[i % 2].id)
                for i in range(1, 5)
            ]
        )
    return engine


def result(*moves):
    return {
        "status": "OPTIMAL",
        "gap": 0.0,
        "objective": 1.0,
        "moves": [
            {"account": a, "from": f, "to": t, "reason": "balances potential", "risks": ["large_revenue"]}
            for a, f, t in moves
        ],
    }


def territory_of(engine, external_id):
    with session_scope(engine) as session:
        account = session.execute(select(Account).where(Account.external_id == external_id)).scalar_one()
        return session.get(Territory, account.territory_id).external_id, account.last_moved_at


def test_apply_moves_accounts_once_and_writes_the_audit_log(book):
    plan_id = save_plan(
        book,
        name="q4",
        scenario_toml="",
        result=result(("A1", "T2", "T1")),
        fingerprint=assignments_fingerprint(book),
    )
    with pytest.raises(PlanError, match="approve it"):
        apply_plan(book, plan_id, actor="lead")
    approve_plan(book, plan_id, approver="lead")
    assert apply_plan(book, plan_id, actor="lead", effective_date=date(2026, 12, 1)) == 1
    assert territory_of(book, "A1") == ("T1", date(2026, 12, 1))  # the cooldown starts on the effective date
    with session_scope(book) as session:
        history = session.execute(select(AssignmentHistory)).scalars().all()
    assert [(h.source, h.plan_id, h.actor) for h in history] == [("plan", plan_id, "lead")]
    assert get_plan(book, plan_id).status == "applied"
    with pytest.raises(PlanError, match="applied"):
        apply_plan(book, plan_id, actor="lead")


def test_apply_is_refused_when_assignments_changed(book):
    plan_id = save_plan(
        book,
        name="stale",
        scenario_toml="",
        result=result(("A1", "T2", "T1")),
        fingerprint=assignments_fingerprint(book),
    )
    approve_plan(book, plan_id, approver="lead")
    with session_scope(book) as session:  # someone moves A1 in the CRM meanwhile
        account = session.execute(select(Account).where(Account.external_id == "A1")).scalar_one()
        account.territory_id = session.execute(
            select(Territory.id).where(Territory.external_id == "T1")
        ).scalar()
    with pytest.raises(PlanError, match="1 of its 1 accounts changed"):
        apply_plan(book, plan_id, actor="lead")
    assert get_plan(book, plan_id).status == "approved"


def test_export_is_spreadsheet_safe(book):
    plan_id = save_plan(
        book,
        name="export",
        scenario_toml="",
        result=result(("A1", "T2", "T1")),
        fingerprint=assignments_fingerprint(book),
    )
    frame = plan_export(book, plan_id, effective_date=date(2026, 12, 1))
    row = frame.iloc[0]
    assert (row["account_id"], row["old_owner"], row["new_owner_id"]) == ("A1", "Bo Li", "R1")
    assert row["new_owner"].startswith("'=")  # a formula-looking name cannot run in a spreadsheet
    assert row["effective_date"] == "2026-12-01"
    assert [p.name for p in list_plans(book)] == ["export"]
