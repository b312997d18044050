"""Why a scenario has no plan: the rules that conflict, in words.

The model is rebuilt with every rule behind an assumption literal (one per family, or per
territory and family) over widened candidate pairs; CP-SAT returns a set of assumptions that is
infeasible on its own (``sufficient_assumptions_for_infeasibility``), which a deletion pass then
shrinks (drop a rule; if still infeasible without it, it was not needed). The sentences are the
rules' human halves.
"""

from __future__ import annotations

import logging
import time

from ortools.sat.python import cp_model

from core.rebalance.build import Build
from core.rebalance.model import build_model
from core.rebalance.problem import Problem

log = logging.getLogger(__name__)
MAX_DELETION_STEPS = 40


def explain_infeasibility(problem: Problem, *, time_limit_s: float = 20.0) -> tuple[str, ...]:
    """Sentences naming a set of rules that cannot all hold together (small, often minimal)."""
    started = time.perf_counter()
    build = build_model(problem, explain=True)
    status, core = _solve_with(build, list(build.guards), time_limit_s)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return (
            "The rules can all hold, but not with each account offered only its "
            f"{problem.scenario.candidates} nearest eligible territories; raise `candidates`.",
        )
    if status != cp_model.INFEASIBLE:
        return (
            f"No plan was found and the conflicting rules could not be isolated within {time_limit_s:g} s.",
        )
    core = _shrink(build, core, started + time_limit_s)
    sentences = tuple(build.guards[index].sentence for index in core)
    log.info("infeasible %s: %d conflicting rules", problem.scenario.name, len(sentences))
    return (
        ("These rules cannot all hold together:", *sentences)
        if sentences
        else ("No assignment exists even without the optional rules (an account has no territory to go to).",)
    )


def conflicting_families(problem: Problem, *, time_limit_s: float = 20.0) -> set[str]:
    """The machine half of the explanation: family keys of the conflicting rules."""
    build = build_model(problem, explain=True)
    status, core = _solve_with(build, list(build.guards), time_limit_s)
    if status != cp_model.INFEASIBLE:
        return set()
    return {build.guards[index].family for index in _shrink(build, core, time.perf_counter() + time_limit_s)}


def _solve_with(build: Build, assumptions: list[int], time_limit_s: float) -> tuple[int, list[int]]:
    """Solve under the given assumption literals; the infeasible core when infeasible."""
    model = build.model
    model.clear_assumptions()
    model.proto.assumptions.extend(assumptions)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit_s, 0.1)
    solver.parameters.num_workers = 1  # cores come from the sequential search
    status = int(solver.solve(model))
    core = list(solver.sufficient_assumptions_for_infeasibility()) if status == cp_model.INFEASIBLE else []
    return status, core


def _shrink(build: Build, core: list[int], deadline: float) -> list[int]:
    """Deletion filter: drop each rule whose absence keeps the rest infeasible."""
    kept = list(dict.fromkeys(core))
    for index in list(kept)[:MAX_DELETION_STEPS]:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        trial = [i for i in kept if i != index]
        status, smaller = _solve_with(build, trial, min(remaining, 5.0))
        if status == cp_model.INFEASIBLE:
            kept = [i for i in trial if not smaller or i in set(smaller)]
    return kept
