"""The greedy baseline: move one account at a time, the one that most reduces imbalance.

Imbalance is the potential-balance term of the model: the sum over receiving territories of
|potential - team mean|. Each step takes the candidate pair (same pruning as the model, so locks,
cooldown, state lines and specialists-only hold) with the largest reduction that breaks no churn
limit and makes no territory rule worse (account range, potential band, capacity, specialist share,
industry focus), until the budget is spent or nothing helps. A vacated book is placed first.
"""

from __future__ import annotations

import time

import numpy as np

from core.rebalance.constraints import FAMILIES, Capacity, ShareOfBook, TerritoryRule, potential_band_units
from core.rebalance.plan import Plan
from core.rebalance.problem import UNITS_PER_MEAN, Problem
from core.rebalance.result import RebalanceResult, plan_result


def greedy(problem: Problem, budget: int) -> RebalanceResult:
    """A plan of at most ``budget`` moves (and the scenario's churn limits) built one move at a time."""
    started = time.perf_counter()
    plan = greedy_plan(problem, budget)
    return plan_result(plan, status="HEURISTIC", wall_time_s=time.perf_counter() - started)


def greedy_plan(
    problem: Problem, budget: int, *, deadline: float | None = None, to_band: bool = False
) -> Plan:
    """The greedy's plan (stops early at ``deadline``, a ``time.perf_counter()`` value).

    ``to_band``: only take moves that bring territories closer to the potential band and account
    range (largest step first, imbalance breaks ties) — few moves, a start for the repair.
    """
    state = _Greedy(problem, budget, to_band=to_band)
    state.place_vacated()
    state.place_pinned()
    while state.step():
        if deadline is not None and time.perf_counter() > deadline:
            break
    return Plan(problem, state.owner)


class _Greedy:
    def __init__(self, problem: Problem, budget: int, *, to_band: bool = False) -> None:
        self.problem, self.to_band = problem, to_band
        churn = problem.scenario.constraints.churn
        self.limit = min(budget, churn.max_moves) if churn.max_moves is not None else budget
        accounts, territories = problem.accounts, problem.territories
        self.today = accounts["territory"].to_numpy()
        self.owner = self.today.copy()
        self.units = accounts["potential_units"].to_numpy()
        self.revenue = np.rint(accounts["revenue_ttm"].to_numpy())
        self.move_cost = accounts["move_cost"].to_numpy()
        self.totals = np.bincount(self.owner, weights=self.units, minlength=len(territories))
        self.counts = np.bincount(self.owner, minlength=len(territories))
        self.moved_out = np.zeros(len(territories), dtype=int)
        self.moves, self.moved_revenue = 0, 0.0
        self.target = (territories["active"] & territories["in_scope"]).to_numpy()
        self.mean = UNITS_PER_MEAN if problem.mean_potential > 0 else 0
        self.moves_frame = problem.pairs[~problem.pairs["current"]]
        self.book_limit = self._book_limits()
        self.slow_rules: list[tuple[TerritoryRule, set[int]]] = [
            (f, set(map(int, f.territories(problem))))
            for f in FAMILIES
            if isinstance(f, (Capacity, ShareOfBook)) and f.applies(problem)
        ]

    def _book_limits(self) -> np.ndarray:
        share = self.problem.scenario.constraints.churn.max_book_share
        books = np.bincount(self.today, minlength=len(self.problem.territories))
        limits = np.floor(share * books + 1e-9) if share is not None else np.full(len(books), np.inf)
        return np.where(self.problem.territories["vacated"].to_numpy(), np.inf, limits)

    # --- scoring -----------------------------------------------------------------------------
    def _deviation(self, totals: np.ndarray, territories: np.ndarray) -> np.ndarray:
        return np.where(self.target[territories], np.abs(totals - self.mean), 0)

    def gains(self, a: np.ndarray, f: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Reduction of sum |total - mean| when account a moves from f to t (to_band: of the
        distance outside the band and account range first)."""
        p = self.units[a]
        before = self._deviation(self.totals[f], f) + self._deviation(self.totals[t], t)
        after = self._deviation(self.totals[f] - p, f) + self._deviation(self.totals[t] + p, t)
        if not self.to_band:
            return before - after
        outside = (
            self._outside(self.totals[f], self.counts[f], f)
            + self._outside(self.totals[t], self.counts[t], t)
            - self._outside(self.totals[f] - p, self.counts[f] - 1, f)
            - self._outside(self.totals[t] + p, self.counts[t] + 1, t)
        )
        # per unit of move cost, so an ordinary account beats a risky one of the same size
        return np.where(outside > 0, (outside * 4 * UNITS_PER_MEAN) / self.move_cost[a] + (before - after), 0)

    def _outside(self, totals: np.ndarray, counts: np.ndarray, territories: np.ndarray) -> np.ndarray:
        """Distance outside the potential band (units) + 1,000 per account outside the range."""
        rules = self.problem.scenario.constraints
        distance = np.zeros(len(territories))
        if rules.potential is not None:
            low, high = potential_band_units(self.problem)
            distance += _band_violation(low, high)(totals)
        if rules.accounts is not None:
            low_count = rules.accounts.min if rules.accounts.min is not None else 0
            distance += 1000 * _band_violation(low_count, rules.accounts.max)(counts)
        return np.where(self.target[territories], distance, 0)

    # --- rules -------------------------------------------------------------------------------
    def allowed(self, a: np.ndarray, f: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Vectorised checks: churn limits, account range and band not made worse."""
        rules = self.problem.scenario.constraints
        ok = (self.owner[a] == self.today[a]) & (self.moved_out[f] + 1 <= self.book_limit[f])
        if rules.churn.max_revenue is not None:
            ok &= self.moved_revenue + self.revenue[a] <= rules.churn.max_revenue
        vacated = self.problem.territories["vacated"].to_numpy()[f]
        if rules.accounts is not None and rules.accounts.min is not None:
            ok &= vacated | (self.counts[f] - 1 >= rules.accounts.min)
        if rules.accounts is not None and rules.accounts.max is not None:
            ok &= self.counts[t] + 1 <= rules.accounts.max
        if rules.potential is not None:
            low, high = potential_band_units(self.problem)
            outside = _band_violation(low, high)
            p = self.units[a]
            ok &= vacated | (outside(self.totals[f] - p) <= outside(self.totals[f]))
            ok &= outside(self.totals[t] + p) <= outside(self.totals[t])
        return ok

    def keeps_slow_rules(self, a: int, f: int, t: int) -> bool:
        """Capacity, specialist share and industry focus of f and t are no worse after the move."""
        if not self.slow_rules:
            return True
        before = Plan(self.problem, self.owner)
        owner = self.owner.copy()
        owner[a] = t
        after = Plan(self.problem, owner)
        return all(
            _violation(rule, after, u) <= _violation(rule, before, u)
            for rule, covered in self.slow_rules
            for u in (f, t)
            if u in covered
        )

    # --- moves -------------------------------------------------------------------------------
    def apply(self, a: int, t: int) -> None:
        f = self.owner[a]
        self.owner[a] = t
        self.totals[f] -= self.units[a]
        self.totals[t] += self.units[a]
        self.counts[f] -= 1
        self.counts[t] += 1
        self.moved_out[f] += 1
        self.moves += 1
        self.moved_revenue += self.revenue[a]

    def place_vacated(self) -> None:
        """Every account of a vacated territory goes to its best allowed candidate (or nearest)."""
        vacating = np.flatnonzero(self.problem.accounts["vacating"].to_numpy())
        for a in vacating[np.argsort(-self.units[vacating], kind="stable")]:
            options = self.moves_frame[self.moves_frame["account"] == a]
            if options.empty:
                continue
            t = options["territory"].to_numpy()
            f = np.full(len(t), self.owner[a])
            a_ = np.full(len(t), a)
            score = np.where(self.allowed(a_, f, t), self.gains(a_, f, t), -np.inf)
            best = int(np.argmax(score)) if np.isfinite(score).any() else int(np.argmin(options["km"]))
            self.apply(a, int(t[best]))

    def place_pinned(self) -> None:
        """Every pinned account (a planner's edit) goes to its pin first; it moves no further."""
        pin = self.problem.accounts["pin"].to_numpy()
        for a in np.flatnonzero((pin >= 0) & (self.owner != pin)):
            self.apply(int(a), int(pin[a]))

    def step(self) -> bool:
        """Make the best improving move; False when the budget is spent or no move helps."""
        if self.moves >= self.limit:
            return False
        frame = self.moves_frame
        a, t = frame["account"].to_numpy(), frame["territory"].to_numpy()
        f = self.owner[a]
        gains = self.gains(a, f, t)
        ok = self.allowed(a, f, t) & (gains > 0)
        for i in np.flatnonzero(ok)[np.argsort(-gains[ok], kind="stable")]:
            if self.keeps_slow_rules(int(a[i]), int(f[i]), int(t[i])):
                self.apply(int(a[i]), int(t[i]))
                return True
        return False


def _band_violation(low: int, high: int | None):  # type: ignore[no-untyped-def]
    def outside(total: np.ndarray) -> np.ndarray:
        above = np.maximum(total - high, 0) if high is not None else 0
        return np.maximum(low - total, 0) + above

    return outside


def _violation(rule: TerritoryRule, plan: Plan, t: int) -> float:
    """How far territory t is outside a territory rule (0 when kept)."""
    low, high = rule.bounds(plan.problem, t)
    value = rule.value(plan, t)
    return max((low - value) if low is not None else 0, (value - high) if high is not None else 0, 0)
