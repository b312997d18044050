"""A rebalance problem straight from a ``core.book.Book`` (sample books, tests, benchmarks).

The product loads its frames from the database (potential from the forecast job); this helper
derives them from a book alone, with the DESIGN.md definitions: potential = trailing-12-month
revenue + whitespace_weight x max(wallet - ttm, 0); workload by tier (strategic 10 h, key 4 h,
standard 1.5 h, long tail 0.5 h a month) plus travel from the owner's home at 60 km/h.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from core.book import Book
from core.config import Settings, get_settings
from core.kpis import account_tier, haversine_km
from core.potential import trailing_revenue
from core.rebalance.problem import Problem, build_problem
from core.rebalance.scenario import Scenario

TIERS = ("strategic", "key", "standard", "long_tail")


def book_frames(
    book: Book, *, as_of: date | None = None, settings: Settings | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accounts, territories) frames in the shape ``build_problem`` reads, integer ids by position."""
    settings = settings or get_settings()
    as_of = as_of or book.as_of or date.today()
    territories = _territories(book, settings)
    accounts = _accounts(book, territories, as_of, settings)
    return accounts, territories


def problem_from_book(
    book: Book, scenario: Scenario, *, as_of: date | None = None, settings: Settings | None = None
) -> Problem:
    """The rebalance problem of a book under a scenario."""
    as_of = as_of or book.as_of or date.today()
    accounts, territories = book_frames(book, as_of=as_of, settings=settings)
    return build_problem(accounts, territories, scenario, as_of=as_of, settings=settings)


def _territories(book: Book, settings: Settings) -> pd.DataFrame:
    reps = book.reps[book.reps["territory_id"].notna()].reset_index(drop=True)
    owners = book.accounts.groupby("territory_id")["state"].agg(lambda s: "|".join(sorted(set(s.dropna()))))
    return pd.DataFrame(
        {
            "territory_id": np.arange(1, len(reps) + 1),
            "external_id": reps["territory_id"].astype(str),
            "name": reps["territory_name"].fillna(reps["territory_id"]),
            "region": reps["region"],
            "owner_rep_id": np.arange(1, len(reps) + 1),
            "rep_name": reps["name"],
            "rep_external_id": reps["rep_id"],
            "home_lat": reps["home_lat"].astype(float),
            "home_lon": reps["home_lon"].astype(float),
            "specialties": reps["specialties"].fillna(""),
            "capacity_hours": reps["capacity_hours"].astype(float).fillna(settings.default_capacity_hours),
            "states": reps["territory_id"].map(owners).fillna(""),
        }
    )


def _accounts(book: Book, territories: pd.DataFrame, as_of: date, settings: Settings) -> pd.DataFrame:
    frame = book.accounts.reset_index(drop=True)
    territory_of = pd.Series(
        territories["territory_id"].to_numpy(), index=territories["external_id"].to_numpy()
    )
    ttm = trailing_revenue(book.revenue, as_of=as_of).reindex(frame["account_id"]).fillna(0.0).to_numpy()
    wallet = pd.to_numeric(frame["wallet_estimate"]).fillna(0.0).to_numpy()
    open_deals = set(book.opportunities.loc[book.opportunities["status"] == "open", "account_id"])
    accounts = pd.DataFrame(
        {
            "account_id": np.arange(1, len(frame) + 1),
            "external_id": frame["account_id"].astype(str),
            "territory_id": frame["territory_id"].map(territory_of).astype(int),
            "lat": frame["lat"].astype(float),
            "lon": frame["lon"].astype(float),
            "state": frame["state"],
            "industry": frame["industry"],
            "segment": frame["segment"],
            "potential": ttm + settings.whitespace_weight * np.maximum(wallet - ttm, 0.0),
            "revenue_ttm": ttm,
            "strategic": frame["strategic"].astype(bool),
            "locked": frame["locked"].astype(bool),
            "owned_since": pd.to_datetime(frame["owned_since"]),
            "last_moved_at": pd.to_datetime(frame["last_moved_at"]),
            "open_opportunity": frame["account_id"].isin(open_deals).to_numpy(),
        }
    )
    accounts["workload_hours"] = _workload(accounts, territories, settings)
    return accounts


def _workload(accounts: pd.DataFrame, territories: pd.DataFrame, settings: Settings) -> np.ndarray:
    """Touch hours by tier + visits x round trip from the owner's home / speed."""
    tier = account_tier(accounts["revenue_ttm"], accounts["strategic"], settings)
    touch = tier.map({t: getattr(settings, f"touch_hours_{t}") for t in TIERS}).astype(float)
    visits = tier.map({t: getattr(settings, f"visits_per_month_{t}") for t in TIERS}).astype(float)
    home = territories.set_index("territory_id")[["home_lat", "home_lon"]]
    km = haversine_km(
        accounts["lat"],
        accounts["lon"],
        accounts["territory_id"].map(home["home_lat"]),
        accounts["territory_id"].map(home["home_lon"]),
    )
    return (touch + visits * 2 * km.fillna(0.0) / settings.travel_speed_kmh).to_numpy()
