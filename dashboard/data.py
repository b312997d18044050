"""Cached loaders: every page reads the database through here.

Each loader is keyed by the database URL and a *data version* (the newest job run and when it
finished), so a finished job — from the scheduler, the CLI or the "refresh now" button —
invalidates the caches at once; the TTL only bounds memory and clock drift. Loaders return small,
page-shaped frames: what a job precomputed is read (KPI snapshots, potentials), never recomputed.
Large inputs (revenue, activities) are reduced inside the cached function so a cache hit never
unpickles a million rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine, make_url

from core.config import get_settings
from core.db import get_engine
from core.models import Account, AccountForecast, JobRun, RevenueMonth, TeamKpi
from core.queries import (
    current_forecast_run,
    load_account_measures,
    load_activities,
    load_job_runs,
    load_quotas,
    load_revenue,
    load_team_kpis,
    load_territories,
    load_territory_kpis,
    read_frame,
)
from dashboard.maps import (
    MAP_METRICS,
    MapBase,
    MapFilters,
    MapPicture,
    account_dots,
    map_picture,
    territory_areas,
)

TTL = 15 * 60
HISTORY_MONTHS_SHOWN = 24


@dataclass(frozen=True)
class DataStatus:
    """What the database holds right now (read on every page run; a handful of cheap queries)."""

    url: str
    exists: bool
    schema: bool
    accounts: int
    snapshot: date | None
    forecast_run: int | None
    version: str

    @property
    def ready(self) -> bool:
        return self.schema and self.accounts > 0

    @property
    def as_of(self) -> date:
        return self.snapshot or date.today()


@st.cache_resource(max_entries=4)
def engine_for(url: str) -> Engine:
    return get_engine(url)


def database_url() -> str:
    return get_settings().database_url


def engine() -> Engine:
    return engine_for(database_url())


def _sqlite_file_missing(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).exists()


def data_status() -> DataStatus:
    """Whether there is a database, a schema and accounts; the latest snapshot; the data version."""
    url = database_url()
    if _sqlite_file_missing(url):
        return DataStatus(url, False, False, 0, None, None, "none")
    eng = engine_for(url)
    if not inspect(eng).has_table("account") or not inspect(eng).has_table("jobrun"):
        return DataStatus(url, True, False, 0, None, None, "none")
    with eng.connect() as connection:
        accounts = int(connection.execute(select(func.count()).select_from(Account)).scalar() or 0)
        snapshot = connection.execute(select(func.max(TeamKpi.snapshot_date))).scalar()
        newest = connection.execute(select(func.max(JobRun.id), func.max(JobRun.finished_at))).one()
    forecast_run = current_forecast_run(engine=eng)
    snapshot_day = pd.Timestamp(snapshot).date() if snapshot is not None else None
    version = f"{newest[0]}:{newest[1]}:{accounts}:{forecast_run}"
    return DataStatus(url, True, True, accounts, snapshot_day, forecast_run, version)


# --------------------------------------------------------------------------- KPI snapshots


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def team_history(url: str, version: str) -> pd.DataFrame:
    """Every team snapshot, oldest first."""
    return load_team_kpis(engine=engine_for(url))


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def territory_history(url: str, version: str) -> pd.DataFrame:
    """Every territory snapshot with the territory's names, oldest first."""
    frame = load_territory_kpis(engine=engine_for(url), since=date.min)
    return frame.drop(columns=["deductions", "computed_at"], errors="ignore")


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def snapshot(url: str, version: str, day: date) -> pd.DataFrame:
    """One snapshot, one row per territory: KPIs, owner, and the deductions as a list and as one line."""
    kpis = load_territory_kpis(engine=engine_for(url), snapshot_date=day)
    owners = territories(url, version)[["territory_id", "rep_name", "rep_external_id"]]
    frame = kpis.merge(owners, on="territory_id", how="left")
    frame["deduction_list"] = frame["deductions"].map(_parse_deductions)
    frame["reasons"] = frame["deduction_list"].map(_reasons_line)
    frame["vacant"] = frame["rep_name"].isna()
    return frame


def _parse_deductions(text: str | None) -> list[dict]:
    try:
        items = json.loads(text or "[]")
    except (TypeError, ValueError):
        return []
    return [item for item in items if isinstance(item, dict)]


def _reasons_line(deductions: list[dict]) -> str:
    return " · ".join(f"−{float(d.get('points', 0)):.1f} {d.get('reason', '?')}" for d in deductions)


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def territories(url: str, version: str) -> pd.DataFrame:
    return load_territories(engine=engine_for(url))


# --------------------------------------------------------------------------- accounts


@st.cache_data(ttl=TTL, max_entries=4, show_spinner=False)
def accounts(url: str, version: str, as_of: date) -> pd.DataFrame:
    """One row per account: where it is, whose it is, revenue TTM, potential, last touch in the window.

    Revenue TTM, potential (the current forecast run's, else the baseline, ``potential_source`` says
    which), tier and workload are ``core.accounts``' (``core.queries.load_account_measures``).
    """
    eng = engine_for(url)
    frame = load_account_measures(engine=eng, as_of=as_of)
    frame = frame.join(_last_touch(eng, frame, as_of=as_of))
    names = territories(url, version).set_index("territory_id")
    frame["territory"] = frame["territory_id"].map(names["external_id"])
    frame["territory_name"] = frame["territory_id"].map(names["name"])
    frame["rep_name"] = frame["territory_id"].map(names["rep_name"])
    return frame


def _last_touch(eng: Engine, frame: pd.DataFrame, *, as_of: date) -> pd.DataFrame:
    window = get_settings().coverage_window_days
    recent = load_activities(engine=eng, since=as_of - timedelta(days=window))
    recent = recent[recent["occurred_on"] <= as_of]
    last = frame["account_id"].map(recent.groupby("account_id")["occurred_on"].max())
    return pd.DataFrame({"last_touch": last, "touched": last.notna()}, index=frame.index)


@st.cache_resource(ttl=TTL, max_entries=2, show_spinner=False)
def map_base(url: str, version: str, as_of: date) -> MapBase:
    """Territory areas and every account's dot, built once per data version.

    A resource, not data: shared read-only between sessions without a pickle round trip.
    """
    book = accounts(url, version, as_of)
    return MapBase(
        areas=territory_areas(book[["territory_id", "lat", "lon", "state"]]),
        dots=account_dots(book),
        territories=territories(url, version),
    )


@st.cache_data(ttl=TTL, max_entries=32, show_spinner=False)
def map_view(
    url: str, version: str, as_of: date, day: date, metric: str, chosen: MapFilters, layers: tuple[str, ...]
) -> MapPicture:
    """The serialised map for one metric, filter set and layer choice (serialising is the slow part)."""
    return map_picture(
        map_base(url, version, as_of), snapshot(url, version, day), MAP_METRICS[metric], chosen, set(layers)
    )


# --------------------------------------------------------------------------- one account


@st.cache_data(ttl=TTL, max_entries=64, show_spinner=False)
def account_series(url: str, version: str, account_id: int, forecast_run: int | None) -> pd.DataFrame:
    """Monthly revenue of one account (last two years) and the current run's forecast with its interval."""
    eng = engine_for(url)
    history = load_revenue(engine=eng, account_ids=[account_id]).tail(HISTORY_MONTHS_SHOWN)
    history = history.rename(columns={"amount": "actual"})[["month", "actual"]]
    if forecast_run is None:
        return history.assign(yhat=np.nan, yhat_lower=np.nan, yhat_upper=np.nan)
    forecast = read_frame(
        eng,
        select(
            AccountForecast.month,
            AccountForecast.yhat,
            AccountForecast.yhat_lower,
            AccountForecast.yhat_upper,
        ).where(AccountForecast.run_id == forecast_run, AccountForecast.account_id == account_id),
    )
    forecast["month"] = pd.to_datetime(forecast["month"]).dt.date
    return pd.concat([history, forecast], ignore_index=True).sort_values("month", ignore_index=True)


# --------------------------------------------------------------------------- data page


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def job_runs(url: str, version: str, limit: int = 100) -> pd.DataFrame:
    return load_job_runs(engine=engine_for(url), limit=limit)


def latest_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The newest run of each job (runs come newest first)."""
    return runs.drop_duplicates("job", keep="first").reset_index(drop=True)


@dataclass(frozen=True)
class QualityCheck:
    """One data-quality finding: how many rows are affected, out of how many, and why it matters."""

    check: str
    affected: int
    total: int
    why: str


@st.cache_data(ttl=TTL, max_entries=4, show_spinner=False)
def data_quality(url: str, version: str, as_of: date) -> list[QualityCheck]:
    """Counts of the gaps that make KPIs less trustworthy, most urgent first."""
    eng = engine_for(url)
    book = accounts(url, version, as_of)
    terrs = territories(url, version)
    n = len(book)
    checks = [
        QualityCheck(
            "accounts without coordinates",
            int((book["lat"].isna() | book["lon"].isna()).sum()),
            n,
            "left off the map and out of travel workload",
        ),
        QualityCheck(
            "accounts without a territory",
            int(book["territory_id"].isna().sum()),
            n,
            "counted in no territory's KPIs",
        ),
        QualityCheck(
            "accounts without industry",
            int(book["industry"].isna().sum()),
            n,
            "specialist and industry-mix rules cannot see them",
        ),
        QualityCheck(
            "accounts without segment", int(book["segment"].isna().sum()), n, "segment filters miss them"
        ),
        QualityCheck(
            "accounts without a wallet estimate",
            int(book["wallet_estimate"].isna().sum()),
            n,
            "whitespace falls back to firmographics or to the forecast",
        ),
        QualityCheck(
            "vacant territories",
            int(terrs["owner_rep_id"].isna().sum()),
            len(terrs),
            "no rep, no quota: health deducts 20 points",
        ),
        QualityCheck(
            "accounts with revenue gaps",
            _revenue_gaps(eng),
            n,
            "missing months inside the revenue history bias forecasts down",
        ),
        QualityCheck(
            "reps without a current quota",
            _reps_without_quota(eng, terrs, as_of),
            len(terrs),
            "attainment, pace and drift are unknown for them",
        ),
    ]
    return sorted(checks, key=lambda c: (c.affected == 0, -c.affected / max(c.total, 1)))


def _revenue_gaps(eng: Engine) -> int:
    """Accounts whose history skips months between its first and last month."""
    span = read_frame(
        eng,
        select(
            RevenueMonth.account_id,
            func.min(RevenueMonth.month).label("first"),
            func.max(RevenueMonth.month).label("last"),
            func.count().label("months"),
        ).group_by(RevenueMonth.account_id),
    )
    if span.empty:
        return 0
    first, last = pd.to_datetime(span["first"]), pd.to_datetime(span["last"])
    expected = (last.dt.year - first.dt.year) * 12 + (last.dt.month - first.dt.month) + 1
    return int((span["months"] < expected).sum())


def _reps_without_quota(eng: Engine, terrs: pd.DataFrame, as_of: date) -> int:
    quotas = load_quotas(engine=eng)
    current = quotas[(quotas["period_start"] <= as_of) & (quotas["period_end"] >= as_of)]
    owners = terrs["owner_rep_id"].dropna()
    return int((~owners.isin(current["rep_id"])).sum())


def clear_caches() -> None:
    """Forget every cached frame (after a job ran from the dashboard or an import)."""
    st.cache_data.clear()
