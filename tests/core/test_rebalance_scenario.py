"""The scenario schema: TOML round trips, validation fails fast, shipped scenarios say what DESIGN.md says."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.rebalance import Scenario
from core.rebalance.scenario import PotentialRange

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.parametrize("name", ["southwest", "midmarket", "national"])
def test_shipped_scenarios_round_trip_through_toml(name: str) -> None:
    scenario = Scenario.from_toml(SCENARIOS / f"{name}.toml")
    assert scenario.name == name
    assert Scenario.from_toml(scenario.to_toml()) == scenario


def test_from_toml_reads_a_path_given_as_text() -> None:
    assert Scenario.from_toml(str(SCENARIOS / "southwest.toml")).name == "southwest"


def test_southwest_encodes_the_field_targets() -> None:
    rules = Scenario.from_toml(SCENARIOS / "southwest.toml").constraints
    assert (rules.potential.min, rules.potential.max) == (4_000_000, 5_000_000)
    assert (rules.accounts.min, rules.accounts.max) == (35, 40)
    assert rules.strategic_revenue == 200_000 and rules.state_lines and rules.specialists is not None


def test_midmarket_and_national_encode_the_field_targets() -> None:
    midmarket = Scenario.from_toml(SCENARIOS / "midmarket.toml")
    assert (midmarket.constraints.potential.min, midmarket.constraints.potential.max) == (
        2_000_000,
        2_500_000,
    )
    assert midmarket.constraints.industry_focus.industries == 3
    assert midmarket.constraints.industry_focus.min_share == 0.6
    assert midmarket.objective.state_spread > midmarket.objective.continuity
    national = Scenario.from_toml(SCENARIOS / "national.toml").constraints
    assert national.potential.share == 0.10
    assert national.churn.max_book_share == 0.20
    assert national.top_revenue_share == 0.10


@pytest.mark.parametrize(
    "data, message",
    [
        ({"scope": {"kind": "territories"}}, "needs a list of territory ids"),
        ({"scope": {"kind": "region"}}, "needs a region"),
        ({"constraints": {"potential": {"min": 5, "share": 0.1}}}, "either as min/max dollars or as a share"),
        ({"constraints": {"potential": {}}}, "needs min/max dollars or a share"),
        ({"constraints": {"accounts": {"min": 40, "max": 35}}}, "accounts.min is above accounts.max"),
        ({"objective": {"travel": -1}}, "greater than or equal to 0"),
        ({"constraints": {"unknown_rule": True}}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_scenarios_fail_fast_with_a_reason(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Scenario.model_validate(data)


def test_band_bounds_from_share_or_dollars() -> None:
    assert PotentialRange(share=0.1).bounds(1_000_000) == pytest.approx((900_000, 1_100_000))
    assert PotentialRange(min=4e6, max=5e6).bounds(123.0) == (4e6, 5e6)
    assert PotentialRange(min=4e6).bounds(1.0) == (4e6, float("inf"))


def test_every_rule_has_a_human_half() -> None:
    scenario = Scenario.from_toml(SCENARIOS / "southwest.toml")
    rules = scenario.constraints
    assert rules.potential.describe() == "potential between $4.0M and $5.0M"
    assert rules.accounts.describe_min() == "at least 35 accounts"
    assert rules.describe_strategic() == "strategic accounts (over $200K revenue) stay with their territory"
    assert "50%" in rules.specialists.describe()
    assert scenario.objective.describe() == "minimise potential balance ×0.01, continuity ×1"


def test_with_changes_sets_nested_fields_and_validates() -> None:
    scenario = Scenario().with_changes(**{"constraints.churn.max_moves": 5, "time_limit_s": 3.0})
    assert scenario.constraints.churn.max_moves == 5 and scenario.time_limit_s == 3.0
    with pytest.raises(ValidationError):
        Scenario().with_changes(**{"constraints.churn.max_moves": -1})


def test_a_full_scenario_with_what_ifs_round_trips() -> None:
    scenario = Scenario.model_validate(
        {
            "scope": {"kind": "auto", "band": 0.1, "neighbours": 3},
            "constraints": {
                "cooldown_days": 90,
                "capacity": True,
                "churn": {"max_moves": 40, "max_book_share": 0.2, "max_revenue": 2e6},
            },
            "what_if": {
                "vacated": ["SW-T005"],
                "added": [{"territory": "NEW-1", "home_lat": 33.4, "home_lon": -112.0, "state": "AZ"}],
            },
        }
    )
    text = scenario.to_toml()
    assert "[[what_if.added]]" in text
    assert Scenario.from_toml(text) == scenario


def test_time_limit_and_workers_come_from_settings_unless_the_scenario_says(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TERRITORY_SOLVER_TIME_LIMIT_S", "12.5")
    monkeypatch.setenv("TERRITORY_SOLVER_WORKERS", "1")  # the conftest fixture clears the settings cache
    shipped = Scenario.from_toml(SCENARIOS / "national.toml")
    assert (Scenario().time_limit_s, Scenario().workers) == (12.5, 1)
    assert (shipped.time_limit_s, shipped.workers) == (60.0, 1)  # its own limit, the machine's workers
