"""The KPI inputs of a book as of a date: potentials known then and the forecast for the rest of the period.

``kpi_inputs(frames, as_of=d)`` is pure: it takes the frames the KPI job loaded (``BookFrames``) and
returns the ``core.kpis.KpiInputs`` of the snapshot at ``d``: today's assignment with the moves that
date it and the quota adjustments, so the KPIs count the assignment and quota in force at ``d``.
Potential is the current forecast run's when ``d`` is on or after that run's as-of date, else (a past
snapshot, the backfill) every account's baseline potential from revenue known at ``d``; an account
without a forecast gets its baseline potential either way (``core.accounts.potential_with_fallback``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from core.accounts import potential_with_fallback, trailing_revenue
from core.assignments import empty_moves, territory_on
from core.config import get_settings
from core.kpis import KpiInputs, empty_frame
from core.months import month_start


@dataclass(frozen=True)
class BookFrames:
    """Everything the KPI computation reads, loaded once (the backfill reuses it for every date)."""

    accounts: pd.DataFrame
    territories: pd.DataFrame
    revenue: pd.DataFrame
    activities: pd.DataFrame
    opportunities: pd.DataFrame
    quotas: pd.DataFrame
    potentials: pd.DataFrame
    forecasts: pd.DataFrame
    forecast_as_of: date | None
    first_revenue_month: pd.Series  # by account_id, over the whole history (revenue is a window)
    moves: pd.DataFrame = field(default_factory=empty_moves)  # core.queries.load_assignment_moves
    quota_adjustments: pd.DataFrame = field(default_factory=lambda: empty_frame("quota_adjustments"))


def kpi_inputs(frames: BookFrames, *, as_of: date) -> KpiInputs:
    """The KPI inputs as of a date: potentials known then and the forecast for the rest of the period."""
    accounts = frames.accounts
    use_forecast = frames.forecast_as_of is not None and as_of >= frames.forecast_as_of
    forecast_potential = frames.potentials.set_index("account_id")["potential"]
    potential = potential_with_fallback(
        accounts,
        forecast_potential=forecast_potential if use_forecast else forecast_potential.iloc[:0],
        revenue=frames.revenue,
        as_of=as_of,
        whitespace_weight=get_settings().whitespace_weight,
        first_month=frames.first_revenue_month,
    )["potential"]
    period_end = _period_end_by_account(frames, as_of=as_of)
    rest = _rest_of_period(frames, as_of=as_of, period_end=period_end, use_forecast=use_forecast)
    account_frame = accounts[
        ["account_id", "territory_id", "lat", "lon", "strategic", "wallet_estimate"]
    ].assign(potential=potential.to_numpy(), forecast_rest_of_period=rest.to_numpy())
    territories = frames.territories[
        ["territory_id", "owner_rep_id", "home_lat", "home_lon", "capacity_hours"]
    ]
    return KpiInputs(
        accounts=account_frame,
        territories=territories,
        revenue=frames.revenue,
        activities=frames.activities,
        opportunities=frames.opportunities,
        quotas=frames.quotas,
        moves=frames.moves,
        quota_adjustments=frames.quota_adjustments,
    )


def _period_end_by_account(frames: BookFrames, *, as_of: date) -> pd.Series:
    quotas = frames.quotas
    current = quotas[(quotas["period_start"] <= as_of) & (quotas["period_end"] >= as_of)]
    end_by_rep = current.groupby("rep_id")["period_end"].max()
    accounts = frames.accounts
    territory = territory_on(
        accounts.set_index("account_id")["territory_id"], frames.moves, accounts["account_id"], as_of
    )  # the territory in force on as_of, as the KPIs count it
    owner = territory.map(frames.territories.set_index("territory_id")["owner_rep_id"])
    return pd.Series(owner.map(end_by_rep).to_numpy(), index=accounts.index)


def _rest_of_period(
    frames: BookFrames, *, as_of: date, period_end: pd.Series, use_forecast: bool
) -> pd.Series:
    """Expected revenue from as_of to the end of each account's quota period (0 without a period).

    Whole forecast months after as_of's month count fully; the current month counts for its
    remaining share of days.
    """
    months_left = period_end.map(lambda end: _months_between(as_of, end) if isinstance(end, date) else np.nan)
    current_share = 1 - (as_of.day - 1) / pd.Timestamp(as_of).days_in_month
    if use_forecast and not frames.forecasts.empty:
        forecasts = frames.forecasts.merge(
            pd.DataFrame({"account_id": frames.accounts["account_id"], "end": period_end}), on="account_id"
        )
        this_month = month_start(as_of)
        ahead = forecasts[(forecasts["month"] > this_month) & forecasts["end"].notna()]
        ahead = ahead[ahead["month"] <= ahead["end"]]
        current = forecasts[forecasts["month"] == this_month].set_index("account_id")["yhat"] * current_share
        total = ahead.groupby("account_id")["yhat"].sum().add(current, fill_value=0.0)
        return frames.accounts["account_id"].map(total).fillna(0.0).where(months_left.notna(), 0.0)
    monthly = trailing_revenue(frames.revenue, as_of=as_of) / 12
    rate = frames.accounts["account_id"].map(monthly).fillna(0.0)
    return (rate * (months_left + current_share)).fillna(0.0)


def _months_between(as_of: date, end: date) -> int:
    """Whole months after as_of's month up to and including end's month."""
    return max((end.year - as_of.year) * 12 + end.month - as_of.month, 0)
