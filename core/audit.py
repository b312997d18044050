"""The audit trail: who did what, when and from where, one row per write.

``record`` is called inside the transaction of the write it describes, so an event exists exactly
when its change does (a refused or failed write leaves no event).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from core.db import session_scope
from core.format import moment_label
from core.models import AuditEvent

SOURCES = ("cli", "page", "scheduler")


def record(
    session: Session, actor: str, action: str, what: str, source: str, *, plan_id: int | None = None
) -> None:
    """Add an audit event to ``session``'s transaction (committed with the write it describes)."""
    session.add(AuditEvent(actor=actor, action=action, what=what, source=source, plan_id=plan_id))


def record_event(
    engine: Engine, actor: str, action: str, what: str, source: str, *, plan_id: int | None = None
) -> None:
    """An audit event in a transaction of its own (for writes done by code that owns its transaction)."""
    with session_scope(engine) as session:
        record(session, actor, action, what, source, plan_id=plan_id)


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    actor: str
    action: str
    what: str
    source: str
    plan_id: int | None

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "at": self.at.isoformat()}

    def as_line(self) -> str:
        plan = f" plan {self.plan_id}" if self.plan_id is not None else ""
        when = moment_label(self.at, seconds=True)
        return f"{when}  {self.source:<9} {self.actor:<28} {self.action:<22}{plan}  {self.what}"


def list_events(
    engine: Engine, *, since: date | None = None, plan_id: int | None = None, limit: int | None = None
) -> list[Event]:
    """Audit events, newest first, from ``since`` (a day, UTC) and for one plan when given."""
    query = select(AuditEvent).order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
    if since is not None:
        query = query.where(col(AuditEvent.at) >= datetime.combine(since, time.min, tzinfo=UTC))
    if plan_id is not None:
        query = query.where(col(AuditEvent.plan_id) == plan_id)
    if limit is not None:
        query = query.limit(limit)
    with session_scope(engine) as session:
        return [
            Event(e.id or 0, e.at, e.actor, e.action, e.what or "", e.source, e.plan_id)
            for e in session.execute(query).scalars()
        ]
