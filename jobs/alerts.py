"""Alerts job: evaluate the rules over the latest KPI snapshot, open/resolve episodes, deliver digests."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.engine import Engine

from core.alerts.fixes import SYSTEM, FixPlan, fix_scenario, is_balance_rule, note_of
from core.audit import record
from core.auth import SYSTEM_ACTOR, Actor, require
from core.config import Settings, get_settings
from core.db import session_scope
from core.jobruns import record_job
from core.models import utcnow
from core.plans import assignments_fingerprint, discard_plan

log = logging.getLogger(__name__)


def refresh_alerts(engine: Engine, *, now: datetime | None = None, trigger: str = "cli") -> int:
    """Evaluate alert rules and deliver pending notifications. Returns notifications created.

    Before the episodes are updated, a balance rule about to open an episode gets its fix: a
    targeted draft plan (``prepare_fix``, unless TERRITORY_ALERT_FIX_PLANS is off).
    """
    from core.alerts import deliver_pending, evaluate_alerts, seed_default_rules

    now = now or utcnow()
    settings = get_settings()
    with record_job(engine, "alerts", trigger=trigger) as job:
        with session_scope(engine) as session:
            seed_default_rules(session)
        fix = prepare_fix(engine, settings=settings) if settings.alert_fix_plans else None
        with session_scope(engine) as session:
            report = evaluate_alerts(session, now=now, fix=fix)
        with session_scope(engine) as session:
            deliver_pending(session, get_settings())
        job.rows_written = len(report.notification_ids)
    return job.rows_written


@dataclass(frozen=True)
class _FixNeeds:
    """What the balance episodes of this run need: a new plan, and which stale drafts it replaces."""

    snapshot_date: date
    opening: bool  # a balance rule is about to open an episode
    current: tuple[int, ...]  # linked drafts computed on today's assignments
    stale: tuple[int, ...]  # linked system drafts computed on assignments that changed since


def prepare_fix(engine: Engine, *, settings: Settings) -> FixPlan | None:
    """The draft plan for the balance episodes this run opens, or replacing stale drafts.

    None when no balance episode needs one. A current draft already linked is reused (one plan per
    episode, no solve); otherwise the targeted scenario is solved within
    TERRITORY_ALERT_FIX_TIME_LIMIT_S and saved as a draft by ``system``. Never fails the alert job:
    a fix that cannot be prepared is logged and the alerts go out without it.
    """
    try:
        needs = _fix_needs(engine)
        if needs is None or not (needs.opening or needs.stale):
            return None
        if needs.current and not needs.stale:
            return FixPlan(max(needs.current))
        fix = _solve_fix(engine, needs.snapshot_date, settings)
        if fix.plan_id is not None and needs.stale:
            _replace_stale(engine, needs.stale, fix.plan_id)
        return fix
    except Exception:  # the alerts matter more than their fix
        log.exception("no fix plan prepared for the balance alerts")
        return None


def _fix_needs(engine: Engine) -> _FixNeeds | None:
    from sqlmodel import col, select

    from core.alerts import evaluate, load_rules, load_snapshot
    from core.models import AlertEpisode, RebalancePlan

    fingerprint = assignments_fingerprint(engine)
    with session_scope(engine) as session:
        snapshot = load_snapshot(session)
        if snapshot is None:
            return None
        rules = [r for r in load_rules(session) if r.enabled and is_balance_rule(r)]
        crossed: set[tuple[int | None, int | None]] = set()
        for rule in rules:
            try:
                crossed |= {
                    (rule.id, b.territory_id) for b in evaluate(rule, snapshot.territories, snapshot.team)
                }
            except ValueError:
                continue  # evaluate_alerts reports the rule
        episodes = session.exec(
            select(AlertEpisode).where(
                AlertEpisode.status == "open", col(AlertEpisode.rule_id).in_([r.id for r in rules])
            )
        ).all()
        opening = bool(crossed - {(e.rule_id, e.territory_id) for e in episodes})
        linked = {e.fix_plan_id for e in episodes if e.fix_plan_id is not None}
        drafts = session.exec(
            select(RebalancePlan).where(col(RebalancePlan.id).in_(linked), RebalancePlan.status == "draft")
        ).all()
        current = tuple(p.id for p in drafts if p.id is not None and p.assignments_fingerprint == fingerprint)
        stale = tuple(
            p.id
            for p in drafts
            if p.id is not None and p.assignments_fingerprint != fingerprint and p.created_by == SYSTEM
        )
    return _FixNeeds(snapshot.snapshot_date, opening, current, stale)


def _solve_fix(engine: Engine, snapshot_date: date, settings: Settings) -> FixPlan:
    from jobs.optimize import optimize, save_run

    scenario = fix_scenario(time_limit_s=settings.alert_fix_time_limit_s)
    run = optimize(engine, scenario, as_of=snapshot_date)
    result = run.result
    note = note_of(result.status, result.explanation, result.relaxation, result.has_plan)
    if not result.has_plan:
        log.warning("no fix plan for the balance alerts: %s", note)
        return FixPlan(None, note)
    name = f"Fix for the balance alerts of {snapshot_date.isoformat()}"
    return FixPlan(save_run(engine, run, name=name, created_by=SYSTEM), note)


def _replace_stale(engine: Engine, stale: tuple[int, ...], plan_id: int) -> None:
    """Point the open episodes of stale drafts at the new draft and discard the stale ones."""
    from sqlmodel import col, select

    from core.models import AlertEpisode

    with session_scope(engine) as session:
        for episode in session.exec(
            select(AlertEpisode).where(
                AlertEpisode.status == "open", col(AlertEpisode.fix_plan_id).in_(stale)
            )
        ).all():
            episode.fix_plan_id = plan_id
    for old in stale:
        discard_plan(engine, old)


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
    actor: Actor = SYSTEM_ACTOR,
    source: str = "cli",
) -> str:
    """Change the given fields of one stored rule; returns the rule in words.

    ``actor`` must be allowed to edit alert rules (checked here, whoever calls); the audit event is
    written in the edit's own transaction.
    """
    from sqlmodel import select

    from core.alerts import describe
    from core.alerts.rules import SCOPES, SEVERITIES, rule_from_row
    from core.comparators import comparator_named
    from core.models import AlertRule

    require(actor, "alerts.edit")
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
        text = f"{row.key}: {describe(rule_from_row(row))}, {row.severity}, " + (
            "on" if row.enabled else "off"
        )
        record(session, actor.email, "alerts.edit", f"rule {key}: {text}", source)
        return text


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
