"""The LP-guided neighbourhood search and the two-thread solve of large books, against CP-SAT's optimum."""

from __future__ import annotations

import importlib
import logging
import time
from datetime import date

import pytest

from core.rebalance import Scenario, broken_rules, build_problem, objective_value, solve
from core.rebalance.build import hint_plan
from core.rebalance.lns import improve
from core.rebalance.model import build_model
from core.rebalance.relax import lp_relaxation
from core.rebalance.repair import repair
from core.rebalance.result import plan_of
from tests.rebalance_factories import synthetic_frames

AS_OF = date(2025, 6, 15)
solve_module = importlib.import_module("core.rebalance.solve")  # the package exports its function as solve


@pytest.fixture(scope="module")
def problem():  # type: ignore[no-untyped-def]
    """National in small: fewest weighted moves to bring every territory within ±10%, ≤ 25% of a book."""
    accounts, territories = synthetic_frames(240, 6, seed=7, as_of=AS_OF, states=("AZ", "NM"))
    scenario = Scenario.model_validate(
        {
            "candidates": 4,
            "objective": {"continuity": 1.0, "potential_balance": 0.0},
            "constraints": {"potential": {"share": 0.10}, "churn": {"max_book_share": 0.25}},
        }
    )
    return build_problem(accounts, territories, scenario, as_of=AS_OF)


@pytest.fixture(scope="module")
def optimum(problem) -> float:  # type: ignore[no-untyped-def]
    result = solve(problem, time_limit_s=60.0, workers=1)
    assert result.status == "OPTIMAL"
    return result.objective


def test_the_book_needs_a_rebalance(problem) -> None:  # type: ignore[no-untyped-def]
    assert broken_rules(hint_plan(problem, problem.pairs))  # else the search has nothing to do


def test_search_keeps_every_rule_and_reaches_the_optimum_from_a_worse_start(problem, optimum) -> None:  # type: ignore[no-untyped-def]
    start = repair(problem, hint_plan(problem, problem.pairs), time_limit_s=10.0, workers=1).plan
    assert start is not None and broken_rules(start) == []
    start_objective = objective_value(start)
    build = build_model(problem, hint=start)
    relaxation = lp_relaxation(build.model.proto, 10.0)
    assert relaxation.values is not None

    found = improve(build, start, start_objective, relaxation, time.perf_counter() + 5.0)

    assert broken_rules(found.plan) == []
    assert found.objective == objective_value(found.plan)  # the model and the plan agree
    assert found.steps >= 1
    assert found.objective / 100_000 == pytest.approx(optimum)
    if start_objective / 100_000 > optimum + 1e-9:
        assert found.improved >= 1


def test_two_workers_split_bound_and_search_and_agree_with_one_worker(
    problem, optimum, monkeypatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(
        solve_module, "LP_BOUND_PAIRS", (0, 10**9)
    )  # this small book takes the large-book path
    with caplog.at_level(logging.INFO, logger="core.rebalance.solve"):
        result = solve(problem, time_limit_s=10.0, workers=2)
    assert "LP-guided search" in caplog.text
    assert result.status in ("OPTIMAL", "FEASIBLE")
    assert broken_rules(plan_of(problem, result.assignment)) == []
    assert result.objective == pytest.approx(optimum)
    assert result.best_bound is not None and result.best_bound <= result.objective + 1e-9
    assert result.gap is not None and 0 <= result.gap <= 1
