"""Optimize job: load today's book from the database -> rebalance problem -> CP-SAT -> (draft plan).

Wiring only: the frames come from ``core.rebalance.frames.problem_frames`` (potential, revenue and
workload as ``core.accounts`` defines them, the same numbers the KPI job and the dashboard use).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.engine import Engine

from core.config import get_settings
from core.plans import assignments_fingerprint, save_plan
from core.queries import load_book_tables
from core.rebalance import Frontier, Problem, RebalanceResult, Scenario, build_problem, frontier, solve
from core.rebalance.frames import BookTables, problem_frames
from core.rebalance.hire import HirePlan, where_to_hire
from core.rebalance.validate import check_scenario


@dataclass(frozen=True)
class OptimizeRun:
    problem: Problem
    result: RebalanceResult
    fingerprint: str  # the assignments the result was computed on


def load_tables(engine: Engine) -> BookTables:
    """Today's book from the database, with the current forecast run's potentials."""
    return load_book_tables(engine=engine)


def load_problem(engine: Engine, scenario: Scenario, *, as_of: date | None = None) -> Problem:
    as_of = as_of or date.today()
    accounts, territories = problem_frames(load_tables(engine), as_of=as_of, settings=get_settings())
    check_scenario(scenario, territories)
    return build_problem(accounts, territories, scenario, as_of=as_of, settings=get_settings())


@dataclass(frozen=True)
class HireRun:
    plan: HirePlan
    run: OptimizeRun  # the what-if with the hires, as a run (frontier, map, tables)


def hire(
    engine: Engine,
    scenario: Scenario,
    k: int,
    *,
    as_of: date | None = None,
    time_limit_s: float | None = None,
) -> HireRun:
    """Where k new reps most improve balance and coverage on today's book (a what-if)."""
    fingerprint = assignments_fingerprint(engine)
    as_of = as_of or date.today()
    accounts, territories = problem_frames(load_tables(engine), as_of=as_of, settings=get_settings())
    plan = where_to_hire(
        accounts, territories, scenario, k, as_of=as_of, settings=get_settings(), time_limit_s=time_limit_s
    )
    return HireRun(plan, OptimizeRun(plan.problem, plan.result, fingerprint))


def optimize(
    engine: Engine, scenario: Scenario, *, as_of: date | None = None, time_limit_s: float | None = None
) -> OptimizeRun:
    """Solve a scenario on today's book (the fingerprint is taken before loading)."""
    fingerprint = assignments_fingerprint(engine)
    problem = load_problem(engine, scenario, as_of=as_of)
    return OptimizeRun(problem, solve(problem, time_limit_s=time_limit_s), fingerprint)


def save_run(engine: Engine, run: OptimizeRun, *, name: str, created_by: str | None = None) -> int:
    """Store a solved run as a draft plan; a what-if with an added rep cannot be applied, so is refused."""
    if not run.result.has_plan:
        raise ValueError(f"there is no plan to save: the solve ended {run.result.status}")
    if run.problem.scenario.what_if.added:
        raise ValueError(
            "a plan with an added rep is a what-if: import the new rep and territory first, "
            "then optimize again to get a plan that can be applied"
        )
    return save_plan(
        engine,
        name=name,
        scenario_toml=run.problem.scenario.to_toml(),
        result=run.result.to_json_dict(),
        fingerprint=run.fingerprint,
        created_by=created_by,
    )


def churn_frontier(run: OptimizeRun, budgets: list[int], *, time_limit_s: float | None = None) -> Frontier:
    return frontier(run.problem, budgets, time_limit_s=time_limit_s)
