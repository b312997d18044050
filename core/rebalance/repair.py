"""A valid starting plan when today's assignment breaks the scenario's territory rules.

Today's book is usually out of band (that is why one rebalances), and on a large book CP-SAT's
own first-solution search can spend the whole time limit without a plan. So, first: the greedy
baseline moves accounts towards balance (keeping every rule it can check move by move), then a
repair model (``build_model(soft=True)``: band, account range, shares and capacity become slack,
every other rule stays hard) starts from the greedy's plan and drives the slack to zero. A plan of
slack zero keeps every rule and is the hint of the real solve; a proven positive minimum slack
proves the scenario infeasible.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from core.rebalance.constraints import broken_rules
from core.rebalance.greedy import greedy_plan
from core.rebalance.model import build_model
from core.rebalance.plan import Plan
from core.rebalance.problem import Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Repair:
    plan: Plan | None  # a plan that keeps every rule, when one was found
    closest: Plan  # the best plan found (may break territory rules)
    infeasible: bool = False  # proven: no plan keeps every rule


def repair(problem: Problem, start: Plan, *, time_limit_s: float, workers: int) -> Repair:
    """A rule-keeping plan near ``start`` within the time limit, or proof that none exists."""
    if not broken_rules(start):
        return Repair(plan=start, closest=start)
    deadline = time.perf_counter() + time_limit_s
    budget = problem.scenario.constraints.churn.max_moves
    guess = greedy_plan(
        problem,
        budget if budget is not None else len(problem.accounts),
        deadline=time.perf_counter() + time_limit_s / 3,
        to_band=True,
    )
    if not broken_rules(guess):
        return Repair(plan=guess, closest=guess)
    build = build_model(problem, soft=True, hint=guess)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(deadline - time.perf_counter(), 0.5)
    solver.parameters.num_workers = workers
    status = solver.solve(build.model)
    log.info(
        "repair %s: %s, slack %s",
        problem.scenario.name,
        solver.status_name(status),
        solver.objective_value if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None,
    )
    if status == cp_model.INFEASIBLE:
        return Repair(plan=None, closest=guess, infeasible=True)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Repair(plan=None, closest=guess)
    plan = build.plan(solver)
    if solver.objective_value == 0:
        return Repair(plan=plan, closest=plan)
    return Repair(plan=None, closest=plan, infeasible=status == cp_model.OPTIMAL)
