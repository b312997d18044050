"""The churn-balance frontier: the most balanced plan per move budget, checked against brute force."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pytest

from core.rebalance import Scenario, build_problem, frontier
from core.rebalance.problem import UNITS_PER_MEAN
from tests.rebalance_factories import frames, synthetic_frames

AS_OF = date(2025, 6, 15)
# Southwest's objective: fewest moves first, balance only breaks ties (a move outweighs 100% of
# imbalance), plus a hard band the frontier drops.
FEWEST_MOVES = {
    "objective": {"continuity": 1.0, "potential_balance": 0.01},
    "constraints": {"potential": {"share": 0.1}},
    "time_limit_s": 3.0,
    "workers": 2,
}


def test_the_frontier_buys_balance_even_when_the_scenario_prizes_fewest_moves() -> None:
    """With the scenario's own objective, doing nothing is optimal at every budget (the flat
    frontier); the frontier optimises balance, so more moves buy a lower CV and, eventually, the band."""
    accounts, territories = synthetic_frames(60, 4, seed=5, as_of=AS_OF, states=("AZ",))
    problem = build_problem(accounts, territories, Scenario.model_validate(FEWEST_MOVES), as_of=AS_OF)
    curve = frontier(problem, [0, 3, 10, 30])
    moves = [p.moves for p in curve]
    cvs = [p.cv for p in curve]
    imbalances = [p.imbalance for p in curve]
    assert moves[0] == 0 and moves[-1] > 0
    assert all(m <= b for m, b in zip(moves, [0, 3, 10, 30], strict=True))
    assert all(later <= earlier + 1e-9 for earlier, later in itertools.pairwise(imbalances))
    assert cvs[-1] < cvs[0] - 0.05
    assert curve[0].out_of_band > 0
    assert curve.first_in_band is not None and curve.first_in_band > 0
    assert curve[[p.budget for p in curve].index(curve.first_in_band)].out_of_band == 0


def test_the_frontier_json_has_one_entry_per_budget() -> None:
    accounts, territories = synthetic_frames(30, 3, seed=2, as_of=AS_OF, states=("AZ",))
    problem = build_problem(accounts, territories, Scenario.model_validate(FEWEST_MOVES), as_of=AS_OF)
    data = frontier(problem, [4, 0]).to_json_dict()
    assert [p["budget"] for p in data["frontier"]] == [0, 4]
    for entry in data["frontier"]:
        assert {"budget", "moves", "cv", "out_of_band", "status", "gap"} <= set(entry)
    assert "first_in_band_budget" in data and data["band"] == "potential within ±10% of the team mean"


def tiny_book(seed: int) -> tuple:
    """6 accounts over 3 territories with random potentials and owners (every book non-empty)."""
    rng = np.random.default_rng(seed)
    owners = rng.permutation([1, 2, 3, *rng.integers(1, 4, 3)])
    rows = [
        {"potential": float(rng.integers(1, 40)), "territory_id": int(t), "lat": 33.4, "lon": -112.0}
        for t in owners
    ]
    homes = [{"home_lat": 33.4, "home_lon": -112.0 + 0.1 * i} for i in range(3)]
    return frames(accounts=rows, territories=homes)


def brute_force_imbalance(problem, budget: int) -> float:  # type: ignore[no-untyped-def]
    """min over all 3^6 assignments with at most ``budget`` moves of sum |units - mean| / mean."""
    units = problem.accounts["potential_units"].to_numpy()
    today = problem.accounts["territory"].to_numpy()
    best = np.inf
    for owner in itertools.product(range(3), repeat=len(units)):
        if int((np.array(owner) != today).sum()) > budget:
            continue
        totals = np.bincount(owner, weights=units, minlength=3)
        best = min(best, float(np.abs(totals - UNITS_PER_MEAN).sum()))
    return best / UNITS_PER_MEAN


@pytest.mark.parametrize("seed", range(6))
def test_the_frontier_matches_brute_force_on_tiny_books(seed: int) -> None:
    """At every budget the frontier's imbalance is the brute-force optimum, and its moves are the
    fewest among the optimal plans (the tie-break)."""
    accounts, territories = tiny_book(seed)
    scenario = Scenario.model_validate({**FEWEST_MOVES, "workers": 1})
    problem = build_problem(accounts, territories, scenario, as_of=AS_OF)
    for point in frontier(problem, [0, 1, 2, 3, 6]):
        assert point.status == "OPTIMAL"
        assert point.imbalance == pytest.approx(brute_force_imbalance(problem, point.budget), abs=1e-9)
        assert point.moves <= point.budget
        if point.moves:
            assert point.imbalance < brute_force_imbalance(problem, point.moves - 1) - 1e-9
