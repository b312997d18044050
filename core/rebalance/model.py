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

from ortools.sat.python import cp_model

from core.rebalance.build import Build, add_assignment, hint_plan, weighted_sum
from core.rebalance.constraints import FAMILIES
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
