"""Who may do what: users, roles, passwords (Argon2), sign-in throttling and dashboard sessions.

Roles are ordered: viewer < planner < approver < admin; each one may do what the roles below it
may. Every write in core calls ``require`` (through ``authorize``) with the acting user and the
action, whatever called it (page, CLI or scheduled job), so hiding a button is never the only guard.
Scheduled jobs act as ``system``, an actor with admin rights that cannot sign in.

No password or hash is ever logged, printed or returned: functions here return ``Actor`` (email,
name, role) and raise errors whose messages name the user, never the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from core.audit import record
from core.config import get_settings
from core.db import session_scope
from core.models import SiteSecret, User, UserSession, utcnow

log = logging.getLogger(__name__)

ROLES = ("viewer", "planner", "approver", "admin")
SYSTEM = "system"

# What each action needs; the human half says what the action is, for refusals.
ACTIONS: dict[str, tuple[str, str]] = {
    "view": ("viewer", "view the dashboard"),
    "plan.review": ("viewer", "read the 30/60/90-day review of applied plans"),
    "plan.create": ("planner", "save plans"),
    "plan.edit": ("planner", "edit draft plans"),
    "plan.submit": ("planner", "submit plans for approval"),
    "plan.discard": ("planner", "discard plans"),
    "plan.approve": ("approver", "approve plans"),
    "plan.reject": ("approver", "reject plans"),
    "plan.apply": ("approver", "apply plans"),
    "import": ("admin", "import data"),
    "alerts.edit": ("admin", "edit alert rules"),
    "email.test": ("admin", "send test emails"),
    "users.manage": ("admin", "manage users"),
    "jobs.run": ("admin", "run jobs"),
    "audit.view": ("admin", "read the audit trail"),
}

_hasher = PasswordHasher()


class AuthError(PermissionError):
    """The acting user may not do this (unknown, disabled, or the role is too low)."""


class SignInError(Exception):
    """A sign-in refused; the message is safe to show (it never says which part was wrong)."""


@dataclass(frozen=True)
class Actor:
    email: str
    role: str
    name: str = ""

    def can(self, action: str) -> bool:
        needed, _ = ACTIONS[action]
        return ROLES.index(self.role) >= ROLES.index(needed)


SYSTEM_ACTOR = Actor(SYSTEM, "admin", "scheduled jobs")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def require(actor: Actor, action: str) -> None:
    """Raise AuthError unless ``actor``'s role allows ``action``."""
    if not actor.can(action):
        needed, words = ACTIONS[action]
        raise AuthError(f"{actor.email} ({actor.role}) may not {words}: that needs the {needed} role")


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def _user(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(col(User.email) == normalise_email(email))).scalar_one_or_none()


def actor_in(session: Session, email: str | None) -> Actor:
    """The active user ``email`` as an Actor (``system`` for scheduled jobs); AuthError otherwise."""
    if not email:
        raise AuthError("no user given: pass --as EMAIL or set TERRITORY_USER")
    if normalise_email(email) == SYSTEM:
        return SYSTEM_ACTOR
    user = _user(session, email)
    if user is None or not user.active:
        raise AuthError(f"{normalise_email(email)} is not an active user")
    return Actor(user.email, user.role, user.name)


def authorize(engine: Engine, email: str | None, action: str) -> Actor:
    """The acting user, checked for ``action`` (the one call every writing entry point makes)."""
    with session_scope(engine) as session:
        actor = actor_in(session, email)
    require(actor, action)
    return actor


# --- users --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserInfo:
    email: str
    name: str
    role: str
    active: bool
    local: bool  # has a password (else single sign-on only)
    locked: bool
    created_at: datetime
    last_signin_at: datetime | None


def _info(user: User) -> UserInfo:
    return UserInfo(
        email=user.email,
        name=user.name,
        role=user.role,
        active=user.active,
        local=user.password_hash is not None,
        locked=_is_locked(user),
        created_at=user.created_at,
        last_signin_at=user.last_signin_at,
    )


def _is_locked(user: User) -> bool:
    return user.locked_until is not None and _aware(user.locked_until) > utcnow()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def count_users(engine: Engine) -> int:
    with engine.connect() as connection:
        return len(connection.execute(select(col(User.id))).all())


def list_users(engine: Engine) -> list[UserInfo]:
    with session_scope(engine) as session:
        return [_info(u) for u in session.execute(select(User).order_by(col(User.email))).scalars()]


def create_user(
    engine: Engine,
    email: str,
    *,
    role: str,
    password: str | None,
    name: str = "",
    actor: Actor,
    source: str = "cli",
) -> UserInfo:
    """Add a user (``password`` None: single sign-on only). Only an admin may."""
    require(actor, "users.manage")
    _check_role(role)
    email = normalise_email(email)
    if "@" not in email or email == SYSTEM:
        raise ValueError(f"{email!r} is not an email address")
    if password is not None:
        _check_password(password)
    with session_scope(engine) as session:
        if _user(session, email) is not None:
            raise ValueError(f"{email} already exists")
        user = User(
            email=email,
            name=name,
            role=role,
            password_hash=None if password is None else _hasher.hash(password),
        )
        session.add(user)
        record(session, actor.email, "users.add", f"added {email} as {role}", source)
        return _info(user)


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")


def _change(engine: Engine, email: str, actor: Actor, source: str, action: str, what: str, **values) -> None:  # type: ignore[no-untyped-def]
    require(actor, "users.manage")
    with session_scope(engine) as session:
        user = _user(session, email)
        if user is None:
            raise ValueError(f"there is no user {normalise_email(email)}")
        for key, value in values.items():
            setattr(user, key, value)
        record(session, actor.email, action, f"{user.email}: {what}", source)
        if action in ("users.disable", "users.reset-password"):
            _end_sessions(session, user)


def set_role(engine: Engine, email: str, role: str, *, actor: Actor, source: str = "cli") -> None:
    _change(engine, email, actor, source, "users.set-role", f"role {_check_role(role)}", role=role)


def disable_user(engine: Engine, email: str, *, actor: Actor, source: str = "cli") -> None:
    """Disable a user and end their sessions everywhere."""
    if normalise_email(email) == actor.email:
        raise ValueError("you cannot disable yourself")
    _change(engine, email, actor, source, "users.disable", "disabled", active=False)


def enable_user(engine: Engine, email: str, *, actor: Actor, source: str = "cli") -> None:
    _change(engine, email, actor, source, "users.enable", "enabled", active=True)


def reset_password(engine: Engine, email: str, password: str, *, actor: Actor, source: str = "cli") -> None:
    """Set a new password, unlock the account and end its sessions everywhere."""
    _check_password(password)
    _change(
        engine,
        email,
        actor,
        source,
        "users.reset-password",
        "password reset",
        password_hash=_hasher.hash(password),
        failed_signins=0,
        locked_until=None,
    )


def ensure_sso_user(engine: Engine, email: str, name: str) -> Actor | None:
    """The Actor of a single sign-on identity: known users keep their role; unknown ones get none."""
    with session_scope(engine) as session:
        user = _user(session, email)
        if user is None or not user.active:
            return None
        user.last_signin_at = utcnow()
        if name and not user.name:
            user.name = name
        return Actor(user.email, user.role, user.name)


# --- sign-in ------------------------------------------------------------------------------------
def verify_password(engine: Engine, email: str, password: str) -> Actor:
    """Check a local sign-in. Failures pause (doubling) and lock the account after N in a row."""
    settings = get_settings()
    with session_scope(engine) as session:
        user = _user(session, email)
        if user is None or not user.active or user.password_hash is None:
            _hasher.hash(password)  # same cost as a real check: no timing hint that the user is unknown
            raise SignInError("wrong email or password")
        if _is_locked(user):
            raise SignInError(
                "this account is locked after repeated failed sign-ins; try again later or ask an admin"
            )
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            failures = _count_failure(
                session, user, settings.signin_max_failures, settings.signin_lock_minutes
            )
            session.commit()
            log.warning("failed sign-in for %s (%d in a row)", user.email, failures)
            time.sleep(min(settings.signin_delay_s * 2 ** (failures - 1), 8.0))
            raise SignInError("wrong email or password") from None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.failed_signins, user.locked_until, user.last_signin_at = 0, None, utcnow()
        return Actor(user.email, user.role, user.name)


def _count_failure(session: Session, user: User, max_failures: int, lock_minutes: float) -> int:
    user.failed_signins += 1
    if user.failed_signins >= max_failures:
        user.locked_until = utcnow() + timedelta(minutes=lock_minutes)
        record(
            session, SYSTEM, "users.lock", f"{user.email} locked after {user.failed_signins} failures", "page"
        )
    return user.failed_signins


# --- sessions -----------------------------------------------------------------------------------
TICKET_SECONDS = 60


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def start_session(engine: Engine, email: str) -> str:
    """A one-time ticket for a new session of ``email`` (the cookie route exchanges it for the cookie)."""
    ticket = secrets.token_urlsafe(32)
    hours = get_settings().session_hours
    with session_scope(engine) as session:
        user = _user(session, email)
        if user is None or user.id is None:
            raise AuthError(f"{email} is not a user")
        session.add(
            UserSession(
                user_id=user.id, ticket_hash=_digest(ticket), expires_at=utcnow() + timedelta(hours=hours)
            )
        )
    return ticket


def redeem_ticket(engine: Engine, ticket: str) -> str | None:
    """Exchange a fresh, unused ticket for the session's signed cookie value (None when invalid)."""
    token = secrets.token_urlsafe(32)
    cutoff = utcnow() - timedelta(seconds=TICKET_SECONDS)
    with session_scope(engine) as session:
        changed = session.execute(
            update(UserSession)
            .where(col(UserSession.ticket_hash) == _digest(ticket))
            .where(col(UserSession.created_at) >= cutoff)
            .where(col(UserSession.ended_at).is_(None))
            .values(ticket_hash=None, token_hash=_digest(token))
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return None
    return sign(engine, token)


def session_actor(engine: Engine, cookie_value: str | None) -> Actor | None:
    """The signed-in user of a cookie, or None (bad signature, ended, expired, user disabled)."""
    token = unsign(engine, cookie_value) if cookie_value else None
    if token is None:
        return None
    with session_scope(engine) as session:
        row = session.execute(
            select(UserSession, User)
            .join(User, col(User.id) == col(UserSession.user_id))
            .where(col(UserSession.token_hash) == _digest(token))
        ).first()
        if row is None:
            return None
        user_session, user = row
        if (
            user_session.ended_at is not None
            or _aware(user_session.expires_at) <= utcnow()
            or not user.active
        ):
            return None
        return Actor(user.email, user.role, user.name)


def end_session(engine: Engine, cookie_value: str | None, *, everywhere: bool = True) -> None:
    """Sign out: ends this cookie's session, and with ``everywhere`` every session of that user."""
    token = unsign(engine, cookie_value) if cookie_value else None
    if token is None:
        return
    with session_scope(engine) as session:
        row = session.execute(
            select(UserSession).where(col(UserSession.token_hash) == _digest(token))
        ).scalar()
        if row is None:
            return
        if everywhere:
            user = session.get(User, row.user_id)
            if user is not None:
                _end_sessions(session, user)
        else:
            row.ended_at = utcnow()


def _end_sessions(session: Session, user: User) -> None:
    session.execute(
        update(UserSession)
        .where(col(UserSession.user_id) == user.id)
        .where(col(UserSession.ended_at).is_(None))
        .values(ended_at=utcnow())
    )


# --- cookie signing -----------------------------------------------------------------------------
def _secret(engine: Engine) -> bytes:
    """The cookie signing key, generated once per database (two first requests at once: one wins)."""
    for _ in range(2):
        try:
            with session_scope(engine) as session:
                row = session.get(SiteSecret, "session")
                if row is None:
                    row = SiteSecret(name="session", value=secrets.token_hex(32))
                    session.add(row)
                return row.value.encode()
        except IntegrityError:
            continue
    raise RuntimeError("could not read the session signing key")


def sign(engine: Engine, token: str) -> str:
    mac = hmac.new(_secret(engine), token.encode(), hashlib.sha256).hexdigest()
    return f"{token}.{mac}"


def unsign(engine: Engine, value: object) -> str | None:
    if not isinstance(value, str):
        return None
    token, _, mac = value.rpartition(".")
    if not token or not mac:
        return None
    expected = hmac.new(_secret(engine), token.encode(), hashlib.sha256).hexdigest()
    return token if hmac.compare_digest(mac, expected) else None


# --- first run ----------------------------------------------------------------------------------
def ensure_first_admin(engine: Engine, email: str, password: str | None) -> str | None:
    """Create the first admin when there is no user yet; returns the generated password (else None)."""
    if count_users(engine) > 0:
        return None
    generated = None if password else secrets.token_urlsafe(12)
    create_user(engine, email, role="admin", password=password or generated, name="Admin", actor=SYSTEM_ACTOR)
    return generated
