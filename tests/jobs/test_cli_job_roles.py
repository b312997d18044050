"""Jobs started from the command line say who acts: --as needs an admin, without it ``system`` runs them."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from core.models import AuditEvent, TerritoryKpi
from jobs.cli import app
from tests.smtp_server import free_port

runner = CliRunner()


def invoke(*args: str, **kwargs):
    return runner.invoke(app, list(args), **kwargs)


@pytest.fixture
def db(db_url):
    assert invoke("init", "--db", db_url, "--sample", "none").exit_code == 0
    for email, role in (("admin@example.com", "admin"), ("viewer@example.com", "viewer")):
        added = invoke(
            "users",
            "add",
            email,
            "--role",
            role,
            "--password-stdin",
            "--db",
            db_url,
            "--as",
            "system",
            input="a long password\n",
        )
        assert added.exit_code == 0, added.output
    return db_url


def _events(url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(AuditEvent.actor, AuditEvent.action, AuditEvent.what).order_by(AuditEvent.id)
            ).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in rows if r[1] in ("jobs.run", "email.test")]


def _kpi_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return len(connection.execute(select(TerritoryKpi.id)).all())
    finally:
        engine.dispose()


def test_loading_a_sample_into_a_database_with_users_needs_an_admin(db):
    refused = invoke("init", "--db", db, "--sample", "southwest", "--as", "viewer@example.com")
    assert refused.exit_code == 1
    assert "viewer@example.com (viewer) may not run jobs" in refused.output
    assert "Traceback" not in refused.output
    missing = invoke("init", "--db", db, "--sample", "southwest")
    assert missing.exit_code == 1 and "pass --as EMAIL or set TERRITORY_USER" in missing.output
    loaded = invoke("init", "--db", db, "--sample", "southwest", "--as", "admin@example.com")
    assert loaded.exit_code == 0, loaded.output
    assert ("admin@example.com", "jobs.run", "init: load the southwest sample") in _events(db)
    # a re-run that only upgrades the schema and reports needs no one
    again = invoke("init", "--db", db, "--sample", "southwest")
    assert again.exit_code == 0 and "already holds" in again.output


def test_refresh_as_a_viewer_is_refused_and_writes_nothing(db):
    assert invoke("init", "--db", db, "--sample", "southwest", "--as", "admin@example.com").exit_code == 0
    before = _kpi_rows(db)
    refused = invoke("refresh", "kpis", "--db", db, "--as", "viewer@example.com", "--as-of", "2026-01-05")
    assert refused.exit_code == 1 and "may not run jobs" in refused.output
    assert _kpi_rows(db) == before


def test_refresh_is_audited_as_the_admin_or_as_system(db, monkeypatch):
    assert invoke("init", "--db", db, "--sample", "southwest", "--as", "admin@example.com").exit_code == 0
    ran = invoke("refresh", "alerts", "--db", db, "--as", "admin@example.com")
    assert ran.exit_code == 0, ran.output
    assert invoke("refresh", "alerts", "--db", db).exit_code == 0
    monkeypatch.setenv("TERRITORY_USER", "viewer@example.com")
    from core.config import get_settings

    get_settings.cache_clear()
    assert invoke("refresh", "alerts", "--db", db).exit_code == 1  # TERRITORY_USER is checked like --as
    events = [e for e in _events(db) if e[2] == "refresh alerts"]
    assert [e[0] for e in events] == ["admin@example.com", "system"]


def test_the_scheduler_refuses_a_viewer_before_it_starts(db):
    refused = invoke("scheduler", "--db", db, "--as", "viewer@example.com")
    assert refused.exit_code == 1 and "may not run jobs" in refused.output


def test_a_test_email_is_audited_before_it_goes_and_a_failure_is_recorded(db, monkeypatch):
    port = free_port()  # nothing listens: the send fails
    monkeypatch.setenv("TERRITORY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TERRITORY_SMTP_PORT", str(port))
    from core.config import get_settings

    get_settings.cache_clear()
    result = invoke(
        "alerts", "test-email", "--to", "ops@example.com", "--db", db, "--as", "admin@example.com"
    )
    assert result.exit_code == 1 and "could not send to ops@example.com" in result.output
    events = _events(db)
    assert events[0] == (
        "admin@example.com",
        "email.test",
        f"test email to ops@example.com through 127.0.0.1:{port}",
    )
    assert events[1][2].startswith("test email to ops@example.com failed:")
