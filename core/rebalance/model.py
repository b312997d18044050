"""The CP-SAT model of a rebalance: a Generalized Assignment Problem with balance terms.

Sections in the order of the OR-Tools samples: data, variables, constraints, objective, hint.
The model under construction (``Build``) and the assignment core live in
``core.rebalance.build``; constraint families in ``core.rebalance.constraints`` and objective
terms in ``core.rebalance.objective`` (each with a CP-SAT half, ``add``, and a plain-Python half
that reads a ``Plan``). This module only assembles them.

With ``explain=True`` the model is built over the widened candidate pairs and every rule is
guarded by an assumption literal (one per family, or per territory and family), so CP-SAT can
name the rules that conflict (``sufficient_assumptions_for_infeasibility``).
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from core.rebalance.build import Build, add_assignment, hint_plan, weighted_sum
from core.rebalance.constraints import FAMILIES, TerritoryRule
from core.rebalance.objective import TERMS
from core.rebalance.plan import Plan
from core.rebalance.problem import Problem, candidate_pairs


def build_model(
    problem: Problem, *, explain: bool = False, soft: bool = False, hint: Plan | None = None
) -> Build:
    """The CP-SAT model of a rebalance problem (see module docstring).

    ``hint`` is the plan the search starts from (default: today's, vacated books to the nearest).
    ``soft`` builds the repair model: territory rules (band, account range, shares, capacity) may
    break and the objective is their total slack, so today's plan is a valid start and any plan
    of slack 0 is a valid start for the real model.
    """
    # Data: candidate pairs (widened when explaining, so each rule can be switched off alone).
    pairs = candidate_pairs(problem, widen=True) if explain else problem.pairs
    model = cp_model.CpModel()
    # Variables and the core constraint: each account in scope goes to exactly one territory.
    x = add_assignment(model, pairs["account"].to_numpy())
    build = Build(problem, model, pairs, x, explain, hint or hint_plan(problem, pairs), soft=soft)
    # Constraints: one family per rule of the scenario (see core.rebalance.constraints).
    for family in FAMILIES:
        if family.applies(problem):
            family.add(build)
    # Cuts: how many accounts an out-of-band territory must at least gain or lose.
    if not explain and not soft:
        add_move_count_cuts(build)
    # Objective: weighted terms (see core.rebalance.objective); a repair build has its slack only.
    if not explain and not soft:
        for term in TERMS:
            if term.weight(problem.scenario.objective) > 0:
                term.add(build)
    if not explain:
        variables = [v for chunk, _ in build.objective for v in chunk]
        model.minimize(weighted_sum(variables, [c for _, coefs in build.objective for c in coefs]))
    # Hint: today's assignment, complete.
    build.write_hints()
    return build


def add_move_count_cuts(build: Build) -> None:
    """Valid inequalities that count moves for each territory a weighted rule finds out of range today.

    A territory short of a rule's low end (potential band, capacity) by ``need`` must gain at least
    ``need`` plus whatever it loses, so it gains at least k accounts, k the fewest of its candidate
    accounts whose coefficients reach ``need`` (largest first); one above the high end loses at
    least k of its movable accounts the same way. Every plan of the model keeps them; the LP
    relaxation, which can move fractions of the largest accounts, does not, so they raise the
    bound: on national (moves cost 1 to 1.75 points) the LP bound 151.8 -> 153.7 points.
    """
    current = build.pairs["current"].to_numpy()
    for rule in FAMILIES:
        if not isinstance(rule, TerritoryRule) or not rule.applies(build.problem):
            continue
        for t in rule.territories(build.problem):
            coefficients = rule.coefficients(build, t)
            rows = build.rows(t)
            if np.ndim(coefficients) == 0 or not len(rows):
                continue  # a count rule already is its own cut
            values = np.asarray(coefficients)[rows]
            if (values < 0).any():
                continue
            low, high = rule.bounds(build.problem, t)
            today = int(values[current[rows]].sum())
            if low is not None and today < low:
                gaining = ~current[rows]
                least = _fewest_reaching(values[gaining], low - today)
                build.model.add(
                    weighted_sum([build.x[r] for r in rows[gaining]], [1] * int(gaining.sum())) >= least
                )
            if high is not None and today > high:
                leaving = current[rows] & build.free_rows[rows]
                least = _fewest_reaching(values[leaving], today - high)
                kept = int(leaving.sum()) - least
                build.model.add(
                    weighted_sum([build.x[r] for r in rows[leaving]], [1] * int(leaving.sum())) <= kept
                )


def _fewest_reaching(values: np.ndarray, need: int) -> int:
    """The fewest values (largest first) whose sum reaches ``need``; len + 1 when all do not."""
    total = np.cumsum(np.sort(values)[::-1])
    return int(np.searchsorted(total, need)) + 1
