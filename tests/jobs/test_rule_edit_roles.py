"""Editing an alert rule checks the actor's role in core and audits in the edit's own transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.alerts import seed_default_rules
from core.auth import Actor, AuthError
from core.db import session_scope
from core.models import AlertRule, AuditEvent
from jobs.alerts import edit_rule


def test_a_viewer_cannot_edit_a_rule_and_nothing_changes(engine):
    with session_scope(engine) as session:
        seed_default_rules(session)
    with pytest.raises(AuthError, match="may not edit alert rules"):
        edit_rule(engine, "coverage_low", threshold=0.5, actor=Actor("viewer@example.com", "viewer"))
    with engine.connect() as connection:
        threshold = connection.execute(select(AlertRule.threshold).where(AlertRule.key == "coverage_low"))
        assert threshold.scalar() == pytest.approx(0.70)
        assert connection.execute(select(AuditEvent)).first() is None


def test_an_edit_and_its_audit_event_are_one_write(engine):
    with session_scope(engine) as session:
        seed_default_rules(session)
    edit_rule(engine, "coverage_low", threshold=0.5, actor=Actor("admin@example.com", "admin"), source="page")
    with engine.connect() as connection:
        events = connection.execute(select(AuditEvent.actor, AuditEvent.action, AuditEvent.source)).all()
    assert [tuple(e) for e in events] == [("admin@example.com", "alerts.edit", "page")]
