"""Keyword-only read functions returning DataFrames: what jobs, the CLI and the dashboard load.

Portable SQL through SQLAlchemy Core (no dialect-specific text), so SQLite and PostgreSQL read alike.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from core.models import (
    Account,
    AccountPotential,
    Activity,
    ForecastRun,
    JobRun,
    Opportunity,
    Quota,
    Rep,
    RevenueMonth,
    TeamKpi,
    Territory,
    TerritoryKpi,
)
from core.potential import trailing_revenue


def read_frame(engine: Engine, statement) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return pd.read_sql(statement, connection)


def load_reps(*, engine: Engine) -> pd.DataFrame:
    return read_frame(engine, select(Rep))


def load_territories(*, engine: Engine) -> pd.DataFrame:
    """Territories with their owner's name, home and capacity (vacant territories have none)."""
    statement = (
        select(
            Territory.id.label("territory_id"),
            Territory.external_id,
            Territory.name,
            Territory.region,
            Territory.owner_rep_id,
            Rep.external_id.label("rep_external_id"),
            Rep.name.label("rep_name"),
            Rep.home_lat,
            Rep.home_lon,
            Rep.specialties,
            Rep.capacity_hours,
            Rep.state.label("rep_state"),
        )
        .join(Rep, Rep.id == Territory.owner_rep_id, isouter=True)
        .order_by(Territory.external_id)
    )
    return read_frame(engine, statement)


def load_accounts(*, engine: Engine, territory_ids: list[int] | None = None) -> pd.DataFrame:
    statement = select(Account).order_by(Account.id)
    if territory_ids is not None:
        statement = statement.where(Account.territory_id.in_(territory_ids))
    frame = read_frame(engine, statement).rename(columns={"id": "account_id"})
    for column in ("owned_since", "last_moved_at"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def load_revenue(
    *, engine: Engine, since: date | None = None, account_ids: list[int] | None = None
) -> pd.DataFrame:
    statement = select(RevenueMonth.account_id, RevenueMonth.month, RevenueMonth.amount)
    if since is not None:
        statement = statement.where(RevenueMonth.month >= since)
    if account_ids is not None:
        statement = statement.where(RevenueMonth.account_id.in_(account_ids))
    frame = read_frame(engine, statement.order_by(RevenueMonth.account_id, RevenueMonth.month))
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    return frame


def load_activities(*, engine: Engine, since: date | None = None) -> pd.DataFrame:
    statement = select(
        Activity.account_id, Activity.rep_id, Activity.kind, Activity.occurred_on, Activity.hours
    )
    if since is not None:
        statement = statement.where(Activity.occurred_on >= since)
    frame = read_frame(engine, statement)
    frame["occurred_on"] = pd.to_datetime(frame["occurred_on"]).dt.date
    return frame


def load_opportunities(*, engine: Engine) -> pd.DataFrame:
    frame = read_frame(
        engine,
        select(
            Opportunity.id.label("opportunity_id"),
            Opportunity.account_id,
            Opportunity.rep_id,
            Opportunity.amount,
            Opportunity.stage,
            Opportunity.status,
            Opportunity.created_on,
            Opportunity.close_date,
        ),
    )
    for column in ("created_on", "close_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def load_quotas(*, engine: Engine) -> pd.DataFrame:
    frame = read_frame(engine, select(Quota.rep_id, Quota.period_start, Quota.period_end, Quota.amount))
    for column in ("period_start", "period_end"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def current_forecast_run(*, engine: Engine) -> int | None:
    statement = select(ForecastRun.id).where(ForecastRun.is_current == True).order_by(ForecastRun.id.desc())  # noqa: E712
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
            AccountPotential.account_id,
            AccountPotential.forecast_12m,
            AccountPotential.wallet,
            AccountPotential.potential,
            AccountPotential.method,
        ).where(AccountPotential.run_id == run_id),
    )


def latest_snapshot_date(*, engine: Engine) -> date | None:
    with engine.connect() as connection:
        value = connection.execute(select(func.max(TeamKpi.snapshot_date))).scalar()
    return pd.Timestamp(value).date() if value is not None else None


def load_territory_kpis(
    *, engine: Engine, snapshot_date: date | None = None, since: date | None = None
) -> pd.DataFrame:
    """Territory KPI snapshots with territory names: one date, everything since a date, or the latest."""
    statement = select(TerritoryKpi, Territory.external_id, Territory.name, Territory.region).join(
        Territory, Territory.id == TerritoryKpi.territory_id
    )
    if since is not None:
        statement = statement.where(TerritoryKpi.snapshot_date >= since)
    else:
        snapshot_date = snapshot_date or latest_snapshot_date(engine=engine)
        statement = statement.where(TerritoryKpi.snapshot_date == snapshot_date)
    frame = read_frame(engine, statement.order_by(TerritoryKpi.snapshot_date, Territory.external_id))
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    return frame


def load_team_kpis(*, engine: Engine, since: date | None = None) -> pd.DataFrame:
    statement = select(TeamKpi).order_by(TeamKpi.snapshot_date)
    if since is not None:
        statement = statement.where(TeamKpi.snapshot_date >= since)
    frame = read_frame(engine, statement)
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    return frame


def load_job_runs(*, engine: Engine, limit: int = 50) -> pd.DataFrame:
    return read_frame(engine, select(JobRun).order_by(JobRun.id.desc()).limit(limit))


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


def accounts_export(*, engine: Engine, as_of: date) -> pd.DataFrame:
    """The book as `territory accounts --csv` prints it: one row per account, external ids."""
    accounts = load_accounts(engine=engine)
    territories = load_territories(engine=engine).set_index("territory_id")
    ttm = trailing_revenue(load_revenue(engine=engine), as_of=as_of)
    potentials = load_potentials(engine=engine).set_index("account_id")["potential"]
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
            "revenue_ttm": accounts["account_id"].map(ttm).fillna(0.0).round(2),
            "strategic": accounts["strategic"],
            "locked": accounts["locked"],
            "potential": accounts["account_id"].map(potentials).round(2),
        }
    )
