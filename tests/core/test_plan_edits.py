"""Move-by-move review of a draft: reject, pin, re-solve; each a revision with its PlanEdit rows,
audit event and recomputed moves, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from core.audit import list_events
from core.auth import SYSTEM_ACTOR, AuthError, create_user
from core.db import session_scope
from core.importing import store_book
from core.models import Account, PlanEdit, PlanMove, RebalancePlan, Territory
from core.plan_edits import Balance, cost_sentence, edit_plan, plan_edits, resolve_plan
from core.plans import PlanError, approve_plan, get_plan, submit_plan
from core.rebalance import Scenario
from core.sample import generate_book
from jobs.optimize import optimize, save_run

AS_OF = date(2026, 11, 23)
PLANNER, OTHER, VIEWER = "pat@example.com", "ada@example.com", "vic@example.com"
# Balance first, each move priced, at most 8 moves: a plan of a few moves on a 4-rep book.
SCENARIO = Scenario.model_validate(
    {
        "name": "review",
        "objective": {"potential_balance": 1.0, "continuity": 0.5},
        "constraints": {"churn": {"max_moves": 8}, "strategic_revenue": 1e12},
        "time_limit_s": 5.0,
        "workers": 1,
    }
)


@pytest.fixture
def draft(engine) -> int:
    for email, role in ((PLANNER, "planner"), (OTHER, "approver"), (VIEWER, "viewer")):
        create_user(engine, email, role=role, password=None, actor=SYSTEM_ACTOR)
    with session_scope(engine) as session:
        store_book(
            session, generate_book("custom", reps=4, accounts=40, states=["AZ"], as_of=AS_OF), today=AS_OF
        )
    run = optimize(engine, SCENARIO, as_of=AS_OF)
    assert run.result.has_plan and len(run.result.moves) >= 2
    return save_run(engine, run, name="q4 review", created_by=PLANNER)


def stored_moves(engine, plan_id: int) -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return len(session.execute(select(PlanMove).where(PlanMove.plan_id == plan_id)).all())


def left_alone(engine, moved: set[str]) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """An account the plan does not move, and a territory other than its own."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Account.external_id, Territory.external_id).join(
                Territory, Territory.id == Account.territory_id
            )
        ).all()
        territories = sorted(session.execute(select(Territory.external_id)).scalars())
    account, home = next((a, t) for a, t in sorted(rows) if a not in moved)
    return account, next(t for t in territories if t != home)


def test_rejecting_a_move_keeps_the_account_and_recomputes_the_plan(engine, draft):
    before = get_plan(engine, draft)
    move = before.moves[0]
    outcome = edit_plan(
        engine,
        draft,
        reject=[move.account],
        reason="the rep just closed a deal there",
        actor=PLANNER,
        as_of=AS_OF,
    )
    after = get_plan(engine, draft)
    assert outcome.revision == after.revision == 2 and after.status == "draft"
    assert move.account not in {m.account for m in after.moves}
    assert {m.account for m in after.moves} == {m.account for m in before.moves} - {move.account}
    assert stored_moves(engine, draft) == len(after.moves) == outcome.moves
    # every screen's numbers are the edited plan's: territories before/after, team after
    gaining = next(t for t in after.territories if t.territory == move.to_territory)
    was = next(t for t in before.territories if t.territory == move.to_territory)
    assert gaining.after.accounts == was.after.accounts - 1 and gaining.before == was.before
    assert after.team_after != before.team_after and after.solver_status == "EDITED"
    assert outcome.cost.startswith(f"CV {before.team_after.cv:.3f} -> {after.team_after.cv:.3f}")
    assert outcome.cost.endswith("against the unedited solve; 1 fewer move")
    (edit,) = plan_edits(engine, draft)
    assert (edit.revision, edit.kind, edit.account, edit.territory, edit.actor) == (
        2,
        "reject",
        move.account,
        move.to_territory,
        PLANNER,
    )
    assert edit.reason == "the rep just closed a deal there"
    event = list_events(engine, plan_id=draft)[0]
    assert event.action == "plan.edit" and f"reject {move.account} -> {move.to_territory}" in event.what


def test_pin_is_a_manual_move_and_resolve_keeps_the_edits(engine, draft):
    before = get_plan(engine, draft)
    rejected = before.moves[0]
    # an account the plan leaves alone, pinned to another territory: a manual move
    stay_account, target = left_alone(engine, {m.account for m in before.moves})
    edit_plan(
        engine, draft, reject=[rejected.account], reason="keep the relationship", actor=PLANNER, as_of=AS_OF
    )
    pinned = edit_plan(
        engine, draft, pin={stay_account: target}, reason="the rep asked", actor=PLANNER, as_of=AS_OF
    )
    assert pinned.revision == 3
    assert (stay_account, target) in {(m.account, m.to_territory) for m in get_plan(engine, draft).moves}
    outcome = resolve_plan(engine, draft, actor=PLANNER, as_of=AS_OF)
    plan = get_plan(engine, draft)
    assert outcome.revision == plan.revision == 4 and plan.solver_status in ("OPTIMAL", "FEASIBLE")
    final = {m.account: m.to_territory for m in plan.moves}
    assert final[stay_account] == target
    assert final.get(rejected.account) != rejected.to_territory
    assert len(plan.moves) <= 8  # the scenario's churn limit still holds
    assert "against the unedited solve" in outcome.cost and outcome.cost.startswith(
        f"CV {before.team_after.cv:.3f}"
    )
    kinds = [(e.revision, e.kind) for e in plan_edits(engine, draft)]
    assert kinds == [(2, "reject"), (3, "pin"), (4, "resolve")]
    resolve = plan_edits(engine, draft)[-1]
    assert resolve.detail["unedited"] == {"cv": before.team_after.cv, "moves": len(before.moves)}
    # a second re-solve keeps the rules (read from the PlanEdit rows)
    again = resolve_plan(engine, draft, actor=PLANNER, as_of=AS_OF)
    final = {m.account: m.to_territory for m in get_plan(engine, draft).moves}
    assert again.revision == 5 and final[stay_account] == target
    # the edited plan goes through the workflow like any other
    submit_plan(engine, draft, actor=PLANNER)
    approve_plan(engine, draft, approver=OTHER)


def test_refusals_write_nothing(engine, draft):
    move = get_plan(engine, draft).moves[0]
    cases = [
        (dict(reject=[move.account], reason=" ", actor=PLANNER), PlanError, "an edit needs a reason"),
        (dict(reason="x", actor=PLANNER), PlanError, "nothing to edit"),
        (dict(reject=["NOPE-1"], reason="x", actor=PLANNER), PlanError, "does not move NOPE-1"),
        (dict(pin={"NOPE-1": "CU-T001"}, reason="x", actor=PLANNER), PlanError, "unknown account NOPE-1"),
        (
            dict(pin={move.account: "CU-T999"}, reason="x", actor=PLANNER),
            PlanError,
            "unknown territory CU-T999",
        ),
        (dict(reject=[move.account], reason="x", actor=VIEWER), AuthError, "may not edit draft plans"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message) as raised:
            edit_plan(engine, draft, as_of=AS_OF, **kwargs)
        assert "\n" not in str(raised.value)
    with pytest.raises(PlanError, match="no edits to re-solve around"):
        resolve_plan(engine, draft, actor=PLANNER, as_of=AS_OF)
    with session_scope(engine) as session:
        assert session.execute(select(PlanEdit)).first() is None
        assert session.get(RebalancePlan, draft).revision == 1


def test_only_a_draft_or_rejected_plan_is_edited(engine, draft):
    move = get_plan(engine, draft).moves[0]
    submit_plan(engine, draft, actor=PLANNER)
    with pytest.raises(PlanError, match="is submitted; only a draft"):
        edit_plan(engine, draft, reject=[move.account], reason="x", actor=PLANNER, as_of=AS_OF)


def test_a_stale_revision_is_refused(engine, draft, monkeypatch):
    """Two planners read revision 1; the second to write finds revision 2 and is refused."""
    import core.plan_edits as module

    moves = get_plan(engine, draft).moves
    stale = get_plan(engine, draft)
    edit_plan(engine, draft, reject=[moves[0].account], reason="first", actor=PLANNER, as_of=AS_OF)
    monkeypatch.setattr(module, "_editable", lambda *a, **k: (stale, []))
    with pytest.raises(PlanError, match="was edited by someone else meanwhile"):
        edit_plan(engine, draft, reject=[moves[1].account], reason="second", actor=PLANNER, as_of=AS_OF)
    assert get_plan(engine, draft).revision == 2 and len(plan_edits(engine, draft)) == 1


def test_an_edit_on_a_changed_book_is_refused(engine, draft):
    with session_scope(engine) as session:
        account = session.execute(select(Account).limit(1)).scalar_one()
        other = session.execute(
            select(Account.territory_id).where(Account.territory_id != account.territory_id).limit(1)
        ).scalar_one()
        account.territory_id = other
    move = get_plan(engine, draft).moves[0]
    with pytest.raises(PlanError, match="assignments that have changed since"):
        edit_plan(engine, draft, reject=[move.account], reason="x", actor=PLANNER, as_of=AS_OF)


@pytest.mark.parametrize(
    ("unedited", "edited", "sentence"),
    [
        (
            Balance(0.142, 5),
            Balance(0.151, 3),
            "CV 0.142 -> 0.151 (+0.009) against the unedited solve; 2 fewer moves",
        ),
        (
            Balance(0.2, 2),
            Balance(0.19, 3),
            "CV 0.200 -> 0.190 (-0.010) against the unedited solve; 1 more move",
        ),
        (Balance(None, 2), Balance(0.1, 2), "CV — -> 0.100 against the unedited solve; as many moves"),
    ],
)
def test_cost_sentence(unedited, edited, sentence):
    assert cost_sentence(unedited, edited) == sentence


def test_edit_detail_is_json(engine, draft):
    move = get_plan(engine, draft).moves[0]
    edit_plan(engine, draft, reject=[move.account], reason="x", actor=PLANNER, as_of=AS_OF)
    with session_scope(engine) as session:
        row = session.execute(select(PlanEdit)).scalar_one()
        assert set(json.loads(row.detail)) == {"unedited", "after", "cost"}
