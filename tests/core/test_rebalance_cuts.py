"""Move-count cuts (core.rebalance.model.add_move_count_cuts): valid, and a tighter LP bound."""

from __future__ import annotations

from datetime import date

import pytest
from ortools.sat.python import cp_model

import core.rebalance.model as model_module
from core.rebalance import Scenario, build_problem
from core.rebalance.model import _fewest_reaching, build_model
from core.rebalance.relax import lp_relaxation
from tests.rebalance_factories import synthetic_frames

AS_OF = date(2025, 6, 15)


def test_fewest_reaching() -> None:
    import numpy as np

    assert _fewest_reaching(np.array([5, 1, 9, 3]), 9) == 1
    assert _fewest_reaching(np.array([5, 1, 9, 3]), 10) == 2
    assert _fewest_reaching(np.array([5, 1, 9, 3]), 18) == 4
    assert _fewest_reaching(np.array([5, 1, 9, 3]), 19) == 5  # unreachable: no plan keeps the rule


@pytest.mark.parametrize("seed", [3, 7])
def test_cuts_keep_the_optimum_and_raise_the_lp_bound(seed: int, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """National in small (fewest weighted moves into a ±10% band): the model with the cuts has the
    same optimum as without, and its LP relaxation bound is at least as high."""
    accounts, territories = synthetic_frames(200, 6, seed=seed, as_of=AS_OF, states=("AZ", "NM"))
    scenario = Scenario.model_validate(
        {
            "candidates": 4,
            "objective": {"continuity": 1.0, "potential_balance": 0.0},
            "constraints": {"potential": {"share": 0.10}, "churn": {"max_book_share": 0.3}},
        }
    )
    problem = build_problem(accounts, territories, scenario, as_of=AS_OF)
    with_cuts = build_model(problem)
    monkeypatch.setattr(model_module, "add_move_count_cuts", lambda build: None)
    without = build_model(problem)
    assert len(with_cuts.model.proto.constraints) > len(without.model.proto.constraints)
    optima = []
    for build in (with_cuts, without):
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = 60
        solver.parameters.num_workers = 2
        assert solver.solve(build.model) == cp_model.OPTIMAL
        optima.append(round(solver.objective_value))
    assert optima[0] == optima[1]
    bound_with = lp_relaxation(with_cuts.model.proto, 30).bound
    bound_without = lp_relaxation(without.model.proto, 30).bound
    assert bound_with is not None and bound_without is not None
    assert bound_without - 1e-6 <= bound_with <= optima[0] + 1e-6
