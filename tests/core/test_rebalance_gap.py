"""The assignment core on public Generalized Assignment Problem instances (OR-Library / Yagiura).

The GAP reader and solver are benchmark code (bench/gap_instances.py, bench/gap_solver.py); what
they exercise is the product's assignment core (core.rebalance.build)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.gap_instances import GapInstance, parse_gap, read_gap
from bench.gap_solver import (
    gap_model,
    greedy_gap,
    lagrangian_bound,
    lp_relaxation,
    reduced_cost_pairs,
    solve_gap,
)

GAP = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "gap"
needs_data = pytest.mark.skipif(not GAP.exists(), reason="shared benchmark data not beside the repository")

TINY = """2 3
 1 5 4
 3 2 6
 2 2 2
 2 2 2
 4 2
"""


def test_parse_reads_costs_resources_and_capacities() -> None:
    instance = parse_gap(TINY, "tiny")
    assert instance.cost.tolist() == [[1, 5, 4], [3, 2, 6]]
    assert instance.resource.shape == (2, 3) and instance.capacity.tolist() == [4, 2]


def test_parse_rejects_a_short_file() -> None:
    with pytest.raises(ValueError, match="expected 14 numbers"):
        parse_gap("2 3 1 2 3", "short")


def test_tiny_instance_by_hand() -> None:
    """Agent 0 fits two jobs, agent 1 one. Cheapest: jobs 0 and 2 on agent 0 (1 + 4), job 1 on
    agent 1 (2) = 7. Dearest: jobs 0 and 1 on agent 0 (1 + 5), job 2 on agent 1 (6) = 12."""
    result = solve_gap(parse_gap(TINY, "tiny"), time_limit_s=5)
    assert (result.status, result.objective) == ("OPTIMAL", 7)
    assert solve_gap(parse_gap(TINY, "tiny"), maximize=True, time_limit_s=5).objective == 12


def brute_force(instance: GapInstance) -> int:
    m, n = instance.cost.shape
    best = None
    for code in range(m**n):
        agent = np.array([(code // m**j) % m for j in range(n)])
        use = np.bincount(agent, weights=instance.resource[agent, np.arange(n)], minlength=m)
        if np.all(use <= instance.capacity):
            cost = int(instance.cost[agent, np.arange(n)].sum())
            best = cost if best is None else min(best, cost)
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(4))
def test_lagrangian_bound_and_fixing_never_cut_off_the_optimum(seed: int) -> None:
    """Random 3 x 7 instances with tight capacities: bound <= optimum, and the pairs kept after
    reduced-cost fixing against a worse incumbent still contain an optimal solution."""
    rng = np.random.default_rng(seed)
    cost, resource = rng.integers(5, 30, (3, 7)), rng.integers(3, 12, (3, 7))
    instance = GapInstance("random", cost, resource, (resource.sum(axis=1) * 0.45).astype(int))
    optimum = brute_force(instance)
    bound, multipliers = lagrangian_bound(instance, optimum + 5, deadline=float("inf"))
    assert bound <= optimum + 1e-6
    allowed = reduced_cost_pairs(instance, multipliers, bound, optimum + 1)
    reduced = GapInstance("reduced", np.where(allowed, cost, 10_000), resource, instance.capacity)
    assert brute_force(reduced) == optimum
    start = greedy_gap(instance)
    if start is not None:
        used = np.bincount(start, weights=resource[start, np.arange(7)], minlength=3)
        assert np.all(used <= instance.capacity)


def test_linear_relaxation_of_the_tiny_instance_by_hand() -> None:
    """Each job's cheaper agent already fits (jobs 0 and 2 on agent 0, job 1 on agent 1): the
    relaxation is integral, 1 + 2 + 4 = 7, and it uses exactly those pairs."""
    relaxation = lp_relaxation(parse_gap(TINY, "tiny"), deadline=float("inf"))
    assert relaxation is not None
    assert relaxation.bound == pytest.approx(7)
    assert relaxation.support.tolist() == [[True, False, True], [False, True, False]]


@pytest.mark.parametrize("seed", range(4))
def test_linear_relaxation_is_a_bound_and_prices_its_own_pairs_at_zero(seed: int) -> None:
    """Random 3 x 7 instances with tight capacities: the relaxation's optimum is at most the brute
    force optimum, the pairs it uses have reduced cost 0 (within 1e-6) and none is negative
    except at a pair it uses fully."""
    rng = np.random.default_rng(seed)
    cost, resource = rng.integers(5, 30, (3, 7)), rng.integers(3, 12, (3, 7))
    instance = GapInstance("random", cost, resource, (resource.sum(axis=1) * 0.45).astype(int))
    relaxation = lp_relaxation(instance, deadline=float("inf"))
    assert relaxation is not None
    assert relaxation.bound <= brute_force(instance) + 1e-6
    assert np.all(relaxation.support.sum(axis=0) >= 1)
    assert np.all(relaxation.reduced[~relaxation.support] >= -1e-6)


def test_the_model_is_the_rebalance_core() -> None:
    model, (x, agents, jobs) = gap_model(parse_gap(TINY, "tiny"))
    assert len(x) == 6 and sorted(set(jobs.tolist())) == [0, 1, 2]
    assert sum(1 for c in model.proto.constraints if c.has_exactly_one()) == 3


@needs_data
def test_a_c_instance_is_solved_to_its_known_optimum() -> None:
    """c05100 (5 agents, 100 jobs, type C): the published optimum is 1931."""
    result = solve_gap(read_gap(GAP / "c05100.zip"), time_limit_s=60)
    assert result.status == "OPTIMAL" and result.objective == 1931


@needs_data
def test_a_maximisation_set_instance() -> None:
    """c0515-1 (OR-Library gap1, a maximisation set): optimum 336."""
    result = solve_gap(read_gap(GAP / "c0515_1.zip"), maximize=True, time_limit_s=30)
    assert result.status == "OPTIMAL" and result.objective == 336
