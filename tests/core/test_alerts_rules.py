"""Alert rules: the defaults, evaluate (machine half) and describe / sentence (human half), seeding."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from core.alerts.rules import (
    DEFAULT_RULES,
    Breach,
    Rule,
    describe,
    evaluate,
    format_threshold,
    resolved_sentence,
    row_from_rule,
    rule_from_row,
    seed_default_rules,
    sentence,
    value_text,
)
from core.db import get_engine, upgrade_schema
from core.models import AlertRule
from tests.factories import worked_rules

RULES = worked_rules()  # the thresholds the worked cases below use (tests/factories.py)


def snapshot(**metrics: list[float | None]) -> pd.DataFrame:
    """A territory frame with ids 1..n and names T1..Tn for the given metric columns."""
    n = len(next(iter(metrics.values())))
    ids = list(range(1, n + 1))
    return pd.DataFrame(
        {
            "territory_id": ids,
            "territory_external_id": [f"EXT-{i}" for i in ids],
            "territory_name": [f"T{i}" for i in ids],
            **metrics,
        }
    )


def breached_ids(rule: Rule, frame: pd.DataFrame) -> list[int]:
    return [b.territory_id for b in evaluate(rule, frame, {}) if b.territory_id is not None]


# --- defaults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "comparator", "threshold", "scope"),
    [
        ("potential_index", "outside", 0.25, "territory"),  # widened from 0.15: docs/alerts.md
        ("workload_index", "outside", 0.30, "territory"),  # widened from 0.20
        ("drift", "below", -15.0, "territory"),  # lowered from -10
        ("coverage", "below", 0.70, "territory"),
        ("activity_change", "below", -0.30, "territory"),
        ("pipeline_coverage", "below", 3.0, "territory"),
        ("cv_potential", "above", 0.15, "team"),
        ("silent_moved_accounts", "above", 0.0, "territory"),  # issue 16: a moved account left silent
    ],
)
def test_design_defaults_are_all_there(metric: str, comparator: str, threshold: float, scope: str) -> None:
    (rule,) = [r for r in DEFAULT_RULES if r.metric == metric]
    assert (rule.comparator.name, rule.threshold, rule.scope) == (comparator, threshold, scope)
    assert rule.enabled and rule.renotify_hours > 0 and rule.severity in ("info", "warning", "critical")


def test_default_rule_keys_are_unique_and_names_match_their_description() -> None:
    assert len(RULES) == len(DEFAULT_RULES) == 8  # 7 of DESIGN.md + moved_account_silent
    assert all(rule.name == describe(rule) for rule in DEFAULT_RULES)


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("potential_index_band", "Potential index outside ±15%"),
        ("workload_index_band", "Workload index outside ±20%"),
        ("drift_low", "Drift below -10 points"),
        ("coverage_low", "Coverage below 70%"),
        ("activity_drop", "Activity change below -30%"),
        ("pipeline_coverage_low", "Pipeline coverage below 3×"),
        ("team_potential_cv", "Team CV of potential above 0.15"),
    ],
)
def test_describe(key: str, text: str) -> None:
    assert describe(RULES[key]) == text


def test_describe_follows_an_edited_threshold() -> None:
    assert describe(replace(RULES["coverage_low"], threshold=0.625)) == "Coverage below 62.5%"
    assert describe(replace(RULES["potential_index_band"], threshold=0.1)) == "Potential index outside ±10%"


# --- evaluate -------------------------------------------------------------------------------


def test_evaluate_below_is_strict_and_skips_missing_values() -> None:
    """Coverage 0.58 and 0.6999 breach; exactly 0.70, 0.90 and a missing value do not."""
    frame = snapshot(coverage=[0.58, 0.70, 0.6999, None, 0.90])
    assert breached_ids(RULES["coverage_low"], frame) == [1, 3]


def test_evaluate_outside_band_on_both_sides() -> None:
    """Band ±0.15 around 1: 1.16 and 0.84 are out; 1.15, 0.85 (on the edge) and 1.0 are in."""
    frame = snapshot(potential_index=[1.16, 1.15, 0.85, 0.84, 1.0, float("nan")])
    assert breached_ids(RULES["potential_index_band"], frame) == [1, 4]


def test_evaluate_negative_thresholds() -> None:
    """Drift (points) -14 < -10 breaches, -10 and -5 do not; activity -0.42 < -0.30 breaches."""
    assert breached_ids(RULES["drift_low"], snapshot(drift=[-14.0, -10.0, -5.0])) == [1]
    assert breached_ids(RULES["activity_drop"], snapshot(activity_change=[0.0, -0.42, -0.30])) == [2]


def test_evaluate_carries_names_and_trend() -> None:
    frame = snapshot(coverage=[0.58], coverage_prev=[0.74], previous_days=[28]).assign(
        snapshot_date=date(2025, 6, 2)
    )
    (breach,) = evaluate(RULES["coverage_low"], frame, {})
    assert breach == Breach(
        rule=RULES["coverage_low"],
        value=0.58,
        snapshot_date=date(2025, 6, 2),
        territory_id=1,
        territory_external_id="EXT-1",
        territory_name="T1",
        previous_value=0.74,
        previous_days=28,
    )


def test_evaluate_object_column_with_nones() -> None:
    """Columns read from the database may be object dtype with None; they still compare."""
    frame = snapshot(pipeline_coverage=pd.Series([None, 2.5, 3.5], dtype=object))
    assert breached_ids(RULES["pipeline_coverage_low"], frame) == [2]


@pytest.mark.parametrize(
    ("team", "breaches"),
    [
        ({"cv_potential": 0.22}, 1),
        ({"cv_potential": 0.15}, 0),
        ({"cv_potential": None}, 0),
        ({}, 0),  # no team snapshot
    ],
)
def test_evaluate_team_rule(team: dict[str, float | None], breaches: int) -> None:
    found = evaluate(RULES["team_potential_cv"], snapshot(coverage=[0.9]), team)
    assert len(found) == breaches
    assert all(b.territory_id is None and b.place == "the team" for b in found)


def test_evaluate_rejects_what_it_cannot_check() -> None:
    frame = snapshot(coverage=[0.5])
    with pytest.raises(ValueError, match="comparator"):
        evaluate(replace(RULES["coverage_low"], comparator="near"), frame, {})
    with pytest.raises(ValueError, match="no metric"):
        evaluate(replace(RULES["coverage_low"], metric="happiness"), frame, {})
    with pytest.raises(ValueError, match="no metric"):
        evaluate(replace(RULES["team_potential_cv"], metric="happiness"), frame, {"cv_potential": 0.2})
    with pytest.raises(ValueError, match="scope"):
        evaluate(replace(RULES["coverage_low"], scope="region"), frame, {})


def _oracle(rule: Rule, value: float | None) -> bool:
    """Plain Python, one value at a time."""
    if value is None or math.isnan(value):
        return False
    if rule.comparator.name == "below":
        return value < rule.threshold - 1e-9
    if rule.comparator.name == "above":
        return value > rule.threshold + 1e-9
    return abs(value - 1.0) > rule.threshold + 1e-9


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.just(math.nan), st.floats(-3, 5)), min_size=0, max_size=30),
    comparator=st.sampled_from(["below", "above", "outside"]),
    threshold=st.floats(-1, 2),
)
def test_vectorised_evaluate_matches_row_by_row(
    values: list[float | None], comparator: str, threshold: float
) -> None:
    rule = Rule("r", "r", "health", comparator, threshold)
    frame = snapshot(health=values) if values else snapshot(health=[]).astype({"territory_id": int})
    expected = [i + 1 for i, v in enumerate(values) if _oracle(rule, v)]
    assert breached_ids(rule, frame) == expected


# --- human half -----------------------------------------------------------------------------


def _breach(
    key: str, value: float, previous: float | None = None, days: int | None = 28, **kw: object
) -> Breach:
    return Breach(
        rule=RULES[key],
        value=value,
        territory_id=1,
        territory_name="Phoenix North",
        previous_value=previous,
        previous_days=days if previous is not None else None,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("breach", "text"),
    [
        (
            _breach("coverage_low", 0.58, 0.74),
            "Coverage in Phoenix North is 58%, below the 70% threshold (was 74% 4 weeks ago).",
        ),
        (_breach("coverage_low", 0.58), "Coverage in Phoenix North is 58%, below the 70% threshold."),
        (
            _breach("potential_index_band", 1.22, 1.05, 27),
            "Potential index in Phoenix North is 1.22 (22% above the mean), outside the ±15% band "
            "(was 1.05 4 weeks ago).",
        ),
        (
            _breach("workload_index_band", 0.70),
            "Workload index in Phoenix North is 0.70 (30% below the mean), outside the ±20% band.",
        ),
        (
            _breach("drift_low", -14.2, -2.0),
            "Drift in Phoenix North is -14 points, below the -10-point threshold "
            "(was -2 points 4 weeks ago).",
        ),
        (
            _breach("activity_drop", -0.42, 0.05, 24),
            "Activity change in Phoenix North is -42%, below the -30% threshold (was +5% 24 days ago).",
        ),
        (
            _breach("pipeline_coverage_low", 2.1),
            "Pipeline coverage in Phoenix North is 2.1×, below the 3× threshold.",
        ),
        (
            Breach(rule=RULES["team_potential_cv"], value=0.22, previous_value=0.18, previous_days=28),
            "Team CV of potential is 0.22, above the 0.15 threshold (was 0.18 4 weeks ago).",
        ),
    ],
)
def test_sentence(breach: Breach, text: str) -> None:
    assert sentence(breach) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.696, "69.6%"), (0.6999, "69.99%"), (0.58, "58%"), (0.7, "70%")],
)
def test_value_gets_the_decimals_it_needs_to_differ_from_the_threshold(value: float, text: str) -> None:
    """Rounded to 0 decimals 0.696 would read "70%, below the 70% threshold"."""
    assert value_text(_breach("coverage_low", value)) == text


def test_resolved_sentence() -> None:
    assert (
        resolved_sentence(_breach("coverage_low", 0.74))
        == "Coverage in Phoenix North is back to 74%, no longer below the 70% threshold."
    )
    assert (
        resolved_sentence(_breach("potential_index_band", 1.05))
        == "Potential index in Phoenix North is back to 1.05 (5% above the mean), inside the ±15% band."
    )


def test_a_territory_without_name_reads_by_its_external_id() -> None:
    breach = Breach(rule=RULES["coverage_low"], value=0.5, territory_id=3, territory_external_id="T-3")
    assert sentence(breach).startswith("Coverage in T-3 is 50%")


def test_format_threshold_of_an_unknown_metric_is_a_plain_number() -> None:
    assert format_threshold(Rule("x", "x", "some_metric", "above", 12.5)) == "12.5"
    assert describe(Rule("x", "x", "some_metric", "above", 12.5)) == "Some metric above 12.5"


# --- storage --------------------------------------------------------------------------------


@pytest.fixture
def session(db_url):  # type: ignore[no-untyped-def]
    engine = get_engine(db_url)
    upgrade_schema(engine)
    with Session(engine) as s:
        yield s


def test_row_round_trip_keeps_every_field() -> None:
    rule = replace(RULES["coverage_low"], recipients=("a@x.org", "b@x.org"), renotify_hours=6, enabled=False)
    assert rule_from_row(row_from_rule(rule)) == rule


def test_seed_inserts_missing_defaults_once(session: Session) -> None:
    assert seed_default_rules(session) == [rule.key for rule in DEFAULT_RULES]
    session.commit()
    assert seed_default_rules(session) == []
    assert len(session.exec(select(AlertRule)).all()) == 8


def test_seed_keeps_edited_rules_and_restores_deleted_ones(session: Session) -> None:
    seed_default_rules(session)
    coverage = session.exec(select(AlertRule).where(AlertRule.key == "coverage_low")).one()
    coverage.threshold, coverage.enabled, coverage.recipients = 0.5, False, "lead@x.org"
    session.delete(session.exec(select(AlertRule).where(AlertRule.key == "drift_low")).one())
    session.commit()

    assert seed_default_rules(session) == ["drift_low"]
    session.commit()
    stored = rule_from_row(session.exec(select(AlertRule).where(AlertRule.key == "coverage_low")).one())
    assert (stored.threshold, stored.enabled, stored.recipients) == (0.5, False, ("lead@x.org",))


@pytest.mark.parametrize(
    ("rule", "value", "text"),
    [
        (
            Rule("h", "h", "health", "below", 60),
            52.4,
            "Health score in Phoenix North is 52, below the 60 threshold.",
        ),
        (
            Rule("u", "u", "utilization", "above", 1.1),
            1.25,
            "Utilization in Phoenix North is 125%, above the 110% threshold.",
        ),
        (
            Rule("g", "g", "attainment_gap", "below", -15),
            -15.5,
            "Attainment gap in Phoenix North is -16 points, below the -15-point threshold.",
        ),
    ],
)
def test_other_metrics_read_in_their_own_units(rule: Rule, value: float, text: str) -> None:
    assert sentence(Breach(rule=rule, value=value, territory_id=1, territory_name="Phoenix North")) == text
