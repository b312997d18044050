"""Churn-limited rebalancing of territories with CP-SAT (DESIGN.md "Rebalance scenario").

Pure frames in, results out; no database here. Typical use::

    scenario = Scenario.from_toml("scenarios/southwest.toml")
    problem = build_problem(accounts, territories, scenario, as_of=day)
    result = solve(problem)
    result.to_json_dict()
"""

from core.rebalance.constraints import FAMILIES, broken_rules
from core.rebalance.explain import conflicting_families, explain_infeasibility
from core.rebalance.frontier import Frontier, FrontierPoint, frontier
from core.rebalance.greedy import greedy
from core.rebalance.objective import POINT, objective_value
from core.rebalance.plan import Plan
from core.rebalance.problem import Problem, build_problem
from core.rebalance.result import Move, RebalanceResult, TeamMetrics, TerritoryChange, TerritoryMetrics
from core.rebalance.scenario import Scenario
from core.rebalance.solve import solve

__all__ = [
    "FAMILIES",
    "POINT",
    "Frontier",
    "FrontierPoint",
    "Move",
    "Plan",
    "Problem",
    "RebalanceResult",
    "Scenario",
    "TeamMetrics",
    "TerritoryChange",
    "TerritoryMetrics",
    "broken_rules",
    "build_problem",
    "conflicting_families",
    "explain_infeasibility",
    "frontier",
    "greedy",
    "objective_value",
    "solve",
]
