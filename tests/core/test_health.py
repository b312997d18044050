"""Health score: each rule's arithmetic, the edges, the cap, the floor and the listed reasons."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.config import Settings
from core.health import HEALTH_RULES, health_scores

RULES = {rule.key: rule for rule in HEALTH_RULES}
HEALTHY = {
    "vacant": 0.0,
    "potential_index": 1.0,
    "workload_index": 1.0,
    "utilization": 0.8,
    "coverage": 0.9,
    "attainment_gap": 0.0,
    "drift": 0.0,
    "activity_change": 0.0,
    "pipeline_coverage": 4.0,
}


@pytest.fixture
def cfg() -> Settings:
    return Settings(_env_file=None)


def score(cfg: Settings, **changes: float) -> tuple[float, list[dict]]:
    frame = health_scores(pd.DataFrame([{**HEALTHY, **changes}]), settings=cfg)
    return float(frame["health"].iloc[0]), json.loads(frame["deductions"].iloc[0])


@pytest.mark.parametrize(
    ("metric", "value", "points"),
    [
        ("potential_index", 1.32, 5 + 50 * 0.17),  # 13.5
        ("potential_index", 0.80, 5 + 50 * 0.05),  # below the band too: 7.5
        ("potential_index", 1.15, 0.0),  # on the edge: in band
        ("potential_index", 2.00, 15.0),  # capped
        ("workload_index", 1.30, 5 + 50 * 0.10),  # 10, the cap
        ("utilization", 1.25, 5 + 20 * 0.25),  # 10
        ("coverage", 0.60, 5 + 50 * 0.10),  # 10
        ("coverage", 0.70, 0.0),
        ("attainment_gap", -20.0, 5 + 0.5 * 10),  # 10
        ("drift", -14.0, 5 + 0.5 * 4),  # 7
        ("drift", -10.0, 0.0),
        ("activity_change", -0.40, 5 + 20 * 0.10),  # 7
        ("pipeline_coverage", 2.0, 5 + 5 * 1.0),  # 10
        ("pipeline_coverage", 0.0, 15.0),  # 5 + 15 capped
        ("vacant", 1.0, 20.0),
    ],
)
def test_rule_points(cfg, metric, value, points):
    health, deductions = score(cfg, **{metric: value})
    assert health == pytest.approx(100 - points)
    assert [d["points"] for d in deductions] == ([pytest.approx(points)] if points else [])


@pytest.mark.parametrize("metric", [m for m in HEALTHY if m != "vacant"])
def test_unknown_values_cost_nothing(cfg, metric):
    assert score(cfg, **{metric: np.nan}) == (100.0, [])


def test_band_comes_from_settings(cfg):
    """Index 1.25 is out of the default ±0.15 band (10 points) but inside a ±0.3 band."""
    assert score(cfg, potential_index=1.25)[0] == pytest.approx(90.0)
    assert score(cfg.model_copy(update={"potential_band": 0.3}), potential_index=1.25)[0] == 100.0


def test_everything_wrong_floors_at_zero_and_lists_every_reason(cfg):
    """All nine rules at their caps add to 130 points: health 0, nine deductions, largest first."""
    worst = {
        "vacant": 1.0,
        "potential_index": 3.0,
        "workload_index": 3.0,
        "utilization": 3.0,
        "coverage": 0.0,
        "attainment_gap": -100.0,
        "drift": -100.0,
        "activity_change": -1.0,
        "pipeline_coverage": 0.0,
    }
    health, deductions = score(cfg, **worst)
    assert sum(rule.cap for rule in HEALTH_RULES) == 130
    assert health == 0.0
    assert [d["points"] for d in deductions] == sorted((r.cap for r in HEALTH_RULES), reverse=True)
    assert deductions[0]["reason"] == "territory is vacant (no owner rep)"


def test_reasons_carry_the_numbers(cfg):
    _, deductions = score(cfg, coverage=0.55, drift=-12.34, pipeline_coverage=1.5)
    reasons = {d["reason"] for d in deductions}
    assert "coverage 55% of potential is below 70%" in reasons
    assert "drift -12.3 pts over 28 days is below -10 pts" in reasons
    assert "pipeline covers 1.5× the remaining quota (below 3×)" in reasons


def test_vectorised_over_rows(cfg):
    """Rows are scored independently and keep their index."""
    frame = pd.DataFrame([HEALTHY, {**HEALTHY, "vacant": 1.0}], index=[7, 9])
    scores = health_scores(frame, settings=cfg)
    assert list(scores.index) == [7, 9]
    assert scores["health"].tolist() == [100.0, 80.0]
    assert RULES["vacant"].describe(1.0, cfg) in scores.loc[9, "deductions"]
