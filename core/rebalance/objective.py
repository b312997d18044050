"""Objective terms: a CP-SAT half (``add``) and a plan half (``value``), in the same integer units.

One point is ``POINT`` objective units. With weight 1, a point is: one territory 1% of the team's
mean potential (or workload) away from the mean, one ordinary account moved (risky ones cost up to
1.75), 100 km between an account and its rep's home, one territory whose book spans more than
its home state (state spread), one account outside its territory's main industries (industry
mix). Every penalty variable is named (``potential_deviation[SW-T003]``); the other terms are
costs on the assignment literals.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.rebalance.build import Build
from core.rebalance.plan import Plan, workload_units
from core.rebalance.problem import UNITS_PER_MEAN, Problem
from core.rebalance.scenario import ObjectiveWeights

POINT = 100_000


def _targets(problem: Problem) -> np.ndarray:
    t = problem.territories
    return np.flatnonzero((t["active"] & t["in_scope"]).to_numpy())


def _in_scope(plan: Plan) -> np.ndarray:
    return plan.problem.accounts["in_scope"].to_numpy()


class Travel:
    """Distance from each account to its rep's home: weight x POINT per 100 km, on every pair."""

    key = "travel"

    def weight(self, objective: ObjectiveWeights) -> float:
        return objective.travel

    def costs(self, problem: Problem, km: np.ndarray) -> np.ndarray:
        return np.rint(self.weight(problem.scenario.objective) * POINT / 100 * km).astype(np.int64)

    def add(self, build: Build) -> None:
        costs = self.costs(build.problem, build.pairs["km"].to_numpy())
        rows = np.flatnonzero(costs)
        build.minimize([build.x[r] for r in rows], costs[rows].tolist())

    def value(self, plan: Plan) -> int:
        return int(self.costs(plan.problem, plan.account_km)[_in_scope(plan)].sum())


class Continuity:
    """Each move costs weight x POINT x the account's move cost (1 to 1.75: revenue, tenure, open deal)."""

    key = "continuity"

    def weight(self, objective: ObjectiveWeights) -> float:
        return objective.continuity

    def costs(self, problem: Problem, accounts: np.ndarray) -> np.ndarray:
        move_cost = problem.accounts["move_cost"].to_numpy()[accounts]
        return np.rint(self.weight(problem.scenario.objective) * POINT * move_cost).astype(np.int64)

    def add(self, build: Build) -> None:
        rows = np.flatnonzero(~build.pairs["current"].to_numpy())
        costs = self.costs(build.problem, build.pairs["account"].to_numpy()[rows])
        build.minimize([build.x[r] for r in rows], costs.tolist())

    def value(self, plan: Plan) -> int:
        moved = np.flatnonzero(plan.moved)
        return int(self.costs(plan.problem, moved).sum())


class Balance:
    """Sum over receiving territories of |total - team mean|, weight x POINT per 1% of the mean."""

    def __init__(self, key: str, weight: Callable[[ObjectiveWeights], float]) -> None:
        self.key, self.weight = key, weight

    def coefficient(self, problem: Problem) -> int:
        return round(self.weight(problem.scenario.objective) * POINT * 100 / UNITS_PER_MEAN)

    def _pair_units(self, build: Build) -> np.ndarray:
        if self.key == "potential_balance":
            return build.problem.accounts["potential_units"].to_numpy()[build.pairs["account"].to_numpy()]
        return workload_units(build.problem, build.pairs["workload_hours"].to_numpy())

    def _plan_units(self, plan: Plan) -> np.ndarray:
        return plan.potential_units if self.key == "potential_balance" else plan.workload_units

    def _mean(self, problem: Problem) -> int:
        mean = problem.mean_potential if self.key == "potential_balance" else problem.mean_workload
        return UNITS_PER_MEAN if mean > 0 else 0

    def add(self, build: Build) -> None:
        units, mean = self._pair_units(build), self._mean(build.problem)
        hint_units = self._plan_units(build.hint_plan)
        deviations = []
        for t in _targets(build.problem):
            rows = build.rows(t)
            total = build.total(rows, units)
            bound = max(mean, int(units[rows].clip(min=0).sum()))
            deviation = build.model.new_int_var(
                0, bound, f"{self.key.split('_')[0]}_deviation[{build.problem.label(t)}]"
            )
            build.model.add(deviation >= total - mean)
            build.model.add(deviation >= mean - total)
            build.hint(deviation, abs(int(hint_units[t]) - mean))
            deviations.append(deviation)
        build.minimize(deviations, [self.coefficient(build.problem)] * len(deviations))

    def value(self, plan: Plan) -> int:
        units, mean = self._plan_units(plan), self._mean(plan.problem)
        targets = _targets(plan.problem)
        return self.coefficient(plan.problem) * int(np.abs(units[targets] - mean).sum())


class OutsideHome:
    """Accounts outside their territory's home set (its main state, or its main industries):
    weight x POINT per account, on every pair (linear, so the LP bound stays tight)."""

    def __init__(
        self, key: str, column: str, home_column: str, weight: Callable[[ObjectiveWeights], float]
    ) -> None:
        self.key, self.column, self.home_column, self.weight = key, column, home_column, weight

    def outside(self, problem: Problem, accounts: np.ndarray, territories: np.ndarray) -> np.ndarray:
        values = problem.accounts[self.column].to_numpy()[accounts]
        homes = problem.territories[self.home_column].to_numpy()[territories]
        return np.array([v not in home for v, home in zip(values, homes, strict=True)], dtype=bool)

    def add(self, build: Build) -> None:
        rows = np.flatnonzero(
            self.outside(
                build.problem, build.pairs["account"].to_numpy(), build.pairs["territory"].to_numpy()
            )
        )
        coefficient = round(self.weight(build.problem.scenario.objective) * POINT)
        build.minimize([build.x[r] for r in rows], [coefficient] * len(rows))

    def value(self, plan: Plan) -> int:
        accounts = np.flatnonzero(_in_scope(plan))
        coefficient = round(self.weight(plan.problem.scenario.objective) * POINT)
        return coefficient * int(self.outside(plan.problem, accounts, plan.owner[accounts]).sum())


class MultiState(OutsideHome):
    """Territories whose book spans more than their home state: weight x POINT each.

    multi[t] >= x[pair] for every pair of t outside t's home state. The 0/1 flags alone give a weak
    LP bound, so each account outside its home state also costs 1% of the weight (guidance).
    """

    GUIDANCE = 0.01

    def __init__(self) -> None:
        super().__init__("state_spread", "state", "home_states", lambda o: o.state_spread)

    def add(self, build: Build) -> None:
        outside = self.outside(
            build.problem, build.pairs["account"].to_numpy(), build.pairs["territory"].to_numpy()
        )
        weight = self.weight(build.problem.scenario.objective)
        flags = []
        for t in _targets(build.problem):
            rows = build.rows(t)[outside[build.rows(t)]]
            if not len(rows):
                continue
            flag = build.model.new_bool_var(f"multi_state[{build.problem.label(t)}]")
            for r in rows:
                build.model.add_implication(build.x[r], flag)
            build.hint(
                flag, bool((build.hint_plan.owner == t)[build.pairs["account"].to_numpy()[rows]].any())
            )
            flags.append(flag)
        build.minimize(flags, [round(weight * POINT)] * len(flags))
        guided = np.flatnonzero(outside)
        build.minimize([build.x[r] for r in guided], [round(weight * self.GUIDANCE * POINT)] * len(guided))

    def value(self, plan: Plan) -> int:
        weight = self.weight(plan.problem.scenario.objective)
        accounts = np.flatnonzero(_in_scope(plan))
        outside = self.outside(plan.problem, accounts, plan.owner[accounts])
        multi = np.unique(plan.owner[accounts][outside])
        multi = np.intersect1d(multi, _targets(plan.problem))
        guided = int(outside[np.isin(plan.owner[accounts], _targets(plan.problem))].sum())
        return round(weight * POINT) * len(multi) + round(weight * self.GUIDANCE * POINT) * guided


TERMS = (
    Balance("potential_balance", lambda o: o.potential_balance),
    Balance("workload_balance", lambda o: o.workload_balance),
    Travel(),
    Continuity(),
    OutsideHome("industry_mix", "industry", "focus_industries", lambda o: o.industry_mix),
    MultiState(),
)


def objective_value(plan: Plan) -> int:
    """The model's objective for a plan, computed without the solver (oracle for tests, greedy's score)."""
    weights = plan.problem.scenario.objective
    return sum(term.value(plan) for term in TERMS if term.weight(weights) > 0)
