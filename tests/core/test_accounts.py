"""The account-level definitions (core.accounts), worked by hand, and the invariants callers rely on."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.accounts import (
    BASELINE_REVENUE_MONTHS,
    account_measures,
    account_wallet,
    baseline_forecast_12m,
    first_revenue_month,
    haversine_km,
    potential_with_fallback,
    territory_homes,
    trailing_revenue,
)
from core.config import Settings
from core.months import add_months

AS_OF = date(2026, 11, 23)  # complete months end with October 2026


def revenue(account_id: int, amounts: list[float], *, last: date = date(2026, 10, 1)) -> pd.DataFrame:
    """Monthly rows ending at ``last`` (oldest first)."""
    months = [add_months(last, k - len(amounts) + 1) for k in range(len(amounts))]
    return pd.DataFrame({"account_id": account_id, "month": months, "amount": amounts})


def test_trailing_revenue_takes_the_twelve_complete_months_before_the_month():
    """13 months of 1k ending October 2026, plus November (incomplete): TTM = Nov 2025..Oct 2026 = 12k."""
    rows = pd.concat([revenue(1, [1_000.0] * 13), revenue(1, [5_000.0], last=date(2026, 11, 1))])
    assert trailing_revenue(rows, as_of=AS_OF).loc[1] == pytest.approx(12_000.0)


@pytest.mark.parametrize(
    ("amounts", "expected", "why"),
    [
        ([1_000.0] * 24, 12_000.0, "full history: the trailing year"),
        ([2_000.0] * 6, 24_000.0, "6 months of history: mean month × 12"),
        ([1_000.0] * 20 + [0.0] * 4, 0.0, "no revenue in the last 3+ months: churned"),
        ([1_000.0] * 22 + [0.0] * 2, 10_000.0, "2 quiet months: not churned, the trailing year"),
    ],
)
def test_baseline_forecast_rules(amounts, expected, why):
    assert baseline_forecast_12m(revenue(1, amounts), as_of=AS_OF).loc[1] == pytest.approx(expected), why


def test_a_window_with_the_first_month_gives_the_full_history_answer():
    """Revenue 20 months back, a gap, then the last 10 months: the whole history says 'long history'
    (the trailing year, 10k); a 15-month window alone would think it started 10 months ago (12k)."""
    full = revenue(1, [500.0] + [0.0] * 9 + [1_000.0] * 10)
    window = full[pd.to_datetime(full["month"]) >= pd.Timestamp(add_months(AS_OF, -BASELINE_REVENUE_MONTHS))]
    assert baseline_forecast_12m(full, as_of=AS_OF).loc[1] == pytest.approx(10_000.0)
    assert baseline_forecast_12m(window, as_of=AS_OF).loc[1] == pytest.approx(12_000.0)
    fixed = baseline_forecast_12m(window, as_of=AS_OF, first_month=first_revenue_month(full))
    assert fixed.loc[1] == pytest.approx(10_000.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from([0.0, 0.0, 100.0, 2_500.0]), min_size=1, max_size=40), min_size=1, max_size=6
    ),
    st.integers(min_value=0, max_value=6),
)
def test_window_plus_first_month_equals_whole_history(histories, months_back):
    """The KPI job and the Map loader read a 15-month window and the first revenue month; the
    optimizer reads everything. Both must give every account the same baseline forecast."""
    last = add_months(AS_OF, -1 - months_back)
    rows = pd.concat([revenue(i, amounts, last=last) for i, amounts in enumerate(histories)])
    window = rows[pd.to_datetime(rows["month"]) >= pd.Timestamp(add_months(AS_OF, -BASELINE_REVENUE_MONTHS))]
    whole = baseline_forecast_12m(rows, as_of=AS_OF)
    windowed = baseline_forecast_12m(window, as_of=AS_OF, first_month=first_revenue_month(rows))
    ids = sorted(set(whole.index) | set(windowed.index))
    assert whole.reindex(ids, fill_value=0.0).to_numpy() == pytest.approx(
        windowed.reindex(ids, fill_value=0.0).to_numpy()
    )


def test_potential_uses_the_forecast_when_there_is_one_else_the_baseline():
    """A1 has a forecast potential 90k; A2 none: 24 months of 5k → 60k + 0.3 × (100k − 60k) = 72k;
    A3 none and no wallet but 2M annual revenue → wallet 60k, forecast 0 (no history) → 18k."""
    accounts = pd.DataFrame(
        {
            "account_id": [1, 2, 3],
            "wallet_estimate": [50_000.0, 100_000.0, np.nan],
            "annual_revenue": [np.nan, np.nan, 2_000_000.0],
        }
    )
    rows = pd.concat([revenue(1, [1.0] * 24), revenue(2, [5_000.0] * 24)])
    result = potential_with_fallback(
        accounts,
        forecast_potential=pd.Series({1: 90_000.0}),
        revenue=rows,
        as_of=AS_OF,
        whitespace_weight=0.3,
    )
    assert result["potential"].tolist() == pytest.approx([90_000.0, 72_000.0, 18_000.0])
    assert result["potential_source"].tolist() == ["forecast", "baseline", "baseline"]


def test_wallet_falls_back_to_firmographics_and_never_below_the_forecast():
    accounts = pd.DataFrame(
        {
            "wallet_estimate": [10_000.0, np.nan, np.nan, np.nan],
            "annual_revenue": [np.nan, 1_000_000.0, np.nan, np.nan],
            "employees": [np.nan, 5.0, 40.0, np.nan],
        }
    )
    wallet = account_wallet(accounts, pd.Series([20_000.0, 0.0, 0.0, 0.0]))
    assert wallet.tolist() == [20_000.0, 30_000.0, 40_000.0, 0.0]


def test_a_territory_without_a_home_is_measured_from_its_accounts_centroid():
    """T1 has a home at (33, -112); T2 none: its accounts at (34, -111) and (36, -111) → centroid (35, -111).
    A standard account at T2's (36, -111) is 111.2 km north of the centroid: 1.5 h touch +
    0.25 visits × 2 × 111.2 km / 60 km/h = 1.5 + 0.927 h."""
    territories = pd.DataFrame(
        {"territory_id": [1, 2], "home_lat": [33.0, np.nan], "home_lon": [-112.0, np.nan]}
    )
    accounts = pd.DataFrame(
        {
            "account_id": [1, 2, 3],
            "territory_id": [1, 2, 2],
            "lat": [33.0, 34.0, 36.0],
            "lon": [-112.0, -111.0, -111.0],
            "strategic": [False, False, False],
            "wallet_estimate": [0.0, 0.0, 0.0],
        }
    )
    homes = territory_homes(territories, accounts)
    assert homes.loc[2].tolist() == [35.0, -111.0]
    rows = pd.concat([revenue(i, [5_000.0] * 12) for i in (1, 2, 3)])  # 60k a year: standard tier
    measures = account_measures(
        accounts,
        territories,
        revenue=rows,
        forecast_potential=pd.Series(dtype=float),
        as_of=AS_OF,
        settings=Settings(),
    )
    km = float(haversine_km(36.0, -111.0, 35.0, -111.0))
    assert km == pytest.approx(111.19, abs=0.01)
    assert measures["tier"].tolist() == ["standard"] * 3
    assert measures["workload_hours"].iloc[2] == pytest.approx(1.5 + 0.25 * 2 * km / 60.0)
    assert measures["workload_hours"].iloc[0] == pytest.approx(1.5)  # at the rep's home: no travel
