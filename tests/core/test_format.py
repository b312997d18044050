"""The formatting module on hand-worked values: one way to write money, counts, shares and dates."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from core.format import (
    DASH,
    count,
    day_label,
    moment_label,
    money,
    month_label,
    number,
    pct,
    points,
    risk_words,
    seconds,
    solver_words,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "$0"),
        (920, "$920"),
        (999.4, "$999"),
        (999.6, "$1.0K"),  # rounds up into thousands
        (9_000, "$9.0K"),  # one decimal under $10K
        (9_950, "$10K"),  # whole thousands from $10K: never "$10.0K"
        (200_000, "$200K"),
        (640_000, "$640K"),  # not "$640.0K"
        (800_000, "$800K"),  # not "$800k"
        (500_000, "$500K"),  # not "$0.5M"
        (999_499, "$999K"),
        (999_960, "$1.0M"),  # not "$1000K"
        (4_240_000, "$4.2M"),
        (1_260_000_000, "$1.3B"),
        (-640_000, "-$640K"),
    ],
)
def test_money_picks_one_scale_per_size(value, text):
    assert money(value) == text


@pytest.mark.parametrize("formatter", [money, count, pct, points, number, seconds, month_label, day_label])
def test_a_missing_value_reads_as_a_dash(formatter):
    assert formatter(None) == DASH
    if formatter not in (month_label, day_label):
        assert formatter(float("nan")) == DASH


def test_counts_shares_points_and_indices():
    assert count(5850) == "5,850" and count(5850.0) == "5,850"
    assert pct(0.834) == "83%" and pct(0.0123, 1) == "1.2%"
    assert points(3.14) == "+3.1 pts" and points(-30.44) == "-30.4 pts"
    assert number(1.23456) == "1.23"  # indices: two decimals, never four


def test_months_carry_their_year():
    assert month_label(date(2026, 3, 14)) == "Mar 2026"
    assert month_label(datetime(2025, 12, 1, 8, 30)) == "Dec 2025"
    assert month_label("2026-01-01") == "Jan 2026"
    assert day_label(date(2026, 11, 23)) == "2026-11-23"
    assert moment_label(datetime(2026, 11, 23, 9, 5)) == "2026-11-23 09:05"


def test_codes_read_as_words():
    assert solver_words("OPTIMAL") == "best possible plan"
    assert solver_words("FEASIBLE").startswith("good plan")
    assert solver_words("SOMETHING_NEW") == "something new" and solver_words(None) == DASH
    assert risk_words(("large_revenue", "long_tenure")) == "large revenue, long-held account"
    assert "_" not in risk_words(("open_opportunity", "unheard_of"))
