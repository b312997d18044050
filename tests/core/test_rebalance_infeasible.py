"""Every infeasible scenario says why in words, within its time limit, with the smallest relaxation
that would give it a plan; never "could not be isolated", never the model's text."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from core.rebalance import Scenario, build_problem, solve
from core.rebalance.book import problem_from_book
from core.sample import generate_book
from tests.rebalance_factories import frames, synthetic_frames

AS_OF = date(2025, 6, 15)
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def said(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join((*result.explanation, *result.relaxation))


def assert_plain_words(result) -> None:  # type: ignore[no-untyped-def]
    text = said(result)
    assert "could not be isolated" not in text and "vars:" not in text and len(text) < 2000
    assert result.explanation and result.relaxation


def one_heavy_book(**constraints: object):  # type: ignore[no-untyped-def]
    """T1 holds six accounts of 10, T2-T4 two each: total 120, mean 30. Within ±10% (27-33) T1 must
    give exactly three accounts, one to each of the others: three moves at least."""
    accounts, territories = one_heavy_book_frames()
    scenario = Scenario.model_validate({"constraints": constraints, "time_limit_s": 5.0, "workers": 2})
    return build_problem(accounts, territories, scenario, as_of=AS_OF)


def test_a_move_cap_below_what_the_band_needs_names_the_cap_and_the_moves_needed() -> None:
    problem = one_heavy_book(potential={"share": 0.1}, churn={"max_moves": 2})
    started = time.perf_counter()
    result = solve(problem)
    assert time.perf_counter() - started < 5.0 + 1.0
    assert result.status == "INFEASIBLE"
    assert result.explanation[0] == "Every territory in band needs at least 3 moves; the cap is 2."
    assert "at most 2 accounts move in total" in result.explanation
    assert result.relaxation == ("Raise the move cap to 3.",)
    assert_plain_words(result)
    assert solve(one_heavy_book(potential={"share": 0.1}, churn={"max_moves": 3})).has_plan


def test_every_rep_leaving_is_said_at_once() -> None:
    accounts, territories = synthetic_frames(30, 3, seed=1, as_of=AS_OF, states=("AZ",))
    scenario = Scenario.model_validate({"what_if": {"vacated": ["T001", "T002", "T003"]}})
    started = time.perf_counter()
    result = solve(build_problem(accounts, territories, scenario, as_of=AS_OF))
    assert time.perf_counter() - started < 1.0
    assert result.status == "INFEASIBLE"
    assert result.explanation[0].startswith("Every rep leaves (what-if: T001")
    assert "30 accounts have no territory to go to" in result.explanation[0]
    assert result.relaxation == ("Keep at least one rep, or add a rep (what-if) to take the book.",)
    assert_plain_words(result)


def test_a_band_above_the_average_territory_is_arithmetic() -> None:
    """Four territories share 120 of potential (30 each on average); a band from 40 cannot hold."""
    result = solve(one_heavy_book(potential={"min": 40.0, "max": 60.0}))
    assert result.status == "INFEASIBLE"
    assert "share $120 of potential, $30 each on average" in result.explanation[0]
    assert result.relaxation == ("Lower the band minimum to $30.",)
    assert_plain_words(result)


def lumpy_book(**what_if: object):  # type: ignore[no-untyped-def]
    """Accounts of 10, 10, 10 and 15 over two territories (mean 22.5): the most even split is
    20 / 25, 11.1% from the mean, so a ±5% band is impossible and ±11.1% is the tightest."""
    rows = [
        {"potential": p, "territory_id": t, "lat": 33.4, "lon": -112.0}
        for p, t in [(10.0, 1), (10.0, 1), (10.0, 1), (15.0, 2)]
    ]
    homes = [{"home_lat": 33.4, "home_lon": -112.0}, {"home_lat": 33.4, "home_lon": -111.9}]
    return frames(accounts=rows, territories=homes)


def test_a_band_no_plan_can_meet_offers_the_tightest_band() -> None:
    accounts, territories = lumpy_book()
    scenario = Scenario.model_validate({"constraints": {"potential": {"share": 0.05}}, "time_limit_s": 5.0})
    result = solve(build_problem(accounts, territories, scenario, as_of=AS_OF))
    assert result.status == "INFEASIBLE"
    assert result.explanation == (
        "No plan keeps every territory's potential within ±5% of the team mean together with the "
        "other rules.",
    )
    assert result.relaxation[0].startswith("The tightest band a plan meets is ±11.1% of the team mean")
    assert_plain_words(result)


def test_a_rep_leaving_under_a_band_it_breaks_goes_on_with_the_tightest_band() -> None:
    """Three territories: when T3's rep leaves, its 15 must land on T1 or T2 (10 + 10 + 10 + 15 over
    two): ±5% cannot hold, so the what-if is solved under the tightest band and says so."""
    rows = [
        {"potential": p, "territory_id": t, "lat": 33.4, "lon": -112.0}
        for p, t in [(10.0, 1), (10.0, 1), (10.0, 2), (15.0, 3)]
    ]
    homes = [{"home_lat": 33.4, "home_lon": -112.0 + 0.1 * i} for i in range(3)]
    accounts, territories = frames(accounts=rows, territories=homes)
    scenario = Scenario.model_validate(
        {"what_if": {"vacated": ["T3"]}, "constraints": {"potential": {"share": 0.05}}, "time_limit_s": 5.0}
    )
    problem = build_problem(accounts, territories, scenario, as_of=AS_OF)
    result = solve(problem)
    assert result.has_plan
    assert result.relaxation[0].startswith("The band cannot hold with this what-if (T3)")
    assert "tightest band a plan meets is ±11.1% of the team mean" in result.relaxation[-1]
    after = {t.territory: t.after for t in result.territories}
    assert after["T3"].accounts == 0
    assert sorted(after[t].potential for t in ("T1", "T2")) == [20.0, 25.0]


def test_a_weight_out_of_range_is_named_without_the_model() -> None:
    accounts, territories = synthetic_frames(30, 3, seed=1, as_of=AS_OF, states=("AZ",))
    scenario = Scenario.model_validate({"objective": {"potential_balance": 1e12}, "time_limit_s": 3.0})
    result = solve(build_problem(accounts, territories, scenario, as_of=AS_OF))
    assert result.status == "MODEL_INVALID"
    assert result.explanation[0].startswith("The potential balance weight 1e+12 is out of range")
    assert "use a weight of at most" in result.explanation[0]
    assert "vars:" not in " ".join(result.explanation) and len(" ".join(result.explanation)) < 400


@pytest.mark.slow
def test_southwest_with_a_cap_of_20_names_the_cap_and_the_moves_needed() -> None:
    """Southwest needs about 41 moves to meet its band and account range; a cap of 20 is said so
    within the scenario's 30 s (the old report ran 31.8 s and could not isolate the rules)."""
    scenario = Scenario.from_toml(SCENARIOS / "southwest.toml").with_changes(
        **{"constraints.churn.max_moves": 20}
    )
    problem = problem_from_book(generate_book("southwest", as_of=AS_OF), scenario)
    started = time.perf_counter()
    result = solve(problem)
    assert time.perf_counter() - started < scenario.time_limit_s + 2
    assert result.status == "INFEASIBLE"
    first = result.explanation[0]
    assert first.startswith("Every territory in band and within the account range needs at least ")
    assert first.endswith("; the cap is 20.")
    needed = int(first.split("at least ")[1].split(" ")[0])
    assert 30 <= needed <= 60
    assert result.relaxation[0].startswith("Raise the move cap to")
    assert_plain_words(result)


def test_a_rep_leaving_that_lifts_the_average_above_the_band_goes_on_with_the_tightest_band() -> None:
    """T4's rep leaves: 120 of potential over three territories is 40 each, above the $35 maximum
    (arithmetic); the what-if goes on with both ends widened by 5 ($20-$40) and says so."""
    problem = one_heavy_book(potential={"min": 25.0, "max": 35.0})
    scenario = problem.scenario.with_changes(**{"what_if.vacated": ["T4"]})
    accounts, territories = one_heavy_book_frames()
    result = solve(build_problem(accounts, territories, scenario, as_of=AS_OF))
    assert result.has_plan, result.explanation
    assert result.relaxation[0].startswith("The band cannot hold with this what-if (T4)")
    assert "each on average" in result.relaxation[0]
    assert "The tightest band a plan meets is $20–$40" in result.relaxation[-1]
    after = sorted(t.after.potential for t in result.territories if t.territory != "T4")
    assert after == [40.0, 40.0, 40.0]


def one_heavy_book_frames():  # type: ignore[no-untyped-def]
    owners = [1] * 6 + [2, 2, 3, 3, 4, 4]
    rows = [{"potential": 10.0, "territory_id": t, "lat": 33.4, "lon": -112.0} for t in owners]
    homes = [{"home_lat": 33.4, "home_lon": -112.0 + 0.1 * i} for i in range(4)]
    return frames(accounts=rows, territories=homes)
