"""Alerts job: evaluate the rules over the latest KPI snapshot, open/resolve episodes, deliver digests."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy.engine import Engine

from core.config import get_settings
from core.db import session_scope
from core.models import utcnow
from jobs.runs import record_job


def refresh_alerts(engine: Engine, *, now: datetime | None = None, trigger: str = "cli") -> int:
    """Evaluate alert rules and deliver pending notifications. Returns notifications created."""
    from core.alerts import deliver_pending, evaluate_alerts, seed_default_rules

    now = now or utcnow()
    with record_job(engine, "alerts", trigger=trigger) as job:
        with session_scope(engine) as session:
            seed_default_rules(session)
            report = evaluate_alerts(session, now=now)
        with session_scope(engine) as session:
            deliver_pending(session, get_settings())
        job.rows_written = len(report.notification_ids)
    return job.rows_written


class RuleEditError(ValueError):
    """An alert rule edit that cannot be made, in words."""


def edit_rule(
    engine: Engine,
    key: str,
    *,
    threshold: float | None = None,
    severity: str | None = None,
    scope: str | None = None,
    recipients: str | None = None,
    renotify_hours: float | None = None,
    enabled: bool | None = None,
) -> str:
    """Change the given fields of one stored rule; returns the rule in words."""
    from sqlmodel import select

    from core.alerts import describe
    from core.alerts.rules import SCOPES, SEVERITIES, rule_from_row
    from core.comparators import comparator_named
    from core.models import AlertRule

    if severity is not None and severity not in SEVERITIES:
        raise RuleEditError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    if scope is not None and scope not in SCOPES:
        raise RuleEditError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if renotify_hours is not None and renotify_hours <= 0:
        raise RuleEditError("the re-notify interval must be a positive number of hours")
    if threshold is not None and not math.isfinite(threshold):
        raise RuleEditError("the threshold must be a finite number")
    if recipients is not None and (
        bad := [r.strip() for r in recipients.split(",") if r.strip() and "@" not in r]
    ):
        raise RuleEditError(f"not an email address: {', '.join(bad)}")
    with session_scope(engine) as session:
        row = session.exec(select(AlertRule).where(AlertRule.key == key)).first()
        if row is None:
            keys = ", ".join(session.exec(select(AlertRule.key)).all())
            raise RuleEditError(f"there is no alert rule {key!r}; rules: {keys}")
        problem = None if threshold is None else comparator_named(row.comparator).threshold_problem(threshold)
        if problem:
            raise RuleEditError(problem)
        changes = {
            "threshold": threshold,
            "severity": severity,
            "scope": scope,
            "renotify_hours": renotify_hours,
            "enabled": enabled,
            "recipients": None
            if recipients is None
            else ",".join(r.strip() for r in recipients.split(",") if r.strip()),
        }
        for field, value in changes.items():
            if value is not None:
                setattr(row, field, value)
        session.flush()
        return f"{row.key}: {describe(rule_from_row(row))}, {row.severity}, " + (
            "on" if row.enabled else "off"
        )


def alert_overview(engine: Engine) -> str:
    """The rules and open episodes in words, for `territory alerts list`."""
    from sqlmodel import select

    from core.alerts import describe, load_rules
    from core.models import AlertEpisode, AlertRule

    with session_scope(engine) as session:
        rules = load_rules(session)
        open_by_rule: dict[int | None, int] = {}
        for episode in session.exec(select(AlertEpisode).where(AlertEpisode.status == "open")).all():
            open_by_rule[episode.rule_id] = open_by_rule.get(episode.rule_id, 0) + 1
        ids = dict(session.exec(select(AlertRule.key, AlertRule.id)).all())
    default = ", ".join(get_settings().recipients)
    lines = [
        f"{'key':<22}{'rule':<42}{'severity':<10}{'scope':<11}"
        f"{'re-notify':>10}  {'on':<4}{'open':>5}  recipients"
    ]
    for rule in rules:
        lines.append(
            f"{rule.key:<22}{describe(rule)[:41]:<42}{rule.severity:<10}{rule.scope:<11}"
            f"{rule.renotify_hours:>9.0f}h  {'on' if rule.enabled else 'off':<4}"
            f"{open_by_rule.get(ids[rule.key], 0):>5}  {', '.join(rule.recipients) or default + ' (default)'}"
        )
    return "\n".join(lines)
