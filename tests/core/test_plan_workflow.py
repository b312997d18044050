"""The approval workflow: who may do each step, self-approval, comments, emails and the audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit import list_events
from core.auth import SYSTEM_ACTOR, AuthError, create_user
from core.db import session_scope
from core.models import Account, Notification, Rep, Territory
from core.plans import (
    PlanError,
    apply_plan,
    approve_plan,
    assignments_fingerprint,
    get_plan,
    list_plans,
    reject_plan,
    save_plan,
    submit_plan,
)

PLANNER, APPROVER, OTHER, VIEWER = "pat@example.com", "ada@example.com", "bo@example.com", "vic@example.com"
EVIL = "**[Sign in again](http://evil.example/login)**"


@pytest.fixture
def book(engine):
    for email, role in (
        (PLANNER, "planner"),
        (APPROVER, "approver"),
        (OTHER, "approver"),
        (VIEWER, "viewer"),
    ):
        create_user(engine, email, role=role, password=None, actor=SYSTEM_ACTOR)
    with session_scope(engine) as session:
        reps = [
            Rep(external_id="R1", name=EVIL, email="r1@example.com"),
            Rep(external_id="R2", name="Bo", email="r2@example.com"),
        ]
        session.add_all(reps)
        session.flush()
        territories = [
            Territory(external_id=f"T{i}", name=f"T{i}", owner_rep_id=r.id) for i, r in enumerate(reps, 1)
        ]
        session.add_all(territories)
        session.flush()
        session.add(
            Account(external_id="A1", name="<img src=x onerror=alert(1)>", territory_id=territories[1].id)
        )
    return engine


def draft(engine, by: str = PLANNER) -> int:  # type: ignore[no-untyped-def]
    return save_plan(
        engine,
        name="q4",
        scenario_toml="",
        result={
            "status": "OPTIMAL",
            "moves": [{"account": "A1", "from": "T2", "to": "T1", "reason": "balance"}],
        },
        fingerprint=assignments_fingerprint(engine),
        created_by=by,
    )


def test_each_step_needs_its_role(book):
    with pytest.raises(AuthError, match="vic@example.com \\(viewer\\) may not save plans"):
        draft(book, VIEWER)
    plan_id = draft(book)
    with pytest.raises(AuthError, match="may not approve plans"):
        approve_plan(book, plan_id, approver=PLANNER)
    with pytest.raises(AuthError, match="not an active user"):
        submit_plan(book, plan_id, actor="nobody@example.com")


def test_the_workflow_with_comments_emails_and_audit(book):
    plan_id = draft(book)
    with pytest.raises(PlanError, match="only a submitted plan can be approved"):
        approve_plan(book, plan_id, approver=APPROVER)
    submit_plan(book, plan_id, actor=PLANNER)
    with pytest.raises(PlanError, match="needs a comment"):
        reject_plan(book, plan_id, actor=APPROVER, comment=" ")
    reject_plan(book, plan_id, actor=APPROVER, comment="too many moves in Q4")
    plan = get_plan(book, plan_id)
    assert (plan.status, plan.rejected_by, plan.review_comment) == (
        "rejected",
        APPROVER,
        "too many moves in Q4",
    )
    with pytest.raises(PlanError, match=f"plan {plan_id} was already rejected by {APPROVER} at "):
        approve_plan(book, plan_id, approver=OTHER)
    submit_plan(book, plan_id, actor=PLANNER)  # revised and sent again
    approve_plan(book, plan_id, approver=APPROVER, comment="ok")
    assert apply_plan(book, plan_id, actor=OTHER) == 1
    summary = next(p for p in list_plans(book) if p.id == plan_id)
    assert (summary.created_by, summary.approved_by, summary.applied_by) == (PLANNER, APPROVER, OTHER)
    events = [(e.actor, e.action) for e in reversed(list_events(book, plan_id=plan_id))]
    assert events == [
        (PLANNER, "plan.create"),
        (PLANNER, "plan.submit"),
        (APPROVER, "plan.reject"),
        (PLANNER, "plan.submit"),
        (APPROVER, "plan.approve"),
        (OTHER, "plan.apply"),
    ]
    with session_scope(book) as session:
        mails = session.execute(select(Notification).order_by(Notification.id)).scalars().all()
    to_approvers = [m for m in mails if "waits for approval" in m.subject]
    assert {m.recipient for m in to_approvers} == {APPROVER, OTHER}  # both submits, each approver
    to_reps = {m.recipient: m for m in mails if "changes from" in m.subject}
    assert set(to_reps) == {"r1@example.com", "r2@example.com"}  # gains A1, loses A1
    assert "+ <img src=x onerror=alert(1)>" in to_reps["r1@example.com"].body_text
    assert (
        "&lt;img src=x" in to_reps["r1@example.com"].body_html
        and "<img" not in to_reps["r1@example.com"].body_html
    )


def test_an_approver_cannot_approve_their_own_plan_unless_allowed(book, monkeypatch):
    plan_id = draft(book, APPROVER)
    submit_plan(book, plan_id, actor=APPROVER)
    with pytest.raises(PlanError, match="created by ada@example.com: another approver must approve it"):
        approve_plan(book, plan_id, approver=APPROVER)
    assert get_plan(book, plan_id).status == "submitted"  # the refusal changed nothing
    monkeypatch.setenv("TERRITORY_ALLOW_SELF_APPROVAL", "true")
    from core.config import get_settings

    get_settings.cache_clear()
    approve_plan(book, plan_id, approver=APPROVER)
    assert get_plan(book, plan_id).status == "approved"


def test_a_refused_apply_says_who_applied_it_and_when(book):
    plan_id = draft(book)
    submit_plan(book, plan_id, actor=PLANNER)
    approve_plan(book, plan_id, approver=APPROVER)
    apply_plan(book, plan_id, actor=APPROVER)
    with pytest.raises(
        PlanError, match=rf"^plan {plan_id} was already applied by {APPROVER} at \d{{4}}-\d\d-\d\d "
    ):
        apply_plan(book, plan_id, actor=OTHER)
