"""Territory health: 0–100, start at 100 and subtract documented, capped deductions.

Every deduction is one ``HealthRule``: a KPI, a limit, and how many points it costs. A rule fires
when its KPI is strictly beyond the limit (by more than 1e-9: float noise on the edge does not
count); it then costs ``base + rate × excess`` points (rounded to 0.1), capped at ``cap``, where
``excess`` is how far beyond the limit the KPI is, in the KPI's own unit. A KPI that is unknown
(None/NaN: no quota, no activity baseline, ...) never costs points. Health is
``max(0, 100 − sum of points)``, rounded to 0.1; each territory's deductions are listed as
``{"reason": words with the numbers, "points": float}``, largest first (ties in rule order).

| rule              | KPI                  | fires when                  | base | rate              | cap |
|-------------------|----------------------|-----------------------------|------|-------------------|-----|
| vacant            | owner                | no owner rep                | 20   | –                 | 20  |
| potential_band    | potential_index      | abs(index − 1) > band       | 5    | 50 per 1.0 index  | 15  |
| workload_band     | workload_index       | abs(index − 1) > band       | 5    | 50 per 1.0 index  | 10  |
| over_capacity     | utilization          | > 1.0 (100% of capacity)    | 5    | 20 per 1.0        | 10  |
| coverage          | coverage             | < 0.70                      | 5    | 50 per 1.0 share  | 20  |
| attainment_gap    | attainment_gap       | < −10 points                | 5    | 0.5 per point     | 15  |
| drift             | drift                | < −10 points                | 5    | 0.5 per point     | 15  |
| activity_change   | activity_change      | < −30%                      | 5    | 20 per 1.0        | 10  |
| pipeline_coverage | pipeline_coverage    | < 3.0×                      | 5    | 5 per 1.0×        | 15  |

The bands are the settings ``potential_band`` / ``workload_band``; the other limits are the
DESIGN.md alert defaults, kept here as constants. Worked example: potential index 1.32 with band
0.15 → excess 0.17 → 5 + 50 × 0.17 = 13.5 points.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.comparators import ABOVE, BELOW, OUTSIDE, Comparator
from core.config import Settings

MAX_HEALTH = 100.0
EDGE_TOLERANCE = 1e-9  # a KPI exactly on its limit (up to float noise) does not fire


@dataclass(frozen=True)
class HealthRule:
    """One deduction: ``metric`` beyond ``limit`` costs ``min(cap, base + rate × excess)`` points."""

    key: str
    metric: str
    comparator: Comparator  # BELOW, ABOVE or OUTSIDE (of 1 ± limit): core.comparators
    limit: Callable[[Settings], float]
    base: float
    rate: float
    cap: float
    reason: str  # format string with {value} and {limit}

    def excess(self, values: pd.Series, settings: Settings) -> pd.Series:
        """How far beyond the limit each value is (<= 0 or NaN: the rule does not fire)."""
        return self.comparator.excess(values, self.limit(settings))

    def points(self, values: pd.Series, settings: Settings) -> pd.Series:
        """Points deducted per territory (0 where the rule does not fire)."""
        excess = self.excess(values.astype(float), settings)
        points = np.minimum(self.cap, self.base + self.rate * excess).round(1)
        return points.where(excess > EDGE_TOLERANCE, 0.0)

    def describe(self, value: float, settings: Settings) -> str:
        """The reason in words, with the numbers."""
        return self.reason.format(value=value, limit=self.limit(settings))


HEALTH_RULES: tuple[HealthRule, ...] = (
    HealthRule("vacant", "vacant", ABOVE, lambda s: 0.5, 20, 0, 20, "territory is vacant (no owner rep)"),
    HealthRule(
        "potential_band",
        "potential_index",
        OUTSIDE,
        lambda s: s.potential_band,
        5,
        50,
        15,
        "potential index {value:.2f} is outside 1 ± {limit:.2f}",
    ),
    HealthRule(
        "workload_band",
        "workload_index",
        OUTSIDE,
        lambda s: s.workload_band,
        5,
        50,
        10,
        "workload index {value:.2f} is outside 1 ± {limit:.2f}",
    ),
    HealthRule(
        "over_capacity",
        "utilization",
        ABOVE,
        lambda s: 1.0,
        5,
        20,
        10,
        "workload is {value:.0%} of the rep's capacity",
    ),
    HealthRule(
        "coverage",
        "coverage",
        BELOW,
        lambda s: 0.70,
        5,
        50,
        20,
        "coverage {value:.0%} of potential is below {limit:.0%}",
    ),
    HealthRule(
        "attainment_gap",
        "attainment_gap",
        BELOW,
        lambda s: -10.0,
        5,
        0.5,
        15,
        "attainment is {value:+.1f} pts against pace (limit {limit:+.0f} pts)",
    ),
    HealthRule(
        "drift",
        "drift",
        BELOW,
        lambda s: -10.0,
        5,
        0.5,
        15,
        "drift {value:+.1f} pts over 28 days is below {limit:+.0f} pts",
    ),
    HealthRule(
        "activity_change",
        "activity_change",
        BELOW,
        lambda s: -0.30,
        5,
        20,
        10,
        "activity {value:+.0%} against the 30-day average of the 90 days before (limit {limit:+.0%})",
    ),
    HealthRule(
        "pipeline_coverage",
        "pipeline_coverage",
        BELOW,
        lambda s: 3.0,
        5,
        5,
        15,
        "pipeline covers {value:.1f}× the remaining quota (below {limit:.0f}×)",
    ),
)


def health_scores(
    kpis: pd.DataFrame, *, settings: Settings, rules: tuple[HealthRule, ...] = HEALTH_RULES
) -> pd.DataFrame:
    """Health and deductions per row of ``kpis`` (one row per territory).

    ``kpis`` holds the rules' metric columns (``vacant`` as 0/1 or bool). Returns a frame on the
    same index with ``health`` (float 0–100) and ``deductions`` (JSON list of
    ``{"reason", "points"}``, largest first).
    """
    points = pd.DataFrame(
        {rule.key: rule.points(kpis[rule.metric], settings) for rule in rules}, index=kpis.index
    )
    reasons = pd.DataFrame(
        {rule.key: _reasons(rule, kpis[rule.metric], points[rule.key], settings) for rule in rules}
    )
    health = (MAX_HEALTH - points.sum(axis=1)).clip(lower=0.0).round(1)
    deductions = [_deduction_json(p, r) for p, r in zip(points.to_numpy(), reasons.to_numpy(), strict=True)]
    return pd.DataFrame({"health": health, "deductions": deductions}, index=kpis.index)


def _reasons(rule: HealthRule, values: pd.Series, points: pd.Series, settings: Settings) -> pd.Series:
    fired = points > 0
    text = [rule.describe(float(v), settings) for v in values[fired]]
    return pd.Series(text, index=values.index[fired], dtype=object).reindex(values.index)


def _deduction_json(points: np.ndarray, reasons: np.ndarray) -> str:
    fired = sorted(
        ((float(p), str(r)) for p, r in zip(points, reasons, strict=True) if p > 0),
        key=lambda pr: -pr[0],  # stable: ties keep rule order
    )
    return json.dumps([{"reason": r, "points": p} for p, r in fired], ensure_ascii=False)
