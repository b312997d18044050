"""The review section of a saved draft on the Optimize page (AppTest): reject with a reason, pin an
account, re-solve around the edits; names render as text."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import get_engine, session_scope
from core.models import Account, Territory
from core.plan_edits import plan_edits
from core.plans import assignments_fingerprint, get_plan, save_plan, submit_plan
from core.rebalance import Scenario
from jobs.optimize import optimize, save_run
from tests.dashboard.conftest import role_email

EVIL = "**[Sign in again](http://evil.example/login)**"
# A quick scenario on the southwest sample: balance first, every move priced, at most 6 moves.
QUICK = Scenario.model_validate(
    {
        "name": "quick",
        "objective": {"potential_balance": 1.0, "continuity": 1.0},
        "constraints": {"churn": {"max_moves": 6}},
        "time_limit_s": 5.0,
        "workers": 1,
    }
)


def saved_draft(url: str) -> int:
    engine = get_engine(url)
    run = optimize(engine, QUICK)
    assert len(run.result.moves) >= 2
    with session_scope(engine) as session:  # a name from an import that looks like Markdown
        account = session.execute(select(Account).where(Account.external_id == run.result.moves[0].account))
        account.scalar_one().name = EVIL
    return save_run(engine, run, name="review me", created_by=role_email("planner"))


def button(at, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


@pytest.mark.slow
def test_reject_pin_and_resolve_from_the_page(app, writable_db):
    plan_id = saved_draft(writable_db)
    engine = get_engine(writable_db)
    first = get_plan(engine, plan_id).moves[0]
    at = app(writable_db, "optimize", role="planner", plan=str(plan_id))
    assert not at.exception, at.exception
    assert "Review move by move" in [h.value for h in at.subheader]
    chosen = at.multiselect(key=f"plan-review-chosen-{plan_id}")
    assert any(option.startswith(f"{EVIL} ({first.account})") for option in chosen.options)  # text
    chosen.set_value([first.account])
    at.text_input(key=f"plan-review-reject-reason-{plan_id}").set_value("the rep just closed a deal")
    button(at, "Reject selected moves").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("revision 2" in s.value and "against the unedited solve" in s.value for s in at.success)
    plan = get_plan(engine, plan_id)
    assert plan.revision == 2 and first.account not in {m.account for m in plan.moves}
    # pin an account the plan leaves alone to another territory: a manual move
    with session_scope(engine) as session:
        account = session.execute(
            select(Account).where(Account.external_id.not_in([m.account for m in plan.moves])).limit(1)
        ).scalar_one()
        external, home = account.external_id, session.get(Territory, account.territory_id).external_id
    territories = at.selectbox(key=f"plan-review-territory-{plan_id}").options
    at.selectbox(key=f"plan-review-account-{plan_id}").set_value(external)
    target = next(t for t in (o.rsplit("(", 1)[1].rstrip(")") for o in territories) if t != home)
    at.selectbox(key=f"plan-review-territory-{plan_id}").set_value(target)
    at.text_input(key=f"plan-review-pin-reason-{plan_id}").set_value("the rep asked")
    button(at, "Pin account to territory").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert (external, target) in {(m.account, m.to_territory) for m in get_plan(engine, plan_id).moves}
    button(at, "Re-solve around my edits").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("revision 4" in s.value and "against the unedited solve" in s.value for s in at.success)
    moves = {m.account: m.to_territory for m in get_plan(engine, plan_id).moves}
    assert moves[external] == target and moves.get(first.account) != first.to_territory
    assert [e.kind for e in plan_edits(engine, plan_id)] == ["reject", "pin", "resolve"]
    edits = at.dataframe[-1].value
    assert edits["who"].tolist() == [role_email("planner")] * 3
    assert edits["why"].tolist()[:2] == ["the rep just closed a deal", "the rep asked"]


def test_a_reason_is_required_and_a_submitted_plan_has_no_forms(app, writable_db):
    """No solve needed: a draft with one hand-written move."""
    engine = get_engine(writable_db)
    with session_scope(engine) as session:
        account = session.execute(select(Account).where(Account.external_id == "SW-A00001")).scalar_one()
        home = session.get(Territory, account.territory_id).external_id
    target = "SW-T002" if home != "SW-T002" else "SW-T001"
    plan_id = save_plan(
        engine,
        name="one move",
        scenario_toml=QUICK.to_toml(),
        result={"status": "OPTIMAL", "moves": [{"account": "SW-A00001", "from": home, "to": target}]},
        fingerprint=assignments_fingerprint(engine),
        created_by=role_email("planner"),
    )
    first = get_plan(engine, plan_id).moves[0]
    at = app(writable_db, "optimize", role="planner", plan=str(plan_id))
    at.multiselect(key=f"plan-review-chosen-{plan_id}").set_value([first.account])
    button(at, "Reject selected moves").click().run()
    assert any("an edit needs a reason" in e.value for e in at.error)
    assert get_plan(get_engine(writable_db), plan_id).revision == 1
    submit_plan(get_engine(writable_db), plan_id, actor=role_email("planner"))
    submitted = app(writable_db, "optimize", role="planner", plan=str(plan_id))
    assert not submitted.exception
    assert "Review move by move" not in [h.value for h in submitted.subheader]  # only a draft is edited
    assert not any(b.label == "Re-solve around my edits" for b in submitted.button)
