"""Account-level definitions (DESIGN.md "Definitions"): the one home of every per-account number.

The KPI job, the optimizer's problem frames, the dashboard loaders, the sample books and the
alerts all call these functions; nothing else computes them, so two screens cannot show two
numbers for the same account.

* **revenue_ttm**: revenue of the 12 complete months before ``as_of``'s month.
* **baseline forecast** (history alone, no Prophet), with the fallbacks the forecaster uses:
  churned accounts (no revenue in the last ``CHURN_MONTHS`` complete months after earlier revenue)
  forecast zero; accounts whose first revenue is less than a year back forecast their mean month
  times twelve; the rest their trailing twelve months. No history: zero.
* **potential** = ``forecast_12m + whitespace_weight × max(wallet − forecast_12m, 0)``, the
  forecast never negative, a missing wallet counting as none.
* **wallet**: the imported wallet estimate, else 3% of the firm's annual revenue, else $1,000 per
  employee, else none; never below the account's own forecast (it cannot spend more with us than
  its wallet).
* **potential with its fallback** (one rule): an account's potential is the current forecast run's
  when it has one; an account without one (no forecast run yet, or added since the last run) gets
  the potential of its baseline forecast. ``potential_source`` says which (``forecast`` or
  ``baseline``).
* **tier**: strategic flag or revenue_ttm above the strategic threshold → strategic; at or above
  the key threshold → key; below the long-tail threshold → long_tail; else standard.
* **workload_hours** = touch hours by tier + travel hours (visits a month by tier × round trip from
  the territory's home / driving speed). One rule for a territory without a home (vacant, or its
  rep has no coordinates): it is measured from the centroid of its accounts. An account without
  coordinates, or in no territory, has no travel.
* **distance**: great-circle (haversine) km.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from core.config import Settings
from core.months import add_months, month_start

CHURN_MONTHS = 3
# The revenue months a caller reads to compute revenue_ttm and the baseline forecast, together with
# ``first_revenue_month`` over the whole history: the trailing year and the churn rule's 3 months.
BASELINE_REVENUE_MONTHS = 15
EARTH_RADIUS_KM = 6371.0088
TIERS = ("strategic", "key", "standard", "long_tail")


# --------------------------------------------------------------------------- revenue and forecast


def trailing_revenue(revenue: pd.DataFrame, *, as_of: date, months: int = 12) -> pd.Series:
    """Revenue of the last ``months`` complete months before ``as_of``'s month, per account_id."""
    cutoff = pd.Timestamp(month_start(as_of))
    start = pd.Timestamp(add_months(month_start(as_of), -months))
    month = pd.to_datetime(revenue["month"])
    window = (month >= start) & (month < cutoff)
    return revenue.loc[window, "amount"].groupby(revenue.loc[window, "account_id"]).sum()


def first_revenue_month(revenue: pd.DataFrame) -> pd.Series:
    """The first month with positive revenue per account_id (first-of-month Timestamps)."""
    positive = revenue[revenue["amount"] > 0]
    return pd.to_datetime(positive["month"]).groupby(positive["account_id"]).min()


def baseline_forecast_12m(
    revenue: pd.DataFrame, *, as_of: date, first_month: pd.Series | None = None
) -> pd.Series:
    """Forecast of the next 12 months per account from history alone (no Prophet).

    ``revenue`` has columns account_id, month (first-of-month dates), amount; only complete months
    before ``as_of``'s month count. A caller that reads only a recent window of revenue passes
    ``first_month`` (``first_revenue_month`` of the whole history) so the short-history rule sees
    where each history really starts. Returns a Series indexed by account_id; accounts with no
    history are absent (their forecast is 0).
    """
    cutoff = pd.Timestamp(month_start(as_of))
    months = pd.to_datetime(revenue["month"])
    known = revenue.loc[months < cutoff].copy()
    if known.empty:
        return pd.Series(dtype=float)
    known["month_index"] = _month_index(pd.to_datetime(known["month"]))
    last_index = _month_index(pd.Series([cutoff])).iloc[0] - 1
    positive = known[known["amount"] > 0]
    first = positive.groupby("account_id")["month_index"].min()
    if first_month is not None:
        earlier = first_month[pd.to_datetime(first_month) < cutoff]
        first = first.combine(_month_index(pd.to_datetime(earlier)), min, fill_value=np.inf)
        first = first[first.index.isin(positive["account_id"])]
    last = positive.groupby("account_id")["month_index"].max()
    ttm = known[known["month_index"] > last_index - 12].groupby("account_id")["amount"].sum()
    frame = pd.DataFrame({"first": first, "last": last}).join(ttm.rename("ttm")).fillna({"ttm": 0.0})
    span = (last_index - frame["first"] + 1).clip(lower=1)
    short_mean = known.groupby("account_id")["amount"].sum().reindex(frame.index) / span
    forecast = np.where(span < 12, short_mean * 12, frame["ttm"])
    churned = frame["last"] <= last_index - CHURN_MONTHS
    result = pd.Series(np.where(churned, 0.0, forecast), index=frame.index, dtype=float)
    return result.reindex(known["account_id"].unique(), fill_value=0.0).clip(lower=0.0)


def _month_index(months: pd.Series) -> pd.Series:
    return months.dt.year * 12 + months.dt.month - 1


# --------------------------------------------------------------------------- potential


def account_potential(
    forecast_12m: pd.Series | np.ndarray | float,
    wallet: pd.Series | np.ndarray | float,
    whitespace_weight: float,
):  # type: ignore[no-untyped-def]
    """``forecast_12m + whitespace_weight × max(wallet − forecast_12m, 0)`` (vectorised).

    A negative forecast counts as zero and a missing wallet as no whitespace.
    """
    forecast = np.maximum(np.asarray(forecast_12m, dtype=float), 0.0)
    wallet_arr = np.nan_to_num(np.asarray(wallet, dtype=float), nan=0.0)
    result = forecast + whitespace_weight * np.maximum(wallet_arr - forecast, 0.0)
    if isinstance(forecast_12m, pd.Series):
        return pd.Series(result, index=forecast_12m.index)
    return result


FIRMOGRAPHIC_REVENUE_SHARE = 0.03  # share of a firm's annual revenue taken as its wallet
WALLET_PER_EMPLOYEE = 1_000.0


def account_wallet(accounts: pd.DataFrame, forecast_12m: pd.Series) -> pd.Series:
    """The wallet per account (see the module docstring); ``forecast_12m`` aligned with ``accounts``.

    ``accounts`` has wallet_estimate and, when known, annual_revenue and employees.
    """
    imported = pd.to_numeric(accounts["wallet_estimate"], errors="coerce").astype(float)
    by_revenue = _column(accounts, "annual_revenue") * FIRMOGRAPHIC_REVENUE_SHARE
    by_employees = _column(accounts, "employees") * WALLET_PER_EMPLOYEE
    wallet = imported.fillna(by_revenue).fillna(by_employees).fillna(0.0)
    return np.maximum(wallet, forecast_12m.astype(float))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[name], errors="coerce").astype(float)


def potential_with_fallback(
    accounts: pd.DataFrame,
    *,
    forecast_potential: pd.Series,
    revenue: pd.DataFrame,
    as_of: date,
    whitespace_weight: float,
    first_month: pd.Series | None = None,
) -> pd.DataFrame:
    """``potential`` and ``potential_source`` per account (rows and index of ``accounts``).

    ``accounts`` has account_id and the wallet columns (``account_wallet``); ``forecast_potential``
    is the current forecast run's potential by account_id (empty before the first run; NaN counts
    as missing). Accounts without one get the potential of their baseline forecast.
    """
    from_forecast = accounts["account_id"].map(forecast_potential.dropna()).astype(float)
    missing = from_forecast.isna()
    potential = from_forecast.copy()
    if missing.any():
        baseline = baseline_forecast_12m(revenue, as_of=as_of, first_month=first_month)
        forecast_12m = accounts.loc[missing, "account_id"].map(baseline).fillna(0.0)
        wallet = account_wallet(accounts.loc[missing], forecast_12m)
        potential[missing] = account_potential(forecast_12m, wallet, whitespace_weight)
    source = pd.Series(np.where(missing, "baseline", "forecast"), index=accounts.index)
    return pd.DataFrame({"potential": potential.astype(float), "potential_source": source})


# --------------------------------------------------------------------------- tier and workload


def account_tier(revenue_ttm: pd.Series, strategic: pd.Series, settings: Settings) -> pd.Series:
    """strategic | key | standard | long_tail from the strategic flag and trailing-12-month revenue."""
    flagged = strategic.eq(True).fillna(False).astype(bool)  # None / NA: not flagged
    is_strategic = flagged | (revenue_ttm > settings.strategic_revenue_threshold)
    tier = np.select(
        [
            is_strategic,
            revenue_ttm >= settings.key_revenue_threshold,
            revenue_ttm < settings.long_tail_revenue_threshold,
        ],
        ["strategic", "key", "long_tail"],
        default="standard",
    )
    return pd.Series(tier, index=revenue_ttm.index)


def touch_hours(tier: pd.Series, settings: Settings) -> pd.Series:
    """Touch hours a month by tier."""
    return tier.map({t: getattr(settings, f"touch_hours_{t}") for t in TIERS}).astype(float)


def visits_per_month(tier: pd.Series, settings: Settings) -> pd.Series:
    """On-site visits a month by tier (the travel part of workload)."""
    return tier.map({t: getattr(settings, f"visits_per_month_{t}") for t in TIERS}).astype(float)


def haversine_km(lat1, lon1, lat2, lon2):  # type: ignore[no-untyped-def]
    """Great-circle distance in km, element-wise and broadcasting like numpy (NaN where missing).

    Series in, Series out; arrays or floats in, arrays out.
    """
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    dphi, dlmb = phi2 - phi1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def territory_homes(territories: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """home_lat / home_lon per territory_id: the rep's home, else the centroid of its accounts.

    ``territories`` has territory_id, home_lat, home_lon; ``accounts`` territory_id, lat, lon.
    A territory with neither keeps NaN (its accounts have no coordinates, so no travel either).
    """
    centroid = accounts.groupby("territory_id")[["lat", "lon"]].mean()
    frame = territories.set_index("territory_id")[["home_lat", "home_lon"]].astype(float)
    return pd.DataFrame(
        {
            "home_lat": frame["home_lat"].fillna(centroid["lat"].reindex(frame.index)),
            "home_lon": frame["home_lon"].fillna(centroid["lon"].reindex(frame.index)),
        }
    )


def account_workload(accounts: pd.DataFrame, homes: pd.DataFrame, settings: Settings) -> pd.Series:
    """Hours a month per account: touch hours by tier + visits × round trip from the home / speed.

    ``accounts`` has territory_id, lat, lon and tier; ``homes`` is ``territory_homes``.
    """
    km = haversine_km(
        accounts["lat"].astype(float),
        accounts["lon"].astype(float),
        accounts["territory_id"].map(homes["home_lat"]).astype(float),
        accounts["territory_id"].map(homes["home_lon"]).astype(float),
    )
    travel = visits_per_month(accounts["tier"], settings) * 2.0 * km / settings.travel_speed_kmh
    return touch_hours(accounts["tier"], settings) + travel.fillna(0.0)


# --------------------------------------------------------------------------- all of them


def account_measures(
    accounts: pd.DataFrame,
    territories: pd.DataFrame,
    *,
    revenue: pd.DataFrame,
    forecast_potential: pd.Series,
    as_of: date,
    settings: Settings,
    first_month: pd.Series | None = None,
) -> pd.DataFrame:
    """revenue_ttm, potential, potential_source, tier and workload_hours per account.

    ``accounts``: account_id, territory_id, lat, lon, strategic, wallet_estimate (rows kept in
    order, index kept); ``territories``: territory_id, home_lat, home_lon. See the module docstring.
    """
    ttm = accounts["account_id"].map(trailing_revenue(revenue, as_of=as_of)).fillna(0.0).astype(float)
    potential = potential_with_fallback(
        accounts,
        forecast_potential=forecast_potential,
        revenue=revenue,
        as_of=as_of,
        whitespace_weight=settings.whitespace_weight,
        first_month=first_month,
    )
    tier = account_tier(ttm, accounts["strategic"], settings)
    located = accounts[["territory_id", "lat", "lon"]].assign(tier=tier)
    workload = account_workload(located, territory_homes(territories, accounts), settings)
    return pd.DataFrame(
        {
            "revenue_ttm": ttm,
            "potential": potential["potential"],
            "potential_source": potential["potential_source"],
            "tier": tier,
            "workload_hours": workload,
        },
        index=accounts.index,
    )
