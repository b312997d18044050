"""KPI job: load the book as of a date -> core.kpis.compute_kpis -> store one dated snapshot.

A snapshot replaces any earlier snapshot of the same date in one transaction, so a rerun (or a
crash midway) never leaves half a snapshot. Potential comes from the current forecast run when
the snapshot is on or after that run's as-of date; older snapshots (``--as-of`` a past date, the
backfill) use the baseline forecast from revenue known on that date, so they use only data
known then. Every snapshot counts the assignment and the quota in force on its date
(``core.assignments``, ``core.quota``): the assignment history and the quota adjustments are loaded
with the book.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, col

from core.accounts import BASELINE_REVENUE_MONTHS
from core.config import get_settings
from core.jobruns import record_job
from core.kpis import KpiResult, compute_kpis
from core.models import TeamKpi, TerritoryKpi
from core.months import add_months, month_start
from core.queries import (
    load_accounts,
    load_activities,
    load_assignment_moves,
    load_current_forecasts,
    load_first_revenue_months,
    load_opportunities,
    load_potentials,
    load_quota_adjustments,
    load_quotas,
    load_revenue,
    load_territories,
)
from core.snapshot_inputs import BookFrames, kpi_inputs

log = logging.getLogger(__name__)


ACTIVITY_DAYS_READ = 200  # 4 x 30-day activity windows + 90-day coverage, also 28 days back for drift


def load_book_frames(engine: Engine, *, earliest: date) -> BookFrames:
    """What snapshots from ``earliest`` on read: only the revenue and activity windows the KPIs use."""
    forecasts, forecast_as_of = load_current_forecasts(engine=engine)
    return BookFrames(
        accounts=load_accounts(engine=engine),
        territories=load_territories(engine=engine),
        revenue=load_revenue(
            engine=engine, since=add_months(month_start(earliest), -BASELINE_REVENUE_MONTHS)
        ),
        activities=load_activities(engine=engine, since=earliest - timedelta(days=ACTIVITY_DAYS_READ)),
        opportunities=load_opportunities(engine=engine),
        quotas=load_quotas(engine=engine),
        potentials=load_potentials(engine=engine),
        forecasts=forecasts,
        forecast_as_of=forecast_as_of,
        first_revenue_month=load_first_revenue_months(engine=engine),
        moves=load_assignment_moves(engine=engine),
        quota_adjustments=load_quota_adjustments(engine=engine),
    )


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
