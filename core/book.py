"""The in-memory book: one DataFrame per entity, keyed by CRM external ids.

This is the contract between the sample generator, the CSV import and the database loader: the
generator returns a ``Book``, an import parses files into a ``Book`` (after validation), and
``core.importing.store_book`` writes one in a single transaction. Column specs below are what
validation checks; our own column names are these, Salesforce aliases map onto them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # str | float | int | bool | date
    required: bool = False
    description: str = ""


REP_COLUMNS = (
    Column("rep_id", "str", True, "CRM id of the rep (User Id)"),
    Column("name", "str", True, "Full name"),
    Column("email", "str"),
    Column("home_city", "str"),
    Column("home_lat", "float", description="Latitude of the rep's home base"),
    Column("home_lon", "float", description="Longitude of the rep's home base"),
    Column("state", "str", description="Two-letter US state of the home base"),
    Column("region", "str"),
    Column("specialties", "str", description="Industries the rep specialises in, separated by |"),
    Column("capacity_hours", "float", description="Hours a month available for accounts"),
    Column("active", "bool"),
    Column("hired_at", "date"),
    Column("left_at", "date"),
    Column("territory_id", "str", description="Territory this rep owns (created when new)"),
    Column("territory_name", "str"),
    Column("salesforce_id", "str", description="Salesforce User Id (005...), for CRM-ready exports"),
    Column(
        "territory_salesforce_id", "str", description="Salesforce Territory2 Id (0MI...) of the territory"
    ),
)

ACCOUNT_COLUMNS = (
    Column("account_id", "str", True, "CRM id of the account"),
    Column("name", "str", True),
    Column("territory_id", "str", description="Territory id; when empty, the owner rep's territory"),
    Column("owner_rep_id", "str", description="Owner rep id (OwnerId)"),
    Column("industry", "str"),
    Column("segment", "str", description="Enterprise | Mid-Market | SMB"),
    Column("city", "str"),
    Column("state", "str"),
    Column("postal_code", "str"),
    Column("lat", "float"),
    Column("lon", "float"),
    Column("strategic", "bool"),
    Column("locked", "bool"),
    Column("owned_since", "date"),
    Column("last_moved_at", "date"),
    Column("wallet_estimate", "float", description="Estimated yearly spend available in our category"),
    Column("annual_revenue", "float", description="The firm's own annual revenue (AnnualRevenue)"),
    Column("employees", "int"),
    Column("salesforce_id", "str", description="Salesforce Account Id (001...), for CRM-ready exports"),
)

REVENUE_COLUMNS = (
    Column("account_id", "str", True),
    Column("month", "date", True, "Any date in the month; stored as the first of the month"),
    Column("amount", "float", True, "Revenue booked from the account that month"),
)

ACTIVITY_COLUMNS = (
    Column("activity_id", "str"),
    Column("account_id", "str", True),
    Column("rep_id", "str"),
    Column("kind", "str", description="call | email | meeting | visit"),
    Column("occurred_on", "date", True),
    Column("hours", "float"),
)

OPPORTUNITY_COLUMNS = (
    Column("opportunity_id", "str", True),
    Column("account_id", "str", True),
    Column("rep_id", "str"),
    Column("name", "str"),
    Column("amount", "float", True),
    Column("stage", "str"),
    Column("status", "str", description="open | won | lost (derived from stage when absent)"),
    Column("created_on", "date", True),
    Column("close_date", "date", True),
)

QUOTA_COLUMNS = (
    Column("rep_id", "str", True),
    Column("period_start", "date", True),
    Column("period_end", "date", True),
    Column("amount", "float", True),
)

SPECS: dict[str, tuple[Column, ...]] = {
    "reps": REP_COLUMNS,
    "accounts": ACCOUNT_COLUMNS,
    "revenue": REVENUE_COLUMNS,
    "activities": ACTIVITY_COLUMNS,
    "opportunities": OPPORTUNITY_COLUMNS,
    "quotas": QUOTA_COLUMNS,
}


def empty_frame(kind: str) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype="object") for c in SPECS[kind]})


@dataclass(frozen=True)
class Story:
    """A fact planted in a sample book that the monitor must catch."""

    kind: str  # churned_top_account | activity_cliff | overloaded_after_departure | stalled_bookings
    territory_id: str
    text: str
    rep_id: str | None = None
    account_id: str | None = None


@dataclass(frozen=True)
class PastPlan:
    """A rebalance plan applied before the book's as-of date (sample books; core/sample_plan.py).

    ``moves`` are (account_id, from territory_id, to territory_id); the book already holds the
    accounts in their new territory. ``owned_since_before`` is each moved account's owned_since
    before the move (the book's is the effective date).
    """

    name: str
    effective_date: date
    moves: tuple[tuple[str, str, str], ...]
    owned_since_before: tuple[date, ...]
    silent_account: str | None  # the moved account nobody has touched since the move
    planner: str
    approver: str


@dataclass(frozen=True)
class Book:
    """A whole or partial book of business. Frames use the column names of ``SPECS``."""

    reps: pd.DataFrame = field(default_factory=lambda: empty_frame("reps"))
    accounts: pd.DataFrame = field(default_factory=lambda: empty_frame("accounts"))
    revenue: pd.DataFrame = field(default_factory=lambda: empty_frame("revenue"))
    activities: pd.DataFrame = field(default_factory=lambda: empty_frame("activities"))
    opportunities: pd.DataFrame = field(default_factory=lambda: empty_frame("opportunities"))
    quotas: pd.DataFrame = field(default_factory=lambda: empty_frame("quotas"))
    as_of: date | None = None  # the day the book describes (sample books); None for imports
    stories: tuple[Story, ...] = ()  # planted stories a monitor must catch (sample books)
    past_plan: PastPlan | None = None  # a plan applied four months before as_of (sample books)

    def frames(self) -> dict[str, pd.DataFrame]:
        return {kind: getattr(self, kind) for kind in SPECS}
