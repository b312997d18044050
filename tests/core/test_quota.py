"""Quota as of a date and quota transfers: hand-worked cases and the conservation property."""

from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.quota import adjustment_rows, pace_of, quota_as_of, quota_transfers

Q1 = (date(2026, 1, 1), date(2026, 3, 31))  # 90 days


def _quotas(*rows):
    return pd.DataFrame(rows, columns=["rep_id", "period_start", "period_end", "amount"])


def _adjustments(*rows):
    return pd.DataFrame(rows, columns=["rep_id", "period_start", "effective_date", "amount"])


TERRITORIES = pd.DataFrame({"territory_id": [1, 2, 3], "owner_rep_id": [10, 20, None]})
ACCOUNTS = pd.DataFrame(
    {
        "account_id": [100, 101, 102, 200],
        "territory_id": [1, 1, 1, 2],
        "potential": [100.0, 200.0, 300.0, 50.0],
        "revenue_ttm": [10.0, 0.0, 30.0, 5.0],
    }
)
QUOTAS = _quotas((10, *Q1, 900.0), (20, *Q1, 600.0))


def test_quota_and_expected_without_adjustments():
    position = quota_as_of(QUOTAS, _adjustments(), date(2026, 2, 14))  # day 45 of 90
    assert position.at[10, "quota"] == 900.0
    assert position.at[10, "expected"] == pytest.approx(450.0)
    assert pace_of(position, date(2026, 2, 14)).loc[10] == pytest.approx(0.5)


def test_transfer_hand_worked_by_potential():
    # effective 15 Feb (day 46): 45 days elapsed, remaining 900 * 45/90 = 450;
    # account 101 is 200 of rep 10's 600 potential: 1/3 of 450 = 150 moves to rep 20.
    moves = pd.DataFrame({"account_id": [101], "from_territory_id": [1], "to_territory_id": [2]})
    [t] = quota_transfers(
        moves, ACCOUNTS, TERRITORIES, QUOTAS, _adjustments(), effective_date=date(2026, 2, 15)
    )
    assert (t.from_rep_id, t.to_rep_id, t.amount, t.skipped) == (10, 20, 150.0, None)
    assert t.share == pytest.approx(1 / 3) and t.remaining == pytest.approx(450.0)


def test_transfer_by_revenue_and_none():
    moves = pd.DataFrame({"account_id": [100], "from_territory_id": [1], "to_territory_id": [2]})
    [t] = quota_transfers(
        moves,
        ACCOUNTS,
        TERRITORIES,
        QUOTAS,
        _adjustments(),
        effective_date=date(2026, 2, 15),
        method="revenue",
    )
    assert t.amount == pytest.approx(450 * 10 / 40)  # 112.50
    assert (
        quota_transfers(
            moves,
            ACCOUNTS,
            TERRITORIES,
            QUOTAS,
            _adjustments(),
            effective_date=date(2026, 2, 15),
            method="none",
        )
        == []
    )


def test_adjusted_quota_and_pace_after_the_transfer():
    adj = _adjustments((10, Q1[0], date(2026, 2, 15), -150.0), (20, Q1[0], date(2026, 2, 15), 150.0))
    before = quota_as_of(QUOTAS, adj, date(2026, 2, 14))
    assert before.at[10, "quota"] == 900.0 and before.at[20, "quota"] == 600.0  # not yet in force
    on = quota_as_of(QUOTAS, adj, date(2026, 2, 15))
    assert on.at[10, "quota"] == 750.0 and on.at[20, "quota"] == 750.0
    # last day: everything expected, pace 1 for both
    end = quota_as_of(QUOTAS, adj, date(2026, 3, 31))
    assert pace_of(end, date(2026, 3, 31)).tolist() == pytest.approx([1.0, 1.0])
    assert end["expected"].tolist() == pytest.approx([750.0, 750.0])


def test_vacant_gaining_territory_moves_no_quota():
    moves = pd.DataFrame({"account_id": [100], "from_territory_id": [1], "to_territory_id": [3]})
    [t] = quota_transfers(
        moves, ACCOUNTS, TERRITORIES, QUOTAS, _adjustments(), effective_date=date(2026, 2, 15)
    )
    assert t.amount == 0 and t.skipped == "the gaining territory is vacant"
    assert adjustment_rows([t], effective_date=date(2026, 2, 15)) == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([100, 101, 102, 200]), st.sampled_from([1, 2])), max_size=4),
    st.dates(min_value=Q1[0], max_value=Q1[1]),
    st.sampled_from(["potential", "revenue"]),
)
def test_team_quota_is_conserved_to_the_cent(picks, day, method):
    owner = ACCOUNTS.set_index("account_id")["territory_id"]
    moves = pd.DataFrame(
        [(a, owner[a], t) for a, t in dict(picks).items() if owner[a] != t],
        columns=["account_id", "from_territory_id", "to_territory_id"],
    )
    transfers = quota_transfers(
        moves, ACCOUNTS, TERRITORIES, QUOTAS, _adjustments(), effective_date=day, method=method
    )
    rows = adjustment_rows(transfers, effective_date=day)
    assert round(sum(r["amount"] for r in rows), 2) == 0.0
    after = quota_as_of(
        QUOTAS, pd.DataFrame(rows, columns=["rep_id", "period_start", "effective_date", "amount"]), day
    )
    assert round(after["quota"].sum(), 2) == 1500.0
    assert (after["quota"] >= -0.005).all()
