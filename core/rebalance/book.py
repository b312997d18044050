"""A rebalance problem straight from a ``core.book.Book`` (sample books, tests, benchmarks).

The product loads its tables from the database; this helper takes them from a book alone, with
integer ids by position, and builds the frames through the same ``core.rebalance.frames`` as the
optimize job. A book has no forecast run, so every account has its baseline potential
(``core.accounts``), as the dashboard shows before the first forecast run.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from core.book import Book
from core.config import Settings, get_settings
from core.rebalance.frames import BookTables, problem_frames
from core.rebalance.problem import Problem, build_problem
from core.rebalance.scenario import Scenario


def book_frames(
    book: Book, *, as_of: date | None = None, settings: Settings | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accounts, territories) frames in the shape ``build_problem`` reads, integer ids by position."""
    settings = settings or get_settings()
    as_of = as_of or book.as_of or date.today()
    return problem_frames(book_tables(book), as_of=as_of, settings=settings)


def problem_from_book(
    book: Book, scenario: Scenario, *, as_of: date | None = None, settings: Settings | None = None
) -> Problem:
    """The rebalance problem of a book under a scenario."""
    as_of = as_of or book.as_of or date.today()
    accounts, territories = book_frames(book, as_of=as_of, settings=settings)
    return build_problem(accounts, territories, scenario, as_of=as_of, settings=settings)


def book_tables(book: Book) -> BookTables:
    """The book's tables keyed by integer ids (1..n by position), as the database would key them."""
    reps = book.reps[book.reps["territory_id"].notna()].reset_index(drop=True)
    territory_ids = pd.Series(np.arange(1, len(reps) + 1), index=reps["territory_id"].astype(str).to_numpy())
    territories = pd.DataFrame(
        {
            "territory_id": territory_ids.to_numpy(),
            "external_id": reps["territory_id"].astype(str),
            "name": reps["territory_name"].fillna(reps["territory_id"]),
            "region": reps["region"],
            "owner_rep_id": np.arange(1, len(reps) + 1),
            "rep_name": reps["name"],
            "rep_external_id": reps["rep_id"],
            "home_lat": reps["home_lat"],
            "home_lon": reps["home_lon"],
            "specialties": reps["specialties"],
            "capacity_hours": reps["capacity_hours"],
        }
    )
    frame = book.accounts.reset_index(drop=True)
    account_ids = pd.Series(np.arange(1, len(frame) + 1), index=frame["account_id"].astype(str).to_numpy())
    accounts = frame.assign(
        account_id=account_ids.to_numpy(),
        external_id=frame["account_id"].astype(str),
        territory_id=frame["territory_id"].astype(str).map(territory_ids),
        wallet_estimate=pd.to_numeric(frame["wallet_estimate"]),
    )
    revenue = book.revenue.assign(account_id=book.revenue["account_id"].astype(str).map(account_ids))
    opportunities = book.opportunities.assign(
        account_id=book.opportunities["account_id"].astype(str).map(account_ids)
    )
    return BookTables(
        accounts=accounts,
        territories=territories,
        revenue=revenue,
        opportunities=opportunities,
        forecast_potential=pd.Series(dtype=float),
    )
