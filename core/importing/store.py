"""Storing a validated ``Book`` all or nothing: every table in the caller's transaction.

Upserts: a file is the truth for the columns it has. Columns a file does not have are left as they
are in the database (new rows take the model defaults); an empty cell in a present column clears
it. Unchanged rows are not written at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from sqlmodel import Session

from core.book import Book
from core.importing.store_accounts import store_accounts
from core.importing.store_reps import store_reps, store_territories
from core.importing.store_sales import store_activities, store_opportunities, store_quotas, store_revenue

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class StoreReport:
    """Rows one ``store_book`` wrote per table: inserted, or updated because a value changed
    (re-importing the same files writes none)."""

    reps: int = 0
    territories: int = 0
    territories_vacated: int = 0
    accounts: int = 0
    accounts_new: int = 0
    assignment_changes: int = 0
    revenue_months: int = 0
    activities: int = 0
    opportunities: int = 0
    quotas: int = 0

    @property
    def rows_written(self) -> int:
        return (
            self.reps
            + self.territories
            + self.territories_vacated
            + self.accounts
            + self.assignment_changes
            + self.revenue_months
            + self.activities
            + self.opportunities
            + self.quotas
        )

    def __str__(self) -> str:
        return (
            f"wrote {self.reps:,} reps, {self.territories:,} territories "
            f"({self.territories_vacated:,} vacated), {self.accounts:,} accounts "
            f"({self.accounts_new:,} new, {self.assignment_changes:,} assignment changes), "
            f"{self.revenue_months:,} revenue months, {self.activities:,} activities, "
            f"{self.opportunities:,} opportunities, {self.quotas:,} quotas"
        )


def store_book(
    session: Session, book: Book, *, source: str = "import", today: date | None = None
) -> StoreReport:
    """Write a validated ``Book`` in the caller's transaction (upserts by CRM id; idempotent).

    Territories come from the reps' ``territory_id`` / ``territory_name``: the owner is the active
    rep naming it, a territory only inactive reps name is vacant, and territories a rep of the file
    no longer names (or owned by a rep now inactive) become vacant. An account takes its
    ``territory_id``, else its owner rep's territory; every change of an account's territory, and
    every new account placed in one, is written to ``AssignmentHistory`` (``source``) and sets
    ``owned_since`` / ``last_moved_at`` to ``today`` unless the file gives them.
    """
    connection = session.connection()
    today = today or book.as_of or date.today()
    started = time.perf_counter()
    reps = _timed("reps", store_reps, connection, book.reps)
    territories, vacated = _timed("territories", store_territories, connection, book.reps)
    accounts, new, changes = _timed(
        "accounts", store_accounts, connection, book.accounts, source=source, today=today
    )
    revenue = _timed("revenue", store_revenue, connection, book.revenue)
    opportunities = _timed("opportunities", store_opportunities, connection, book.opportunities)
    activities = _timed("activities", store_activities, connection, book.activities)
    quotas = _timed("quotas", store_quotas, connection, book.quotas)
    report = StoreReport(
        reps=reps,
        territories=territories,
        territories_vacated=vacated,
        accounts=accounts,
        accounts_new=new,
        assignment_changes=changes,
        revenue_months=revenue,
        activities=activities,
        opportunities=opportunities,
        quotas=quotas,
    )
    log.info("stored in %.1f s: %s", time.perf_counter() - started, report)
    return report


def _timed(label: str, step: Callable[..., _T], *args: object, **kwargs: object) -> _T:
    started = time.perf_counter()
    result = step(*args, **kwargs)
    log.info("stored %s in %.1f s", label, time.perf_counter() - started)
    return result
