"""The churn-balance frontier: how balanced the team can get for each number of moves allowed.

Each budget is one solve with ``max_moves = budget`` and the balance targets dropped (the hard
potential band and the account range: today's book usually breaks them, and balance is what is
measured); every other rule (locks, strategic accounts, state lines, specialists, churn limits)
stays. Budgets are solved in increasing order and each solve starts from the
previous plan, which is still valid under a larger budget.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.rebalance.plan import Plan
from core.rebalance.problem import Problem
from core.rebalance.result import plan_of
from core.rebalance.solve import solve


@dataclass(frozen=True)
class FrontierPoint:
    budget: int
    status: str
    moves: int
    cv: float | None
    max_deviation: float | None  # largest |potential index - 1| after the plan
    out_of_band: int
    objective: float | None
    gap: float | None
    wall_time_s: float


def frontier_problem(problem: Problem, budget: int) -> Problem:
    """The problem with a move budget, no balance targets, and potential balance in the objective."""
    scenario = problem.scenario
    changes: dict[str, object] = {
        "constraints.churn.max_moves": budget,
        "constraints.potential": None,
        "constraints.accounts": None,
    }
    if scenario.objective.potential_balance == 0:
        changes["objective.potential_balance"] = 1.0
    return replace(problem, scenario=scenario.with_changes(**changes))


def frontier(
    problem: Problem, budgets: list[int], *, time_limit_s: float | None = None
) -> list[FrontierPoint]:
    """Balance reached per move budget (one CP-SAT solve each, hints chained)."""
    points = []
    hint: Plan | None = None
    for budget in sorted(set(budgets)):
        bounded = frontier_problem(problem, budget)
        result = solve(bounded, time_limit_s=time_limit_s, hint=hint, explain=False)
        after = result.team_after
        points.append(
            FrontierPoint(
                budget=budget,
                status=result.status,
                moves=len(result.moves),
                cv=after.cv if after else None,
                max_deviation=after.max_deviation if after else None,
                out_of_band=after.out_of_band if after else -1,
                objective=result.objective,
                gap=result.gap,
                wall_time_s=result.wall_time_s,
            )
        )
        if result.assignment is not None:
            hint = plan_of(bounded, result.assignment)
    return points
