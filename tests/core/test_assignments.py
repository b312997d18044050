"""The territory in force for an account on a day (core/assignments.py): hand-worked cases and a property."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.assignments import territory_on

NAN = float("nan")


def moves_frame(rows: list[tuple[int, float | None, float | None, date]]) -> pd.DataFrame:
    """History rows (account, from, to, effective date) in recorded order."""
    return pd.DataFrame(
        rows, columns=["account_id", "from_territory_id", "to_territory_id", "effective_date"]
    )


def on(current: dict[int, float], moves: pd.DataFrame, day: date) -> list[float]:
    return territory_on(pd.Series(current, dtype=float), moves, list(current), day).tolist()


def same(got: list[float], want: list[float]) -> bool:
    return np.array_equal(np.array(got, dtype=float), np.array(want, dtype=float), equal_nan=True)


@pytest.mark.parametrize(
    ("day", "want"),
    [
        (date(2026, 3, 31), 10.0),  # the day before the effective date: the old territory
        (date(2026, 4, 1), 20.0),  # the effective date is the new owner's first day
        (date(2026, 4, 30), 20.0),
        (date(2026, 5, 1), 30.0),  # second move
        (date(2027, 1, 1), 30.0),
    ],
)
def test_moves_are_undone_after_the_day(day, want):
    """A1 moved 10 → 20 on 04-01 and 20 → 30 on 05-01; today it is in 30."""
    moves = moves_frame([(1, 10, 20, date(2026, 4, 1)), (1, 20, 30, date(2026, 5, 1))])
    assert on({1: 30.0}, moves, day) == [want]


def test_no_history_keeps_the_current_territory():
    assert on({1: 10.0, 2: NAN}, moves_frame([]), date(2020, 1, 1)) == pytest.approx([10.0, NAN], nan_ok=True)


def test_a_new_account_extends_backwards():
    """A1 placed in 10 by an import on 03-01 (no from): before 03-01 it is still in 10."""
    moves = moves_frame([(1, None, 10, date(2026, 3, 1))])
    assert on({1: 10.0}, moves, date(2025, 1, 1)) == [10.0]


def test_a_move_out_and_back_in():
    """A1 placed in 10 (01-01), out to none (02-01), assigned to 40 (03-01): 10, none, 40."""
    moves = moves_frame(
        [(1, None, 10, date(2026, 1, 1)), (1, 10, None, date(2026, 2, 1)), (1, None, 40, date(2026, 3, 1))]
    )
    assert on({1: 40.0}, moves, date(2026, 1, 31)) == [10.0]
    assert same(on({1: 40.0}, moves, date(2026, 2, 15)), [NAN])
    assert on({1: 40.0}, moves, date(2026, 3, 1)) == [40.0]


def test_an_account_moved_out_is_unassigned_today_but_counted_before():
    moves = moves_frame([(1, 10, None, date(2026, 6, 1))])
    assert on({1: NAN}, moves, date(2026, 5, 31)) == [10.0]
    assert same(on({1: NAN}, moves, date(2026, 6, 1)), [NAN])


def test_moves_on_the_same_day_keep_their_recorded_order():
    """An import moved A1 10 → 20 and a plan 20 → 30, both effective 04-01: the day before, 10."""
    moves = moves_frame([(1, 10, 20, date(2026, 4, 1)), (1, 20, 30, date(2026, 4, 1))])
    assert on({1: 30.0}, moves, date(2026, 3, 31)) == [10.0]
    assert on({1: 30.0}, moves, date(2026, 4, 1)) == [30.0]


def test_one_day_per_account():
    """Pairs: each account asked on its own day (a deal's close date); result aligned with the input."""
    moves = moves_frame([(1, 10, 20, date(2026, 4, 1)), (2, 10, 30, date(2026, 2, 1))])
    current = pd.Series({1: 20.0, 2: 30.0})
    days = [date(2026, 3, 31), date(2026, 4, 1), date(2026, 1, 31), date(2026, 2, 1)]
    got = territory_on(current, moves, [1, 1, 2, 2], days)
    assert got.tolist() == [10.0, 20.0, 10.0, 30.0]


# --------------------------------------------------------------------------- property

START = date(2026, 1, 1)


@st.composite
def histories(draw):
    """Per account a chain of states (a territory 1-4 or none) with non-decreasing effective days,
    written as history rows the way imports and plans write them (from = the state before)."""
    accounts = draw(st.integers(1, 6))
    rows, truth = [], {}
    for account in range(1, accounts + 1):
        first = draw(st.sampled_from([1.0, 2.0, 3.0, 4.0]))
        placed = draw(st.integers(0, 60))
        states = [(START + timedelta(days=placed), first)]
        rows.append((account, None, first, states[0][0]))  # placement of a new account
        day = placed
        for _ in range(draw(st.integers(0, 5))):
            day += draw(st.integers(0, 40))
            to = draw(st.sampled_from([1.0, 2.0, 3.0, 4.0, None]))
            rows.append((account, states[-1][1], to, START + timedelta(days=day)))
            states.append((START + timedelta(days=day), NAN if to is None else to))
        truth[account] = states
    return rows, truth


def in_force(states: list[tuple[date, float]], day: date) -> float:
    """The oracle: the last state effective on or before the day; the first one before any."""
    value = states[0][1]
    for effective, state in states:
        if effective <= day:
            value = state
    return value


@settings(max_examples=150, deadline=None)
@given(histories(), st.lists(st.integers(-10, 300), min_size=1, max_size=8))
def test_every_account_is_in_exactly_one_territory_on_every_day(history, offsets):
    """Whatever the history, each (account, day) gets one value: the state the chain had that day."""
    rows, truth = history
    moves = moves_frame([(a, f, t, d) for a, f, t, d in rows])
    current = pd.Series({a: states[-1][1] for a, states in truth.items()}, dtype=float)
    for offset in offsets:
        day = START + timedelta(days=offset)
        got = territory_on(current, moves, list(truth), day)
        assert len(got) == len(truth)
        want = [in_force(truth[a], day) for a in truth]
        assert same(got.tolist(), want), (day, got.tolist(), want)
        assert got.dropna().isin([1.0, 2.0, 3.0, 4.0]).all()
