"""Keyword-only read functions returning DataFrames: what jobs, the CLI and the dashboard load.

Portable SQL through SQLAlchemy Core (no dialect-specific text), so SQLite and PostgreSQL read alike.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.accounts import BASELINE_REVENUE_MONTHS, account_measures
from core.assignments import territory_on
from core.config import get_settings
from core.models import (
    Account,
    AccountForecast,
    AccountPotential,
    Activity,
    AssignmentHistory,
    ForecastRun,
    JobRun,
    Opportunity,
    Quota,
    QuotaAdjustment,
    RebalancePlan,
    Rep,
    RevenueMonth,
    TeamKpi,
    Territory,
    TerritoryKpi,
)
from core.months import add_months, month_start

if TYPE_CHECKING:
    from core.rebalance.frames import BookTables


def read_frame(engine: Engine, statement) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return pd.read_sql(statement, connection)


def load_reps(*, engine: Engine) -> pd.DataFrame:
    return read_frame(engine, select(Rep))


def load_territories(*, engine: Engine) -> pd.DataFrame:
    """Territories with their owner's name, home and capacity (vacant territories have none)."""
    # Annotated because SQLAlchemy 2.1's stubs type `.label()` on a mapped column as Label[Never].
    statement: Select[*tuple[Any, ...]] = (
        select(
            col(Territory.id).label("territory_id"),
            col(Territory.external_id),
            col(Territory.name),
            col(Territory.region),
            col(Territory.owner_rep_id),
            col(Rep.external_id).label("rep_external_id"),
            col(Rep.name).label("rep_name"),
            col(Rep.home_lat),
            col(Rep.home_lon),
            col(Rep.specialties),
            col(Rep.capacity_hours),
            col(Rep.state).label("rep_state"),
        )
        .join(Rep, col(Rep.id) == col(Territory.owner_rep_id), isouter=True)
        .order_by(col(Territory.external_id))
    )
    return read_frame(engine, statement)


def load_accounts(*, engine: Engine, territory_ids: list[int] | None = None) -> pd.DataFrame:
    statement = select(Account).order_by(col(Account.id))
    if territory_ids is not None:
        statement = statement.where(col(Account.territory_id).in_(territory_ids))
    frame = read_frame(engine, statement).rename(columns={"id": "account_id"})
    for column in ("owned_since", "last_moved_at"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def load_revenue(
    *, engine: Engine, since: date | None = None, account_ids: list[int] | None = None
) -> pd.DataFrame:
    statement = select(col(RevenueMonth.account_id), col(RevenueMonth.month), col(RevenueMonth.amount))
    if since is not None:
        statement = statement.where(col(RevenueMonth.month) >= since)
    if account_ids is not None:
        statement = statement.where(col(RevenueMonth.account_id).in_(account_ids))
    frame = read_frame(engine, statement.order_by(col(RevenueMonth.account_id), col(RevenueMonth.month)))
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    return frame


def load_first_revenue_months(*, engine: Engine) -> pd.Series:
    """The first month with positive revenue per account_id over the whole history (Timestamps).

    Callers that read only a recent window of revenue pass it to the baseline forecast.
    """
    statement = (
        select(col(RevenueMonth.account_id), func.min(col(RevenueMonth.month)).label("month"))
        .where(col(RevenueMonth.amount) > 0)
        .group_by(col(RevenueMonth.account_id))
    )
    frame = read_frame(engine, statement)
    return pd.Series(pd.to_datetime(frame["month"]).to_numpy(), index=frame["account_id"].to_numpy())


def load_activities(*, engine: Engine, since: date | None = None) -> pd.DataFrame:
    statement = select(
        col(Activity.account_id),
        col(Activity.rep_id),
        col(Activity.kind),
        col(Activity.occurred_on),
        col(Activity.hours),
    )
    if since is not None:
        statement = statement.where(col(Activity.occurred_on) >= since)
    frame = read_frame(engine, statement)
    frame["occurred_on"] = pd.to_datetime(frame["occurred_on"]).dt.date
    return frame


def load_opportunities(*, engine: Engine) -> pd.DataFrame:
    frame = read_frame(
        engine,
        select(
            col(Opportunity.id).label("opportunity_id"),
            col(Opportunity.account_id),
            col(Opportunity.rep_id),
            col(Opportunity.amount),
            col(Opportunity.stage),
            col(Opportunity.status),
            col(Opportunity.created_on),
            col(Opportunity.close_date),
        ),
    )
    for column in ("created_on", "close_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def load_quotas(*, engine: Engine) -> pd.DataFrame:
    statement = select(col(Quota.rep_id), col(Quota.period_start), col(Quota.period_end), col(Quota.amount))
    frame = read_frame(engine, statement)
    for column in ("period_start", "period_end"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def load_assignment_moves(*, engine: Engine) -> pd.DataFrame:
    """The assignment history that dates ``Account.territory_id`` (``core.assignments``), in recorded order.

    Columns: account_id, from_territory_id, to_territory_id, effective_date (a row without one takes
    effect on its changed_at date), source, plan_id.
    """
    statement = select(
        col(AssignmentHistory.account_id),
        col(AssignmentHistory.from_territory_id),
        col(AssignmentHistory.to_territory_id),
        col(AssignmentHistory.effective_date),
        col(AssignmentHistory.changed_at),
        col(AssignmentHistory.source),
        col(AssignmentHistory.plan_id),
    ).order_by(col(AssignmentHistory.id))
    frame = read_frame(engine, statement)
    changed = pd.to_datetime(frame["changed_at"], utc=True).dt.tz_localize(None).dt.normalize()
    effective = pd.to_datetime(frame["effective_date"]).astype("datetime64[ns]")
    frame["effective_date"] = effective.fillna(changed.astype("datetime64[ns]"))
    return frame.drop(columns="changed_at")


def load_quota_adjustments(*, engine: Engine, rep_id: int | None = None) -> pd.DataFrame:
    """``QuotaAdjustment`` rows (one rep's, or all) with their plan's name, by effective date.

    Columns: adjustment_id, rep_id, territory_id, period_start, period_end, effective_date, amount,
    method, plan_id, plan_name, reason, actor, created_at (dates as ``date``).
    """
    # Annotated because SQLAlchemy 2.1's stubs type `.label()` on a mapped column as Label[Never].
    statement: Select[*tuple[Any, ...]] = select(
        col(QuotaAdjustment.id).label("adjustment_id"),
        col(QuotaAdjustment.rep_id),
        col(QuotaAdjustment.territory_id),
        col(QuotaAdjustment.period_start),
        col(QuotaAdjustment.period_end),
        col(QuotaAdjustment.effective_date),
        col(QuotaAdjustment.amount),
        col(QuotaAdjustment.method),
        col(QuotaAdjustment.plan_id),
        col(RebalancePlan.name).label("plan_name"),
        col(QuotaAdjustment.reason),
        col(QuotaAdjustment.actor),
        col(QuotaAdjustment.created_at),
    ).join(RebalancePlan, col(RebalancePlan.id) == col(QuotaAdjustment.plan_id), isouter=True)
    if rep_id is not None:
        statement = statement.where(col(QuotaAdjustment.rep_id) == rep_id)
    frame = read_frame(
        engine, statement.order_by(col(QuotaAdjustment.effective_date), col(QuotaAdjustment.id))
    )
    for column in ("period_start", "period_end", "effective_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def current_forecast_run(*, engine: Engine) -> int | None:
    statement = (
        select(col(ForecastRun.id))
        .where(col(ForecastRun.is_current) == True)  # noqa: E712
        .order_by(col(ForecastRun.id).desc())
    )
    with engine.connect() as connection:
        return connection.execute(statement.limit(1)).scalar()


def load_potentials(*, engine: Engine) -> pd.DataFrame:
    """The current forecast run's potential per account (empty before the first run)."""
    run_id = current_forecast_run(engine=engine)
    if run_id is None:
        return pd.DataFrame(columns=["account_id", "forecast_12m", "wallet", "potential", "method"])
    return read_frame(
        engine,
        select(
            col(AccountPotential.account_id),
            col(AccountPotential.forecast_12m),
            col(AccountPotential.wallet),
            col(AccountPotential.potential),
            col(AccountPotential.method),
        ).where(col(AccountPotential.run_id) == run_id),
    )


def latest_snapshot_date(*, engine: Engine) -> date | None:
    with engine.connect() as connection:
        value = connection.execute(select(func.max(col(TeamKpi.snapshot_date)))).scalar()
    return pd.Timestamp(value).date() if value is not None else None


def load_territory_kpis(
    *, engine: Engine, snapshot_date: date | None = None, since: date | None = None
) -> pd.DataFrame:
    """Territory KPI snapshots with territory names: one date, everything since a date, or the latest."""
    statement = select(
        TerritoryKpi, col(Territory.external_id), col(Territory.name), col(Territory.region)
    ).join(Territory, col(Territory.id) == col(TerritoryKpi.territory_id))
    if since is not None:
        statement = statement.where(col(TerritoryKpi.snapshot_date) >= since)
    else:
        snapshot_date = snapshot_date or latest_snapshot_date(engine=engine)
        statement = statement.where(col(TerritoryKpi.snapshot_date) == snapshot_date)
    frame = read_frame(
        engine, statement.order_by(col(TerritoryKpi.snapshot_date), col(Territory.external_id))
    )
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    return frame


def load_team_kpis(*, engine: Engine, since: date | None = None) -> pd.DataFrame:
    statement = select(TeamKpi).order_by(col(TeamKpi.snapshot_date))
    if since is not None:
        statement = statement.where(col(TeamKpi.snapshot_date) >= since)
    frame = read_frame(engine, statement)
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    return frame


def load_job_runs(*, engine: Engine, limit: int = 50) -> pd.DataFrame:
    return read_frame(engine, select(JobRun).order_by(col(JobRun.id).desc()).limit(limit))


def table_counts(*, engine: Engine) -> dict[str, int]:
    """Row counts for `territory status` (revenue_months counts account-month rows)."""
    tables = {
        "reps": Rep,
        "territories": Territory,
        "accounts": Account,
        "revenue_months": RevenueMonth,
        "activities": Activity,
        "opportunities": Opportunity,
        "quotas": Quota,
    }
    with engine.connect() as connection:
        return {
            name: int(connection.execute(select(func.count()).select_from(model)).scalar() or 0)
            for name, model in tables.items()
        }


def load_account_measures(*, engine: Engine, as_of: date) -> pd.DataFrame:
    """Every account (``load_accounts`` columns) with its ``core.accounts`` measures as of a date:
    revenue_ttm, potential, potential_source, tier and workload_hours."""
    accounts = load_accounts(engine=engine)
    since = add_months(month_start(as_of), -BASELINE_REVENUE_MONTHS)
    measures = account_measures(
        accounts,
        load_territories(engine=engine),
        revenue=load_revenue(engine=engine, since=since),
        forecast_potential=load_potentials(engine=engine).set_index("account_id")["potential"],
        as_of=as_of,
        settings=get_settings(),
        first_month=load_first_revenue_months(engine=engine),
    )
    return accounts.join(measures)


def accounts_export(*, engine: Engine, as_of: date, assigned_on: date | None = None) -> pd.DataFrame:
    """The book as `territory accounts --csv` prints it: one row per account, external ids, measures
    as of ``as_of``; each account's territory is today's, or the one in force on ``assigned_on``
    (``core.assignments``)."""
    accounts = load_account_measures(engine=engine, as_of=as_of)
    if assigned_on is not None:
        accounts["territory_id"] = territory_on(
            accounts.set_index("account_id")["territory_id"],
            load_assignment_moves(engine=engine),
            accounts["account_id"],
            assigned_on,
        ).to_numpy()
    territories = load_territories(engine=engine).set_index("territory_id")
    return pd.DataFrame(
        {
            "account_id": accounts["external_id"],
            "name": accounts["name"],
            "territory_id": accounts["territory_id"].map(territories["external_id"]),
            "territory": accounts["territory_id"].map(territories["name"]),
            "owner_rep_id": accounts["territory_id"].map(territories["rep_external_id"]),
            "owner_rep": accounts["territory_id"].map(territories["rep_name"]),
            "state": accounts["state"],
            "industry": accounts["industry"],
            "segment": accounts["segment"],
            "revenue_ttm": accounts["revenue_ttm"].round(2),
            "strategic": accounts["strategic"],
            "locked": accounts["locked"],
            "potential": accounts["potential"].round(2),
        }
    )


def load_current_forecasts(*, engine: Engine) -> tuple[pd.DataFrame, date | None]:
    """The current forecast run's monthly forecasts (account_id, month, yhat) and its as-of date."""
    run_id = current_forecast_run(engine=engine)
    if run_id is None:
        return pd.DataFrame(columns=["account_id", "month", "yhat"]), None
    forecasts = read_frame(
        engine,
        select(col(AccountForecast.account_id), col(AccountForecast.month), col(AccountForecast.yhat)).where(
            col(AccountForecast.run_id) == run_id
        ),
    )
    forecasts["month"] = pd.to_datetime(forecasts["month"]).dt.date
    with engine.connect() as connection:
        value = connection.execute(
            select(col(ForecastRun.as_of)).where(col(ForecastRun.id) == run_id)
        ).scalar()
    return forecasts, (pd.Timestamp(value).date() if value is not None else None)


def load_book_tables(*, engine: Engine) -> BookTables:
    """Today's book as the optimizer reads it, with the current forecast run's potentials."""
    from core.rebalance.frames import BookTables  # the solver package loads only when solving

    return BookTables(
        accounts=load_accounts(engine=engine),
        territories=load_territories(engine=engine),
        revenue=load_revenue(engine=engine),
        opportunities=load_opportunities(engine=engine),
        forecast_potential=load_potentials(engine=engine).set_index("account_id")["potential"],
    )
