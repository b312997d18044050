"""The (accounts, territories) frames a rebalance problem is built from, out of the book's tables.

One function for every caller, so the optimizer's "before" is the book the dashboard shows: the
optimize job passes the tables it loaded from the database (with the current forecast run's
potentials), ``core.rebalance.book`` the tables of an in-memory sample book (no forecast run, so
every account has its baseline potential). Potential, revenue, tier and workload come from
``core.accounts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from core.accounts import account_measures
from core.config import Settings


@dataclass(frozen=True)
class BookTables:
    """The book as the database holds it, keyed by integer ids.

    accounts: account_id, external_id, territory_id, lat, lon, state, industry, segment, strategic,
    locked, owned_since, last_moved_at, wallet_estimate. territories: territory_id, external_id,
    name, region, owner_rep_id, rep_name, rep_external_id, home_lat, home_lon, specialties
    (separated by | or ,), capacity_hours. revenue: account_id, month, amount. opportunities:
    account_id, status. forecast_potential: the current forecast run's potential by account_id
    (empty before the first run).
    """

    accounts: pd.DataFrame
    territories: pd.DataFrame
    revenue: pd.DataFrame
    opportunities: pd.DataFrame
    forecast_potential: pd.Series


def problem_frames(
    tables: BookTables, *, as_of: date, settings: Settings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accounts, territories) in the shape ``core.rebalance.build_problem`` reads.

    Accounts without a territory are not part of any rebalance and are left out.
    """
    accounts = tables.accounts[tables.accounts["territory_id"].notna()].reset_index(drop=True)
    territories = _territory_frame(tables.territories, accounts, settings)
    measures = account_measures(
        accounts.astype({"territory_id": int}),
        territories,
        revenue=tables.revenue,
        forecast_potential=tables.forecast_potential,
        as_of=as_of,
        settings=settings,
    )
    return _account_frame(accounts, measures, tables.opportunities), territories


def _territory_frame(territories: pd.DataFrame, accounts: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    states = accounts.groupby("territory_id")["state"].agg(lambda s: "|".join(sorted(set(s.dropna()))))
    return pd.DataFrame(
        {
            "territory_id": territories["territory_id"].astype(int),
            "external_id": territories["external_id"].astype(str),
            "name": territories["name"].fillna(territories["external_id"]),
            "region": territories["region"],
            "owner_rep_id": territories["owner_rep_id"],
            "rep_name": territories["rep_name"],
            "rep_external_id": territories["rep_external_id"],
            "home_lat": territories["home_lat"].astype(float),
            "home_lon": territories["home_lon"].astype(float),
            "specialties": territories["specialties"].fillna("").astype(str).str.replace(",", "|"),
            "capacity_hours": territories["capacity_hours"]
            .astype(float)
            .fillna(settings.default_capacity_hours),
            "states": territories["territory_id"].map(states).fillna(""),
        }
    ).reset_index(drop=True)


def _account_frame(
    accounts: pd.DataFrame, measures: pd.DataFrame, opportunities: pd.DataFrame
) -> pd.DataFrame:
    open_deals = set(opportunities.loc[opportunities["status"] == "open", "account_id"])
    return pd.DataFrame(
        {
            "account_id": accounts["account_id"].astype(int),
            "external_id": accounts["external_id"].astype(str),
            "territory_id": accounts["territory_id"].astype(int),
            "lat": accounts["lat"].astype(float),
            "lon": accounts["lon"].astype(float),
            "state": accounts["state"],
            "industry": accounts["industry"],
            "segment": accounts["segment"],
            "potential": measures["potential"].to_numpy(dtype=float),
            "revenue_ttm": measures["revenue_ttm"].to_numpy(dtype=float),
            "strategic": accounts["strategic"].fillna(False).astype(bool),
            "locked": accounts["locked"].fillna(False).astype(bool),
            "owned_since": pd.to_datetime(accounts["owned_since"]),
            "last_moved_at": pd.to_datetime(accounts["last_moved_at"]),
            "open_opportunity": accounts["account_id"].isin(open_deals).to_numpy(),
            "workload_hours": np.asarray(measures["workload_hours"], dtype=float),
        }
    )
