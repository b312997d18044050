"""The churn-balance frontier: how balanced the team can get for each number of moves allowed.

Each budget is one solve of the most balanced plan: ``max_moves = budget``, the balance targets
dropped (the potential band and the account range: today's book usually breaks them — southwest
needs 41 moves to meet its 35-40 accounts — and reaching them is what the frontier measures),
every other rule of the scenario kept (locks, strategic accounts, state lines, specialists, churn
limits), and the objective replaced by potential balance — the sum over territories
of |potential - team mean| — with moves as a tie-break only (``TIE_BREAK``): the scenario's own
objective usually prices a move above any balance, which makes doing nothing optimal at every
budget. Budgets are solved in increasing order; each solve starts from the previous plan (still
valid under a larger budget) and keeps it when the search finds nothing better, so more budget is
never worse. The first budget whose plan puts every territory in band is reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from core.format import pct
from core.rebalance.objective import POINT, objective_value
from core.rebalance.plan import Plan
from core.rebalance.problem import UNITS_PER_MEAN, Problem
from core.rebalance.result import plan_of, plan_result, team_positions
from core.rebalance.solve import solve

# A move costs 1e-4 of a balance point: 0.1 units of potential (1e-6 of the mean), so balance
# comes first and, between equally balanced plans, the one with fewer (and less risky) moves wins.
TIE_BREAK = 1e-4
SOFT_TERMS = ("workload_balance", "travel", "industry_mix", "state_spread")


@dataclass(frozen=True)
class FrontierPoint:
    budget: int
    status: str
    moves: int
    cv: float | None
    max_deviation: float | None  # largest |potential index - 1| after the plan
    out_of_band: int  # territories outside the band (the scenario's, else the report band)
    objective: float | None
    gap: float | None
    wall_time_s: float
    imbalance: float | None = None  # sum over territories of |potential - mean|, in team means

    def to_json_dict(self) -> dict[str, object]:
        return {
            "budget": self.budget,
            "moves": self.moves,
            "cv": self.cv,
            "out_of_band": self.out_of_band if self.out_of_band >= 0 else None,  # None: no plan
            "max_deviation": self.max_deviation,
            "imbalance": self.imbalance,
            "status": self.status,
            "gap": self.gap,
            "objective": self.objective,
            "wall_time_s": round(self.wall_time_s, 3),
        }


@dataclass(frozen=True)
class Frontier:
    points: tuple[FrontierPoint, ...]
    band: str  # the band "in band" refers to, in words

    def __iter__(self) -> Iterator[FrontierPoint]:
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> FrontierPoint:
        return self.points[index]

    @property
    def first_in_band(self) -> int | None:
        """The smallest budget whose plan has every territory in band (None: no budget reached it)."""
        return next((p.budget for p in self.points if p.out_of_band == 0 and p.cv is not None), None)

    def describe(self) -> str:
        first = self.first_in_band
        if first is None:
            return f"No budget tried puts every territory in band ({self.band}); try larger budgets."
        return f"Every territory is in band ({self.band}) from {first} moves."

    def to_json_dict(self) -> dict[str, object]:
        return {
            "frontier": [p.to_json_dict() for p in self.points],
            "first_in_band_budget": self.first_in_band,
            "band": self.band,
        }


def frontier_problem(problem: Problem, budget: int) -> Problem:
    """The problem with a move budget, no balance targets, and balance as the objective."""
    changes: dict[str, object] = {
        "constraints.churn.max_moves": budget,
        "constraints.potential": None,
        "constraints.accounts": None,
        "objective.potential_balance": 1.0,
        "objective.continuity": TIE_BREAK,
        **{f"objective.{key}": 0.0 for key in SOFT_TERMS},
    }
    return replace(problem, scenario=problem.scenario.with_changes(**changes))


def band_of(problem: Problem) -> tuple[str, float, float]:
    """The band "in band" means: the scenario's potential band, else the report band around the mean."""
    mean = problem.mean_potential
    rule = problem.scenario.constraints.potential
    if rule is not None:
        low, high = rule.bounds(mean)
        return rule.describe(), low, high
    return (
        f"potential within ±{pct(problem.band)} of the team mean",
        mean * (1 - problem.band),
        mean * (1 + problem.band),
    )


def out_of_band(plan: Plan, low: float, high: float) -> int:
    """Territories of the team after the plan whose potential lies outside [low, high]."""
    potential = plan.potential[team_positions(plan, after=True)]
    slack = 1e-6 * max(abs(high) if np.isfinite(high) else 0.0, abs(low), 1.0)
    return int(((potential < low - slack) | (potential > high + slack)).sum())


def imbalance(plan: Plan) -> float:
    """Sum over the receiving territories of |potential - team mean|, in team means (model units)."""
    targets = np.flatnonzero(
        (plan.problem.territories["active"] & plan.problem.territories["in_scope"]).to_numpy()
    )
    return float(np.abs(plan.potential_units[targets] - UNITS_PER_MEAN).sum()) / UNITS_PER_MEAN


def frontier(problem: Problem, budgets: list[int], *, time_limit_s: float | None = None) -> Frontier:
    """The most balanced plan per move budget (one CP-SAT solve each, warm-started, monotone)."""
    band, low, high = band_of(problem)
    points: list[FrontierPoint] = []
    previous: Plan | None = None
    for budget in sorted(set(budgets)):
        bounded = frontier_problem(problem, budget)
        hint = None if previous is None else Plan(bounded, previous.owner)
        result = solve(bounded, time_limit_s=time_limit_s, hint=hint, explain=False)
        plan = plan_of(bounded, result.assignment) if result.assignment is not None else None
        if hint is not None and (plan is None or objective_value(hint) < objective_value(plan)):
            plan = hint  # the search found nothing better than the smaller budget's plan
            result = replace(plan_result(plan, status="FEASIBLE"), wall_time_s=result.wall_time_s)
            result = replace(result, objective=objective_value(plan) / POINT)
        points.append(_point(budget, result, plan, low, high))
        previous = plan or previous
    return Frontier(tuple(points), band)


def _point(budget: int, result, plan: Plan | None, low: float, high: float) -> FrontierPoint:  # type: ignore[no-untyped-def]
    after = result.team_after if plan is not None else None
    return FrontierPoint(
        budget=budget,
        status=result.status,
        moves=int(plan.moved.sum()) if plan is not None else 0,
        cv=after.cv if after else None,
        max_deviation=after.max_deviation if after else None,
        out_of_band=out_of_band(plan, low, high) if plan is not None else -1,
        objective=result.objective,
        gap=result.gap,
        wall_time_s=result.wall_time_s,
        imbalance=imbalance(plan) if plan is not None else None,
    )
