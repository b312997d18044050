"""What a rebalance returns: moves with reasons and risks, before/after per territory and team.

``plan_result(plan, status=...)`` turns any plan (the solver's, the greedy baseline's, today's)
into a ``RebalanceResult``; ``to_json_dict()`` is the shape stored with a plan and shown by the
CLI and the page (external ids only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from core.format import money
from core.kpis import coefficient_of_variation, max_min_ratio, quartile_ratio
from core.rebalance.plan import Plan
from core.rebalance.problem import Problem

RISKS = ("large_revenue", "open_opportunity", "long_tenure")


@dataclass(frozen=True)
class Move:
    account: str
    from_territory: str
    to_territory: str
    reason: str
    risks: tuple[str, ...] = ()

    def to_json_dict(self) -> dict[str, object]:
        return {
            "account": self.account,
            "from": self.from_territory,
            "to": self.to_territory,
            "reason": self.reason,
            "risks": list(self.risks),
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> Move:
        """The move ``to_json_dict`` wrote."""
        return cls(
            account=str(data["account"]),
            from_territory=str(data["from"]),
            to_territory=str(data["to"]),
            reason=str(data.get("reason", "")),
            risks=tuple(data.get("risks") or ()),
        )


@dataclass(frozen=True)
class TerritoryMetrics:
    potential: float
    accounts: int
    workload_hours: float
    revenue_ttm: float
    potential_index: float | None


@dataclass(frozen=True)
class TerritoryChange:
    territory: str
    name: str
    before: TerritoryMetrics
    after: TerritoryMetrics

    def to_json_dict(self) -> dict[str, object]:
        return {
            "territory": self.territory,
            "name": self.name,
            "before": asdict(self.before),
            "after": asdict(self.after),
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> TerritoryChange:
        """The change ``to_json_dict`` wrote."""
        return cls(
            territory=str(data["territory"]),
            name=str(data.get("name", data["territory"])),
            before=metrics_from_json(TerritoryMetrics, data["before"]),
            after=metrics_from_json(TerritoryMetrics, data["after"]),
        )


@dataclass(frozen=True)
class TeamMetrics:
    cv: float | None
    max_min_ratio: float | None
    quartile_ratio: float | None
    out_of_band: int
    max_deviation: float | None  # largest |potential index - 1|
    multi_state: int  # territories whose book spans more than one state


Metrics = TypeVar("Metrics", TerritoryMetrics, TeamMetrics)


def metrics_from_json(cls: type[Metrics], data: Mapping[str, Any]) -> Metrics:
    """Metrics written by ``asdict``; a figure the writer did not have yet reads as None."""
    values: dict[str, Any] = {f.name: data.get(f.name) for f in fields(cls)}
    return cls(**values)


@dataclass(frozen=True)
class RebalanceResult:
    """A solve's outcome. ``objective`` and ``best_bound`` are in points (see ObjectiveWeights)."""

    status: str  # OPTIMAL | FEASIBLE | INFEASIBLE | UNKNOWN | MODEL_INVALID | HEURISTIC | CURRENT
    objective: float | None
    best_bound: float | None
    gap: float | None  # (objective - bound) / objective, a fraction
    wall_time_s: float
    moves: tuple[Move, ...] = ()
    territories: tuple[TerritoryChange, ...] = ()
    team_before: TeamMetrics | None = None
    team_after: TeamMetrics | None = None
    explanation: tuple[str, ...] = ()  # when no plan: why, in words
    # No plan: the smallest relaxation that would give one. A plan of a what-if that could not
    # hold as asked: the relaxation it was solved under (the tightest band a plan meets).
    relaxation: tuple[str, ...] = ()
    objective_terms: dict[str, float] = field(default_factory=dict)
    assignment: pd.Series | None = None  # account external id -> territory external id (whole book)

    @property
    def has_plan(self) -> bool:
        return self.status in ("OPTIMAL", "FEASIBLE", "HEURISTIC", "CURRENT")

    def to_json_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "objective": self.objective,
            "best_bound": self.best_bound,
            "gap": self.gap,
            "wall_time_s": round(self.wall_time_s, 3),
            "moves": [m.to_json_dict() for m in self.moves],
            "territories": [t.to_json_dict() for t in self.territories],
            "team": {
                "before": asdict(self.team_before) if self.team_before else None,
                "after": asdict(self.team_after) if self.team_after else None,
            },
            "explanation": list(self.explanation),
            "relaxation": list(self.relaxation),
            "objective_terms": dict(self.objective_terms),
        }


def no_plan(
    status: str,
    wall_time_s: float,
    explanation: tuple[str, ...],
    plan: Plan,
    relaxation: tuple[str, ...] = (),
) -> RebalanceResult:
    """A result without a plan: today's numbers before, none after, why, and what would give one."""
    today = team_metrics(plan, after=False)
    return RebalanceResult(
        status=status,
        objective=None,
        best_bound=None,
        gap=None,
        wall_time_s=wall_time_s,
        team_before=today,
        team_after=None,
        explanation=explanation,
        relaxation=relaxation,
    )


def plan_result(
    plan: Plan,
    *,
    status: str,
    objective: float | None = None,
    best_bound: float | None = None,
    gap: float | None = None,
    wall_time_s: float = 0.0,
    objective_terms: dict[str, float] | None = None,
) -> RebalanceResult:
    """The moves, the before/after numbers and the assignment of a plan."""
    today = Plan.today(plan.problem)
    return RebalanceResult(
        status=status,
        objective=objective,
        best_bound=best_bound,
        gap=gap,
        wall_time_s=wall_time_s,
        moves=tuple(_moves(today, plan)),
        territories=tuple(_territory_changes(today, plan)),
        team_before=team_metrics(today, after=False),
        team_after=team_metrics(plan, after=True),
        objective_terms=objective_terms or {},
        assignment=_assignment(plan),
    )


def plan_of(problem: Problem, assignment: pd.Series) -> Plan:
    """The plan behind a result's assignment (account external id -> territory external id)."""
    position = pd.Series(
        np.arange(len(problem.territories)), index=problem.territories["external_id"].to_numpy()
    )
    owners = assignment.reindex(problem.accounts["external_id"].to_numpy()).map(position)
    return Plan(problem, owners.to_numpy(dtype=np.int64))


def _assignment(plan: Plan) -> pd.Series:
    accounts, territories = plan.problem.accounts, plan.problem.territories
    return pd.Series(
        territories["external_id"].to_numpy()[plan.owner],
        index=accounts["external_id"].to_numpy(),
        name="territory",
    )


# --- metrics ---------------------------------------------------------------------------------


def team_positions(plan: Plan, *, after: bool) -> np.ndarray:
    """Territories that make up the team: today's (before) or the active ones (after)."""
    territories = plan.problem.territories
    mask = territories["active"] if after else ~territories["added"]
    return np.flatnonzero(mask.to_numpy())


def potential_index(plan: Plan, *, after: bool) -> np.ndarray:
    team = team_positions(plan, after=after)
    mean = plan.potential[team].mean() if len(team) else 0.0
    index = np.full(len(plan.potential), np.nan)
    if mean > 0:
        index[team] = plan.potential[team] / mean
    return index


def team_metrics(plan: Plan, *, after: bool) -> TeamMetrics:
    """CV, max/min and quartile ratios, out-of-band count and largest deviation of potential."""
    team = team_positions(plan, after=after)
    values = plan.potential[team]
    index = potential_index(plan, after=after)[team]
    deviation = np.abs(index - 1)
    states = plan.distinct_of(plan.problem.accounts["state"].fillna("").to_numpy())[team]
    return TeamMetrics(
        cv=coefficient_of_variation(values),
        max_min_ratio=max_min_ratio(values),
        quartile_ratio=quartile_ratio(values),
        out_of_band=int((deviation - plan.problem.band > 1e-9).sum()),
        max_deviation=float(np.nanmax(deviation)) if len(team) and not np.isnan(deviation).all() else None,
        multi_state=int((states > 1).sum()),
    )


def _territory_changes(today: Plan, plan: Plan) -> list[TerritoryChange]:
    territories = today.problem.territories
    before_index, after_index = potential_index(today, after=False), potential_index(plan, after=True)
    changes = []
    for t in range(len(territories)):
        changes.append(
            TerritoryChange(
                territory=str(territories["external_id"].iat[t]),
                name=str(territories["name"].iat[t]),
                before=_metrics(today, t, before_index[t]),
                after=_metrics(plan, t, after_index[t]),
            )
        )
    return changes


def _metrics(plan: Plan, t: int, index: float) -> TerritoryMetrics:
    return TerritoryMetrics(
        potential=float(plan.potential[t]),
        accounts=int(plan.counts[t]),
        workload_hours=round(float(plan.workload[t]), 2),
        revenue_ttm=float(plan.revenue[t]),
        potential_index=None if np.isnan(index) else round(float(index), 4),
    )


# --- moves -----------------------------------------------------------------------------------


def _moves(today: Plan, plan: Plan) -> list[Move]:
    problem = plan.problem
    accounts, territories = problem.accounts, problem.territories
    before, after = potential_index(today, after=False), potential_index(plan, after=True)
    moves = []
    for a in np.flatnonzero(plan.moved):
        source, target = int(today.owner[a]), int(plan.owner[a])
        moves.append(
            Move(
                account=str(accounts["external_id"].iat[a]),
                from_territory=str(territories["external_id"].iat[source]),
                to_territory=str(territories["external_id"].iat[target]),
                reason=_reason(problem, int(a), source, target, before, after, today, plan),
                risks=tuple(r for r in RISKS if accounts[f"risk_{r}"].iat[a]),
            )
        )
    return sorted(moves, key=lambda m: (m.from_territory, m.to_territory, m.account))


def _reason(
    problem: Problem,
    a: int,
    source: int,
    target: int,
    before: np.ndarray,
    after: np.ndarray,
    today: Plan,
    plan: Plan,
) -> str:
    """Why this account moves, in words: the what-if, the balance it buys, the travel it saves."""
    accounts, territories = problem.accounts, problem.territories
    label = territories["external_id"].to_numpy()
    parts = []
    if territories["vacated"].iat[source]:
        parts.append(f"{label[source]}'s rep leaves (what-if)")
    elif not np.isnan(before[source]) and not np.isnan(after[source]):
        parts.append(
            f"{label[source]} potential {money(today.potential[source])} "
            f"(index {before[source]:.2f}) -> {money(plan.potential[source])} ({after[source]:.2f})"
        )
    target_before = "new territory" if territories["added"].iat[target] else f"index {before[target]:.2f}"
    parts.append(
        f"{label[target]} {money(today.potential[target])} ({target_before}) -> "
        f"{money(plan.potential[target])} ({after[target]:.2f})"
    )
    industry = accounts["industry"].iat[a]
    if industry in territories["specialties"].iat[target]:
        parts.append(f"goes to a {industry} specialist")
    km_before, km_after = today.account_km[a], plan.account_km[a]
    if km_after < km_before - 1:
        parts.append(f"{km_after:.0f} km from the new rep's home instead of {km_before:.0f} km")
    return f"{money(accounts['potential'].iat[a])} potential; " + "; ".join(parts)
