"""Alert rules: the defaults of DESIGN.md, how a rule is checked, and how it reads to a person.

A rule compares one KPI of the latest snapshot with a threshold through a comparator object
(``core.comparators``: ``BELOW``, ``ABOVE``, ``OUTSIDE``). Each rule has a machine half,
``evaluate`` (vectorised over a snapshot's territory frame, through ``Comparator.mask``), and a
human half, ``describe`` and ``sentence`` (what the email, the Alerts page and the CLI print),
built from the comparator's sentence parts and the KPI's label and unit in the registry
(``core.kpi_registry``). The database stores the comparator's name; ``rule_from_row`` maps it back.

Units follow the KPI snapshot: shares are fractions (coverage 0.58 reads "58%"), ``drift`` and
``attainment_gap`` are already in points of quota (-12.0 reads "-12 points").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session, select

from core.alerts.moved import ALERT_METRICS, SILENT_MOVED_ACCOUNTS
from core.comparators import ABOVE, BELOW, OUTSIDE, Comparator, comparator_named
from core.kpi_registry import Kpi
from core.kpi_registry import kpi as registry_entry
from core.models import AlertRule

SCOPES = ("territory", "team")
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Rule:
    """One alert rule; ``recipients`` empty means the default list (settings.alert_recipients).

    ``comparator`` may be given by its stored name ("below"): it is mapped to its object.
    """

    key: str
    name: str
    metric: str
    comparator: Comparator  # a stored name ("below") is mapped to its object
    threshold: float
    scope: str = "territory"
    severity: str = "warning"
    recipients: tuple[str, ...] = ()
    renotify_hours: float = 24.0
    enabled: bool = True
    id: int | None = None  # the AlertRule row, once stored

    def __post_init__(self) -> None:
        object.__setattr__(self, "comparator", comparator_named(self.comparator))

    @property
    def kpi(self) -> Kpi[Any]:
        """The registry entry of the rule's metric: its label and unit."""
        return ALERT_METRICS.get(self.metric) or registry_entry(self.metric, scope=self.scope)


@dataclass(frozen=True)
class Breach:
    """One reading of a rule's metric at one place (a territory, or the team when territory_id is None).

    ``previous_value`` is the same metric in the snapshot about four weeks earlier, when known;
    ``previous_days`` is how many days before ``snapshot_date`` that snapshot was taken.
    """

    rule: Rule
    value: float
    snapshot_date: date | None = None
    territory_id: int | None = None
    territory_external_id: str | None = None
    territory_name: str | None = None
    previous_value: float | None = None
    previous_days: int | None = None

    @property
    def place(self) -> str:
        return self.territory_name or self.territory_external_id or "the team"


# --- machine half ---------------------------------------------------------------------------


def is_breach(rule: Rule, value: float | None) -> bool:
    """Whether one value crosses the rule's threshold."""
    return bool(rule.comparator.mask([np.nan if value is None else value], rule.threshold)[0])


def evaluate(rule: Rule, territory_kpis: pd.DataFrame, team_kpi: Mapping[str, Any]) -> list[Breach]:
    """The places where ``rule`` is crossed in one snapshot.

    ``territory_kpis`` has one row per territory: ``territory_id``, ``territory_external_id``,
    ``territory_name``, the metric columns and, optionally, ``<metric>_prev`` and ``previous_days``
    (the snapshot about four weeks earlier). ``team_kpi`` holds the team metrics the same way
    (``cv_potential``, ``cv_potential_prev``, ``previous_days``) and may be empty.
    """
    if not rule.comparator.known:
        raise ValueError(f"rule {rule.key!r}: unknown comparator {rule.comparator.name!r}")
    if rule.scope == "team":
        return _evaluate_team(rule, team_kpi)
    if rule.scope != "territory":
        raise ValueError(f"rule {rule.key!r}: unknown scope {rule.scope!r}")
    if rule.metric not in territory_kpis.columns:
        raise ValueError(f"rule {rule.key!r}: the snapshot has no metric {rule.metric!r}")
    crossed = territory_kpis[rule.comparator.mask(territory_kpis[rule.metric], rule.threshold)]
    return [_territory_breach(rule, row) for row in crossed.to_dict("records")]


def _evaluate_team(rule: Rule, team_kpi: Mapping[str, Any]) -> list[Breach]:
    if team_kpi and rule.metric not in team_kpi:
        raise ValueError(f"rule {rule.key!r}: the team snapshot has no metric {rule.metric!r}")
    value = _number(team_kpi.get(rule.metric))
    if value is None or not is_breach(rule, value):
        return []
    return [
        Breach(
            rule=rule,
            value=value,
            snapshot_date=team_kpi.get("snapshot_date"),
            previous_value=_number(team_kpi.get(f"{rule.metric}_prev")),
            previous_days=_days(team_kpi.get("previous_days")),
        )
    ]


def _territory_breach(rule: Rule, row: Mapping[str, Any]) -> Breach:
    return Breach(
        rule=rule,
        value=float(row[rule.metric]),
        snapshot_date=row.get("snapshot_date"),
        territory_id=int(row["territory_id"]),
        territory_external_id=row.get("territory_external_id"),
        territory_name=row.get("territory_name"),
        previous_value=_number(row.get(f"{rule.metric}_prev")),
        previous_days=_days(row.get("previous_days")),
    )


def _number(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


def _days(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


# --- human half -----------------------------------------------------------------------------


def format_threshold(rule: Rule) -> str:
    """The threshold as a person reads it ("70%", "±15%", "3×", "-10 points")."""
    return rule.comparator.threshold_text(rule.kpi.unit, rule.threshold)


def describe(rule: Rule) -> str:
    """The rule in words, from its stored threshold: "Coverage below 70%"."""
    return rule.comparator.describe(rule.kpi.label, rule.threshold, rule.kpi.unit)


def condition(rule: Rule) -> str:
    """The rule without its KPI: "below 70%", "outside ±15%"."""
    return rule.comparator.condition(rule.threshold, rule.kpi.unit)


def value_text(breach: Breach) -> str:
    """The breach's value, with as many decimals as it takes to differ from the threshold."""
    rule = breach.rule
    return rule.comparator.reading(rule.kpi.unit, breach.value, rule.threshold)


def sentence(breach: Breach) -> str:
    """The breach in one sentence, e.g.
    "Coverage in Phoenix North is 58%, below the 70% threshold (was 74% 4 weeks ago)."
    """
    rule = breach.rule
    crossing = rule.comparator.crossing(rule.threshold, rule.kpi.unit)
    return f"{_reading(breach)}, {crossing}{_trend(breach)}."


def resolved_sentence(breach: Breach) -> str:
    """The reading that closed an episode, e.g.
    "Coverage in Phoenix North is back to 74%, no longer below the 70% threshold."
    """
    rule = breach.rule
    back = rule.comparator.back_inside(rule.threshold, rule.kpi.unit)
    return f"{_reading(breach, 'is back to')}, {back}."


def _reading(breach: Breach, verb: str = "is") -> str:
    """The KPI, the place and the value: "Coverage in Phoenix North is 58%", "Potential index in X is
    1.22 (22% above the mean)"."""
    rule = breach.rule
    where = "" if rule.scope == "team" else f" in {breach.place}"
    note = rule.kpi.unit.note(breach.value)
    return f"{rule.kpi.label}{where} {verb} {value_text(breach)}{note}"


def _trend(breach: Breach) -> str:
    if breach.previous_value is None:
        return ""
    previous = replace(breach, value=breach.previous_value)
    return f" (was {value_text(previous)} {_ago(breach.previous_days)})"


def _ago(days: int | None) -> str:
    if days is None:
        return "before"
    weeks = round(days / 7)
    if weeks >= 1 and abs(days - 7 * weeks) <= 1:
        return f"{weeks} week{'s' if weeks != 1 else ''} ago"
    return f"{days} days ago"


def _default(key: str, metric: str, comparator: Comparator, threshold: float, **options: Any) -> Rule:
    """A default rule, named by its description ("Coverage below 70%")."""
    rule = Rule(key, "", metric, comparator, threshold, **options)
    return replace(rule, name=describe(rule))


# Severities and thresholds (docs/alerts.md, "Defaults"): critical is something that changed and
# needs someone this week (bookings stalled, activity collapsed, accounts left unvisited); warning is
# a book out of shape (potential or workload far from the mean, thin pipeline); info is the team's
# structure, which the optimizer handles. The bands are wide enough that ordinary spread between
# books stays quiet: each sample book opens 9–12 episodes, its planted stories first.
DEFAULT_RULES: tuple[Rule, ...] = (
    _default("potential_index_band", "potential_index", OUTSIDE, 0.25),
    _default("workload_index_band", "workload_index", OUTSIDE, 0.30),
    _default("drift_low", "drift", BELOW, -15.0, severity="critical"),
    _default("coverage_low", "coverage", BELOW, 0.70, severity="critical"),
    _default("activity_drop", "activity_change", BELOW, -0.30, severity="critical"),
    _default("pipeline_coverage_low", "pipeline_coverage", BELOW, 3.0),
    # a customer a plan handed over and nobody has called in the 30 days since (docs/review.md)
    _default("moved_account_silent", SILENT_MOVED_ACCOUNTS, ABOVE, 0.0, severity="critical"),
    _default(
        "team_potential_cv", "cv_potential", ABOVE, 0.15, scope="team", severity="info", renotify_hours=168.0
    ),
)


# --- storage --------------------------------------------------------------------------------


def rule_from_row(row: AlertRule) -> Rule:
    """The rule an AlertRule row stores (what evaluation uses)."""
    recipients = tuple(r.strip() for r in row.recipients.split(",") if r.strip())
    return Rule(
        key=row.key,
        name=row.name,
        metric=row.metric,
        comparator=comparator_named(row.comparator),
        threshold=row.threshold,
        scope=row.scope,
        severity=row.severity,
        recipients=recipients,
        renotify_hours=row.renotify_hours,
        enabled=row.enabled,
        id=row.id,
    )


def row_from_rule(rule: Rule) -> AlertRule:
    """A new AlertRule row for a rule."""
    return AlertRule(
        key=rule.key,
        name=rule.name,
        metric=rule.metric,
        comparator=rule.comparator.name,
        threshold=rule.threshold,
        scope=rule.scope,
        severity=rule.severity,
        recipients=",".join(rule.recipients),
        renotify_hours=rule.renotify_hours,
        enabled=rule.enabled,
    )


def seed_default_rules(session: Session) -> list[str]:
    """Insert the default rules whose key is missing; rows already there (edited or not) stay as they are.

    Returns the keys inserted. Flushes, the caller commits.
    """
    existing = set(session.exec(select(AlertRule.key)).all())
    missing = [rule for rule in DEFAULT_RULES if rule.key not in existing]
    session.add_all(row_from_rule(rule) for rule in missing)
    session.flush()
    return [rule.key for rule in missing]


def load_rules(session: Session, *, enabled_only: bool = False) -> list[Rule]:
    """The rules stored in the database, in id order."""
    query = select(AlertRule).order_by(AlertRule.id)  # type: ignore[arg-type]
    if enabled_only:
        query = query.where(AlertRule.enabled == True)  # noqa: E712 (SQL expression)
    return [rule_from_row(row) for row in session.exec(query).all()]
