"""Acceptance on the sample books of DESIGN.md "Scenarios from the field" with the shipped scenarios."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.rebalance import Scenario, broken_rules, solve
from core.rebalance.book import problem_from_book
from core.rebalance.result import plan_of
from core.sample import generate_book

AS_OF = date(2025, 6, 15)
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

pytestmark = pytest.mark.slow


def run(name: str, **changes: object):  # type: ignore[no-untyped-def]
    scenario = Scenario.from_toml(SCENARIOS / f"{name}.toml").with_changes(**changes)
    problem = problem_from_book(generate_book(name, as_of=AS_OF), scenario)
    result = solve(problem)
    assert result.status in ("OPTIMAL", "FEASIBLE"), result.explanation
    assert broken_rules(plan_of(problem, result.assignment)) == []
    return problem, result


def moved_accounts(problem, result) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return problem.accounts.set_index("external_id").loc[[m.account for m in result.moves]]


def test_southwest_bands_strategic_specialists_and_state_lines() -> None:
    problem, result = run("southwest")
    for change in result.territories:
        assert 4_000_000 * 0.999 <= change.after.potential <= 5_000_000 * 1.001, change
        assert 35 <= change.after.accounts <= 40, change
    moved = moved_accounts(problem, result)
    assert not (moved["revenue_ttm"] > 200_000).any()  # strategic accounts stay
    states = problem.territories.set_index("external_id")["states"]
    assert all(
        state in states[m.to_territory] for m, state in zip(result.moves, moved["state"], strict=False)
    )
    owner = result.assignment
    industry = problem.accounts.set_index("external_id")["industry"]
    for territory in problem.territories.loc[problem.territories["specialties"].map(bool), "external_id"]:
        book = industry[owner[owner == territory].index]
        assert (book == "Healthcare").mean() >= 0.5
    large = moved["revenue_ttm"] >= 100_000
    assert all(("large_revenue" in m.risks) == flag for m, flag in zip(result.moves, large, strict=False))
    assert result.team_after.out_of_band == 0 and result.team_after.cv < result.team_before.cv


def test_midmarket_band_focus_and_fewer_multi_state_books() -> None:
    problem, result = run("midmarket")
    for change in result.territories:
        assert 2_000_000 * 0.999 <= change.after.potential <= 2_500_000 * 1.001, change
    industry = problem.accounts.set_index("external_id")["industry"]
    for territory, accounts in result.assignment.groupby(result.assignment).groups.items():
        shares = industry[accounts].value_counts(normalize=True)
        assert shares.iloc[:3].sum() >= 0.6, territory
    assert result.team_after.multi_state <= result.team_before.multi_state
    moved = moved_accounts(problem, result)
    for move, (_, account) in zip(result.moves, moved.iterrows(), strict=False):
        assert ("large_revenue" in move.risks) == (account["revenue_ttm"] >= 200_000)
        assert ("long_tenure" in move.risks) == bool(account["risk_long_tenure"])


def test_national_band_book_share_and_top_accounts_within_ten_seconds() -> None:
    problem, result = run("national", time_limit_s=10.0)
    indices = np.array([c.after.potential_index for c in result.territories])
    assert np.all(np.abs(indices - 1) <= 0.10 + 1e-3)
    moved = moved_accounts(problem, result)
    books = problem.accounts["territory_id"].value_counts()
    out = moved["territory_id"].value_counts()
    assert (out <= np.floor(0.2 * books.reindex(out.index) + 1e-9)).all()
    top = problem.accounts.nlargest(int(np.ceil(0.1 * len(problem.accounts))), "revenue_ttm")["external_id"]
    assert not set(top) & set(moved.index)
