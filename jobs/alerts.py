"""Alerts job: evaluate the rules over the latest KPI snapshot, open/resolve episodes, deliver digests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from core.config import get_settings
from core.db import session_scope
from core.models import utcnow
from jobs.runs import record_job


def refresh_alerts(engine: Engine, *, now: datetime | None = None, trigger: str = "cli") -> int:
    """Evaluate alert rules and deliver pending notifications. Returns notifications created."""
    from core.alerts import deliver_pending, evaluate_alerts

    now = now or utcnow()
    with record_job(engine, "alerts", trigger=trigger) as job:
        with session_scope(engine) as session:
            report = evaluate_alerts(session, now=now)
        with session_scope(engine) as session:
            deliver_pending(session, get_settings())
        job.rows_written = int(getattr(report, "notifications", 0) or 0)
    return job.rows_written
