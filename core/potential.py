"""Account potential (DESIGN.md): ``forecast_12m + whitespace_weight * max(wallet - forecast_12m, 0)``.

Before the forecast job has run, ``baseline_forecast_12m`` stands in for the Prophet forecast with
the same fallbacks the forecaster uses: churned accounts (no revenue in the last three complete
months after earlier revenue) forecast zero, accounts with less than a year of history forecast
their mean month times twelve, the rest their trailing twelve months.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

CHURN_MONTHS = 3


def month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def account_potential(
    forecast_12m: pd.Series | np.ndarray | float,
    wallet: pd.Series | np.ndarray | float,
    whitespace_weight: float = 0.3,
):  # type: ignore[no-untyped-def]
    """Potential of accounts from their 12-month forecast and wallet (vectorised)."""
    forecast = np.maximum(np.asarray(forecast_12m, dtype=float), 0.0)
    wallet_arr = np.nan_to_num(np.asarray(wallet, dtype=float), nan=0.0)
    result = forecast + whitespace_weight * np.maximum(wallet_arr - forecast, 0.0)
    if isinstance(forecast_12m, pd.Series):
        return pd.Series(result, index=forecast_12m.index)
    return result


def baseline_forecast_12m(revenue: pd.DataFrame, *, as_of: date) -> pd.Series:
    """Forecast of the next 12 months per account from history alone (no Prophet).

    ``revenue`` has columns account_id, month (first-of-month dates), amount. Only complete months
    before ``as_of``'s month count. Returns a Series indexed by account_id; accounts with no history
    are absent (their forecast is 0).
    """
    cutoff = month_start(as_of)
    months = pd.to_datetime(revenue["month"])
    known = revenue.loc[months < pd.Timestamp(cutoff)].copy()
    if known.empty:
        return pd.Series(dtype=float)
    known["month_index"] = _month_index(pd.to_datetime(known["month"]))
    last_index = _month_index(pd.Series([pd.Timestamp(cutoff)])).iloc[0] - 1
    positive = known[known["amount"] > 0]
    first = positive.groupby("account_id")["month_index"].min()
    last = positive.groupby("account_id")["month_index"].max()
    ttm = known[known["month_index"] > last_index - 12].groupby("account_id")["amount"].sum()
    frame = pd.DataFrame({"first": first, "last": last}).join(ttm.rename("ttm")).fillna({"ttm": 0.0})
    span = (last_index - frame["first"] + 1).clip(lower=1)
    short_mean = known.groupby("account_id")["amount"].sum().reindex(frame.index) / span
    forecast = np.where(span < 12, short_mean * 12, frame["ttm"])
    churned = frame["last"] <= last_index - CHURN_MONTHS
    result = pd.Series(np.where(churned, 0.0, forecast), index=frame.index, dtype=float)
    return result.reindex(known["account_id"].unique(), fill_value=0.0).clip(lower=0.0)


def trailing_revenue(revenue: pd.DataFrame, *, as_of: date, months: int = 12) -> pd.Series:
    """Revenue of the last ``months`` complete months before ``as_of``'s month, per account."""
    cutoff = pd.Timestamp(month_start(as_of))
    start = pd.Timestamp(add_months(month_start(as_of), -months))
    month = pd.to_datetime(revenue["month"])
    window = revenue.loc[(month >= start) & (month < cutoff)]
    return window.groupby("account_id")["amount"].sum()


def _month_index(months: pd.Series) -> pd.Series:
    return months.dt.year * 12 + months.dt.month - 1
