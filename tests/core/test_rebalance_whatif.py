"""What-ifs: a rep leaves (their whole book moves, within the other limits) and a rep is added."""

from __future__ import annotations

from datetime import date

import pytest

from core.rebalance import Scenario, broken_rules, build_problem, frontier, solve
from core.rebalance.result import plan_of
from tests.rebalance_factories import synthetic_frames

AS_OF = date(2025, 6, 15)


@pytest.fixture(scope="module")
def book():
    return synthetic_frames(80, 5, seed=3, as_of=AS_OF, states=("AZ",))


def test_a_rep_leaves_and_their_whole_book_moves(book) -> None:
    """T002 is vacated: all its accounts (locked ones too) go elsewhere; the 25% book-share limit
    binds the other books but not T002's; the move budget counts the vacated book."""
    accounts, territories = book
    vacated_book = int((accounts["territory_id"] == 2).sum())
    scenario = Scenario.model_validate(
        {
            "what_if": {"vacated": ["T002"]},
            "constraints": {"churn": {"max_book_share": 0.25, "max_moves": vacated_book + 6}},
        }
    )
    problem = build_problem(accounts, territories, scenario, as_of=AS_OF)
    result = solve(problem)
    assert result.status in ("OPTIMAL", "FEASIBLE")
    after = {t.territory: t.after for t in result.territories}
    assert after["T002"].accounts == 0 and after["T002"].potential_index is None
    assert sum(m.from_territory == "T002" for m in result.moves) == vacated_book
    assert all(m.to_territory != "T002" for m in result.moves)
    assert "T002's rep leaves (what-if)" in next(m.reason for m in result.moves if m.from_territory == "T002")
    assert len(result.moves) <= vacated_book + 6
    assert broken_rules(plan_of(problem, result.assignment)) == []
    # the team after has four territories; its mean is the whole book over four
    indices = [t.after.potential_index for t in result.territories if t.after.potential_index is not None]
    assert len(indices) == 4 and sum(indices) == pytest.approx(4.0, abs=1e-3)


def test_a_vacated_book_larger_than_the_move_budget_is_explained(book) -> None:
    accounts, territories = book
    scenario = Scenario.model_validate(
        {"what_if": {"vacated": ["T002"]}, "constraints": {"churn": {"max_moves": 3}}}
    )
    result = solve(build_problem(accounts, territories, scenario, as_of=AS_OF))
    assert result.status == "INFEASIBLE"
    assert any("rep leaves" in line for line in result.explanation)
    assert "at most 3 accounts move in total" in result.explanation


def test_a_rep_is_added_at_a_home_location(book) -> None:
    """A new rep in the middle of the book takes accounts near home; the team grows to six."""
    accounts, territories = book
    scenario = Scenario.model_validate(
        {
            "what_if": {
                "added": [
                    {
                        "territory": "NEW-1",
                        "name": "New rep",
                        "home_lat": float(accounts["lat"].mean()),
                        "home_lon": float(accounts["lon"].mean()),
                        "state": "AZ",
                    }
                ]
            },
            "constraints": {"potential": {"share": 0.5}},
            "time_limit_s": 3.0,
        }
    )
    problem = build_problem(accounts, territories, scenario, as_of=AS_OF)
    result = solve(problem)
    new = next(t for t in result.territories if t.territory == "NEW-1")
    assert new.before.accounts == 0 and new.before.potential_index is None
    assert new.after.accounts > 0 and 0.5 <= new.after.potential_index <= 1.5
    assert all(m.to_territory == "NEW-1" or m.from_territory != "NEW-1" for m in result.moves)
    assert result.team_after.out_of_band <= result.team_before.out_of_band + 1


def test_frontier_balance_improves_with_the_budget(book) -> None:
    """Each budget starts from the previous plan, so the objective never gets worse as the budget grows."""
    accounts, territories = book
    scenario = Scenario.model_validate({"constraints": {"potential": {"share": 0.05}}, "time_limit_s": 2.0})
    problem = build_problem(accounts, territories, scenario, as_of=AS_OF)
    points = frontier(problem, [10, 0, 2, 5])
    assert [p.budget for p in points] == [0, 2, 5, 10]
    assert points[0].moves == 0 and points[0].gap == 0
    assert all(p.moves <= p.budget for p in points)
    objectives = [p.objective for p in points]
    assert all(later <= earlier + 1e-9 for earlier, later in zip(objectives, objectives[1:], strict=False))
    assert points[-1].cv < points[0].cv
