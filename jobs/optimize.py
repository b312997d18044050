"""Optimize job: load today's book from the database -> rebalance problem -> CP-SAT -> (draft plan).

Potential comes from the current forecast run when there is one, else from the baseline forecast
(trailing revenue with the churn and short-history rules); workload by the DESIGN.md tiers plus
travel from the owner's home. Frames are in the shape ``core.rebalance.build_problem`` reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from core.config import get_settings
from core.plans import assignments_fingerprint, save_plan
from core.potential import account_potential, baseline_forecast_12m, trailing_revenue
from core.queries import load_accounts, load_opportunities, load_potentials, load_revenue, load_territories
from core.rebalance import FrontierPoint, Problem, RebalanceResult, Scenario, build_problem, frontier, solve
from core.rebalance.book import _workload as account_workload
from core.rebalance.validate import check_scenario


@dataclass(frozen=True)
class OptimizeRun:
    problem: Problem
    result: RebalanceResult
    fingerprint: str  # the assignments the result was computed on


def problem_frames(engine: Engine, *, as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accounts, territories) of today's book, keyed by database ids, with external ids beside."""
    settings = get_settings()
    accounts = load_accounts(engine=engine)
    accounts = accounts[accounts["territory_id"].notna()].copy()
    territories = load_territories(engine=engine)
    revenue = load_revenue(engine=engine)
    ttm = trailing_revenue(revenue, as_of=as_of)
    potentials = load_potentials(engine=engine).set_index("account_id")["potential"]
    if potentials.empty:
        forecast = accounts["account_id"].map(baseline_forecast_12m(revenue, as_of=as_of)).fillna(0.0)
        potential = account_potential(
            forecast, accounts["wallet_estimate"].fillna(0.0), settings.whitespace_weight
        )
    else:
        potential = accounts["account_id"].map(potentials).fillna(0.0)
    opportunities = load_opportunities(engine=engine)
    open_deals = set(opportunities.loc[opportunities["status"] == "open", "account_id"])
    states = accounts.groupby("territory_id")["state"].agg(lambda s: "|".join(sorted(set(s.dropna()))))
    territory_frame = pd.DataFrame(
        {
            "territory_id": territories["territory_id"],
            "external_id": territories["external_id"],
            "name": territories["name"],
            "region": territories["region"],
            "owner_rep_id": territories["owner_rep_id"],
            "rep_name": territories["rep_name"],
            "rep_external_id": territories["rep_external_id"],
            "home_lat": territories["home_lat"].astype(float),
            "home_lon": territories["home_lon"].astype(float),
            "specialties": territories["specialties"].fillna("").str.replace(",", "|"),
            "capacity_hours": territories["capacity_hours"]
            .astype(float)
            .fillna(settings.default_capacity_hours),
            "states": territories["territory_id"].map(states).fillna(""),
        }
    )
    account_frame = pd.DataFrame(
        {
            "account_id": accounts["account_id"].astype(int),
            "external_id": accounts["external_id"],
            "territory_id": accounts["territory_id"].astype(int),
            "lat": accounts["lat"].astype(float),
            "lon": accounts["lon"].astype(float),
            "state": accounts["state"],
            "industry": accounts["industry"],
            "segment": accounts["segment"],
            "potential": np.asarray(potential, dtype=float),
            "revenue_ttm": accounts["account_id"].map(ttm).fillna(0.0).to_numpy(),
            "strategic": accounts["strategic"].astype(bool),
            "locked": accounts["locked"].astype(bool),
            "owned_since": pd.to_datetime(accounts["owned_since"]),
            "last_moved_at": pd.to_datetime(accounts["last_moved_at"]),
            "open_opportunity": accounts["account_id"].isin(open_deals).to_numpy(),
        }
    )
    account_frame["workload_hours"] = account_workload(account_frame, territory_frame, settings)
    return account_frame, territory_frame


def load_problem(engine: Engine, scenario: Scenario, *, as_of: date | None = None) -> Problem:
    as_of = as_of or date.today()
    accounts, territories = problem_frames(engine, as_of=as_of)
    check_scenario(scenario, territories)
    return build_problem(accounts, territories, scenario, as_of=as_of, settings=get_settings())


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


def churn_frontier(
    run: OptimizeRun, budgets: list[int], *, time_limit_s: float | None = None
) -> list[FrontierPoint]:
    return frontier(run.problem, budgets, time_limit_s=time_limit_s)
