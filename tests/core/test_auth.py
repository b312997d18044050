"""Users, roles, Argon2 passwords, sign-in throttling and lock, sessions, and the audit trail."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from core.audit import list_events
from core.auth import (
    SYSTEM_ACTOR,
    Actor,
    AuthError,
    SignInError,
    authorize,
    create_user,
    disable_user,
    end_session,
    ensure_first_admin,
    list_users,
    redeem_ticket,
    require,
    reset_password,
    session_actor,
    set_role,
    start_session,
    verify_password,
)
from core.db import session_scope
from core.models import User

PASSWORD = "correct horse battery"


@pytest.fixture
def users(engine, monkeypatch):
    monkeypatch.setenv("TERRITORY_SIGNIN_DELAY_S", "0")
    for role in ("viewer", "planner", "approver", "admin"):
        create_user(engine, f"{role}@example.com", role=role, password=PASSWORD, actor=SYSTEM_ACTOR)
    return engine


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("viewer", {"view"}),
        ("planner", {"view", "plan.create", "plan.submit"}),
        ("approver", {"view", "plan.create", "plan.approve", "plan.apply"}),
        ("admin", {"view", "plan.create", "plan.approve", "plan.apply", "import", "users.manage"}),
    ],
)
def test_roles_are_ordered(role, allowed):
    actor = Actor("x@example.com", role)
    for action in (
        "view",
        "plan.create",
        "plan.submit",
        "plan.approve",
        "plan.apply",
        "import",
        "users.manage",
    ):
        if action in allowed:
            require(actor, action)
    for action in {"plan.create", "plan.approve", "import", "users.manage"} - allowed:
        with pytest.raises(AuthError, match="may not"):
            require(actor, action)


def test_passwords_are_argon2_hashes_and_never_logged(users, caplog):
    caplog.set_level(logging.DEBUG)
    with session_scope(users) as session:
        hashed = session.execute(
            select(User.password_hash).where(User.email == "viewer@example.com")
        ).scalar()
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert verify_password(users, "Viewer@Example.com", PASSWORD).role == "viewer"
    with pytest.raises(SignInError, match="wrong email or password"):
        verify_password(users, "viewer@example.com", "wrong password")
    assert PASSWORD not in caplog.text and hashed not in caplog.text and "wrong password" not in caplog.text


def test_repeated_failures_lock_the_account(users, monkeypatch):
    monkeypatch.setenv("TERRITORY_SIGNIN_MAX_FAILURES", "3")
    for _ in range(3):
        with pytest.raises(SignInError, match="wrong"):
            verify_password(users, "planner@example.com", "nope-nope")
    with pytest.raises(SignInError, match="locked"):
        verify_password(users, "planner@example.com", PASSWORD)  # even the right password
    assert [u.locked for u in list_users(users) if u.email == "planner@example.com"] == [True]
    reset_password(users, "planner@example.com", "a new password", actor=SYSTEM_ACTOR)
    assert verify_password(users, "planner@example.com", "a new password").role == "planner"


def test_failures_slow_down(users, monkeypatch):
    monkeypatch.setenv("TERRITORY_SIGNIN_DELAY_S", "0.2")
    import time

    started = time.monotonic()
    for _ in range(2):
        with pytest.raises(SignInError):
            verify_password(users, "viewer@example.com", "nope-nope")
    assert time.monotonic() - started >= 0.2 + 0.4


def test_only_an_admin_manages_users_and_changes_are_audited(users):
    planner = authorize(users, "planner@example.com", "view")
    with pytest.raises(AuthError, match="planner@example.com \\(planner\\) may not manage users"):
        create_user(users, "x@example.com", role="admin", password=PASSWORD, actor=planner)
    admin = authorize(users, "admin@example.com", "users.manage")
    set_role(users, "planner@example.com", "approver", actor=admin)
    disable_user(users, "viewer@example.com", actor=admin)
    with pytest.raises(AuthError, match="not an active user"):
        authorize(users, "viewer@example.com", "view")
    actions = [(e.actor, e.action) for e in list_events(users)]
    assert ("admin@example.com", "users.set-role") in actions and (
        "admin@example.com",
        "users.disable",
    ) in actions


def test_a_session_survives_until_sign_out_ends_it_everywhere(users):
    ticket = start_session(users, "approver@example.com")
    cookie = redeem_ticket(users, ticket)
    assert cookie is not None and redeem_ticket(users, ticket) is None  # a ticket works once
    other_tab = redeem_ticket(users, start_session(users, "approver@example.com"))
    assert (
        session_actor(users, cookie)
        == session_actor(users, other_tab)
        == Actor("approver@example.com", "approver", "")
    )
    assert session_actor(users, cookie[:-1] + ("0" if cookie[-1] != "0" else "1")) is None  # signature
    end_session(users, cookie)
    assert session_actor(users, cookie) is None and session_actor(users, other_tab) is None


def test_first_admin_is_created_once(engine):
    generated = ensure_first_admin(engine, "boss@example.com", None)
    assert generated and len(generated) >= 12
    assert verify_password(engine, "boss@example.com", generated).role == "admin"
    assert ensure_first_admin(engine, "other@example.com", "whatever-123") is None
