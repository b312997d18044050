"""Infeasible scenarios say which rules conflict, in words (never just "INFEASIBLE")."""

from __future__ import annotations

from datetime import date

from core.rebalance import Scenario, build_problem, conflicting_families, solve
from tests.rebalance_factories import frames

AS_OF = date(2025, 6, 15)


def two_territories(locked: list[bool]) -> tuple:
    """T1 (AZ) holds accounts A1-A3, T2 (NM) holds A4; potentials 10 each."""
    rows = [
        {
            "potential": 10.0,
            "territory_id": 1,
            "state": "AZ",
            "lat": 33.4,
            "lon": -112.0,
            "locked": locked[0],
        },
        {
            "potential": 10.0,
            "territory_id": 1,
            "state": "AZ",
            "lat": 33.5,
            "lon": -112.1,
            "locked": locked[1],
        },
        {
            "potential": 10.0,
            "territory_id": 1,
            "state": "AZ",
            "lat": 33.6,
            "lon": -112.2,
            "locked": locked[2],
        },
        {"potential": 10.0, "territory_id": 2, "state": "NM", "lat": 35.1, "lon": -106.6},
    ]
    return frames(
        accounts=rows,
        territories=[
            {"home_lat": 33.45, "home_lon": -112.07, "states": "AZ"},
            {"home_lat": 35.08, "home_lon": -106.65, "states": "NM"},
        ],
    )


def test_locks_against_an_account_cap_name_both_rules() -> None:
    """T1 has three locked accounts but may hold at most two: the lock and T1's cap conflict.
    T2's cap is not part of the conflict (T2 could hold two)."""
    accounts, territories = two_territories([True, True, True])
    scenario = Scenario.model_validate({"constraints": {"accounts": {"max": 2}}})
    problem = build_problem(accounts, territories, scenario, as_of=AS_OF)
    result = solve(problem)
    assert result.status == "INFEASIBLE"
    assert result.explanation[0] == "These rules cannot all hold together:"
    assert set(result.explanation[1:]) == {
        "accounts flagged as locked stay with their territory (3 accounts in scope)",
        "T1 (Territory 1): at most 2 accounts",
    }
    assert conflicting_families(problem) == {"locked", "max_accounts"}


def test_state_lines_against_the_band() -> None:
    """Balance needs an AZ account in NM (T1 has 30 of 40, band ±20% of 20), which state lines forbid."""
    accounts, territories = two_territories([False, False, False])
    scenario = Scenario.model_validate({"constraints": {"state_lines": True, "potential": {"share": 0.2}}})
    problem = build_problem(accounts, territories, scenario, as_of=AS_OF)
    families = conflicting_families(problem)
    assert "state_lines" in families
    assert families <= {"state_lines", "potential_band"}
    assert solve(problem).status == "INFEASIBLE"


def test_churn_limit_against_the_band() -> None:
    accounts, territories = two_territories([False, False, False])
    scenario = Scenario.model_validate(
        {"constraints": {"potential": {"share": 0.2}, "churn": {"max_moves": 0}}}
    )
    problem = build_problem(accounts, territories, scenario, as_of=AS_OF)
    assert conflicting_families(problem) == {"max_moves", "potential_band"}
    result = solve(problem)
    assert "at most 0 accounts move in total" in result.explanation


def test_too_few_candidates_is_said_so() -> None:
    """Three territories in a row; T3 needs an account of T1's, but each account only sees its nearest."""
    rows = [{"potential": 10.0, "territory_id": 1, "lat": 33.0, "lon": -112.0 + 0.01 * i} for i in range(3)]
    accounts, territories = frames(
        accounts=rows,
        territories=[
            {"home_lat": 33.0, "home_lon": -112.0},
            {"home_lat": 33.0, "home_lon": -111.0},
            {"home_lat": 33.0, "home_lon": -100.0},
        ],
    )
    scenario = Scenario.model_validate({"candidates": 1, "constraints": {"accounts": {"min": 1}}})
    result = solve(build_problem(accounts, territories, scenario, as_of=AS_OF))
    assert result.status == "INFEASIBLE"
    assert "raise `candidates`" in result.explanation[0]
