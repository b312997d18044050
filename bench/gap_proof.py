"""How hard the last step of a GAP proof is: both bundled solvers, handed the optimum, asked only to prove it.

    python bench/gap_proof.py ../shared/benchmarks/gap/c20400.zip ... [--time-limit 60]

For each (Min) instance with a proven optimum OPT in best_known.csv, the solvers get the most help
the product could ever give them: the Lagrangian bound is computed against OPT + 1, every pair
that cannot be in a solution of cost <= OPT is dropped (reduced-cost fixing, the same code
``solve_gap`` uses), and the model asks for a solution of cost <= OPT - 1. Proving the optimum
is proving that model infeasible. CP-SAT (``--workers`` threads) and SCIP (one thread, with its
knapsack cover cuts) each get ``--time-limit`` seconds. Columns: instance, optimum, Lagrangian
bound, pairs kept of all, then per solver its answer (INFEASIBLE = proven) and seconds.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gap import best_known, instance_arguments  # noqa: E402
from bench.gap_instances import GapInstance, read_gap  # noqa: E402
from bench.gap_solver import gap_model, lagrangian_bound, reduced_cost_pairs  # noqa: E402
from core.rebalance.build import weighted_sum  # noqa: E402


def cp_sat_target(
    instance: GapInstance, allowed: np.ndarray, target: int, seconds: float, workers: int
) -> str:
    model, (x, agents, jobs) = gap_model(instance, allowed=allowed)  # minimises the cost
    total = weighted_sum(x, instance.cost[agents, jobs])
    model.add(total <= target)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = workers
    return solver.status_name(solver.solve(model))


def scip_target(instance: GapInstance, allowed: np.ndarray, target: int, seconds: float) -> str:
    solver = pywraplp.Solver.CreateSolver("SCIP")
    solver.SetNumThreads(1)
    solver.SetTimeLimit(int(seconds * 1000))
    x = {(int(i), int(j)): solver.BoolVar(f"x_{i}_{j}") for i, j in zip(*np.nonzero(allowed), strict=True)}
    by_job: dict[int, list] = {}
    by_agent: dict[int, list] = {}
    for (i, j), var in x.items():
        by_job.setdefault(j, []).append(var)
        by_agent.setdefault(i, []).append(int(instance.resource[i, j]) * var)
    for variables in by_job.values():
        solver.Add(solver.Sum(variables) == 1)
    for i, terms in by_agent.items():
        solver.Add(solver.Sum(terms) <= int(instance.capacity[i]))
    total = solver.Sum([int(instance.cost[i, j]) * var for (i, j), var in x.items()])
    solver.Add(total <= target)
    solver.Minimize(total)
    status = solver.Solve()
    return {
        pywraplp.Solver.INFEASIBLE: "INFEASIBLE",
        pywraplp.Solver.OPTIMAL: "FEASIBLE",
        pywraplp.Solver.FEASIBLE: "FEASIBLE",
    }.get(status, "UNKNOWN")


def main() -> None:
    args = instance_arguments(__doc__.splitlines()[0])
    known = best_known(args.files[0].parent)
    print(
        f"{'instance':<9} {'optimum':>8} {'Lagrangian':>10} {'pairs kept':>15} "
        f"{'CP-SAT':>10} {'s':>5} {'SCIP':>10} {'s':>5}"
    )
    for path in args.files:
        instance = read_gap(path)
        low, high = known.get((instance.name, "Min"), (None, None))
        if low is None or low != high:
            print(f"{instance.name:<9} no proven optimum in best_known.csv: nothing to prove")
            continue
        bound, multipliers = lagrangian_bound(
            instance, high + 1, deadline=time.perf_counter() + 10, iterations=2000
        )
        allowed = reduced_cost_pairs(instance, multipliers, bound, high)
        kept = f"{int(allowed.sum())}/{allowed.size}"
        if not allowed.any(axis=0).all():  # a job with no pair left: nothing cheaper exists
            print(f"{instance.name:<9} {high:>8} {bound:>10.2f} {kept:>15} proven by the fixing alone")
            continue
        started = time.perf_counter()
        cp_answer = cp_sat_target(instance, allowed, high - 1, args.time_limit, args.workers)
        cp_seconds = time.perf_counter() - started
        started = time.perf_counter()
        scip_answer = scip_target(instance, allowed, high - 1, args.time_limit)
        scip_seconds = time.perf_counter() - started
        print(
            f"{instance.name:<9} {high:>8} {bound:>10.2f} {kept:>15} "
            f"{cp_answer:>10} {cp_seconds:>5.0f} {scip_answer:>10} {scip_seconds:>5.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
