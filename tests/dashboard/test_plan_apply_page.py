"""The Optimize page's apply controls (dashboard/plan_apply.py): a later date schedules the plan with
the chosen quota method, the saved plans say "scheduled for DATE", and an approver cancels it."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from core.db import get_engine, session_scope
from core.models import Account, Territory
from core.plans import approve_plan, assignments_fingerprint, get_plan, save_plan, submit_plan
from tests.dashboard.conftest import add_role_users, role_email


def test_an_approver_schedules_a_plan_then_cancels_the_schedule(page, writable_db):
    add_role_users(writable_db)
    engine = get_engine(writable_db)
    with session_scope(engine) as session:
        account, source = session.execute(
            select(Account.external_id, Territory.external_id).join(
                Territory, Territory.id == Account.territory_id
            )
        ).first()
        target = session.execute(
            select(Territory.external_id).where(Territory.external_id != source)
        ).scalar()
    plan_id = save_plan(
        engine,
        name="one move",
        scenario_toml="",
        result={"status": "OPTIMAL", "moves": [{"account": account, "from": source, "to": target}]},
        fingerprint=assignments_fingerprint(engine),
        created_by=role_email("planner"),
    )
    submit_plan(engine, plan_id, actor=role_email("planner"))
    approve_plan(engine, plan_id, approver=role_email("approver"))
    later = date.today() + timedelta(days=7)

    at = page(writable_db, "optimize", role="approver", plan=str(plan_id))
    assert not at.exception, at.exception
    at.date_input[0].set_value(later).run()
    # the quota method is chosen once, in the impact preview, and Apply uses it
    next(s for s in at.segmented_control if s.label == "Quota follows the accounts").set_value(
        "revenue"
    ).run()
    assert any(t.value.startswith("Quota method: revenue") for t in at.text)
    assert any("trailing-12-month revenue" in c.value for c in at.caption)  # the method's sentence
    next(b for b in at.button if b.label == "Apply…").click().run()
    assert any(f"on {later:%Y-%m-%d} (scheduled)" in t.value for t in at.text)
    next(b for b in at.button if b.label == "Schedule").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    plan = get_plan(engine, plan_id)
    assert (plan.status, plan.effective_date, plan.quota_method) == ("scheduled", later, "revenue")
    table = at.dataframe[0].value
    assert f"scheduled for {later:%Y-%m-%d}" in table["status"].tolist()

    next(b for b in at.button if b.label == "Cancel the schedule").click().run()
    assert not at.error, [e.value for e in at.error]
    assert get_plan(engine, plan_id).status == "approved"
