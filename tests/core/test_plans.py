"""Plan lifecycle on a real SQLite file: save -> approve -> apply, refusals, audit log, export."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime

import pytest
from sqlalchemy import select

from core.auth import SYSTEM_ACTOR, create_user
from core.db import session_scope
from core.models import Account, AssignmentHistory, Rep, Territory
from core.plans import (
    PlanError,
    SavedPlan,
    apply_plan,
    approve_plan,
    assignments_fingerprint,
    get_plan,
    list_plans,
    plan_export,
    save_plan,
    submit_plan,
)
from core.rebalance import Move, RebalanceResult, TeamMetrics, TerritoryChange, TerritoryMetrics

LEAD, PLANNER = "lead@example.com", "planner@example.com"


@pytest.fixture
def book(engine):
    create_user(engine, LEAD, role="approver", password=None, actor=SYSTEM_ACTOR)
    create_user(engine, PLANNER, role="planner", password=None, actor=SYSTEM_ACTOR)
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
        apply_plan(book, plan_id, actor=LEAD)
    submit_plan(book, plan_id, actor=PLANNER)
    approve_plan(book, plan_id, approver=LEAD)
    assert apply_plan(book, plan_id, actor=LEAD, effective_date=date.today()) == 1
    assert territory_of(book, "A1") == ("T1", date.today())  # the cooldown starts on the effective date
    with session_scope(book) as session:
        history = session.execute(select(AssignmentHistory)).scalars().all()
    assert [(h.source, h.plan_id, h.actor) for h in history] == [("plan", plan_id, LEAD)]
    assert get_plan(book, plan_id).status == "applied"
    with pytest.raises(PlanError, match="applied"):
        apply_plan(book, plan_id, actor=LEAD)


def test_apply_is_refused_when_assignments_changed(book):
    plan_id = save_plan(
        book,
        name="stale",
        scenario_toml="",
        result=result(("A1", "T2", "T1")),
        fingerprint=assignments_fingerprint(book),
    )
    submit_plan(book, plan_id, actor=PLANNER)
    approve_plan(book, plan_id, approver=LEAD)
    with session_scope(book) as session:  # someone moves A1 in the CRM meanwhile
        account = session.execute(select(Account).where(Account.external_id == "A1")).scalar_one()
        account.territory_id = session.execute(
            select(Territory.id).where(Territory.external_id == "T1")
        ).scalar()
    with pytest.raises(PlanError, match="1 of its 1 accounts changed"):
        apply_plan(book, plan_id, actor=LEAD)
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


def test_a_saved_plan_reads_back_typed_and_equal_to_what_was_saved(book):
    """get_plan returns a frozen SavedPlan whose moves, territories and team metrics are the
    result's own types, equal to the RebalanceResult that was saved (no dict by key)."""
    solved = RebalanceResult(
        status="FEASIBLE",
        objective=12.5,
        best_bound=12.0,
        gap=0.04,
        wall_time_s=1.25,
        moves=(
            Move("A1", "T2", "T1", "balances potential", ("large_revenue", "open_opportunity")),
            Move("A3", "T2", "T1", "closer to the rep's home"),
        ),
        territories=(
            TerritoryChange(
                "T1",
                "North",
                TerritoryMetrics(1_000_000.0, 2, 3.0, 400_000.0, 0.8),
                TerritoryMetrics(1_250_000.0, 4, 6.0, 500_000.5, 1.0),
            ),
            TerritoryChange(
                "T2",
                "South",
                TerritoryMetrics(1_500_000.0, 2, 3.0, 600_000.0, 1.2),
                TerritoryMetrics(1_250_000.0, 0, 0.0, 0.0, None),
            ),
        ),
        team_before=TeamMetrics(0.2, 1.5, 1.5, 2, 0.2, 0),
        team_after=TeamMetrics(0.0, 1.0, None, 0, 0.0, 1),
    )
    plan_id = save_plan(
        book,
        name="typed",
        scenario_toml='name = "typed"\n',
        result=solved.to_json_dict(),
        fingerprint=assignments_fingerprint(book),
        created_by=PLANNER,
    )
    plan = get_plan(book, plan_id)
    assert isinstance(plan, SavedPlan)
    assert (plan.id, plan.name, plan.status, plan.created_by) == (plan_id, "typed", "draft", PLANNER)
    assert (plan.solver_status, plan.objective, plan.gap) == ("FEASIBLE", 12.5, 0.04)
    assert plan.scenario_toml == 'name = "typed"\n' and isinstance(plan.created_at, datetime)
    assert plan.approved_at is None and plan.applied_at is None and plan.effective_date is None
    assert plan.moves == solved.moves and all(type(m) is Move for m in plan.moves)
    assert all(type(m.risks) is tuple for m in plan.moves)
    assert plan.territories == solved.territories
    assert all(type(t.after) is TerritoryMetrics for t in plan.territories)
    assert (plan.team_before, plan.team_after) == (solved.team_before, solved.team_after)
    assert type(plan.team_after) is TeamMetrics
    with pytest.raises(AttributeError):  # frozen
        plan.status = "applied"  # type: ignore[misc]
    assert {f.name for f in fields(SavedPlan)} >= {"moves", "territories", "team_before", "team_after"}
    submit_plan(book, plan_id, actor=PLANNER)
    approve_plan(book, plan_id, approver=LEAD)
    approved = get_plan(book, plan_id)
    assert (approved.status, approved.approved_by) == ("approved", LEAD)
    assert isinstance(approved.approved_at, datetime)


def test_a_plan_saved_without_team_figures_reads_back(book):
    """A result with moves only (as older plans stored) reads back with no territories and no team."""
    plan_id = save_plan(
        book,
        name="bare",
        scenario_toml="",
        result=result(("A1", "T2", "T1")),
        fingerprint=assignments_fingerprint(book),
    )
    plan = get_plan(book, plan_id)
    assert plan.moves == (Move("A1", "T2", "T1", "balances potential", ("large_revenue",)),)
    assert plan.territories == () and plan.team_before is None and plan.team_after is None


def test_the_cli_and_the_page_read_the_typed_plan(book):
    """`territory plans show` and the page's side-by-side comparison read a SavedPlan."""
    from dashboard.optimize_view import compare_plans
    from jobs.optimize_report import plan_text

    plan_id = save_plan(
        book,
        name="shown",
        scenario_toml="",
        result=result(("A1", "T2", "T1")),
        fingerprint=assignments_fingerprint(book),
    )
    plan = get_plan(book, plan_id)
    from core.queries import load_accounts, load_territories

    names = load_accounts(engine=book).set_index("external_id")["name"].to_dict()
    text = plan_text(plan, names, load_territories(engine=book))
    assert f"plan {plan_id} 'shown': draft" in text and "1 moves" in text
    # names a person reads (ids in brackets), risks in words, never raw codes
    assert (
        "  Acct 1 (A1): T2 · Bo Li -> T1 · =cmd|' /C calc'!A0. balances potential; risks: large revenue"
        in text
    )
    assert "large_revenue" not in text
    table = compare_plans([plan])
    column = table[f"#{plan_id} shown"]
    assert (column["moves"], column["risky moves"], column["CV after"]) == ("1", "1", "—")
