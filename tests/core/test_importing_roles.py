"""An import checks its actor's role in core and records its audit event in its own transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.auth import Actor, AuthError
from core.importing import import_files
from core.models import Account, AuditEvent
from tests.core.test_importing import TODAY, copy_fixtures


def count(engine, model) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar() or 0)


def test_a_viewer_cannot_import_and_nothing_is_written(engine, tmp_path):
    with pytest.raises(AuthError, match="viewer@example.com \\(viewer\\) may not"):
        import_files(
            engine, copy_fixtures(tmp_path), today=TODAY, actor=Actor("viewer@example.com", "viewer")
        )
    assert count(engine, Account) == 0 and count(engine, AuditEvent) == 0


def test_an_import_and_its_audit_event_are_one_write(engine, tmp_path):
    admin = Actor("admin@example.com", "admin")
    import_files(engine, copy_fixtures(tmp_path), today=TODAY, actor=admin, trigger="dashboard")
    with engine.connect() as connection:
        events = connection.execute(select(AuditEvent.actor, AuditEvent.action, AuditEvent.source)).all()
    assert [tuple(e) for e in events] == [("admin@example.com", "import", "page")]
    assert count(engine, Account) > 0
