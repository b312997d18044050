"""Solve a rebalance problem with CP-SAT and read the plan back.

``solve(problem)`` builds the model, solves it within the scenario's time limit and workers and
returns a ``RebalanceResult``: OPTIMAL / FEASIBLE with a plan, INFEASIBLE with the rules that
conflict in words, UNKNOWN (no plan within the time limit) or MODEL_INVALID, each handled apart.
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from ortools.sat.python import cp_model

from core.rebalance.build import Build, hint_plan
from core.rebalance.constraints import broken_rules
from core.rebalance.explain import (
    Diagnosis,
    arithmetic,
    diagnose,
    model_invalid,
    out_of_range,
    tightest_band,
)
from core.rebalance.lns import improve
from core.rebalance.model import build_model
from core.rebalance.objective import POINT, TERMS, objective_value
from core.rebalance.plan import Plan
from core.rebalance.problem import Problem
from core.rebalance.relax import Relaxation, lp_relaxation
from core.rebalance.repair import repair
from core.rebalance.result import RebalanceResult, no_plan, plan_of, plan_result

log = logging.getLogger(__name__)
# CP-SAT's own bound on large models lags and varies from run to run (national: 100 points after
# 8 s; 132 to 151 after 60 s, depending on the search path); GLOP solves the plain LP relaxation
# once (148 points, about 90 us per pair to build and solve here), so the search stops that much
# early and the better of the two bounds is reported. Below LP_BOUND_PAIRS[0] CP-SAT closes fast
# by itself; above LP_BOUND_PAIRS[1] building the LP costs more than the bound is worth.
LP_BOUND_PAIRS = (20_000, 120_000)
LP_SECONDS_PER_PAIR = 9e-5
# Reading the plan back and computing the before/after metrics (about 0.3 s at 50,000 accounts).
RESULT_SECONDS = 0.5


def solver_for(time_limit_s: float, workers: int, *, log_search: bool = False) -> cp_model.CpSolver:
    """A CP-SAT solver with a time limit and a number of search workers."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = int(workers)
    solver.parameters.log_search_progress = log_search
    # The hint still seeds the search as its first solution; what is switched off is the main
    # worker's hint-guided dive, which on national left CP-SAT's bound at 132 points after 60 s
    # instead of 151 (its LP cuts never got the time).
    solver.parameters.hint_conflict_limit = 0
    return solver


def relative_gap(objective: float, bound: float) -> float:
    """(objective - bound) / |objective| for a minimisation; 0 when both are 0."""
    if objective == bound:
        return 0.0
    return abs(objective - bound) / max(abs(objective), 1e-9)


def objective_terms(plan: Plan) -> dict[str, float]:
    """Each weighted objective term of a plan, in points."""
    weights = plan.problem.scenario.objective
    return {term.key: term.value(plan) / POINT for term in TERMS if term.weight(weights) > 0}


def solve(
    problem: Problem,
    *,
    time_limit_s: float | None = None,
    workers: int | None = None,
    hint: Plan | None = None,
    explain: bool = True,
) -> RebalanceResult:
    """Solve the problem; an infeasible one comes back with the conflicting rules in words.

    When the start (``hint``, default today's assignment) breaks territory rules, up to half the
    time goes to finding a valid start (``core.rebalance.repair``); the rest to CP-SAT.
    """
    started = time.perf_counter()
    limit = time_limit_s or problem.scenario.time_limit_s
    workers = workers or problem.scenario.workers
    invalid = out_of_range(problem)
    if invalid:  # named before any model is built: the solver's own message would quote the model
        return no_plan("MODEL_INVALID", time.perf_counter() - started, invalid, Plan.today(problem))
    blocked = arithmetic(problem)
    if blocked is not None:
        return _diagnosed(problem, blocked, started, limit, proven=True, relax=explain)
    start = hint or hint_plan(problem, problem.pairs)
    fixed = repair(problem, start, time_limit_s=limit / 2, workers=workers)
    if fixed.infeasible:
        return _infeasible(problem, started, limit, explain, fixed.closest)
    if fixed.plan is not None:
        log.info(
            "rebalance %s: first valid plan in %.1fs", problem.scenario.name, time.perf_counter() - started
        )
    build = build_model(problem, hint=fixed.plan or start)
    in_range = LP_BOUND_PAIRS[0] <= len(build.pairs) <= LP_BOUND_PAIRS[1]
    if in_range and workers >= 2 and fixed.plan is not None:
        return _solve_split(build, fixed.plan, started, started + limit - RESULT_SECONDS, workers)
    lp_time = LP_SECONDS_PER_PAIR * len(build.pairs) if in_range else 0.0
    remaining = started + limit - lp_time - RESULT_SECONDS - time.perf_counter()
    if fixed.plan is None and explain and len(build.pairs) < LP_BOUND_PAIRS[0]:
        remaining *= 0.75  # no valid start on a small book: keep a quarter of the time to say why
    solver = solver_for(max(remaining, 1.0), workers)
    status = solver.solve(build.model)
    _log_status(problem, solver, status, started)
    if status == cp_model.INFEASIBLE:
        return _infeasible(problem, started, limit, explain, fixed.closest)
    if status == cp_model.MODEL_INVALID:
        reasons = model_invalid(build.model.validate(), problem)
        return no_plan("MODEL_INVALID", time.perf_counter() - started, reasons, start)
    found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    if not found and fixed.plan is None and explain:
        why = diagnose(problem, time_limit_s=started + limit - time.perf_counter(), closest=fixed.closest)
        return _diagnosed(problem, why, started, limit, proven=False, relax=True)
    if not found and fixed.plan is None:
        closest = broken_rules(fixed.closest)
        message = (
            f"No plan found within {limit:g} s; raise the time limit or narrow the scope. "
            f"The closest plan found still breaks {len(closest)} rules:"
        )
        return no_plan("UNKNOWN", time.perf_counter() - started, (message, *closest[:10]), start)
    bound = solver.best_objective_bound
    if status != cp_model.OPTIMAL and lp_time:
        relaxation = lp_relaxation(build.model.proto, max(started + limit - time.perf_counter(), 0.5))
        bound = max(bound, _rounded_bound(relaxation))
    return _best_plan(build, solver if found else None, fixed.plan, started, bound)


def _solve_split(build: Build, start: Plan, started: float, deadline: float, workers: int) -> RebalanceResult:
    """A large book on two or more workers: CP-SAT on the bound, the LP-guided search on the plan.

    One thread runs CP-SAT on the whole model with all workers but one (its default search: with
    the move-count cuts in the model, national's bound reached 154.7-154.8 points in 60 s, where
    the LP-bound tree search stayed at the LP's 153.7, loaded); meanwhile GLOP's LP
    relaxation guides ``core.rebalance.lns`` on the last worker (national's plan 157.7 -> 153.8
    points). The answer is the better plan of the two, with the better bound (CP-SAT's or the LP's).
    """
    solver = solver_for(max(deadline - time.perf_counter(), 1.0), workers - 1)
    bound_model = build.model.clone()  # its own copy: the search below edits its model's hint
    with ThreadPoolExecutor(max_workers=1) as pool:
        bound_search = pool.submit(solver.solve, bound_model)
        relaxation = lp_relaxation(build.model.proto, max(deadline - time.perf_counter(), 0.5))
        start_objective = objective_value(start)
        plan, objective = start, start_objective
        if relaxation.values is not None:
            found = improve(build, start, start_objective, relaxation, deadline, stop=bound_search.done)
            plan, objective = found.plan, found.objective
            log.info(
                "rebalance %s: LP-guided search %d steps, %d better",
                build.problem.scenario.name,
                found.steps,
                found.improved,
            )
        status = bound_search.result()
    _log_status(build.problem, solver, status, started)
    found_by_cp = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    bound = solver.best_objective_bound if found_by_cp else -math.inf
    if status != cp_model.OPTIMAL:
        bound = max(bound, _rounded_bound(relaxation))
    return _best_plan(build, solver if found_by_cp else None, plan, started, bound, objective)


def _log_status(
    problem: Problem, solver: cp_model.CpSolver, status: cp_model.CpSolverStatus, started: float
) -> None:
    log.info(
        "rebalance %s: %s in %.1fs",
        problem.scenario.name,
        solver.status_name(status),
        time.perf_counter() - started,
    )


def _infeasible(
    problem: Problem, started: float, limit: float, explain: bool, closest: Plan | None = None
) -> RebalanceResult:
    """A proven infeasible scenario: why, and the smallest relaxation, within the time left."""
    if not explain:
        return no_plan("INFEASIBLE", time.perf_counter() - started, (), Plan.today(problem))
    why = diagnose(problem, time_limit_s=started + limit - time.perf_counter(), closest=closest)
    return _diagnosed(problem, why, started, limit, proven=True, relax=True)


def _diagnosed(
    problem: Problem, why: Diagnosis, started: float, limit: float, *, proven: bool, relax: bool
) -> RebalanceResult:
    """No plan, said in words; a what-if whose band cannot hold goes on under the tightest band
    (``relax``; the relaxed solve itself does not relax again)."""
    what_if = problem.scenario.what_if if relax else None
    if (
        what_if is not None
        and why.rule == "potential_band"
        and why.relaxed is None
        and (what_if.vacated or what_if.added)
    ):
        band = tightest_band(problem, time_limit_s=(started + limit - time.perf_counter()) / 2)
        why = why if band is None else replace(band, explanation=why.explanation)
    if (
        what_if is not None
        and why.relaxed is not None
        and why.plan is not None
        and (what_if.vacated or what_if.added)
    ):
        return _relaxed_what_if(problem, why, started, limit)
    status = "INFEASIBLE" if proven or why.proven else "UNKNOWN"
    return no_plan(
        status, time.perf_counter() - started, why.explanation, Plan.today(problem), why.relaxation
    )


def _relaxed_what_if(problem: Problem, why: Diagnosis, started: float, limit: float) -> RebalanceResult:
    """The what-if solved under the tightest band a plan meets (from ``why.plan``), saying so."""
    assert why.relaxed is not None and why.plan is not None
    relaxed = replace(problem, scenario=why.relaxed)
    remaining = started + limit - time.perf_counter()
    result = solve(relaxed, time_limit_s=remaining, hint=why.plan, explain=False) if remaining >= 2 else None
    plan = plan_of(relaxed, result.assignment) if result is not None and result.has_plan else why.plan
    if result is None or not result.has_plan:
        result = plan_result(plan, status="FEASIBLE", objective=objective_value(plan) / POINT)
    leaving = ", ".join(problem.scenario.what_if.vacated) or "the added rep"
    note = (
        f"The band cannot hold with this what-if ({leaving}): {why.explanation[0]} "
        "This plan keeps every other rule under the tightest band a plan meets instead.",
        *why.relaxation,
    )
    return replace(result, relaxation=note, wall_time_s=time.perf_counter() - started)


def _rounded_bound(relaxation: Relaxation) -> float:
    """The relaxation's optimum rounded up (the objective is integral); -inf when not solved."""
    if relaxation.bound is None:
        return -math.inf
    return math.ceil(relaxation.bound - 1e-6 * max(1.0, abs(relaxation.bound)))


def _best_plan(
    build: Build,
    solver: cp_model.CpSolver | None,
    valid_start: Plan | None,
    started: float,
    bound: float,
    start_objective: float | None = None,
) -> RebalanceResult:
    """The better of CP-SAT's plan and the valid start it was hinted with, with the proven bound.

    The start is kept when the search found nothing better (or nothing at all) within the time:
    the hint seeds CP-SAT's search but is not always read back as a solution.
    """
    plan, objective = None, math.inf
    if solver is not None:
        plan, objective = build.plan(solver), solver.objective_value
        broken = broken_rules(plan)
        if broken:  # the two halves of a rule disagree: a bug to report, loudly
            log.error("the solver's plan breaks rules by the plan check: %s", "; ".join(broken))
    if start_objective is None:
        start_objective = objective_value(valid_start) if valid_start is not None else math.inf
    if start_objective < objective:
        plan, objective = valid_start, start_objective
    assert plan is not None  # the caller passes a solver with a solution or a valid start
    bound = min(bound, objective)  # a bound above the objective can only be round-off
    known = math.isfinite(bound)
    return plan_result(
        plan,
        status="OPTIMAL" if bound >= objective else "FEASIBLE",
        objective=objective / POINT,
        best_bound=bound / POINT if known else None,
        gap=relative_gap(objective, bound) if known else None,
        wall_time_s=time.perf_counter() - started,
        objective_terms=objective_terms(plan),
    )
