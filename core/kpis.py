"""Per-territory and team KPIs at a snapshot date: DESIGN.md "Definitions", vectorised pandas.

``compute_kpis(inputs, as_of=d)`` is pure (no database): it takes frames keyed by integer DB ids
and returns one row per territory with exactly the ``TerritoryKpi`` columns and a dict with the
``TeamKpi`` columns. Every KPI is a function of the ``KpiContext`` registered, with its label, unit,
good direction and help text, in ``core.kpi_registry`` (``KPIS``, ``TEAM_KPIS``); this module
prepares the context and runs the registry. ``docs/kpis.md`` walks through each definition.

Choices (where DESIGN.md leaves room):

* **As-of.** Only what was known at ``as_of`` counts, so an old date recomputes the past:
  revenue months strictly before ``as_of``'s month; activities with ``occurred_on <= as_of``;
  opportunities with ``created_on <= as_of``. An opportunity is *won at d* when its status is won
  and ``close_date <= d`` (the close date of a closed deal is the day it closed) and *open at d*
  when it is open today, or was closed after d. Amounts and stages as they are today (no history).
  Owners, potential and forecasts are taken as given.
* **Assignment in force.** ``accounts.territory_id`` is today's assignment and ``moves`` the
  assignment history that dates it: an account counts for the territory in force on ``as_of``
  (``core.assignments.territory_on``; with no history, today's). The effective date of a move is
  the new territory's first day.
* **Crediting.** A won deal counts for the territory in force on its **close date**: bookings of a
  moved account before the effective date stay with the old territory, those on or after it count
  for the new one (in whichever quota period the close date falls). Open pipeline counts for the
  territory in force on the snapshot day (for drift's earlier gap, on that earlier day).
* **Scope.** Accounts whose territory in force is empty or not among ``territories`` are unassigned
  and count nowhere (not in the team totals either). Territories with no accounts count (zeros).
* **Per-account numbers** (revenue_ttm, potential and its fallback, tier, workload with travel,
  distance) are defined once in ``core.accounts``; the lines below summarise them.
* **revenue_ttm** = the 12 complete months before ``as_of``'s month.
* **potential**: the forecast job's value; where it is NaN, the potential of the account's baseline
  forecast (``core.accounts.potential_with_fallback``; missing wallet: no whitespace).
* **tier**: strategic flag or ttm > ``strategic_revenue_threshold`` → strategic; ttm >=
  ``key_revenue_threshold`` → key; ttm < ``long_tail_revenue_threshold`` → long-tail; else standard.
* **workload_hours** = touch hours by tier + travel hours = visits/month by tier × 2 × haversine km
  from the owner's home / ``travel_speed_kmh``. A territory without a home (vacant, or no
  coordinates) is measured from the centroid of its accounts; an account without coordinates has no
  travel. **utilization** = workload / owner capacity (missing or 0 → ``default_capacity_hours``);
  None for a vacant territory.
* **potential_index / workload_index** = value / mean over all territories in the snapshot,
  vacant and empty ones included (None when that mean is 0). Out of band: |index − 1| > band
  (with a 1e-9 tolerance so an index exactly on the band edge is in band).
* **coverage** = share of the territory's potential held by accounts with an activity (by anyone)
  in the last ``coverage_window_days`` days, as_of included (None when potential is 0);
  **accounts_touched_share** = share of its accounts touched (None with no accounts).
* **Quota period** = the owner's quota row with ``period_start <= as_of <= period_end`` (latest
  start wins if rows overlap). With no such row (vacant, or no quota) the period is the fiscal
  quarter containing as_of (``fiscal_year_start_month``) so bookings and pace still show, and
  quota, attainment, gap, drift, projection and pipeline coverage are None.
* **quota** = the row's amount plus the ``quota_adjustments`` of that rep and period effective on
  or before as_of (``core.quota.quota_as_of``). **pace** = expected / quota (``core.quota.pace_of``),
  the base expected evenly over the period and each adjustment from its effective date; without
  adjustments that is the time share (as_of − start + 1) / (end − start + 1) in days.
* **bookings** = amounts won with close date in [period start, as_of] credited to the territory
  (see Crediting; whoever the rep). **attainment** = bookings / quota (None for a zero quota).
  **attainment_gap** = (attainment − pace) × 100, in points. **drift** = gap(as_of) −
  gap(as_of − 28 days), the earlier gap recomputed with what was known and in force then (the
  assignment, the quota with its adjustments, the period containing that day, which may be the
  previous period).
  **projected_attainment** = (bookings + sum of the accounts' ``forecast_rest_of_period``) / quota.
  **pipeline_coverage** = amounts open at as_of with close date in [as_of, period end] /
  max(quota − bookings, 0); None when nothing remains.
* **activity_change** = count of activities in days [as_of − 29, as_of] / mean count of the three
  30-day windows before − 1; None when that mean is 0. Counts, not hours; a window before the data
  starts counts as zero.
* **health** and its deductions: ``core.health``.
* **Team**: ``territories``, assigned ``accounts``, total ``potential``; ``cv_potential`` =
  population std / mean; ``max_min_ratio`` (None when the smallest is 0); ``quartile_ratio`` =
  mean of the top k / mean of the bottom k potentials, k = max(1, n // 4); ``gini`` of territory
  potentials; ``out_of_band`` / ``workload_out_of_band`` counts; ``reps_on_pace_share`` and
  ``attainment`` over owners with a positive quota, a rep owning several territories counted once
  with the bookings of all of them; ``coverage`` = touched potential / all potential.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from core.accounts import account_measures
from core.assignments import empty_moves, territory_on
from core.config import Settings, get_settings
from core.health import health_scores
from core.kpi_registry import KPIS, TEAM_KPIS, KpiContext, sum_by_territory
from core.kpi_registry import coefficient_of_variation as coefficient_of_variation  # re-exported
from core.kpi_registry import gini as gini
from core.kpi_registry import max_min_ratio as max_min_ratio
from core.kpi_registry import quartile_ratio as quartile_ratio
from core.quota import pace_of, quota_as_of

logger = logging.getLogger(__name__)

DRIFT_DAYS = 28
ACTIVITY_WINDOW_DAYS = 30
ACTIVITY_BASELINE_WINDOWS = 3

_REQUIRED = None  # marks a required input column in KPI_INPUT_COLUMNS
KPI_INPUT_COLUMNS: dict[str, dict[str, object]] = {
    "accounts": {
        "account_id": _REQUIRED,
        "territory_id": np.nan,
        "lat": np.nan,
        "lon": np.nan,
        "strategic": False,
        "potential": np.nan,
        "wallet_estimate": np.nan,
        "forecast_rest_of_period": 0.0,
    },
    "territories": {
        "territory_id": _REQUIRED,
        "owner_rep_id": np.nan,
        "home_lat": np.nan,
        "home_lon": np.nan,
        "capacity_hours": np.nan,
    },
    "revenue": {"account_id": _REQUIRED, "month": _REQUIRED, "amount": _REQUIRED},
    "activities": {"account_id": _REQUIRED, "rep_id": np.nan, "occurred_on": _REQUIRED, "hours": np.nan},
    "opportunities": {
        "account_id": _REQUIRED,
        "rep_id": np.nan,
        "amount": _REQUIRED,
        "status": _REQUIRED,
        "created_on": _REQUIRED,
        "close_date": _REQUIRED,
    },
    "quotas": {"rep_id": _REQUIRED, "period_start": _REQUIRED, "period_end": _REQUIRED, "amount": _REQUIRED},
    "quota_adjustments": {
        "rep_id": _REQUIRED,
        "period_start": _REQUIRED,
        "effective_date": _REQUIRED,
        "amount": _REQUIRED,
    },
}
_DATE_COLUMNS = {
    "month",
    "occurred_on",
    "created_on",
    "close_date",
    "period_start",
    "period_end",
    "effective_date",
}

# The snapshot columns, in table order: one per registry entry.
TERRITORY_KPI_COLUMNS = ("snapshot_date", "territory_id", *KPIS, "health", "deductions")
TEAM_KPI_COLUMNS = ("snapshot_date", *TEAM_KPIS)


def empty_frame(kind: str) -> pd.DataFrame:
    """An empty input frame of ``kind`` (a key of ``KPI_INPUT_COLUMNS``) with typed columns."""
    columns = KPI_INPUT_COLUMNS[kind]
    return pd.DataFrame(
        {c: pd.Series(dtype="datetime64[ns]" if c in _DATE_COLUMNS else "float64") for c in columns}
    )


@dataclass(frozen=True, eq=False)
class KpiInputs:
    """The frames KPIs are computed from, keyed by integer DB ids (columns: ``KPI_INPUT_COLUMNS``).

    Optional columns may be left out (their defaults apply); dates may be ``date`` objects or
    datetime64 (datetime64 is faster on large frames).
    """

    accounts: pd.DataFrame
    territories: pd.DataFrame
    revenue: pd.DataFrame = field(default_factory=lambda: empty_frame("revenue"))
    activities: pd.DataFrame = field(default_factory=lambda: empty_frame("activities"))
    opportunities: pd.DataFrame = field(default_factory=lambda: empty_frame("opportunities"))
    quotas: pd.DataFrame = field(default_factory=lambda: empty_frame("quotas"))
    # account_id, from_territory_id, effective_date: the history that dates ``accounts.territory_id``
    moves: pd.DataFrame = field(default_factory=empty_moves)
    quota_adjustments: pd.DataFrame = field(default_factory=lambda: empty_frame("quota_adjustments"))


@dataclass(frozen=True, eq=False)
class KpiResult:
    """One snapshot: ``territories`` (``TerritoryKpi`` columns, NaN for None), ``team`` (``TeamKpi``)."""

    territories: pd.DataFrame
    team: dict[str, object]

    def territory_rows(self) -> list[dict[str, object]]:
        """The territory rows as plain dicts, None where missing: ready for ``TerritoryKpi(**row)``."""
        frame = self.territories.astype(object)
        return frame.where(self.territories.notna(), None).to_dict("records")


# --------------------------------------------------------------------------- entry point


def compute_kpis(inputs: KpiInputs, *, as_of: date, settings: Settings | None = None) -> KpiResult:
    """Compute the territory and team KPIs of the snapshot ``as_of`` from ``inputs``.

    Pure: no database, no clock. Only data known at ``as_of`` is used (see the module docstring),
    so an earlier ``as_of`` recomputes an earlier snapshot.
    """
    ctx = build_context(inputs, as_of=as_of, settings=settings or get_settings())
    frame = territory_kpis(ctx)
    return KpiResult(territories=frame, team=team_kpis(ctx))


def territory_kpis(ctx: KpiContext) -> pd.DataFrame:
    """One row per territory with the ``TerritoryKpi`` columns, health and deductions included."""
    values = pd.DataFrame({key: kpi(ctx) for key, kpi in KPIS.items()}, index=ctx.territories.index)
    vacant = ctx.territories["owner_rep_id"].isna()
    health = health_scores(values.assign(vacant=vacant.astype(float)), settings=ctx.settings)
    frame = values.join(health).rename_axis("territory_id").reset_index()
    frame["accounts"] = frame["accounts"].astype("int64")
    frame.insert(0, "snapshot_date", ctx.as_of)
    return frame.loc[:, list(TERRITORY_KPI_COLUMNS)]


# --------------------------------------------------------------------------- preparation


def build_context(inputs: KpiInputs, *, as_of: date, settings: Settings) -> KpiContext:
    """Conform the inputs and precompute the per-account and per-territory ingredients."""
    day = pd.Timestamp(as_of)
    before = day - pd.Timedelta(days=DRIFT_DAYS)
    territories = _territory_frame(_conform(inputs.territories, "territories"), settings)
    activities = _known_activities(_conform(inputs.activities, "activities"), day)
    book = _Book.of(inputs)
    accounts = _account_frame(inputs, book, territories, activities, day, settings)
    opportunities = _opportunity_frame(_conform(inputs.opportunities, "opportunities"), book)
    quotas = _conform(inputs.quotas, "quotas").dropna(subset=["rep_id"])
    adjustments = _conform(inputs.quota_adjustments, "quota_adjustments").dropna(subset=["rep_id"])
    return KpiContext(
        as_of=as_of,
        settings=settings,
        territories=territories,
        accounts=accounts,
        position=quota_position(
            territories, quotas, _open_at(opportunities, book, day), day, settings, adjustments
        ),
        position_before=quota_position(
            territories, quotas, _open_at(opportunities, book, before), before, settings, adjustments
        ),
        activity_windows=_activity_windows(activities, accounts, territories.index),
    )


@dataclass(frozen=True, eq=False)
class _Book:
    """Today's assignment and the moves that date it: the territory in force on any day."""

    current: pd.Series  # account_id -> territory now (NaN: unassigned)
    moves: pd.DataFrame

    @classmethod
    def of(cls, inputs: KpiInputs) -> _Book:
        accounts = inputs.accounts
        territory = accounts["territory_id"].to_numpy() if "territory_id" in accounts else np.nan
        current = pd.Series(territory, index=accounts["account_id"].to_numpy(), dtype=float)
        return cls(current=current, moves=inputs.moves)

    def territory_on(self, account_ids: pd.Series, days: pd.Timestamp | pd.Series) -> pd.Series:
        """The territory in force per account (and day), aligned with ``account_ids``."""
        days = days if isinstance(days, pd.Timestamp) else days.to_numpy()
        found = territory_on(self.current, self.moves, account_ids.to_numpy(), days)
        return pd.Series(found.to_numpy(), index=account_ids.index)


def _conform(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Check required columns, add missing optional ones with their defaults, parse dates."""
    spec = KPI_INPUT_COLUMNS[kind]
    missing = [c for c, default in spec.items() if default is _REQUIRED and c not in frame.columns]
    if missing:
        raise ValueError(f"{kind} frame lacks required column(s): {', '.join(missing)}")
    out = frame.loc[:, [c for c in spec if c in frame.columns]].copy()
    for column, default in spec.items():
        if column not in out.columns:
            out[column] = default
        elif column in _DATE_COLUMNS and not pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = pd.to_datetime(out[column])
    return out


def _territory_frame(territories: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    if not territories["territory_id"].is_unique:
        raise ValueError("territories frame has duplicate territory_id values")
    frame = territories.astype({"territory_id": "int64"}).set_index("territory_id").sort_index()
    vacant = frame["owner_rep_id"].isna()
    capacity = frame["capacity_hours"].astype(float)
    capacity = capacity.where(capacity > 0, settings.default_capacity_hours)
    frame["capacity"] = capacity.where(~vacant)
    return frame[["owner_rep_id", "home_lat", "home_lon", "capacity"]]


def _account_frame(
    inputs: KpiInputs,
    book: _Book,
    territories: pd.DataFrame,
    activities: pd.DataFrame,
    day: pd.Timestamp,
    settings: Settings,
) -> pd.DataFrame:
    raw = _conform(inputs.accounts, "accounts")
    if not raw["account_id"].is_unique:
        raise ValueError("accounts frame has duplicate account_id values")
    raw["territory_id"] = book.territory_on(raw["account_id"], day)  # the assignment in force at as_of
    assigned = raw["territory_id"].isin(territories.index)
    unknown = int((~assigned & raw["territory_id"].notna()).sum())
    if unknown:
        logger.warning("%d accounts point at unknown territories; counted as unassigned", unknown)
    frame = raw[assigned].astype({"territory_id": "int64"})
    measures = account_measures(
        frame,
        territories.reset_index(),
        revenue=_conform(inputs.revenue, "revenue"),
        forecast_potential=frame.set_index("account_id")["potential"],
        as_of=day.date(),
        settings=settings,
    )
    frame = frame.assign(**{c: measures[c] for c in ("revenue_ttm", "potential", "tier", "workload_hours")})
    recent = activities["age_days"] < settings.coverage_window_days
    frame["touched"] = frame["account_id"].isin(activities.loc[recent, "account_id"])
    frame["forecast_rest_of_period"] = frame["forecast_rest_of_period"].astype(float).fillna(0.0)
    return frame.reset_index(drop=True)


def _known_activities(activities: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """Activities on or before ``day`` with their age in days (0 = on ``day``)."""
    age = (day - activities["occurred_on"]).dt.days
    known = age >= 0
    return pd.DataFrame({"account_id": activities.loc[known, "account_id"], "age_days": age[known]})


def _opportunity_frame(opportunities: pd.DataFrame, book: _Book) -> pd.DataFrame:
    """Opportunities with a lower-case status and ``credit_territory_id``: the territory in force on
    their close date (a won deal is credited there; the effective date is the new owner's first day)."""
    return opportunities.assign(
        status=opportunities["status"].astype(str).str.lower(),
        credit_territory_id=book.territory_on(opportunities["account_id"], opportunities["close_date"]),
    )


def _open_at(opportunities: pd.DataFrame, book: _Book, day: pd.Timestamp) -> pd.DataFrame:
    """The opportunities with ``territory_id``: the account's territory in force on ``day`` (open
    pipeline belongs to whoever holds the account that day)."""
    return opportunities.assign(territory_id=book.territory_on(opportunities["account_id"], day))


# --------------------------------------------------------------------------- per-account pieces


# --------------------------------------------------------------------------- per-territory pieces


def fiscal_quarter(day: pd.Timestamp, fiscal_year_start_month: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of the fiscal quarter containing ``day``."""
    offset = (day.month - fiscal_year_start_month) % 3
    start = day.to_period("M").to_timestamp() - pd.DateOffset(months=offset)
    return start, start + pd.DateOffset(months=3) - pd.Timedelta(days=1)


def quota_position(
    territories: pd.DataFrame,
    quotas: pd.DataFrame,
    opportunities: pd.DataFrame,
    day: pd.Timestamp,
    settings: Settings,
    adjustments: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per territory at ``day``: the owner's quota period, quota and pace as of ``day`` (``core.quota``:
    base plus adjustments in force), bookings and open pipeline.

    ``opportunities`` carry ``credit_territory_id`` (where a won deal counts) and ``territory_id``
    (where open pipeline counts on ``day``).
    """
    current = quota_as_of(quotas, adjustments if adjustments is not None else quotas.iloc[:0], day.date())
    current = current.rename_axis("rep_id").reset_index().astype({"rep_id": float})
    owners = territories["owner_rep_id"].astype(float).rename("rep_id").reset_index()
    position = owners.merge(current, on="rep_id", how="left").set_index("territory_id")
    start, end = fiscal_quarter(day, settings.fiscal_year_start_month)
    position["period_start"] = position["period_start"].fillna(start)
    position["period_end"] = position["period_end"].fillna(end)
    position["pace"] = pace_of(position, day.date())
    position["bookings"] = _bookings(opportunities, position, day)
    position["pipeline"] = _open_pipeline(opportunities, position, day)
    return position[["period_start", "period_end", "quota", "pace", "bookings", "pipeline"]]


def _bookings(opportunities: pd.DataFrame, position: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    """Won by ``day`` (close date in [period start, day]), per territory in force on the close date."""
    won = opportunities[
        (opportunities["status"] == "won")
        & (opportunities["close_date"] <= day)
        & (opportunities["created_on"] <= day)
        & opportunities["credit_territory_id"].isin(position.index)
    ]
    won = won.assign(territory_id=won["credit_territory_id"].astype("int64"))
    since = won["territory_id"].map(position["period_start"])
    return sum_by_territory(won[won["close_date"] >= since], "amount", position.index)


def _open_pipeline(opportunities: pd.DataFrame, position: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    """Open at ``day`` (open today, or closed after ``day``) with close date in [day, period end]."""
    still_open = (opportunities["status"] == "open") | (opportunities["close_date"] > day)
    open_ = opportunities[
        still_open
        & (opportunities["created_on"] <= day)
        & (opportunities["close_date"] >= day)
        & opportunities["territory_id"].isin(position.index)
    ]
    open_ = open_.astype({"territory_id": "int64"})
    until = open_["territory_id"].map(position["period_end"])
    return sum_by_territory(open_[open_["close_date"] <= until], "amount", position.index)


def _activity_windows(activities: pd.DataFrame, accounts: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    windows = range(ACTIVITY_BASELINE_WINDOWS + 1)
    window = activities["age_days"] // ACTIVITY_WINDOW_DAYS
    territory = activities["account_id"].map(accounts.set_index("account_id")["territory_id"])
    keep = (window <= windows[-1]) & territory.notna()
    counts = pd.crosstab(territory[keep].astype("int64"), window[keep])
    return counts.reindex(index=index, columns=list(windows), fill_value=0)


# --------------------------------------------------------------------------- team


def team_kpis(ctx: KpiContext) -> dict[str, object]:
    """The ``TeamKpi`` columns of one snapshot (plain Python values), one registry function each."""
    return {"snapshot_date": ctx.as_of} | {key: kpi(ctx) for key, kpi in TEAM_KPIS.items()}
