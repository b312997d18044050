"""A candidate plan in plain numpy: who owns each account, and the per-territory totals.

The model's rules and objective have a second, plain-Python half that reads a ``Plan``: the
greedy baseline uses it to check single moves, tests use it as an oracle, and results report
from it. Amounts are the model's integer units so both halves agree to the unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from core.rebalance.problem import Problem, pair_frame


def workload_units(problem: Problem, hours: np.ndarray) -> np.ndarray:
    """Workload hours as integer units (1/100,000 of the team's mean territory workload)."""
    return np.rint(np.asarray(hours, dtype=float) / problem.workload_unit).astype(np.int64)


@dataclass(frozen=True)
class Plan:
    """``owner[i]`` is the territory position of account position ``i`` (all accounts, in scope or not)."""

    problem: Problem
    owner: np.ndarray

    @classmethod
    def today(cls, problem: Problem) -> Plan:
        return cls(problem, problem.accounts["territory"].to_numpy().copy())

    def _sum(self, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(self.owner, weights=weights, minlength=len(self.problem.territories))

    @cached_property
    def moved(self) -> np.ndarray:
        """Mask of the accounts whose owner differs from today's."""
        return self.owner != self.problem.accounts["territory"].to_numpy()

    @cached_property
    def counts(self) -> np.ndarray:
        return self._sum().astype(np.int64)

    @cached_property
    def potential(self) -> np.ndarray:
        return self._sum(self.problem.accounts["potential"].to_numpy())

    @cached_property
    def potential_units(self) -> np.ndarray:
        return self._sum(self.problem.accounts["potential_units"].to_numpy().astype(float)).astype(np.int64)

    @cached_property
    def revenue(self) -> np.ndarray:
        return self._sum(self.problem.accounts["revenue_ttm"].to_numpy())

    @cached_property
    def account_km(self) -> np.ndarray:
        return self._owned_pairs["km"].to_numpy()

    @cached_property
    def account_workload(self) -> np.ndarray:
        """Hours each account costs its owner in this plan (touch hours + travel from the owner's home)."""
        return self._owned_pairs["workload_hours"].to_numpy()

    @cached_property
    def workload(self) -> np.ndarray:
        return self._sum(self.account_workload)

    @cached_property
    def workload_units(self) -> np.ndarray:
        return self._sum(workload_units(self.problem, self.account_workload).astype(float)).astype(np.int64)

    @cached_property
    def _owned_pairs(self) -> pd.DataFrame:
        return pair_frame(self.problem, np.arange(len(self.owner)), self.owner)

    def distinct_of(self, values: np.ndarray) -> np.ndarray:
        """Number of distinct values (one per account) in each territory's book."""
        frame = pd.DataFrame({"t": self.owner, "v": values})
        counts = frame.groupby("t")["v"].nunique()
        return counts.reindex(range(len(self.problem.territories)), fill_value=0).to_numpy()

    def moved_out(self) -> np.ndarray:
        """Accounts leaving each territory (by today's territory)."""
        today = self.problem.accounts["territory"].to_numpy()
        return np.bincount(today[self.moved], minlength=len(self.problem.territories))

    def moved_revenue(self) -> float:
        return float(self.problem.accounts["revenue_ttm"].to_numpy()[self.moved].sum())
