"""Loaders and table shapes for the Alerts page: rules, episodes, the outbox.

Episodes and notifications are cached per *alerts version*: ``dashboard.data``'s data version (a
finished job, e.g. the scheduled alerts job) plus a few aggregates of the alert tables, so an
evaluation from anywhere shows on the next run of the page. Rules are read uncached: a handful of
rows, and an edit must show at once. The human text of a rule always comes from the stored rule
(``describe``), never from a cache, so an edited threshold reads right everywhere on the page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from core.alerts.email import SEVERITY_ORDER
from core.alerts.rules import Breach, Rule, describe, load_rules, seed_default_rules, sentence, value_text
from core.db import session_scope
from core.models import AlertEpisode, Notification, Territory
from core.queries import read_frame
from dashboard.data import TTL, DataStatus, engine_for

NOTIFICATIONS_SHOWN = 200
HISTORY_SHOWN = 2000
TEAM = "the team"
EPISODE_COLUMNS = [
    "episode_id",
    "rule_id",
    "territory_id",
    "external_id",
    "territory_name",
    "status",
    "opened_at",
    "resolved_at",
    "first_value",
    "last_value",
    "last_notified_at",
    "notify_count",
    "fix_plan_id",
]


# --------------------------------------------------------------------------- rules


def rules(engine: Engine) -> tuple[list[Rule], list[str]]:
    """The stored rules (id order) and the keys of the defaults seeded now because some were missing.

    Seeding only happens on a database with no rule at all: a default the user deleted on purpose
    stays deleted while others exist.
    """
    with session_scope(engine) as session:
        stored = load_rules(session)
        if stored:
            return stored, []
        seeded = seed_default_rules(session)
        return load_rules(session), seeded


def rule_text(rule: Rule | None, rule_id: int) -> str:
    """The rule in words, or a placeholder for an episode whose rule row is gone."""
    return describe(rule) if rule is not None else f"rule #{rule_id} (deleted)"


@dataclass(frozen=True)
class ThresholdField:
    """How a threshold is typed in the form: in the unit people read (70 for 70%), with its label."""

    scale: float
    unit: str

    def shown(self, stored: float) -> float:
        return round(stored * self.scale, 6)  # 0.7 × 100 is 70.00000000000001

    def stored(self, shown: float) -> float:
        return shown / self.scale


def threshold_field(rule: Rule) -> ThresholdField:
    """Shares are typed as percentages, bands as ± percent, points and multiples as they read."""
    scale, unit = rule.comparator.typed(rule.kpi.unit)
    return ThresholdField(scale, unit)


def split_recipients(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def recipients_problem(text: str) -> str | None:
    """Why a comma-separated recipient list cannot be saved, in words; None when it can."""
    bad = [address for address in split_recipients(text) if "@" not in address or " " in address]
    if not bad:
        return None
    listed = ", ".join(f"“{address}”" for address in bad)
    return f"{listed} {'is not an email address' if len(bad) == 1 else 'are not email addresses'}"


def rule_changes(
    rule: Rule,
    *,
    threshold: float,
    severity: str,
    scope: str,
    recipients: str,
    renotify_hours: float,
    enabled: bool,
) -> dict[str, Any]:
    """The fields of a rule form that differ from the stored rule, as ``edit_rule`` keywords."""
    wanted: dict[str, Any] = {
        "severity": severity,
        "scope": scope,
        "enabled": enabled,
        "renotify_hours": renotify_hours,
        "recipients": ",".join(split_recipients(recipients)),
    }
    current: dict[str, Any] = {
        "severity": rule.severity,
        "scope": rule.scope,
        "enabled": rule.enabled,
        "renotify_hours": rule.renotify_hours,
        "recipients": ",".join(rule.recipients),
    }
    changes = {name: value for name, value in wanted.items() if value != current[name]}
    if not math.isclose(threshold, rule.threshold, rel_tol=1e-12, abs_tol=1e-12):
        changes["threshold"] = threshold
    return changes


# --------------------------------------------------------------------------- versions and loaders


def alerts_version(status: DataStatus) -> str:
    """The data version plus what changes in the alert tables when rules are evaluated or emails sent."""
    engine = engine_for(status.url)
    with engine.connect() as connection:
        episodes = connection.execute(
            select(
                func.count(),
                func.max(AlertEpisode.id),
                func.max(AlertEpisode.resolved_at),
                func.max(AlertEpisode.last_notified_at),
                func.sum(AlertEpisode.notify_count),
                func.sum(AlertEpisode.last_value),
            )
        ).one()
        notifications = connection.execute(
            select(
                func.count(),
                func.max(Notification.id),
                func.sum(Notification.attempts),
                func.max(Notification.sent_at),
            )
        ).one()
    return f"{status.version}|{tuple(episodes)}|{tuple(notifications)}"


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def episodes(url: str, version: str, status: str) -> pd.DataFrame:
    """Episodes of one status with their territory's external id and name (team episodes have none).

    Resolved episodes are limited to the newest ``HISTORY_SHOWN``.
    """
    statement = (
        select(
            AlertEpisode.id.label("episode_id"),
            AlertEpisode.rule_id,
            AlertEpisode.territory_id,
            Territory.external_id,
            Territory.name.label("territory_name"),
            AlertEpisode.status,
            AlertEpisode.opened_at,
            AlertEpisode.resolved_at,
            AlertEpisode.first_value,
            AlertEpisode.last_value,
            AlertEpisode.last_notified_at,
            AlertEpisode.notify_count,
            AlertEpisode.fix_plan_id,
        )
        .join(Territory, Territory.id == AlertEpisode.territory_id, isouter=True)
        .where(AlertEpisode.status == status)
        .order_by(AlertEpisode.id.desc())
        .limit(HISTORY_SHOWN)
    )
    frame = read_frame(engine_for(url), statement)
    for column in ("opened_at", "resolved_at", "last_notified_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame.reindex(columns=EPISODE_COLUMNS)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def notifications(url: str, version: str, limit: int = NOTIFICATIONS_SHOWN) -> pd.DataFrame:
    """The newest notifications without their bodies (those are read one at a time for the preview)."""
    statement = (
        select(
            Notification.id,
            Notification.created_at,
            Notification.recipient,
            Notification.subject,
            Notification.status,
            Notification.attempts,
            Notification.last_error,
            Notification.sent_at,
        )
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    frame = read_frame(engine_for(url), statement)
    for column in ("created_at", "sent_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


@st.cache_data(ttl=TTL, max_entries=32, show_spinner=False)
def notification_body(url: str, version: str, notification_id: int) -> tuple[str, str]:
    """The plain-text and HTML parts of one stored notification."""
    with engine_for(url).connect() as connection:
        row = connection.execute(
            select(Notification.body_text, Notification.body_html).where(Notification.id == notification_id)
        ).first()
    return ("", "") if row is None else (row[0] or "", row[1] or "")


def clear() -> None:
    """Forget this page's cached frames (after an evaluation from the page)."""
    for loader in (episodes, notifications, notification_body):
        loader.clear()


# --------------------------------------------------------------------------- table shapes


def severity_of(rule: Rule | None) -> str:
    return rule.severity if rule is not None else "info"


def severity_counts(open_episodes: pd.DataFrame, by_id: Mapping[int, Rule]) -> dict[str, int]:
    """Open episodes per severity of their rule, critical first."""
    counts = {severity: 0 for severity in sorted(SEVERITY_ORDER, key=SEVERITY_ORDER.__getitem__)}
    for rule_id in open_episodes["rule_id"]:
        severity = severity_of(by_id.get(int(rule_id)))
        counts[severity] = counts.get(severity, 0) + 1
    return counts


def reading(rule: Rule | None, value: float | None) -> str:
    """A metric value as the emails write it ("58%", "1.51", "-12 points")."""
    if rule is None or value is None or pd.isna(value):
        return "—"
    return value_text(Breach(rule=rule, value=float(value)))


def territory_url(external_id: object) -> str:
    """Relative link to the Territory page (the Overview for team-level episodes)."""
    if isinstance(external_id, str) and external_id:
        return f"territory?territory={external_id}"
    return "overview"


def fix_label(plan_id: object) -> str | None:
    """How the open-episodes table names an episode's fix plan ("Plan 7"; None without one)."""
    if plan_id is None or pd.isna(plan_id):  # type: ignore[arg-type]
        return None
    return f"Plan {int(plan_id)}"  # type: ignore[call-overload]


def fix_plan_targets(table: pd.DataFrame) -> dict[int, str]:
    """Each fix plan of an open-episodes table (``open_table``) with the places it fixes, in table order."""
    targets: dict[int, list[str]] = {}
    for label, place in zip(table["Fix plan"], table["Territory"], strict=True):
        if isinstance(label, str) and label.startswith("Plan "):
            places = targets.setdefault(int(label.removeprefix("Plan ")), [])
            if place not in places:
                places.append(str(place))
    return {plan: ", ".join(places) for plan, places in targets.items()}


def _place(frame: pd.DataFrame) -> pd.Series:
    return frame["territory_name"].where(frame["territory_name"].notna(), TEAM)


def reason(rule: Rule | None, value: float | None, place: str | None) -> str:
    """The episode's one-line reason at its latest value, as the digest writes it:
    "Coverage in Phoenix North is 58%, below the 70% threshold." ("—" when unknown)."""
    if rule is None or value is None or pd.isna(value):
        return "—"
    return " ".join(sentence(Breach(rule=rule, value=float(value), territory_name=place)).split())


def open_table(frame: pd.DataFrame, by_id: Mapping[int, Rule]) -> pd.DataFrame:
    """Open episodes for people, grouped by territory: the territory with the most severe alerts
    first (most of that severity, then oldest), and within a territory the most severe alert first,
    then the oldest. Each row carries its one-line reason."""
    rules_of = frame["rule_id"].map(lambda rid: by_id.get(int(rid)))
    places = _place(frame)
    table = pd.DataFrame(
        {
            "Severity": rules_of.map(severity_of),
            "Territory": places,
            "Rule": [rule_text(rule, int(rid)) for rule, rid in zip(rules_of, frame["rule_id"], strict=True)],
            "Reason": [
                reason(rule, value, None if place == TEAM else place)
                for rule, value, place in zip(rules_of, frame["last_value"], places, strict=True)
            ],
            "Detail": frame["external_id"].map(territory_url),
            "Opened": frame["opened_at"],
            "Current": [reading(rule, v) for rule, v in zip(rules_of, frame["last_value"], strict=True)],
            "First": [reading(rule, v) for rule, v in zip(rules_of, frame["first_value"], strict=True)],
            "Last notified": frame["last_notified_at"],
            "Notices": frame["notify_count"].astype(int),
            "Fix plan": frame["fix_plan_id"].map(fix_label),
        }
    )
    order = table["Severity"].map(lambda s: SEVERITY_ORDER.get(s, len(SEVERITY_ORDER)))
    group = table.assign(_order=order).groupby("Territory", dropna=False)
    worst = group["_order"].transform("min")
    at_worst = (order == worst).groupby(table["Territory"], dropna=False).transform("sum")
    first = group["Opened"].transform("min")
    return (
        table.assign(_worst=worst, _many=-at_worst, _first=first, _order=order)
        .sort_values(["_worst", "_many", "_first", "Territory", "_order", "Opened", "Rule"])
        .drop(columns=["_worst", "_many", "_first", "_order"])
        .reset_index(drop=True)
    )


def duration_text(span: timedelta | pd.Timedelta | None) -> str:
    """How long an episode lasted, for people: '45 min', '5 h', '3 days'."""
    if span is None or pd.isna(span):
        return "—"
    hours = pd.Timedelta(span).total_seconds() / 3600
    if hours < 1:
        return f"{max(hours * 60, 0):.0f} min"
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"


def history_table(
    frame: pd.DataFrame,
    by_id: Mapping[int, Rule],
    *,
    rule_id: int | None = None,
    external_id: str | None = None,
) -> pd.DataFrame:
    """Resolved episodes, newest resolution first, optionally for one rule and/or one place
    (``external_id`` ``""`` is the team)."""
    chosen = frame
    if rule_id is not None:
        chosen = chosen[chosen["rule_id"] == rule_id]
    if external_id is not None:
        chosen = chosen[chosen["external_id"].fillna("") == external_id]
    chosen = chosen.sort_values(["resolved_at", "episode_id"], ascending=False)
    rules_of = chosen["rule_id"].map(lambda rid: by_id.get(int(rid)))
    return pd.DataFrame(
        {
            "Rule": [
                rule_text(rule, int(rid)) for rule, rid in zip(rules_of, chosen["rule_id"], strict=True)
            ],
            "Territory": _place(chosen),
            "Detail": chosen["external_id"].map(territory_url),
            "Opened": chosen["opened_at"],
            "Resolved": chosen["resolved_at"],
            "Lasted": (chosen["resolved_at"] - chosen["opened_at"]).map(duration_text),
            "First": [reading(rule, v) for rule, v in zip(rules_of, chosen["first_value"], strict=True)],
            "Last": [reading(rule, v) for rule, v in zip(rules_of, chosen["last_value"], strict=True)],
            "Notices": chosen["notify_count"].astype(int),
        }
    ).reset_index(drop=True)


def places(frame: pd.DataFrame) -> dict[str, str]:
    """The places episodes were about, for a filter: external id (``""`` for the team) -> name."""
    pairs = frame[["external_id", "territory_name"]].drop_duplicates()
    named = {str(ext): f"{name} ({ext})" for ext, name in pairs.dropna().itertuples(index=False)}
    team = {"": TEAM} if frame["external_id"].isna().any() else {}
    return team | dict(sorted(named.items()))


def rules_table(
    rules_list: Sequence[Rule], open_episodes: pd.DataFrame, default_recipients: Sequence[str]
) -> pd.DataFrame:
    """Every rule in words with its settings and how many episodes it has open."""
    open_counts = open_episodes["rule_id"].value_counts()
    default = ", ".join(default_recipients)
    return pd.DataFrame(
        {
            "Rule": [describe(rule) for rule in rules_list],
            "Key": [rule.key for rule in rules_list],
            "On": [rule.enabled for rule in rules_list],
            "Severity": [rule.severity for rule in rules_list],
            "Scope": [rule.scope for rule in rules_list],
            "Re-notify": [f"{rule.renotify_hours:g} h" for rule in rules_list],
            "Recipients": [", ".join(rule.recipients) or f"{default} (default)" for rule in rules_list],
            "Open": [int(open_counts.get(rule.id, 0)) for rule in rules_list],
        }
    )
