"""Generated GAP instances of the literature's types a-e, and the product's GAP path against a
plain CP-SAT model of the same instance (bench/gap_generate.py, bench/gap_solver.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bench.gap_generate import KINDS, generate, write_gap
from bench.gap_instances import GapInstance, parse_gap
from bench.gap_solver import (
    _cost,
    _cp_sat,
    _kernel_search,
    greedy_gap,
    improve_by_steps,
    lp_relaxation,
    solve_gap,
    solve_plain,
)


@pytest.mark.parametrize("kind", KINDS)
def test_generator_is_seeded_and_round_trips(kind: str) -> None:
    one, again, other = generate(kind, 5, 40, 3), generate(kind, 5, 40, 3), generate(kind, 5, 40, 4)
    assert np.array_equal(one.cost, again.cost) and np.array_equal(one.capacity, again.capacity)
    assert not np.array_equal(one.cost, other.cost)
    assert one.name == f"{kind}0540_s3"
    back = parse_gap(write_gap(one), one.name)
    assert np.array_equal(back.cost, one.cost) and np.array_equal(back.resource, one.resource)
    assert np.array_equal(back.capacity, one.capacity)


def test_type_d_follows_chu_and_beasley() -> None:
    """r ~ U[1, 100], c = 111 - r + U[-10, 10], b_i = floor(0.8 sum_j r_ij / m)."""
    g = generate("d", 20, 400, 1)
    assert g.resource.min() >= 1 and g.resource.max() <= 100
    noise = g.cost - (111 - g.resource)
    assert noise.min() >= -10 and noise.max() <= 10 and len(np.unique(noise)) == 21
    assert np.array_equal(g.capacity, np.floor(0.8 * g.resource.sum(axis=1) / 20).astype(int))
    assert np.corrcoef(g.cost.ravel(), g.resource.ravel())[0, 1] < -0.9


def test_type_e_follows_laguna_et_al() -> None:
    """r = floor(1 - 10 ln U(0,1]), c = floor(1000 / r - 10 U[0,1]), b_i = max(0.8 sum r / m, max r)."""
    g = generate("e", 10, 200, 1)
    assert g.resource.min() >= 1
    assert np.all(g.cost <= 1000 / g.resource) and np.all(g.cost >= 1000 / g.resource - 11)
    expected = np.maximum(np.floor(0.8 * g.resource.sum(axis=1) / 10), g.resource.max(axis=1))
    assert np.array_equal(g.capacity, expected)


def test_types_a_b_c_capacities() -> None:
    a, b, c = (generate(kind, 5, 100, 2) for kind in "abc")
    assert len(set(a.capacity.tolist())) == 1 and np.all(b.capacity < a.capacity)
    assert np.array_equal(c.capacity, np.floor(0.8 * c.resource.sum(axis=1) / 5).astype(int))
    for g in (a, b, c):
        assert g.resource.min() >= 5 and g.resource.max() <= 25
        assert g.cost.min() >= 10 and g.cost.max() <= 50


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("kind", ["d", "e"])
def test_product_path_is_not_worse_than_plain_cp_sat(kind: str, seed: int) -> None:
    """A small generated instance of each inversely correlated type (5 x 20, small enough for both to
    prove the optimum even on a loaded machine): the product path, given the same time and
    workers, ends at or below a plain CP-SAT model, with a valid bound."""
    instance = generate(kind, 5, 20, seed)
    product = solve_gap(instance, time_limit_s=30, workers=2)
    plain = solve_plain(instance, time_limit_s=30, workers=2)
    assert product.objective is not None and plain.objective is not None
    assert product.objective <= plain.objective
    assert product.bound is not None and product.bound <= product.objective
    assert plain.status != "OPTIMAL" or product.objective == plain.objective


def test_a_large_instance_keeps_its_time_limit_and_returns_a_plan() -> None:
    """80 x 1,600, type d, 10 s: the greedy start is bounded (it took 72 s here before) and a plan
    comes back even when CP-SAT's own search finds none in time (it came back empty before)."""
    instance = generate("d", 80, 1600, 1)
    result = solve_gap(instance, time_limit_s=10, workers=2)
    assert result.objective is not None
    assert result.wall_time_s < 25  # model building and presolve come on top of the limit
    agent_cost = instance.cost.min(axis=0).sum()
    assert result.objective >= agent_cost and result.bound is not None and result.bound <= result.objective


def _feasible(instance: GapInstance, agent: np.ndarray) -> bool:
    m, n = instance.cost.shape
    load = np.bincount(agent, weights=instance.resource[agent, np.arange(n)], minlength=m)
    return bool(agent.min() >= 0 and np.all(load <= instance.capacity))


@pytest.mark.parametrize("kind", ["d", "e"])
def test_steps_over_agent_subsets_keep_a_feasible_plan_and_never_raise_its_cost(kind: str) -> None:
    """The steps (free a few agents' jobs, solve that small GAP exactly) return a feasible plan no
    costlier than the start; on type e the regret start is poor and the steps cut it."""
    instance = generate(kind, 10, 100, 1)
    start = greedy_gap(instance)
    assert start is not None and _feasible(instance, start)
    improved = improve_by_steps(instance, start, deadline=time.perf_counter() + 3, workers=2)
    assert _feasible(instance, improved)
    assert _cost(instance, improved) <= _cost(instance, start)
    if kind == "e":
        assert _cost(instance, improved) < _cost(instance, start)


def test_full_search_stopped_for_stalling_still_returns_a_plan_no_costlier_than_its_hint() -> None:
    """CP-SAT on the full model with a stall limit (stopped when no cheaper plan comes): the plan
    it returns is feasible and no costlier than the hinted start."""
    instance = generate("d", 10, 200, 1)
    start = greedy_gap(instance)
    assert start is not None
    run = _cp_sat(instance, start, None, 20, 2, stall_s=0.5)
    assert run.agent is not None and _feasible(instance, run.agent)
    assert run.objective is not None and run.objective <= _cost(instance, start)


@pytest.mark.parametrize("kind", ["d", "e"])
def test_kernel_search_from_the_relaxation_ends_near_its_bound(kind: str) -> None:
    """20 x 400: CP-SAT on the pairs the relaxation prices lowest, widened step by step, returns a
    feasible plan no costlier than the start, within 1% of the relaxation's bound (0.2-0.4% here
    after 20 s; plain CP-SAT's first plan on type e is many times that), with that bound."""
    instance = generate(kind, 20, 400, 2)
    start = greedy_gap(instance)
    relaxation = lp_relaxation(instance, deadline=time.perf_counter() + 20)
    assert start is not None and relaxation is not None
    run = _kernel_search(instance, start, relaxation, 0, time.perf_counter() + 20, 2, 20)
    assert run.agent is not None and _feasible(instance, run.agent)
    assert run.objective is not None and run.objective <= _cost(instance, start)
    assert run.bound is not None and relaxation.bound - 1 <= run.bound <= run.objective
    assert run.objective <= 1.01 * relaxation.bound
