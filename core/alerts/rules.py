"""Alert rules: the defaults of DESIGN.md, how a rule is checked, and how it reads to a person.

A rule compares one KPI of the latest snapshot with a threshold. Each rule has a machine half,
``evaluate`` (vectorised over a snapshot's territory frame), and a human half, ``describe`` and
``sentence`` (what the email, the Alerts page and the CLI print).

Comparators: ``below`` (value < threshold), ``above`` (value > threshold) and ``outside``
(|value - 1| > threshold: the band around a balanced index of 1.0). Comparisons are strict, so a
value exactly on the threshold is inside (within 1e-9, so that float error does not decide).
A missing value (no quota, no pipeline, ...) never breaches.

Units follow the KPI snapshot (core/kpis.py): shares are fractions (coverage 0.58 reads "58%"),
``drift`` and ``attainment_gap`` are already in points of quota (-12.0 reads "-12 points").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session, select

from core.models import AlertRule

COMPARATORS = ("below", "above", "outside")
SCOPES = ("territory", "team")
SEVERITIES = ("info", "warning", "critical")
INDEX_CENTER = 1.0  # an index of 1.0 is the mean of the territories in view
# A value typed as the threshold stays inside despite float error (|0.85 - 1| is 0.15000000000000002).
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Metric:
    """How a KPI reads to a person: its label and the kind of number it is."""

    label: str
    kind: str  # index | percent | signed_percent | points | multiple | whole | number


METRICS: dict[str, Metric] = {
    "potential_index": Metric("Potential index", "index"),
    "workload_index": Metric("Workload index", "index"),
    "drift": Metric("Drift", "points"),
    "attainment_gap": Metric("Attainment gap", "points"),
    "coverage": Metric("Coverage", "percent"),
    "accounts_touched_share": Metric("Share of accounts touched", "percent"),
    "activity_change": Metric("Activity change", "signed_percent"),
    "pipeline_coverage": Metric("Pipeline coverage", "multiple"),
    "utilization": Metric("Utilization", "percent"),
    "attainment": Metric("Attainment", "percent"),
    "projected_attainment": Metric("Projected attainment", "percent"),
    "health": Metric("Health score", "whole"),
    "cv_potential": Metric("Team CV of potential", "number"),
    "max_min_ratio": Metric("Team max/min potential ratio", "multiple"),
    "quartile_ratio": Metric("Team top/bottom quartile potential ratio", "multiple"),
    "gini": Metric("Team Gini of potential", "number"),
    "reps_on_pace_share": Metric("Share of reps at or above pace", "percent"),
    "out_of_band": Metric("Territories out of band", "whole"),
    "workload_out_of_band": Metric("Territories out of workload band", "whole"),
}


@dataclass(frozen=True)
class Rule:
    """One alert rule; ``recipients`` empty means the default list (settings.alert_recipients)."""

    key: str
    name: str
    metric: str
    comparator: str
    threshold: float
    scope: str = "territory"
    severity: str = "warning"
    recipients: tuple[str, ...] = ()
    renotify_hours: float = 24.0
    enabled: bool = True
    id: int | None = None  # the AlertRule row, once stored


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


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("potential_index_band", "Potential index outside ±15%", "potential_index", "outside", 0.15),
    Rule("workload_index_band", "Workload index outside ±20%", "workload_index", "outside", 0.20),
    Rule("drift_low", "Drift below -10 points", "drift", "below", -10.0, severity="critical"),
    Rule("coverage_low", "Coverage below 70%", "coverage", "below", 0.70),
    Rule("activity_drop", "Activity change below -30%", "activity_change", "below", -0.30),
    Rule("pipeline_coverage_low", "Pipeline coverage below 3×", "pipeline_coverage", "below", 3.0),
    Rule(
        "team_potential_cv",
        "Team CV of potential above 0.15",
        "cv_potential",
        "above",
        0.15,
        scope="team",
        renotify_hours=168.0,
    ),
)


# --- machine half ---------------------------------------------------------------------------


def breaches_mask(comparator: str, values: pd.Series | np.ndarray, threshold: float) -> np.ndarray:
    """Element-wise: which values cross the threshold (missing values never do)."""
    array = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        if comparator == "below":
            return array < threshold - TOLERANCE
        if comparator == "above":
            return array > threshold + TOLERANCE
        if comparator == "outside":
            return np.abs(array - INDEX_CENTER) > threshold + TOLERANCE
    raise ValueError(f"unknown comparator {comparator!r}; expected one of {COMPARATORS}")


def is_breach(rule: Rule, value: float | None) -> bool:
    """Whether one value crosses the rule's threshold."""
    return bool(breaches_mask(rule.comparator, [np.nan if value is None else value], rule.threshold)[0])


def evaluate(rule: Rule, territory_kpis: pd.DataFrame, team_kpi: Mapping[str, Any]) -> list[Breach]:
    """The places where ``rule`` is crossed in one snapshot.

    ``territory_kpis`` has one row per territory: ``territory_id``, ``territory_external_id``,
    ``territory_name``, the metric columns and, optionally, ``<metric>_prev`` and ``previous_days``
    (the snapshot about four weeks earlier). ``team_kpi`` holds the team metrics the same way
    (``cv_potential``, ``cv_potential_prev``, ``previous_days``) and may be empty.
    """
    if rule.comparator not in COMPARATORS:
        raise ValueError(f"rule {rule.key!r}: unknown comparator {rule.comparator!r}")
    if rule.scope == "team":
        return _evaluate_team(rule, team_kpi)
    if rule.scope != "territory":
        raise ValueError(f"rule {rule.key!r}: unknown scope {rule.scope!r}")
    if rule.metric not in territory_kpis.columns:
        raise ValueError(f"rule {rule.key!r}: the snapshot has no metric {rule.metric!r}")
    crossed = territory_kpis[breaches_mask(rule.comparator, territory_kpis[rule.metric], rule.threshold)]
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


def metric_of(key: str) -> Metric:
    """The label and kind of a metric; unknown metrics read as plain numbers."""
    return METRICS.get(key, Metric(key.replace("_", " ").capitalize(), "number"))


def format_value(kind: str, value: float, decimals: int = 0) -> str:
    """A metric value as a person reads it ("58%", "-12 points", "2.1×", "1.22", "64")."""
    if kind == "percent":
        return f"{value * 100:.{decimals}f}%"
    if kind == "signed_percent":
        return f"{value * 100:+.{decimals}f}%"
    if kind == "points":
        return f"{value:+.{decimals}f} points"
    if kind == "multiple":
        return f"{value:.{decimals + 1}f}×"
    if kind == "whole":
        return f"{value:.{decimals}f}"
    return f"{value:.{decimals + 2}f}"


def format_threshold(rule: Rule) -> str:
    """The threshold as a person reads it ("70%", "±15%", "3×", "-10 points")."""
    if rule.comparator == "outside":
        return f"±{_trim(rule.threshold * 100)}%"
    kind = metric_of(rule.metric).kind
    if kind in ("percent", "signed_percent"):
        return f"{_trim(rule.threshold * 100)}%"
    if kind == "points":
        return f"{_trim(rule.threshold)} points"
    if kind == "multiple":
        return f"{_trim(rule.threshold)}×"
    return _trim(rule.threshold)


def _trim(number: float) -> str:
    return f"{number:.4f}".rstrip("0").rstrip(".")


def describe(rule: Rule) -> str:
    """The rule in words, from its stored threshold: "Coverage below 70%"."""
    return f"{metric_of(rule.metric).label} {rule.comparator} {format_threshold(rule)}"


def value_text(breach: Breach) -> str:
    """The breach's value, with as many decimals as it takes to differ from the threshold."""
    kind = metric_of(breach.rule.metric).kind
    if breach.rule.comparator == "outside":
        return format_value(kind, breach.value)
    for decimals in range(4):
        text = format_value(kind, breach.value, decimals)
        if text != format_value(kind, breach.rule.threshold, decimals):
            return text
    return format_value(kind, breach.value)  # equal to the threshold (a reading on the edge)


def sentence(breach: Breach) -> str:
    """The breach in one sentence, e.g.
    "Coverage in Phoenix North is 58%, below the 70% threshold (was 74% 4 weeks ago)."
    """
    rule = breach.rule
    where = "" if rule.scope == "team" else f" in {breach.place}"
    label = metric_of(rule.metric).label
    return f"{label}{where} is {value_text(breach)}{_index_note(breach)}, {_crossing(rule)}{_trend(breach)}."


def resolved_sentence(breach: Breach) -> str:
    """The reading that closed an episode, e.g.
    "Coverage in Phoenix North is back to 74%, no longer below the 70% threshold."
    """
    rule = breach.rule
    where = "" if rule.scope == "team" else f" in {breach.place}"
    label = metric_of(rule.metric).label
    if rule.comparator == "outside":
        back = f"inside the {format_threshold(rule)} band"
    else:
        back = f"no longer {_crossing(rule)}"
    return f"{label}{where} is back to {value_text(breach)}{_index_note(breach)}, {back}."


def _crossing(rule: Rule) -> str:
    if rule.comparator == "outside":
        return f"outside the {format_threshold(rule)} band"
    threshold = format_threshold(rule).replace(" points", "-point")  # "the -10-point threshold"
    return f"{rule.comparator} the {threshold} threshold"


def _index_note(breach: Breach) -> str:
    if metric_of(breach.rule.metric).kind != "index":
        return ""
    share = round((breach.value - INDEX_CENTER) * 100)
    if share == 0:
        return " (at the mean)"
    side = "above" if share > 0 else "below"
    return f" ({abs(share)}% {side} the mean)"


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


# --- storage --------------------------------------------------------------------------------


def rule_from_row(row: AlertRule) -> Rule:
    """The rule an AlertRule row stores (what evaluation uses)."""
    recipients = tuple(r.strip() for r in row.recipients.split(",") if r.strip())
    return Rule(
        key=row.key,
        name=row.name,
        metric=row.metric,
        comparator=row.comparator,
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
        comparator=rule.comparator,
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
