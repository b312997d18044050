"""The model under construction: CP-SAT handles shared by constraint families and objective terms.

``Build`` holds the problem, the CP-SAT model, the candidate pairs and their assignment literals;
constraint families (``core.rebalance.constraints``) and objective terms
(``core.rebalance.objective``) post their rules and costs on it, and ``core.rebalance.model``
assembles the whole model from them. The assignment core (``add_assignment`` and
``add_capacity``: per-pair costs and workloads against territory capacities) is the Generalized
Assignment Problem itself; the GAP benchmark (bench/gap_solver.py) solves the public GAP
instances with exactly these two functions.

With ``explain=True`` every rule is guarded by an assumption literal (``Build.guard``), so CP-SAT
can name the rules that conflict (``sufficient_assumptions_for_infeasibility``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from core.rebalance.plan import Plan
from core.rebalance.problem import Problem

Literal = cp_model.IntVar


@dataclass(frozen=True)
class Guard:
    """What an assumption literal switches on: a rule family, for one territory or for all."""

    family: str
    label: str  # machine: "potential_band:SW-T003"
    sentence: str  # human: "SW-T003 (AZ · Tucson): potential between $4.0M and $5.0M"


def groups(keys: np.ndarray) -> dict[int, np.ndarray]:
    """Row positions per key value (stable order within a key); {} for no keys."""
    if len(keys) == 0:
        return {}
    order = np.argsort(keys, kind="stable")
    values, starts = np.unique(keys[order], return_index=True)
    return {int(v): rows for v, rows in zip(values, np.split(order, starts[1:]), strict=True)}


def weighted_sum(
    variables: Sequence[Literal], coefficients: Sequence[int] | np.ndarray
) -> cp_model.LinearExpr:
    """sum(c * v); the fast path of the OR-Tools Python API (no per-term Python arithmetic)."""
    return cp_model.LinearExpr.weighted_sum(list(variables), [int(c) for c in coefficients])


# --- the assignment core (shared with the GAP benchmark) ----------------------------------------


def add_assignment(model: cp_model.CpModel, accounts: np.ndarray) -> list[Literal]:
    """Variables: one literal per pair (1 = the pair's territory gets the account).

    Constraint: every account goes to exactly one of its candidate territories. An account with a
    single candidate gets the constant 1 instead of a variable.
    """
    x: list[Literal] = [None] * len(accounts)  # type: ignore[list-item]
    for rows in groups(accounts).values():
        if len(rows) == 1:
            x[rows[0]] = model.new_constant(1)
            continue
        literals = [model.new_bool_var("") for _ in rows]
        for row, literal in zip(rows, literals, strict=True):
            x[row] = literal
        model.add_exactly_one(literals)
    return x


def add_capacity(
    model: cp_model.CpModel,
    x: list[Literal],
    by_territory: dict[int, np.ndarray],
    workload: np.ndarray,
    capacity: dict[int, int],
    enforce: dict[int, list[Literal]] | None = None,
) -> None:
    """Constraint: the workload of the pairs a territory gets stays within its capacity."""
    for t, limit in capacity.items():
        rows = by_territory.get(t, np.array([], dtype=int))
        constraint = model.add(weighted_sum([x[r] for r in rows], workload[rows]) <= int(limit))
        constraint.only_enforce_if((enforce or {}).get(t, []))


# --- the rebalance model ----------------------------------------------------------------------


@dataclass
class Build:
    """A model under construction: the handles constraint families and objective terms need."""

    problem: Problem
    model: cp_model.CpModel
    pairs: pd.DataFrame
    x: list[Literal]
    explain: bool
    hint_plan: Plan
    soft: bool = False  # repair build: territory rules may break, by slack that is minimised
    guards: dict[int, Guard] = field(default_factory=dict)
    objective: list[tuple[list[Literal], list[int]]] = field(default_factory=list)
    _hints: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_territory = groups(self.pairs["territory"].to_numpy())
        self.current_rows = np.flatnonzero(self.pairs["current"].to_numpy())
        # Pairs with a literal of their own: an account's only pair is the constant 1
        # (``add_assignment``). Read from the pairs, not the proto (48,000 proto reads cost 1-2 s).
        accounts = self.pairs["account"].to_numpy()
        self.free_rows = np.bincount(accounts)[accounts] > 1 if len(accounts) else np.zeros(0, dtype=bool)

    @property
    def targets(self) -> np.ndarray:
        """Positions of the territories that receive accounts (active and in scope)."""
        t = self.problem.territories
        return np.flatnonzero((t["active"] & t["in_scope"]).to_numpy())

    def rows(self, territory: int) -> np.ndarray:
        return self.by_territory.get(territory, np.array([], dtype=int))

    def total(self, rows: np.ndarray, coefficients: np.ndarray | int = 1) -> cp_model.LinearExpr:
        """sum over the given pair rows of coefficient x literal."""
        coefs = (
            np.broadcast_to(np.asarray(coefficients), (len(rows),))
            if np.ndim(coefficients) == 0
            else np.asarray(coefficients)[rows]
        )
        return weighted_sum([self.x[r] for r in rows], coefs)

    def guard(self, family: str, label: str, sentence: str) -> list[Literal]:
        """The enforcement literal of a rule: none in a normal solve, an assumption when explaining."""
        if not self.explain:
            return []
        literal = self.model.new_bool_var(label)
        self.guards[literal.index] = Guard(family, label, sentence)
        self.model.add_assumption(literal)
        return [literal]

    def territory_name(self, t: int) -> str:
        row = self.problem.territories.iloc[t]
        name = row["name"]
        return (
            f"{row['external_id']} ({name})"
            if name and name != row["external_id"]
            else str(row["external_id"])
        )

    def minimize(self, variables: list[Literal], coefficients: list[int]) -> None:
        self.objective.append((variables, coefficients))

    def hint(self, variable: Literal, value: int) -> None:
        self._hints[variable.index] = int(value)

    def plan(self, solver: cp_model.CpSolver) -> Plan:
        """The assignment of the solver's best solution (accounts out of scope keep their territory)."""
        solution = np.asarray(solver.response_proto.solution, dtype=np.int64)
        indices = np.array([literal.index for literal in self.x], dtype=np.int64)
        chosen = solution[indices] == 1 if len(indices) else np.zeros(0, dtype=bool)
        owner = self.problem.accounts["territory"].to_numpy().copy()
        rows = self.pairs[chosen]
        owner[rows["account"].to_numpy()] = rows["territory"].to_numpy()
        return Plan(self.problem, owner)

    def write_hints(self) -> None:
        """A complete hint: every x from the hint plan, every auxiliary variable from what families set."""
        owner = self.hint_plan.owner[self.pairs["account"].to_numpy()]
        chosen = (owner == self.pairs["territory"].to_numpy()).astype(int).tolist()
        hints = {self.x[r].index: chosen[r] for r in np.flatnonzero(self.free_rows).tolist()}
        self._hints = {**hints, **self._hints}  # what families set wins
        hint = self.model.proto.solution_hint
        hint.vars.extend(self._hints.keys())
        hint.values.extend(self._hints.values())


def is_constant(model: cp_model.CpModel, literal: Literal) -> bool:
    domain = model.proto.variables[literal.index].domain
    return len(domain) == 2 and domain[0] == domain[1]


def hint_plan(problem: Problem, pairs: pd.DataFrame) -> Plan:
    """Today's assignment; a vacated book goes to each account's nearest candidate territory, a
    pinned account (a planner's edit) to its pin."""
    owner = problem.accounts["territory"].to_numpy().copy()
    vacating = problem.accounts["vacating"].to_numpy()
    movable = pairs[vacating[pairs["account"].to_numpy()] & ~pairs["current"]]
    nearest = movable.sort_values(["account", "km"], kind="stable").drop_duplicates("account")
    owner[nearest["account"].to_numpy()] = nearest["territory"].to_numpy()
    pin = problem.accounts["pin"].to_numpy()
    owner[pin >= 0] = pin[pin >= 0]
    return Plan(problem, owner)
