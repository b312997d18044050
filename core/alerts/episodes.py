"""Alert episodes: from the latest KPI snapshot to queued digest emails.

An episode is one (rule, territory) crossing, or one (rule, team) crossing for team rules. It opens
when the rule is first crossed (notified once), re-notifies only once ``renotify_hours`` have passed
since the last notice while it stays open, and resolves when a known value is back inside (one
"resolved" notice). A territory whose value is missing in the snapshot keeps its episode open,
silently. Disabling a rule resolves its open episodes without a notice.

Each run writes at most one Notification (a digest) per recipient; a run with nothing new writes
none. Notifications are ``pending`` when an SMTP host is configured (``deliver_pending`` sends them)
and ``outbox`` otherwise (kept and shown on the Alerts page).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlmodel import Session, col, select

from core.alerts.email import DigestItem, render_digest
from core.alerts.fixes import FixPlan, is_balance_rule
from core.alerts.moved import with_moved_accounts
from core.alerts.rules import Breach, Rule, evaluate, is_breach, load_rules
from core.config import Settings, get_settings
from core.models import AlertEpisode, Notification, TeamKpi, Territory, TerritoryKpi

log = logging.getLogger(__name__)

TREND_DAYS = 28  # the trend compares with the snapshot nearest to four weeks earlier
TREND_TOLERANCE_DAYS = 7  # ... when one was taken within a week of that date
_NOT_METRICS = {"id", "snapshot_date", "territory_id", "computed_at", "deductions"}


@dataclass(frozen=True, eq=False)  # holds a DataFrame: compared by identity
class Snapshot:
    """One KPI snapshot as rules see it: a territory frame and the team's row (with ``*_prev`` trend)."""

    snapshot_date: date
    territories: pd.DataFrame
    team: dict[str, Any] = field(default_factory=dict)
    previous_date: date | None = None


@dataclass(frozen=True)
class AlertRunReport:
    """What one alert evaluation did."""

    snapshot_date: date | None
    previous_snapshot_date: date | None = None
    rules_evaluated: int = 0
    breaches: int = 0
    opened: int = 0
    renotified: int = 0
    resolved: int = 0
    notification_ids: tuple[int, ...] = ()
    items: tuple[DigestItem, ...] = ()
    errors: tuple[str, ...] = ()  # rules that could not be evaluated (unknown metric, comparator, scope)


# --- loading the snapshot -------------------------------------------------------------------


def load_snapshot(session: Session, *, snapshot_date: date | None = None) -> Snapshot | None:
    """The TerritoryKpi/TeamKpi snapshot of ``snapshot_date`` (default: the latest), with trend columns.

    Returns None when there is no territory snapshot at all (or none on the given date).
    """
    dates = sorted(session.exec(select(col(TerritoryKpi.snapshot_date)).distinct()).all())
    current = snapshot_date or (dates[-1] if dates else None)
    if current is None or current not in dates:
        return None
    previous = nearest_trend_date(dates, current)
    territories = _with_trend(
        _territory_frame(session, current), _territory_frame(session, previous), current
    )
    territories = with_moved_accounts(session, territories, current)  # not a KPI column: read beside it
    team = _team_kpi(session, current)
    return Snapshot(current, territories, team, previous)


def nearest_trend_date(dates: Iterable[date], current: date) -> date | None:
    """Among earlier snapshot dates, the one nearest to ``current - 28 days`` (within a week), if any."""
    target = current - timedelta(days=TREND_DAYS)
    earlier = [d for d in dates if d < current and abs((d - target).days) <= TREND_TOLERANCE_DAYS]
    return min(earlier, key=lambda d: (abs((d - target).days), target - d), default=None)


def _territory_frame(session: Session, snapshot_date: date | None) -> pd.DataFrame:
    if snapshot_date is None:
        return pd.DataFrame(columns=["territory_id"])
    query = (
        select(TerritoryKpi, Territory.external_id, Territory.name)
        .join(Territory, Territory.id == TerritoryKpi.territory_id)  # type: ignore[arg-type]
        .where(TerritoryKpi.snapshot_date == snapshot_date)
    )
    records = [
        {
            **kpi.model_dump(exclude={"deductions", "computed_at", "id"}),
            "territory_external_id": ext,
            "territory_name": name,
        }
        for kpi, ext, name in session.exec(query).all()
    ]
    return pd.DataFrame.from_records(records)


def _with_trend(current: pd.DataFrame, previous: pd.DataFrame, current_date: date) -> pd.DataFrame:
    metrics = [c for c in previous.columns if c not in _NOT_METRICS and not c.startswith("territory_")]
    if not metrics:
        return current.assign(previous_days=pd.NA)
    earlier = previous[["territory_id", *metrics]].rename(columns={m: f"{m}_prev" for m in metrics})
    merged = current.merge(earlier, on="territory_id", how="left")
    days = (current_date - previous["snapshot_date"].iloc[0]).days
    return merged.assign(previous_days=days)


def _team_kpi(session: Session, snapshot_date: date) -> dict[str, Any]:
    row = _team_row(session, snapshot_date)
    if row is None:
        return {}
    team = row.model_dump(exclude={"id", "computed_at"})
    dates = session.exec(select(col(TeamKpi.snapshot_date))).all()
    previous = _team_row(session, nearest_trend_date(dates, snapshot_date))
    if previous is not None:
        earlier = previous.model_dump(exclude={"id", "computed_at", "snapshot_date"})
        team |= {f"{key}_prev": value for key, value in earlier.items()}
        team["previous_days"] = (snapshot_date - previous.snapshot_date).days
    return team


def _team_row(session: Session, snapshot_date: date | None) -> TeamKpi | None:
    if snapshot_date is None:
        return None
    return session.exec(select(TeamKpi).where(TeamKpi.snapshot_date == snapshot_date)).first()


# --- episodes -------------------------------------------------------------------------------


def evaluate_alerts(
    session: Session,
    *,
    snapshot_date: date | None = None,
    now: datetime,
    settings: Settings | None = None,
    fix: FixPlan | None = None,
) -> AlertRunReport:
    """Evaluate every enabled rule stored in AlertRule on the latest snapshot; open, re-notify and
    resolve episodes; queue one digest Notification per recipient with something new.

    ``now`` is the run's clock (aware, or naive meaning UTC); timestamps are stored as aware UTC.
    Flushes, the caller commits.
    Rules are read from the database: call ``seed_default_rules`` once beforehand.
    ``fix`` is the draft plan prepared for balance episodes (``core.alerts.fixes``): a balance
    episode opened now, or open without a plan, links to it, and its digest item carries it.
    """
    settings = settings or get_settings()
    now = as_utc(now)
    snapshot = load_snapshot(session, snapshot_date=snapshot_date)
    if snapshot is None:
        log.info("no KPI snapshot to evaluate alerts on")
        return AlertRunReport(snapshot_date=None)
    items: list[DigestItem] = []
    errors: list[str] = []
    breaches = evaluated = 0
    for rule in load_rules(session):
        if not rule.enabled:
            _close_quietly(session, rule, now)
            continue
        try:
            found = evaluate(rule, snapshot.territories, snapshot.team)
        except ValueError as exc:
            log.error("alert rule %s skipped: %s", rule.key, exc)
            errors.append(str(exc))
            continue
        evaluated, breaches = evaluated + 1, breaches + len(found)
        items += _update_episodes(session, rule, found, snapshot, now, fix if is_balance_rule(rule) else None)
    notifications = _queue_digests(session, items, settings, now)
    return _report(snapshot, evaluated, breaches, items, notifications, errors)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _open_episodes(session: Session, rule: Rule) -> dict[int | None, AlertEpisode]:
    query = select(AlertEpisode).where(AlertEpisode.rule_id == rule.id, AlertEpisode.status == "open")
    return {episode.territory_id: episode for episode in session.exec(query).all()}


def _update_episodes(
    session: Session,
    rule: Rule,
    breaches: Sequence[Breach],
    snapshot: Snapshot,
    now: datetime,
    fix: FixPlan | None = None,
) -> list[DigestItem]:
    open_episodes = _open_episodes(session, rule)
    opened: list[tuple[AlertEpisode, Breach]] = []
    items: list[DigestItem] = []
    for breach in breaches:
        episode = open_episodes.pop(breach.territory_id, None)
        if episode is None:
            opened.append((_new_episode(breach, snapshot.snapshot_date, now, fix), breach))
        elif (item := _continue(episode, breach, now, fix)) is not None:
            items.append(item)
    for territory_id, episode in open_episodes.items():
        reading = current_reading(rule, snapshot, territory_id)
        if reading is not None and not is_breach(rule, reading.value):
            items.append(_resolve(episode, reading, now))
    session.add_all(episode for episode, _ in opened)
    session.flush()  # one flush for the rule gives the new episodes their ids
    return [DigestItem("new", breach, episode.id, now, fix) for episode, breach in opened] + items


def _new_episode(breach: Breach, snapshot_date: date, now: datetime, fix: FixPlan | None) -> AlertEpisode:
    assert breach.rule.id is not None  # rules are loaded from the database
    return AlertEpisode(
        rule_id=breach.rule.id,
        territory_id=breach.territory_id,
        opened_at=now,
        opened_snapshot=snapshot_date,
        first_value=breach.value,
        last_value=breach.value,
        last_notified_at=now,
        notify_count=1,
        fix_plan_id=None if fix is None else fix.plan_id,
    )


def _continue(episode: AlertEpisode, breach: Breach, now: datetime, fix: FixPlan | None) -> DigestItem | None:
    episode.last_value = breach.value
    if episode.fix_plan_id is None and fix is not None:
        episode.fix_plan_id = fix.plan_id
    last = as_utc(episode.last_notified_at or episode.opened_at)
    if now - last < timedelta(hours=breach.rule.renotify_hours):
        return None
    episode.last_notified_at, episode.notify_count = now, episode.notify_count + 1
    linked = None if episode.fix_plan_id is None else FixPlan(episode.fix_plan_id)
    return DigestItem("reminder", breach, episode.id, as_utc(episode.opened_at), linked)


def _resolve(episode: AlertEpisode, reading: Breach, now: datetime) -> DigestItem:
    episode.status, episode.resolved_at, episode.last_value = "resolved", now, reading.value
    episode.resolution_notified = True
    return DigestItem("resolved", reading, episode.id, as_utc(episode.opened_at))


def _close_quietly(session: Session, rule: Rule, now: datetime) -> None:
    for episode in _open_episodes(session, rule).values():
        episode.status, episode.resolved_at = "resolved", now
        session.add(episode)


def current_reading(rule: Rule, snapshot: Snapshot, territory_id: int | None) -> Breach | None:
    """The rule's metric at one place in the snapshot, or None when the value is unknown."""
    if territory_id is None:
        value, row = snapshot.team.get(rule.metric), snapshot.team
    else:
        frame = snapshot.territories
        rows = frame[frame["territory_id"] == territory_id] if "territory_id" in frame else frame.iloc[0:0]
        if rows.empty or rule.metric not in rows:
            return None
        row = rows.iloc[0].to_dict()
        value = row[rule.metric]
    if value is None or pd.isna(value):
        return None
    return Breach(
        rule=rule,
        value=float(value),
        snapshot_date=snapshot.snapshot_date,
        territory_id=territory_id,
        territory_external_id=row.get("territory_external_id"),
        territory_name=row.get("territory_name"),
    )


# --- digests --------------------------------------------------------------------------------


def recipients_of(rule: Rule, settings: Settings) -> list[str]:
    """The rule's own recipients, or the default list when it has none."""
    return list(rule.recipients) or settings.recipients


def _queue_digests(
    session: Session, items: Sequence[DigestItem], settings: Settings, now: datetime
) -> list[Notification]:
    by_recipient: dict[str, list[DigestItem]] = {}
    spelling: dict[str, str] = {}  # addresses compare case-insensitively; the first spelling is kept
    for item in items:
        for recipient in recipients_of(item.breach.rule, settings):
            key = spelling.setdefault(recipient.lower(), recipient)
            by_recipient.setdefault(key, []).append(item)
    status = "pending" if settings.smtp_host else "outbox"
    notifications = [_notification(r, its, settings, status, now) for r, its in by_recipient.items()]
    session.add_all(notifications)
    session.flush()
    return notifications


def _notification(
    recipient: str, items: Sequence[DigestItem], settings: Settings, status: str, now: datetime
) -> Notification:
    rendered = render_digest(recipient, items, dashboard_url=settings.dashboard_url)
    return Notification(
        created_at=now,
        recipient=recipient,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        status=status,
        episode_ids=json.dumps(sorted({i.episode_id for i in items if i.episode_id is not None})),
    )


def _report(
    snapshot: Snapshot,
    evaluated: int,
    breaches: int,
    items: Sequence[DigestItem],
    notifications: Sequence[Notification],
    errors: Sequence[str],
) -> AlertRunReport:
    def count(kind: str) -> int:
        return sum(item.kind == kind for item in items)

    return AlertRunReport(
        snapshot_date=snapshot.snapshot_date,
        previous_snapshot_date=snapshot.previous_date,
        rules_evaluated=evaluated,
        breaches=breaches,
        opened=count("new"),
        renotified=count("reminder"),
        resolved=count("resolved"),
        notification_ids=tuple(n.id for n in notifications if n.id is not None),
        items=tuple(items),
        errors=tuple(errors),
    )
