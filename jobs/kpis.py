"""KPI job: load the book as of a date -> core.kpis.compute_kpis -> store one dated snapshot.

A snapshot replaces any earlier snapshot of the same date in one transaction, so a rerun (or a
crash midway) never leaves half a snapshot. Potential comes from the current forecast run when
the snapshot is on or after that run's as-of date; older snapshots (``--as-of`` a past date, the
backfill) use the baseline forecast from revenue known on that date, so they use only data
known then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, col

from core.config import get_settings
from core.kpis import KpiInputs, KpiResult, compute_kpis
from core.models import AccountForecast, ForecastRun, TeamKpi, TerritoryKpi
from core.potential import account_potential, add_months, baseline_forecast_12m, month_start, trailing_revenue
from core.queries import (
    current_forecast_run,
    load_accounts,
    load_activities,
    load_opportunities,
    load_potentials,
    load_quotas,
    load_revenue,
    load_territories,
    read_frame,
)
from jobs.runs import record_job

log = logging.getLogger(__name__)


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


REVENUE_MONTHS_READ = 15  # trailing year, the churn rule's last 3 months, and the short-history rule
ACTIVITY_DAYS_READ = 200  # 4 x 30-day activity windows + 90-day coverage, also 28 days back for drift


def load_book_frames(engine: Engine, *, earliest: date) -> BookFrames:
    """What snapshots from ``earliest`` on read: only the revenue and activity windows the KPIs use."""
    run_id = current_forecast_run(engine=engine)
    forecasts = pd.DataFrame(columns=["account_id", "month", "yhat"])
    forecast_as_of = None
    if run_id is not None:
        forecasts = read_frame(
            engine,
            select(
                col(AccountForecast.account_id), col(AccountForecast.month), col(AccountForecast.yhat)
            ).where(col(AccountForecast.run_id) == run_id),
        )
        forecasts["month"] = pd.to_datetime(forecasts["month"]).dt.date
        with engine.connect() as connection:
            value = connection.execute(
                select(col(ForecastRun.as_of)).where(col(ForecastRun.id) == run_id)
            ).scalar()
        forecast_as_of = pd.Timestamp(value).date() if value is not None else None
    return BookFrames(
        accounts=load_accounts(engine=engine),
        territories=load_territories(engine=engine),
        revenue=load_revenue(engine=engine, since=add_months(month_start(earliest), -REVENUE_MONTHS_READ)),
        activities=load_activities(engine=engine, since=earliest - timedelta(days=ACTIVITY_DAYS_READ)),
        opportunities=load_opportunities(engine=engine),
        quotas=load_quotas(engine=engine),
        potentials=load_potentials(engine=engine),
        forecasts=forecasts,
        forecast_as_of=forecast_as_of,
    )


def kpi_inputs(frames: BookFrames, *, as_of: date) -> KpiInputs:
    """The KPI inputs as of a date: potentials known then and the forecast for the rest of the period."""
    accounts = frames.accounts
    use_forecast = frames.forecast_as_of is not None and as_of >= frames.forecast_as_of
    if use_forecast:
        potential = accounts["account_id"].map(frames.potentials.set_index("account_id")["potential"])
    else:
        potential = _baseline_potential(frames, as_of=as_of)
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
    )


def _baseline_potential(frames: BookFrames, *, as_of: date) -> pd.Series:
    weight = get_settings().whitespace_weight
    forecast = baseline_forecast_12m(frames.revenue, as_of=as_of)
    forecast_12m = frames.accounts["account_id"].map(forecast).fillna(0.0)
    return account_potential(forecast_12m, frames.accounts["wallet_estimate"].fillna(0.0), weight)


def _period_end_by_account(frames: BookFrames, *, as_of: date) -> pd.Series:
    quotas = frames.quotas
    current = quotas[(quotas["period_start"] <= as_of) & (quotas["period_end"] >= as_of)]
    end_by_rep = current.groupby("rep_id")["period_end"].max()
    owner = frames.accounts["territory_id"].map(frames.territories.set_index("territory_id")["owner_rep_id"])
    return owner.map(end_by_rep)


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


def compute_snapshot(frames: BookFrames, *, as_of: date) -> KpiResult:
    return compute_kpis(kpi_inputs(frames, as_of=as_of), as_of=as_of, settings=get_settings())


def store_snapshot(engine: Engine, result: KpiResult, *, snapshot_date: date) -> int:
    """Replace the snapshot of ``snapshot_date`` in one transaction; returns rows written."""
    rows = _records(result.territories.assign(snapshot_date=snapshot_date), TerritoryKpi)
    team = {key: _plain(value) for key, value in result.team.items() if key in TeamKpi.model_fields}
    team["snapshot_date"] = snapshot_date
    team.pop("id", None)
    with engine.begin() as connection:
        connection.execute(delete(TerritoryKpi).where(col(TerritoryKpi.snapshot_date) == snapshot_date))
        connection.execute(delete(TeamKpi).where(col(TeamKpi.snapshot_date) == snapshot_date))
        if rows:
            connection.execute(insert(TerritoryKpi), rows)
        connection.execute(insert(TeamKpi), [team])
    return len(rows) + 1


def _records(frame: pd.DataFrame, model: type[SQLModel]) -> list[dict]:
    columns = [c for c in frame.columns if c in model.model_fields and c not in ("id", "computed_at")]
    return [{k: _plain(v) for k, v in row.items()} for row in frame[columns].to_dict("records")]


def _plain(value: object) -> object:
    """numpy scalars and NaN into plain Python values the database driver takes."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def refresh_kpis(engine: Engine, *, as_of: date | None = None, trigger: str = "cli") -> int:
    """The KPI job: one snapshot at ``as_of`` (default today). Returns rows written."""
    as_of = as_of or date.today()
    with record_job(engine, "kpis", trigger=trigger) as job:
        job.progress(0.1, "loading the book")
        frames = load_book_frames(engine, earliest=as_of)
        job.progress(0.5, f"computing KPIs as of {as_of}")
        result = compute_snapshot(frames, as_of=as_of)
        job.rows_written = store_snapshot(engine, result, snapshot_date=as_of)
    return job.rows_written


def backfill_snapshots(engine: Engine, *, as_of: date, weeks: int = 26, trigger: str = "sample") -> int:
    """Weekly snapshots for the ``weeks`` weeks before ``as_of`` and one at ``as_of``."""
    with record_job(engine, "kpis", trigger=trigger) as job:
        dates = [as_of - timedelta(weeks=k) for k in range(weeks, -1, -1)]
        frames = load_book_frames(engine, earliest=dates[0])
        for i, day in enumerate(dates):
            job.rows_written += store_snapshot(engine, compute_snapshot(frames, as_of=day), snapshot_date=day)
            job.progress((i + 1) / len(dates), f"snapshot {day}")
    return len(dates)
