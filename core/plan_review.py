"""The 30/60/90-day review of an applied plan: what it predicted against what happened.

``plan_outcome(engine, plan_id, as_of=d)`` reads an applied plan (``core.plans.get_plan``) and, at
30, 60 and 90 days after its effective date, compares:

* **per territory**, the plan's stored "after" (potential, potential index, accounts, workload) with
  the KPI snapshot at the checkpoint; attainment against pace (``attainment_gap``) and activity
  (``coverage``, ``activity_change``) have no prediction, so they are read before the move (the latest
  snapshot on or before the effective date) and at each checkpoint. Actual figures are the KPI job's
  own snapshots (``TerritoryKpi`` / ``TeamKpi``), never recomputed here: the snapshot nearest the
  checkpoint within ``SNAPSHOT_TOLERANCE_DAYS`` days and not after ``as_of`` (the KPI job runs daily;
  the backfill leaves weekly ones). Without one the checkpoint says so.
* **per moved account** (its ``AssignmentHistory`` row with the plan's id), its retention: revenue
  since the move (``RevenueMonth`` from the effective month on, whole months, up to the last complete
  month before the checkpoint) against its forecast at the move for the same months, and activity
  since the move (``core.moved_accounts``: count, by the new owner, last date, silent).
  *The forecast at the move* is the forecast the plan was computed with: the monthly ``AccountForecast``
  of the forecast run current on the effective date (the latest complete run with an as-of date on or
  before it; a month past its horizon counts at the account's mean month of that run), or, for an
  account that run has no forecast of (or with no run then), the baseline forecast
  (``core.accounts.baseline_forecast_12m`` as of the effective date) spread evenly, a twelfth a month.

A checkpoint after ``as_of`` is *due* (its date shown, no figures). ``PlanOutcome.as_json()`` is what
``territory plans outcome ID --json`` prints: ``checkpoints``, ``territories`` (predicted and actual
per territory) and ``accounts`` (the moved accounts' retention). docs/review.md explains it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import aliased
from sqlmodel import col

from core.accounts import BASELINE_REVENUE_MONTHS, baseline_forecast_12m
from core.models import (
    Account,
    AccountForecast,
    AssignmentHistory,
    ForecastRun,
    RebalancePlan,
    RevenueMonth,
    TeamKpi,
    Territory,
    TerritoryKpi,
)
from core.months import add_months, month_start
from core.moved_accounts import activity_since_move, is_silent
from core.plans import PlanError, SavedPlan, get_plan
from core.rebalance.result import TeamMetrics, TerritoryMetrics

CHECKPOINT_DAYS = (30, 60, 90)
SNAPSHOT_TOLERANCE_DAYS = 7


class PlanReviewError(PlanError):
    """No review for this plan (not applied, or no such plan), in words."""


# --- what a review holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """One review date: ``days`` after the effective date; ``snapshot_date`` the KPI snapshot read."""

    days: int
    day: date
    reached: bool  # on or before the review's as-of date
    snapshot_date: date | None = None

    @property
    def status(self) -> str:
        """reviewed | due | no snapshot."""
        if not self.reached:
            return "due"
        return "reviewed" if self.snapshot_date is not None else "no snapshot"

    @property
    def key(self) -> str:
        return str(self.days)

    def words(self) -> str:
        """ "30 days: 2026-08-25 (KPI snapshot 2026-08-24)" or "90 days: due on 2026-12-01"."""
        if not self.reached:
            return f"{self.days} days: due on {self.day:%Y-%m-%d}"
        if self.snapshot_date is None:
            return f"{self.days} days: {self.day:%Y-%m-%d} (no KPI snapshot within a week)"
        return f"{self.days} days: {self.day:%Y-%m-%d} (KPI snapshot {self.snapshot_date:%Y-%m-%d})"

    def as_json(self) -> dict[str, object]:
        return {
            "days": self.days,
            "date": self.day.isoformat(),
            "status": self.status,
            "snapshot_date": None if self.snapshot_date is None else self.snapshot_date.isoformat(),
        }


@dataclass(frozen=True)
class TerritoryActual:
    """A territory in one KPI snapshot: the predicted figures and those the plan did not predict."""

    snapshot_date: date
    accounts: int
    potential: float
    potential_index: float | None
    workload_hours: float
    attainment_gap: float | None  # points
    coverage: float | None
    activity_change: float | None


@dataclass(frozen=True)
class TerritoryOutcome:
    territory: str  # external id
    name: str
    gained: int  # accounts the plan moved in
    lost: int  # ... and out
    before: TerritoryMetrics  # the plan's "before"
    predicted: TerritoryMetrics  # the plan's "after"
    before_move: TerritoryActual | None  # the latest snapshot on or before the effective date
    actual: tuple[TerritoryActual | None, ...]  # one per checkpoint (None: due or no snapshot)

    @property
    def changed(self) -> bool:
        return bool(self.gained or self.lost)


@dataclass(frozen=True)
class TeamActual:
    snapshot_date: date
    cv: float | None
    max_min_ratio: float | None
    quartile_ratio: float | None
    out_of_band: int


@dataclass(frozen=True)
class RetentionReading:
    """A moved account at one checkpoint."""

    months: int  # whole months counted, from the effective month to the last complete one
    revenue: float  # revenue in those months
    forecast: float  # its forecast at the move for the same months
    activities: int  # since the move, by anyone
    by_new_owner: int
    last_activity: date | None
    silent: bool  # no activity since the move, 30 days or more after it

    @property
    def revenue_ratio(self) -> float | None:
        """Revenue since the move over its forecast (None without a forecast)."""
        return self.revenue / self.forecast if self.forecast > 0 else None


@dataclass(frozen=True)
class AccountRetention:
    account: str  # external id
    name: str
    from_territory: str | None
    from_name: str | None
    to_territory: str
    to_name: str
    reason: str
    risks: tuple[str, ...]
    moved_on: date
    forecast_12m: float  # the forecast at the move, next 12 months
    forecast_source: str  # "forecast run N" | "baseline"
    readings: tuple[RetentionReading | None, ...]  # one per checkpoint (None: due)


@dataclass(frozen=True)
class PlanOutcome:
    """An applied plan's review as of a date (see the module docstring)."""

    plan_id: int
    name: str
    effective_date: date
    applied_by: str | None
    as_of: date
    checkpoints: tuple[Checkpoint, ...]
    territories: tuple[TerritoryOutcome, ...]
    team_before: TeamMetrics | None
    team_predicted: TeamMetrics | None
    team_actual: tuple[TeamActual | None, ...]
    accounts: tuple[AccountRetention, ...]

    def as_json(self) -> dict[str, Any]:
        """Plain JSON: plan, as_of, checkpoints, team, territories, accounts (checkpoint keys "30"...)."""
        keys = [c.key for c in self.checkpoints]
        return {
            "plan": {
                "id": self.plan_id,
                "name": self.name,
                "effective_date": self.effective_date.isoformat(),
                "applied_by": self.applied_by,
            },
            "as_of": self.as_of.isoformat(),
            "checkpoints": [c.as_json() for c in self.checkpoints],
            "team": {
                "before": _plain(self.team_before),
                "predicted": _plain(self.team_predicted),
                "actual": dict(zip(keys, map(_plain, self.team_actual), strict=True)),
            },
            "territories": [
                {
                    "territory": t.territory,
                    "name": t.name,
                    "gained": t.gained,
                    "lost": t.lost,
                    "before": _plain(t.before),
                    "predicted": _plain(t.predicted),
                    "before_move": _plain(t.before_move),
                    "actual": dict(zip(keys, map(_plain, t.actual), strict=True)),
                }
                for t in self.territories
            ],
            "accounts": [
                {
                    **{k: v for k, v in _plain(a).items() if k != "readings"},
                    "retention": dict(zip(keys, map(_reading_json, a.readings), strict=True)),
                }
                for a in self.accounts
            ],
        }


def _plain(value: Any) -> Any:
    if value is None:
        return None
    data = asdict(value)
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in data.items()}


def _reading_json(reading: RetentionReading | None) -> dict[str, object] | None:
    if reading is None:
        return None
    return {**_plain(reading), "revenue_ratio": reading.revenue_ratio}


# --- the review -------------------------------------------------------------------------------


def applied_plans(engine: Engine) -> list[tuple[int, str, date | None]]:
    """(id, name, effective date) of every applied plan, the latest effective first."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(col(RebalancePlan.id), col(RebalancePlan.name), col(RebalancePlan.effective_date))
            .where(col(RebalancePlan.status) == "applied")
            .order_by(col(RebalancePlan.effective_date).desc(), col(RebalancePlan.id).desc())
        ).all()
    return [(int(i or 0), str(n), d) for i, n, d in rows]


def plan_outcome(engine: Engine, plan_id: int, *, as_of: date | None = None) -> PlanOutcome:
    """The review of an applied plan as of ``as_of`` (default today); PlanReviewError otherwise."""
    as_of = as_of or date.today()
    plan = _applied(engine, plan_id)
    effective = plan.effective_date
    assert effective is not None  # _applied checks
    with engine.connect() as connection:
        snapshots = _snapshot_dates(connection)
        checkpoints = tuple(_checkpoint(days, effective, as_of, snapshots) for days in CHECKPOINT_DAYS)
        before_move = _latest_on_or_before(snapshots, effective)
        kpis = _territory_kpis(connection, [c.snapshot_date for c in checkpoints] + [before_move])
        territories = _territory_outcomes(connection, plan, checkpoints, kpis, before_move)
        team = tuple(_team_actual(connection, c.snapshot_date) for c in checkpoints)
        accounts = _retention(connection, plan, checkpoints)
    return PlanOutcome(
        plan_id=plan.id,
        name=plan.name,
        effective_date=effective,
        applied_by=plan.applied_by,
        as_of=as_of,
        checkpoints=checkpoints,
        territories=territories,
        team_before=plan.team_before,
        team_predicted=plan.team_after,
        team_actual=team,
        accounts=accounts,
    )


def _applied(engine: Engine, plan_id: int) -> SavedPlan:
    try:
        plan = get_plan(engine, plan_id)
    except PlanError as error:
        raise PlanReviewError(str(error)) from None
    if plan.status != "applied" or plan.effective_date is None:
        raise PlanReviewError(
            f"plan {plan_id} is {plan.status}: only an applied plan has a 30/60/90-day review"
        )
    return plan


# --- checkpoints and snapshots ----------------------------------------------------------------


def _snapshot_dates(connection: Connection) -> list[date]:
    values = connection.execute(select(col(TerritoryKpi.snapshot_date)).distinct()).scalars()
    return sorted(pd.Timestamp(v).date() for v in values)


def nearest_snapshot(dates: list[date], day: date, *, not_after: date) -> date | None:
    """The snapshot date nearest ``day`` within the tolerance, not after ``not_after`` (ties: earlier)."""
    near = [d for d in dates if abs((d - day).days) <= SNAPSHOT_TOLERANCE_DAYS and d <= not_after]
    return min(near, key=lambda d: (abs((d - day).days), d), default=None)


def _latest_on_or_before(dates: list[date], day: date) -> date | None:
    earlier = [d for d in dates if day - timedelta(days=SNAPSHOT_TOLERANCE_DAYS) <= d <= day]
    return max(earlier, default=None)


def _checkpoint(days: int, effective: date, as_of: date, snapshots: list[date]) -> Checkpoint:
    day = effective + timedelta(days=days)
    if day > as_of:
        return Checkpoint(days, day, reached=False)
    return Checkpoint(
        days, day, reached=True, snapshot_date=nearest_snapshot(snapshots, day, not_after=as_of)
    )


def _territory_kpis(connection: Connection, dates: list[date | None]) -> pd.DataFrame:
    wanted = sorted({d for d in dates if d is not None})
    frame = pd.read_sql(
        select(TerritoryKpi, col(Territory.external_id))
        .join(Territory, col(Territory.id) == col(TerritoryKpi.territory_id))
        .where(col(TerritoryKpi.snapshot_date).in_(wanted)),
        connection,
    )
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    return frame.set_index(["snapshot_date", "external_id"])


def _territory_actual(kpis: pd.DataFrame, day: date | None, territory: str) -> TerritoryActual | None:
    if day is None or (day, territory) not in kpis.index:
        return None
    row = kpis.loc[(day, territory)]
    return TerritoryActual(
        snapshot_date=day,
        accounts=int(row["accounts"]),
        potential=float(row["potential"]),
        potential_index=_number(row["potential_index"]),
        workload_hours=float(row["workload_hours"]),
        attainment_gap=_number(row["attainment_gap"]),
        coverage=_number(row["coverage"]),
        activity_change=_number(row["activity_change"]),
    )


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def _territory_outcomes(
    connection: Connection,
    plan: SavedPlan,
    checkpoints: tuple[Checkpoint, ...],
    kpis: pd.DataFrame,
    before_move: date | None,
) -> tuple[TerritoryOutcome, ...]:
    names = _territory_names(connection)
    gained = pd.Series([m.to_territory for m in plan.moves]).value_counts()
    lost = pd.Series([m.from_territory for m in plan.moves]).value_counts()
    outcomes = [
        TerritoryOutcome(
            territory=change.territory,
            name=names.get(change.territory, change.name),
            gained=int(gained.get(change.territory, 0)),
            lost=int(lost.get(change.territory, 0)),
            before=change.before,
            predicted=change.after,
            before_move=_territory_actual(kpis, before_move, change.territory),
            actual=tuple(_territory_actual(kpis, c.snapshot_date, change.territory) for c in checkpoints),
        )
        for change in plan.territories
    ]
    return tuple(sorted(outcomes, key=lambda t: (not t.changed, t.name)))


def _territory_names(connection: Connection) -> dict[str, str]:
    rows = connection.execute(select(col(Territory.external_id), col(Territory.name))).all()
    return {str(external): str(name) for external, name in rows}


def _team_actual(connection: Connection, day: date | None) -> TeamActual | None:
    if day is None:
        return None
    row = connection.execute(
        select(
            col(TeamKpi.cv_potential),
            col(TeamKpi.max_min_ratio),
            col(TeamKpi.quartile_ratio),
            col(TeamKpi.out_of_band),
        ).where(col(TeamKpi.snapshot_date) == day)
    ).first()
    if row is None:
        return None
    return TeamActual(day, row[0], row[1], row[2], int(row[3]))


# --- the moved accounts' retention ------------------------------------------------------------


def _retention(
    connection: Connection, plan: SavedPlan, checkpoints: tuple[Checkpoint, ...]
) -> tuple[AccountRetention, ...]:
    moves = _plan_moves(connection, plan)
    if moves.empty:
        return ()
    effective = min(moves["moved_on"])
    revenue = _revenue(connection, moves, since=add_months(month_start(effective), -BASELINE_REVENUE_MONTHS))
    monthly, sources = _forecast_at_move(connection, moves, revenue)
    readings = [_readings_at(connection, moves, revenue, monthly, c) for c in checkpoints]
    reasons = {m.account: m for m in plan.moves}
    names = _territory_names(connection)
    result = []
    for i, move in moves.iterrows():
        saved = reasons.get(move["external_id"])
        result.append(
            AccountRetention(
                account=move["external_id"],
                name=move["name"],
                from_territory=move["from_external"],
                from_name=names.get(move["from_external"]) if move["from_external"] else None,
                to_territory=move["to_external"],
                to_name=names.get(move["to_external"], move["to_external"]),
                reason=saved.reason if saved else "",
                risks=saved.risks if saved else (),
                moved_on=move["moved_on"],
                forecast_12m=round(float(sum(monthly[move["account_id"]](m) for m in _months(move))), 2),
                forecast_source=sources[move["account_id"]],
                readings=tuple(r[i] for r in readings),
            )
        )
    return tuple(sorted(result, key=lambda a: (a.to_name, a.name)))


def _months(move: pd.Series) -> list[date]:
    """The twelve months from the effective month on (the forecast at the move)."""
    return [add_months(move["moved_on"], k) for k in range(12)]


def _plan_moves(connection: Connection, plan: SavedPlan) -> pd.DataFrame:
    """The plan's applied moves (its AssignmentHistory rows) with the accounts' and territories' ids."""
    to_territory, from_territory = aliased(Territory), aliased(Territory)
    frame = pd.read_sql(
        select(
            col(AssignmentHistory.account_id),
            col(AssignmentHistory.effective_date).label("moved_on"),
            col(AssignmentHistory.to_territory_id).label("territory_id"),
            col(Account.external_id),
            col(Account.name),
            col(to_territory.external_id).label("to_external"),
            col(from_territory.external_id).label("from_external"),
        )
        .join(Account, col(Account.id) == col(AssignmentHistory.account_id))
        .join(to_territory, col(to_territory.id) == col(AssignmentHistory.to_territory_id))
        .join(
            from_territory, col(from_territory.id) == col(AssignmentHistory.from_territory_id), isouter=True
        )
        .where(col(AssignmentHistory.plan_id) == plan.id)
        .order_by(col(AssignmentHistory.id)),
        connection,
    )
    frame["moved_on"] = pd.to_datetime(frame["moved_on"]).dt.date.fillna(plan.effective_date)
    frame["from_external"] = frame["from_external"].astype(object).where(frame["from_external"].notna(), None)
    return frame.drop_duplicates("account_id", keep="last").reset_index(drop=True)


def _revenue(connection: Connection, moves: pd.DataFrame, *, since: date) -> pd.DataFrame:
    frame = pd.read_sql(
        select(col(RevenueMonth.account_id), col(RevenueMonth.month), col(RevenueMonth.amount))
        .where(col(RevenueMonth.account_id).in_([int(a) for a in moves["account_id"]]))
        .where(col(RevenueMonth.month) >= since),
        connection,
    )
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    return frame


def _forecast_at_move(
    connection: Connection, moves: pd.DataFrame, revenue: pd.DataFrame
) -> tuple[dict[int, Any], dict[int, str]]:
    """Per account_id: a function month -> forecast at the move, and where that forecast came from."""
    monthly: dict[int, Any] = {}
    sources: dict[int, str] = {}
    for _, move in moves.iterrows():
        account, effective = int(move["account_id"]), move["moved_on"]
        run = _run_current_on(connection, effective)
        months = _run_forecast(connection, run, account) if run is not None else {}
        if months:
            mean = float(np.mean(list(months.values())))
            monthly[account] = lambda m, months=months, mean=mean: months.get(m, mean)
            sources[account] = f"forecast run {run}"
            continue
        known = revenue[revenue["account_id"] == account]
        baseline = baseline_forecast_12m(known, as_of=effective).get(account, 0.0)
        monthly[account] = lambda m, per_month=float(baseline) / 12: per_month
        sources[account] = "baseline"
    return monthly, sources


def _run_current_on(connection: Connection, day: date) -> int | None:
    """The forecast run current on ``day``: the latest complete run with an as-of date on or before it."""
    return connection.execute(
        select(col(ForecastRun.id))
        .where(col(ForecastRun.status) == "complete")
        .where(col(ForecastRun.as_of) <= day)
        .order_by(col(ForecastRun.as_of).desc(), col(ForecastRun.id).desc())
        .limit(1)
    ).scalar()


def _run_forecast(connection: Connection, run_id: int, account_id: int) -> dict[date, float]:
    rows = connection.execute(
        select(col(AccountForecast.month), col(AccountForecast.yhat))
        .where(col(AccountForecast.run_id) == run_id)
        .where(col(AccountForecast.account_id) == account_id)
    ).all()
    return {pd.Timestamp(month).date(): max(float(yhat), 0.0) for month, yhat in rows}


def _readings_at(
    connection: Connection,
    moves: pd.DataFrame,
    revenue: pd.DataFrame,
    monthly: dict[int, Any],
    checkpoint: Checkpoint,
) -> list[RetentionReading | None]:
    if not checkpoint.reached:
        return [None] * len(moves)
    activity = activity_since_move(connection, moves, as_of=checkpoint.day)
    readings: list[RetentionReading | None] = []
    for i, move in moves.iterrows():
        account, effective = int(move["account_id"]), move["moved_on"]
        months = months_since(effective, checkpoint.day)
        mine = revenue[(revenue["account_id"] == account) & revenue["month"].isin(months)]
        readings.append(
            RetentionReading(
                months=len(months),
                revenue=round(float(mine["amount"].sum()), 2),
                forecast=round(float(sum(monthly[account](m) for m in months)), 2),
                activities=int(activity.at[i, "activities"]),
                by_new_owner=int(activity.at[i, "by_new_owner"]),
                last_activity=activity.at[i, "last_activity"],
                silent=is_silent(int(activity.at[i, "activities"]), effective, checkpoint.day),
            )
        )
    return readings


def months_since(effective: date, day: date) -> list[date]:
    """The whole months counted at ``day``: from the effective month to the last complete month before
    ``day``'s month (none while the effective month is not over)."""
    months, month = [], month_start(effective)
    while month < month_start(day):
        months.append(month)
        month = add_months(month, 1)
    return months
