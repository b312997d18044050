"""A targeted rebalance of a 50,000-account, 200-territory custom book (slow: about two minutes)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.rebalance import Scenario, broken_rules, solve
from core.rebalance.book import problem_from_book
from core.rebalance.result import plan_of
from core.sample import generate_book

TARGETED = Path(__file__).resolve().parents[2] / "scenarios" / "targeted.toml"


@pytest.mark.slow
def test_custom_50000_accounts_200_territories_gets_a_targeted_plan() -> None:
    """Out-of-band territories and their two nearest neighbours are in scope; every one ends in band."""
    book = generate_book("custom", reps=200, accounts=50_000, as_of=date(2025, 6, 15))
    problem = problem_from_book(book, Scenario.from_toml(TARGETED))
    assert 0 < problem.territories["in_scope"].sum() < 200
    result = solve(problem)
    assert result.status in ("OPTIMAL", "FEASIBLE"), result.explanation
    assert result.team_before.out_of_band > 0 and result.team_after.out_of_band == 0
    assert broken_rules(plan_of(problem, result.assignment)) == []
    untouched = ~problem.territories["in_scope"]
    before = {c.territory: c.before.accounts for c in result.territories}
    after = {c.territory: c.after.accounts for c in result.territories}
    assert all(before[t] == after[t] for t in problem.territories.loc[untouched, "external_id"])
