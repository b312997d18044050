"""The KPI registry: every entry is complete and matches the snapshot tables; one label reaches every
surface (alert sentence and email, the `territory kpis` report, the map legend and tooltip);
comparators carry both halves; units read numbers the way the product always has."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import inspect

from core import kpi_registry
from core.alerts.email import DigestItem, render_digest
from core.alerts.rules import DEFAULT_RULES, Breach, describe, sentence
from core.comparators import ABOVE, BELOW, COMPARATORS, OUTSIDE, Unknown, comparator_named
from core.db import get_engine, upgrade_schema
from core.format import COUNT, HOURS, INDEX, MONEY, POINTS, RATIO, SCORE, SHARE, SIGNED_SHARE, UNITS
from core.health import HEALTH_RULES
from core.kpi_registry import HEALTH, KPIS, TEAM_KPIS, Good, Kpi, kpi
from core.kpis import TEAM_KPI_COLUMNS, TERRITORY_KPI_COLUMNS, compute_kpis
from core.models import TeamKpi, TerritoryKpi
from dashboard import maps
from jobs.report import TEXT_COLUMNS, KpiReport
from tests.factories import synthetic_kpi_inputs

ENTRIES = [("territory", e) for e in KPIS.values()] + [("team", e) for e in TEAM_KPIS.values()]
ENTRIES.append(("territory", HEALTH))


def entry_id(item: tuple[str, Kpi]) -> str:
    return f"{item[0]}-{item[1].key}"


# --------------------------------------------------------------------------- every entry


@pytest.mark.parametrize("item", ENTRIES, ids=entry_id)
def test_every_entry_has_its_human_half(item: tuple[str, Kpi]) -> None:
    _, entry = item
    assert entry.label and entry.label[0].isupper() and entry.heading
    assert entry.help.endswith(".") or entry.help.endswith(")")
    assert entry.unit in UNITS
    assert entry.good in tuple(Good)


@pytest.mark.parametrize("item", ENTRIES, ids=entry_id)
@pytest.mark.parametrize("value", [0.0, 0.58, -12.25, 1234.5, np.float64(3.0)])
def test_every_format_reads_a_number(item: tuple[str, Kpi], value: float) -> None:
    _, entry = item
    for text in (entry.text(value), entry.change(value), entry.unit.reading(float(value), 1)):
        assert text and text != "—" and "nan" not in text.lower()


@pytest.mark.parametrize("item", ENTRIES, ids=entry_id)
@pytest.mark.parametrize("missing", [None, float("nan"), np.nan])
def test_every_format_says_unknown_for_a_missing_value(item: tuple[str, Kpi], missing: float | None) -> None:
    _, entry = item
    assert entry.text(missing) == "—"
    assert entry.change(missing) == "—"


@pytest.mark.parametrize("item", ENTRIES, ids=entry_id)
def test_every_entry_is_a_snapshot_column_of_its_table(item: tuple[str, Kpi]) -> None:
    scope, entry = item
    model, columns = (TeamKpi, TEAM_KPI_COLUMNS) if scope == "team" else (TerritoryKpi, TERRITORY_KPI_COLUMNS)
    assert entry.key in model.model_fields
    assert entry.key in columns


def test_the_registries_are_keyed_by_their_entries_and_cover_the_snapshot() -> None:
    assert all(key == entry.key for key, entry in {**KPIS, **TEAM_KPIS}.items())
    assert TEAM_KPI_COLUMNS == ("snapshot_date", *TEAM_KPIS)
    assert set(TERRITORY_KPI_COLUMNS) == {"snapshot_date", "territory_id", "deductions", HEALTH.key, *KPIS}
    assert all(callable(entry.compute) for entry in [*KPIS.values(), *TEAM_KPIS.values()])
    assert HEALTH.compute is None  # core.health derives it from the others


def test_the_migrated_schema_has_a_column_for_every_entry(tmp_path) -> None:
    """The migration half of "one function, one entry, one migration": the tables the job writes."""
    engine = get_engine(f"sqlite:///{tmp_path / 'schema.db'}")
    upgrade_schema(engine)
    schema = inspect(engine)
    territory = {c["name"] for c in schema.get_columns(TerritoryKpi.__tablename__)}
    team = {c["name"] for c in schema.get_columns(TeamKpi.__tablename__)}
    assert {*KPIS, HEALTH.key} <= territory
    assert set(TEAM_KPIS) <= team


def test_each_function_gives_its_column_of_the_snapshot() -> None:
    """``compute_kpis`` is the registry run over one context: every function, one column each."""
    day = date(2025, 6, 15)
    result = compute_kpis(synthetic_kpi_inputs(120, 6, as_of=day, vacant=1, seed=3), as_of=day)
    assert set(result.team) == set(TEAM_KPI_COLUMNS)
    assert result.team["territories"] == 6 and isinstance(result.team["out_of_band"], int)
    assert result.territories["potential_index"].mean() == pytest.approx(1.0)


def test_lookup_prefers_the_scope_and_names_an_unknown_column() -> None:
    assert kpi("coverage") is KPIS["coverage"]
    assert kpi("coverage", scope="team") is TEAM_KPIS["coverage"]
    assert kpi("cv_potential") is TEAM_KPIS["cv_potential"]
    assert kpi("health") is HEALTH
    unknown = kpi("some_metric")
    assert (unknown.label, unknown.text(12.5)) == ("Some metric", "12.50")


# --------------------------------------------------------------------------- one label everywhere


def snapshot_report() -> KpiReport:
    territories = pd.DataFrame(
        {
            "name": ["Phoenix North", "Tucson"],
            **{key: [0.5, 0.9] for key in TEXT_COLUMNS},
            "health": [61.0, 95.0],
        }
    )
    team = {key: 0.5 for key in TEAM_KPIS} | {"territories": 2}
    return KpiReport(snapshot_date=date(2025, 6, 2), territories=territories, team=team)


def test_a_label_changed_in_the_registry_reaches_every_surface(monkeypatch) -> None:
    """Rename coverage once: the alert rule, sentence and email, the CLI report (team line and
    column) and the map legend and tooltips all say the new name."""
    for table in (KPIS, TEAM_KPIS):
        monkeypatch.setitem(table, "coverage", replace(table["coverage"], label="Touched potential"))
    rule = next(r for r in DEFAULT_RULES if r.key == "coverage_low")
    breach = Breach(rule=rule, value=0.58, territory_id=1, territory_name="Phoenix North")

    assert describe(rule) == "Touched potential below 70%"
    assert sentence(breach) == "Touched potential in Phoenix North is 58%, below the 70% threshold."
    email = render_digest("a@x.org", [DigestItem("new", breach)], dashboard_url="http://d")
    assert "Touched potential below 70% in Phoenix North" in email.subject

    text = snapshot_report().as_text()
    assert "Touched potential 50%" in text.splitlines()[1]  # the team line
    assert "Touched potential" in text.splitlines()[3]  # the column heading
    assert "Coverage" not in text

    metric = maps.MAP_METRICS["coverage"]
    assert "Touched potential" in maps.legend_html(metric)
    row = pd.DataFrame(
        {
            "name": ["Phoenix North"],
            "external_id": ["PHX-N"],
            "rep_name": ["Ana"],
            "potential": [1e6],
            "potential_index": [1.2],
            "accounts": [30],
            "coverage": [0.58],
            "drift": [-3.0],
            "workload_index": [0.9],
            "health": [70.0],
        }
    )
    tip = maps.territory_tip(next(row.itertuples()), metric)
    assert "Touched potential: 58%" in tip and "Touched potential 58%" in tip


def test_a_unit_changed_in_the_registry_reaches_the_report_and_the_sentence(monkeypatch) -> None:
    monkeypatch.setitem(KPIS, "drift", replace(KPIS["drift"], unit=RATIO))
    rule = replace(next(r for r in DEFAULT_RULES if r.key == "drift_low"), threshold=-10.0)
    breach = Breach(rule=rule, value=-14.0, territory_id=1, territory_name="T")
    assert sentence(breach) == "Drift in T is -14.0×, below the -10× threshold."
    assert "0.5×" in snapshot_report().as_text()


# --------------------------------------------------------------------------- comparators


def test_comparators_are_found_by_their_stored_name() -> None:
    assert [comparator_named(name) for name in ("below", "above", "outside")] == [BELOW, ABOVE, OUTSIDE]
    assert comparator_named(OUTSIDE) is OUTSIDE
    assert set(COMPARATORS) == {"below", "above", "outside"}
    odd = comparator_named("near")
    assert isinstance(odd, Unknown) and not odd.known and odd.name == "near"
    with pytest.raises(ValueError, match="unknown comparator 'near'"):
        odd.mask([1.0], 0.5)


@pytest.mark.parametrize(
    ("comparator", "values", "threshold", "crossed"),
    [
        (BELOW, [0.58, 0.70, 0.6999, None], 0.70, [True, False, True, False]),
        (ABOVE, [0.16, 0.15, float("nan")], 0.15, [True, False, False]),
        (OUTSIDE, [1.16, 1.15, 0.85, 0.84, 1.0], 0.15, [True, False, False, True, False]),
    ],
)
def test_the_machine_half_is_strict_and_skips_missing_values(comparator, values, threshold, crossed) -> None:
    assert comparator.mask(pd.Series(values, dtype=object), threshold).tolist() == crossed


def test_excess_is_the_distance_beyond_the_limit() -> None:
    values = pd.Series([0.5, 1.3])
    assert BELOW.excess(values, 0.7).round(6).tolist() == [0.2, -0.6]
    assert ABOVE.excess(values, 1.0).round(6).tolist() == [-0.5, 0.3]
    assert OUTSIDE.excess(values, 0.15).round(6).tolist() == [0.35, 0.15]


@pytest.mark.parametrize(
    ("comparator", "unit", "threshold", "described", "crossing", "back"),
    [
        (
            BELOW,
            SHARE,
            0.7,
            "Coverage below 70%",
            "below the 70% threshold",
            "no longer below the 70% threshold",
        ),
        (BELOW, POINTS, -10.0, "Coverage below -10 points", "below the -10-point threshold", None),
        (ABOVE, RATIO, 3.0, "Coverage above 3×", "above the 3× threshold", None),
        (OUTSIDE, INDEX, 0.15, "Coverage outside ±15%", "outside the ±15% band", "inside the ±15% band"),
    ],
)
def test_the_human_half(comparator, unit, threshold, described, crossing, back) -> None:
    assert comparator.describe("Coverage", threshold, unit) == described
    assert comparator.crossing(threshold, unit) == crossing
    if back is not None:
        assert comparator.back_inside(threshold, unit) == back


def test_a_band_is_typed_in_percent_around_the_mean_and_must_be_positive() -> None:
    assert OUTSIDE.typed(INDEX) == (100.0, "± % around the mean")
    assert BELOW.typed(SHARE) == (100.0, "%") and BELOW.typed(POINTS) == (1.0, "points")
    assert OUTSIDE.threshold_problem(0.0) and OUTSIDE.threshold_problem(0.1) is None
    assert BELOW.threshold_problem(-5.0) is None


def test_health_rules_and_alert_rules_share_the_comparator_objects() -> None:
    used = {rule.comparator for rule in HEALTH_RULES} | {rule.comparator for rule in DEFAULT_RULES}
    assert used == {BELOW, ABOVE, OUTSIDE}


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("unit", "value", "text", "change", "reading"),
    [
        (MONEY, 4_200_000.0, "$4.2M", "+$4.2M", "$4.2M"),
        (COUNT, 1234.0, "1,234", "+1,234", "1234"),
        (SHARE, 0.58, "58%", "+58.0 pts", "58%"),
        (SIGNED_SHARE, -0.42, "-42%", "-42.0 pts", "-42%"),
        (POINTS, -14.2, "-14.2 pts", "-14.2 pts", "-14 points"),
        (INDEX, 1.2234, "1.22", "+1.22", "1.22"),
        (RATIO, 2.1, "2.1×", "+2.10", "2.1×"),
        (SCORE, 73.6, "74", "+74", "74"),
        (HOURS, 1234.4, "1,234 h", "+1,234 h", "1234 h"),
    ],
)
def test_units_read_as_the_product_always_has(unit, value, text, change, reading) -> None:
    assert (unit.text(value), unit.change(value), unit.reading(value, 0).replace(",", "")) == (
        text,
        change,
        reading.replace(",", ""),
    )


def test_a_threshold_reads_without_float_noise() -> None:
    assert (
        SHARE.threshold(0.7) == "70%" and SHARE.threshold(1.1) == "110%" and SHARE.threshold(0.625) == "62.5%"
    )
    assert POINTS.threshold(-10.0, before_noun=True) == "-10-point"
    assert math.isclose(SHARE.scale, 100.0)


def test_the_registry_documents_how_to_add_a_kpi() -> None:
    doc = kpi_registry.__doc__ or ""
    assert "one function, one registry entry, one migration" in doc
