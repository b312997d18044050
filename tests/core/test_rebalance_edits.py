"""A plan's move-by-move edits as hard rules: pinned accounts end in their pin, rejected moves are
not made; checked by hand, against brute force, and for the sentences a conflict prints."""

from __future__ import annotations

import pytest

from core.rebalance import POINT, Plan, Scenario, broken_rules, build_problem, objective_value, solve
from core.rebalance.result import plan_of
from core.rebalance.validate import ScenarioError
from tests.core.test_rebalance_model import AS_OF, brute_force, tiny

POTENTIALS, OWNERS = [40, 30, 20, 10, 5, 15], [1, 1, 1, 1, 2, 3]


def edited(edits: dict, **sections: object) -> Scenario:
    return Scenario.model_validate({"candidates": 3, "edits": edits, **sections})


def moves_of(result) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(m.account, m.to_territory) for m in result.moves}


def test_a_rejected_move_is_not_made_and_balance_is_found_around_it() -> None:
    """Unedited (test_rebalance_model.test_hand_worked_balance): A1 (40) -> T2, A3 (20) and A5 (5)
    -> T3, three moves, every territory at 40. Rejecting A1 -> T2: T1 still keeps {30, 10}; the 40
    can only go to T3 (alone 40, so T3's 15 leaves), and T2 reaches 40 with 5 + 15 + 20 (A6 and A3
    join it): again three moves and no deviation, objective 0.3 points."""
    accounts, territories = tiny(POTENTIALS, OWNERS)
    problem = build_problem(accounts, territories, edited({"forbidden": [["A1", "T2"]]}), as_of=AS_OF)
    result = solve(problem)
    assert moves_of(result) == {("A1", "T3"), ("A3", "T2"), ("A6", "T2")}
    assert {t.territory: t.after.potential for t in result.territories} == {"T1": 40, "T2": 40, "T3": 40}
    assert result.objective == pytest.approx(0.3, abs=0.01)


def test_a_pinned_account_stays_and_a_manual_move_is_made() -> None:
    """Pinning A1 to T1 (its own) keeps it home; pinning A5 to T1 moves it there even though
    balance would send it nowhere: the plan holds both, and brute force agrees on the optimum."""
    accounts, territories = tiny(POTENTIALS, OWNERS)
    problem = build_problem(accounts, territories, edited({"pins": {"A1": "T1", "A5": "T1"}}), as_of=AS_OF)
    result = solve(problem)
    owner = result.assignment
    assert owner["A1"] == "T1" and owner["A5"] == "T1" and ("A5", "T1") in moves_of(result)
    expected, _ = brute_force(problem)
    assert round(result.objective * POINT) == expected


ORACLE_EDITS = {
    "reject one move": {"forbidden": [["A1", "T2"]]},
    "reject every way out of T1 but one": {"forbidden": [["A1", "T2"], ["A1", "T3"], ["A2", "T3"]]},
    "pin home and pin away": {"pins": {"A1": "T1", "A2": "T3"}},
    "pin and reject": {"pins": {"A4": "T2"}, "forbidden": [["A3", "T3"], ["A6", "T2"]]},
}


@pytest.mark.parametrize("case", ORACLE_EDITS)
@pytest.mark.parametrize("limits", [{}, {"constraints": {"churn": {"max_moves": 3}}}])
def test_edited_optimum_equals_brute_force(case: str, limits: dict) -> None:
    """Under edits (and the same churn limit), the solver's optimum is the enumerated one, and
    its plan keeps every edit."""
    accounts, territories = tiny(POTENTIALS, OWNERS)
    problem = build_problem(accounts, territories, edited(ORACLE_EDITS[case], **limits), as_of=AS_OF)
    expected, feasible = brute_force(problem)
    result = solve(problem)
    assert feasible > 0 and result.status == "OPTIMAL"
    plan = plan_of(problem, result.assignment)
    assert objective_value(plan) == expected and broken_rules(plan) == []
    for account, territory in ORACLE_EDITS[case].get("pins", {}).items():
        assert result.assignment[account] == territory
    for account, territory in ORACLE_EDITS[case].get("forbidden", []):
        assert result.assignment[account] != territory


def test_a_pin_moves_an_account_out_of_a_territory_the_scope_leaves_alone() -> None:
    accounts, territories = tiny(POTENTIALS, OWNERS)
    scenario = edited({"pins": {"A4": "T2"}}, scope={"kind": "territories", "territories": ["T2", "T3"]})
    result = solve(build_problem(accounts, territories, scenario, as_of=AS_OF))
    assert ("A4", "T2") in moves_of(result)
    assert all(m.account == "A4" or m.from_territory != "T1" for m in result.moves)


def test_the_plan_check_names_a_broken_edit() -> None:
    accounts, territories = tiny(POTENTIALS, OWNERS)
    problem = build_problem(
        accounts, territories, edited({"pins": {"A2": "T3"}, "forbidden": [["A1", "T2"]]}), as_of=AS_OF
    )
    owner = problem.accounts["territory"].to_numpy().copy()
    owner[0] = 1  # A1 -> T2, A2 stays in T1
    assert broken_rules(Plan(problem, owner)) == [
        "account A2 moves to T3 (Territory 3) (a planner's edit): it ends in T1",
        "account A1 may not go to T2 (Territory 2) (a rejected move): it goes there",
    ]


def test_a_pin_that_breaks_a_lock_is_explained() -> None:
    accounts, territories = tiny(POTENTIALS, OWNERS, locked=[False, True, False, False, False, False])
    result = solve(build_problem(accounts, territories, edited({"pins": {"A2": "T3"}}), as_of=AS_OF))
    assert result.status == "INFEASIBLE"
    text = " ".join(result.explanation)
    assert "account A2 moves to T3" in text and "locked" in text


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ({"pins": {"NOPE": "T1"}}, "edits.pins: unknown account NOPE"),
        ({"pins": {"A1": "T9"}}, "edits.pins: unknown territory T9"),
        ({"forbidden": [["A1", "T9"]]}, "edits.forbidden: unknown territory T9"),
        ({"forbidden": [["A1", "T1"]]}, "edits.forbidden: A1 -> T1 forbids the territory the account is in"),
    ],
)
def test_edits_naming_what_the_book_lacks_are_refused_in_one_line(edits: dict, message: str) -> None:
    accounts, territories = tiny(POTENTIALS, OWNERS)
    with pytest.raises(ScenarioError, match=message) as raised:
        build_problem(accounts, territories, edited(edits), as_of=AS_OF)
    assert "\n" not in str(raised.value)


def test_a_pin_to_a_leaving_rep_is_refused() -> None:
    accounts, territories = tiny(POTENTIALS, OWNERS)
    scenario = edited({"pins": {"A1": "T2"}}, what_if={"vacated": ["T2"]})
    with pytest.raises(ScenarioError, match="pins to a territory whose rep leaves"):
        build_problem(accounts, territories, scenario, as_of=AS_OF)


def test_pinned_and_forbidden_at_once_is_refused() -> None:
    with pytest.raises(ValueError, match="A1 -> T2 is both pinned and forbidden"):
        edited({"pins": {"A1": "T2"}, "forbidden": [["A1", "T2"]]})


def test_edits_round_trip_through_toml_and_stay_out_when_absent() -> None:
    scenario = edited({"pins": {"SW-A001": "SW-T002"}, "forbidden": [["SW-A003", "SW-T001"]]})
    assert Scenario.from_toml(scenario.to_toml()) == scenario
    assert "edits" not in Scenario().to_toml()
