"""Applying a plan on a date: today, scheduled for later (applied on the day, or refused when the book
changed), cancelled; and the quota that follows the moved accounts, hand-worked to the cent.

The book (dates relative to today, so the arithmetic holds on any day):

* reps R1, R2, R3 own T1, T2, T3; each has a base quota of $10,000.00 for the 30-day period that
  started 9 days before today (so 9 of its 30 days are expected before today);
* T1 holds A1, A2, A3 (potential $100 each, from the current forecast run), T2 holds A4, T3 holds A5;
* the plan moves A2 to T2 and A3 to T3.

Applied today by potential: R1's quota not yet expected before today is 10,000 − 10,000 × 9/30 =
$7,000.00; each moved account is 1/3 of R1's book, so each transfer is 7,000 / 3 = 2,333.33 (rounded
to the cent). Rows: R1 −2,333.33 (to T2), R2 +2,333.33, R1 −2,333.33 (to T3), R3 +2,333.33; R1's
quota is 5,333.34, the team total stays $30,000.00.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from core.audit import list_events
from core.auth import SYSTEM_ACTOR, create_user
from core.db import session_scope
from core.models import (
    Account,
    AccountPotential,
    AssignmentHistory,
    ForecastRun,
    Notification,
    Quota,
    QuotaAdjustment,
    RebalancePlan,
    Rep,
    Territory,
)
from core.plans import (
    PlanError,
    apply_due_plans,
    apply_plan,
    approve_plan,
    assignments_fingerprint,
    discard_plan,
    get_plan,
    list_plans,
    save_plan,
    submit_plan,
    unschedule_plan,
)

PLANNER, APPROVER = "pat@example.com", "ada@example.com"
TODAY = date.today()
LATER = TODAY + timedelta(days=3)


@pytest.fixture
def book(engine):
    create_user(engine, PLANNER, role="planner", password=None, actor=SYSTEM_ACTOR)
    create_user(engine, APPROVER, role="approver", password=None, actor=SYSTEM_ACTOR)
    start = TODAY - timedelta(days=9)
    with session_scope(engine) as session:
        reps = [Rep(external_id=f"R{i}", name=f"Rep {i}", email=f"r{i}@example.com") for i in (1, 2, 3)]
        session.add_all(reps)
        session.flush()
        territories = [
            Territory(external_id=f"T{i}", name=f"Terr {i}", owner_rep_id=r.id) for i, r in enumerate(reps, 1)
        ]
        session.add_all(territories)
        session.flush()
        homes = {1: 0, 2: 0, 3: 0, 4: 1, 5: 2}
        accounts = [
            Account(external_id=f"A{i}", name=f"Acct {i}", territory_id=territories[t].id)
            for i, t in homes.items()
        ]
        session.add_all(accounts)
        session.add_all(
            Quota(rep_id=r.id, period_start=start, period_end=start + timedelta(days=29), amount=10_000.0)
            for r in reps
        )
        run = ForecastRun(as_of=TODAY, status="complete", is_current=True)
        session.add(run)
        session.flush()
        session.add_all(
            AccountPotential(
                run_id=run.id,
                account_id=a.id,
                forecast_12m=100.0,
                wallet=100.0,
                potential=100.0,
                method="prophet",
                history_hash="h",
            )
            for a in accounts
        )
    return engine


def approved_plan(engine) -> int:  # type: ignore[no-untyped-def]
    moves = [("A2", "T1", "T2"), ("A3", "T1", "T3")]
    plan_id = save_plan(
        engine,
        name="mid-cycle",
        scenario_toml="",
        result={
            "status": "OPTIMAL",
            "moves": [{"account": a, "from": f, "to": t, "reason": "balance"} for a, f, t in moves],
        },
        fingerprint=assignments_fingerprint(engine),
        created_by=PLANNER,
    )
    submit_plan(engine, plan_id, actor=PLANNER)
    approve_plan(engine, plan_id, approver=APPROVER)
    return plan_id


def territory_of(engine, external_id: str) -> str:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        account = session.execute(select(Account).where(Account.external_id == external_id)).scalar_one()
        return session.get(Territory, account.territory_id).external_id


def adjustments(engine) -> list[tuple[str, str, float, date, str]]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        rows = session.execute(
            select(Rep.external_id, Territory.external_id, QuotaAdjustment)
            .join(Rep, Rep.id == QuotaAdjustment.rep_id)
            .join(Territory, Territory.id == QuotaAdjustment.territory_id)
            .order_by(QuotaAdjustment.id)
        ).all()
        return [(rep, terr, a.amount, a.effective_date, a.reason) for rep, terr, a in rows]


def history_count(engine, plan_id: int) -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return int(
            session.execute(
                select(func.count())
                .select_from(AssignmentHistory)
                .where(AssignmentHistory.plan_id == plan_id)
            ).scalar()
            or 0
        )


def test_applied_today_moves_the_unelapsed_quota_by_potential_to_the_cent(book):
    plan_id = approved_plan(book)
    assert apply_plan(book, plan_id, actor=APPROVER) == 2
    rows = adjustments(book)
    reason_t2 = f"plan {plan_id} (mid-cycle): 1 accounts moved from Terr 1 to Terr 2"
    reason_t3 = f"plan {plan_id} (mid-cycle): 1 accounts moved from Terr 1 to Terr 3"
    assert [r[:4] for r in rows] == [
        ("R1", "T1", -2333.33, TODAY),
        ("R2", "T2", 2333.33, TODAY),
        ("R1", "T1", -2333.33, TODAY),
        ("R3", "T3", 2333.33, TODAY),
    ]
    assert [r[4] for r in rows] == [reason_t2, reason_t2, reason_t3, reason_t3]
    assert round(sum(r[2] for r in rows), 2) == 0.0  # the team total is conserved to the cent
    plan = get_plan(book, plan_id)
    assert (plan.status, plan.effective_date, plan.quota_method) == ("applied", TODAY, "potential")
    with session_scope(book) as session:
        adjustment = session.execute(select(QuotaAdjustment)).scalars().first()
        assert (adjustment.plan_id, adjustment.method, adjustment.actor) == (plan_id, "potential", APPROVER)
        mails = session.execute(
            select(Notification).where(Notification.recipient == "r1@example.com")
        ).scalar_one()
    assert "falls by $4.7K" in mails.body_text
    [event] = [e for e in list_events(book) if e.action == "plan.apply"]
    assert "quota moved by potential: $4.7K in 2 transfer(s)" in event.what


def test_quota_method_none_writes_no_quota(book):
    plan_id = approved_plan(book)
    apply_plan(book, plan_id, actor=APPROVER, quota_method="none")
    assert adjustments(book) == []
    assert get_plan(book, plan_id).quota_method == "none"
    assert territory_of(book, "A2") == "T2"


def test_a_past_date_or_an_unknown_method_is_refused_and_nothing_is_written(book):
    plan_id = approved_plan(book)
    with pytest.raises(PlanError, match=r"the effective date must be today \(.*\) or later, not 2020-01-01"):
        apply_plan(book, plan_id, actor=APPROVER, effective_date=date(2020, 1, 1))
    with pytest.raises(
        PlanError, match="the quota method must be one of none, potential, revenue, not 'foo'"
    ):
        apply_plan(book, plan_id, actor=APPROVER, quota_method="foo")
    assert get_plan(book, plan_id).status == "approved"
    assert territory_of(book, "A2") == "T1" and adjustments(book) == []


def test_a_later_date_schedules_and_the_plan_is_applied_on_that_date_not_before(book):
    plan_id = approved_plan(book)
    assert apply_plan(book, plan_id, actor=APPROVER, effective_date=LATER, quota_method="potential") == 0
    plan = get_plan(book, plan_id)
    assert (plan.status, plan.effective_date, plan.scheduled_by) == ("scheduled", LATER, APPROVER)
    assert plan.status_words == f"scheduled for {LATER:%Y-%m-%d}"
    assert [p.status_words for p in list_plans(book)] == [f"scheduled for {LATER:%Y-%m-%d}"]
    assert territory_of(book, "A2") == "T1" and adjustments(book) == []  # nothing moves yet
    assert any(e.action == "plan.schedule" and e.actor == APPROVER for e in list_events(book))
    with pytest.raises(PlanError, match=f"scheduled for {LATER:%Y-%m-%d}"):
        apply_plan(book, plan_id, actor=APPROVER)

    assert apply_due_plans(book, today=LATER - timedelta(days=1)).applied == ()
    assert territory_of(book, "A2") == "T1"

    due = apply_due_plans(book, today=LATER)
    assert (due.applied, due.refused) == ((plan_id,), ())
    plan = get_plan(book, plan_id)
    assert (plan.status, plan.applied_by, plan.effective_date) == ("applied", APPROVER, LATER)
    assert (territory_of(book, "A2"), territory_of(book, "A3")) == ("T2", "T3")
    assert history_count(book, plan_id) == 2
    rows = adjustments(book)
    assert len(rows) == 4 and {r[3] for r in rows} == {LATER} and round(sum(r[2] for r in rows), 2) == 0.0
    [event] = [e for e in list_events(book) if e.action == "plan.apply"]
    assert (
        event.actor == "system" and event.source == "scheduler" and f"scheduled by {APPROVER}" in event.what
    )
    assert apply_due_plans(book, today=LATER) == type(due)()  # applied once


def test_a_scheduled_plan_is_refused_when_the_book_changed_and_the_approver_is_told(book):
    plan_id = approved_plan(book)
    apply_plan(book, plan_id, actor=APPROVER, effective_date=LATER)
    with session_scope(book) as session:  # someone moves A3 in the CRM meanwhile
        account = session.execute(select(Account).where(Account.external_id == "A3")).scalar_one()
        account.territory_id = session.execute(
            select(Territory.id).where(Territory.external_id == "T2")
        ).scalar()
    due = apply_due_plans(book, today=LATER)
    assert (due.applied, due.refused) == ((), (plan_id,))
    reason = (
        f"plan {plan_id} was not applied on {LATER:%Y-%m-%d}: 1 of its 2 accounts changed territory since "
        f"it was scheduled on {TODAY:%Y-%m-%d}. Run the optimizer again on today's book."
    )
    plan = get_plan(book, plan_id)
    assert (plan.status, plan.review_comment) == ("refused", reason)
    assert territory_of(book, "A2") == "T1" and history_count(book, plan_id) == 0 and adjustments(book) == []
    assert any(e.action == "plan.refuse" and e.what == reason for e in list_events(book))
    with session_scope(book) as session:
        mail = (
            session.execute(
                select(Notification)
                .where(Notification.recipient == APPROVER)
                .order_by(Notification.id.desc())
            )
            .scalars()
            .first()
        )
    assert mail.subject.endswith(f"Plan {plan_id} was not applied: mid-cycle") and reason in mail.body_text
    assert apply_due_plans(book, today=LATER).refused == ()  # refused once


def test_an_approver_cancels_a_schedule_and_may_then_discard_it(book):
    plan_id = approved_plan(book)
    apply_plan(book, plan_id, actor=APPROVER, effective_date=LATER)
    unschedule_plan(book, plan_id, actor=APPROVER, comment="wait for Q1")
    plan = get_plan(book, plan_id)
    assert (plan.status, plan.effective_date, plan.scheduled_by) == ("approved", None, None)
    assert plan.approved_by == APPROVER  # the approval stands
    assert apply_due_plans(book, today=LATER).applied == ()
    with pytest.raises(PlanError, match="only a scheduled plan can be cancelled"):
        unschedule_plan(book, plan_id, actor=APPROVER)
    assert any(e.action == "plan.unschedule" and "wait for Q1" in e.what for e in list_events(book))
    apply_plan(book, plan_id, actor=APPROVER, effective_date=LATER)
    discard_plan(book, plan_id, actor=APPROVER)
    assert get_plan(book, plan_id).status == "discarded"
    with session_scope(book) as session:
        assert session.get(RebalancePlan, plan_id).status == "discarded"
