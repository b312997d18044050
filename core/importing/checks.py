"""Checks across rows and files: duplicates, references, coordinates, placement, signs, dates,
codes and territory owners. Each check is ``CheckInput -> list[Problem]``, registered in ``CHECKS``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.geo_postal import STATE_CODES
from core.importing.problems import Problem, flag, show_value
from core.models import Account, Rep, Territory

log = logging.getLogger(__name__)

OPPORTUNITY_STATUSES = frozenset({"open", "won", "lost"})


@dataclass(frozen=True)
class ExistingIds:
    """CRM ids already in the database: references to them are valid without being in the files."""

    reps: frozenset[str] = frozenset()
    territories: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()


def load_existing_ids(engine: Engine) -> ExistingIds:
    """The external ids of the reps, territories and accounts in the database."""
    with engine.connect() as connection:

        def ids(model: type[Rep] | type[Territory] | type[Account]) -> frozenset[str]:
            return frozenset(connection.execute(select(col(model.external_id))).scalars())

        return ExistingIds(reps=ids(Rep), territories=ids(Territory), accounts=ids(Account))


@dataclass(frozen=True)
class CheckInput:
    """What the checks look at: typed frames (index = row numbers), their file names, the ids
    already stored, today, and the kinds whose file could not be read at all."""

    frames: Mapping[str, pd.DataFrame]
    files: Mapping[str, str]
    existing: ExistingIds
    today: pd.Timestamp
    unreadable: frozenset[str] = frozenset()

    def column(self, kind: str, name: str) -> pd.Series | None:
        frame = self.frames.get(kind)
        return frame[name] if frame is not None and name in frame else None


UNIQUE_KEYS = {
    "reps": ("rep_id",),
    "accounts": ("account_id",),
    "opportunities": ("opportunity_id",),
    "activities": ("activity_id",),
    "revenue": ("account_id", "month"),
    "quotas": ("rep_id", "period_start"),
}
REFERENCES = (  # (kind, column, referenced entity)
    ("accounts", "owner_rep_id", "reps"),
    ("accounts", "territory_id", "territories"),
    ("revenue", "account_id", "accounts"),
    ("activities", "account_id", "accounts"),
    ("activities", "rep_id", "reps"),
    ("opportunities", "account_id", "accounts"),
    ("opportunities", "rep_id", "reps"),
    ("quotas", "rep_id", "reps"),
)
COORDINATES = {"accounts": ("lat", "lon"), "reps": ("home_lat", "home_lon")}
NON_NEGATIVE = {
    "revenue": ("amount",),
    "opportunities": ("amount",),
    "quotas": ("amount",),
    "activities": ("hours",),
    "accounts": ("wallet_estimate", "annual_revenue", "employees"),
    "reps": ("capacity_hours",),
}
NOT_IN_FUTURE = {
    "reps": ("hired_at", "left_at"),
    "accounts": ("owned_since", "last_moved_at"),
    "revenue": ("month",),
    "activities": ("occurred_on",),
    "opportunities": ("created_on", "close_date"),
}


def check_duplicates(book: CheckInput) -> list[Problem]:
    """A CRM id (or revenue account-month, quota rep-period) appears twice in one file."""
    problems: list[Problem] = []
    for kind, keys in UNIQUE_KEYS.items():
        frame = book.frames.get(kind)
        if frame is None or not set(keys) <= set(frame):
            continue
        keyed = frame[frame[list(keys)].notna().all(axis=1)]
        repeated = keyed.duplicated(list(keys), keep="first")
        if not repeated.any():
            continue
        first = keyed.assign(_first=keyed.index)[~repeated].set_index(list(keys))["_first"]
        label = keys[0] if len(keys) == 1 else f"({', '.join(keys)})"

        def describe(
            row: pd.Series, keys: tuple[str, ...] = keys, first: pd.Series = first, label: str = label
        ) -> str:
            key = tuple(row[k] for k in keys)
            shown = ", ".join(show_value(v) for v in key)
            return f"duplicate {label} {shown}: first on row {first.loc[key if len(key) > 1 else key[0]]}"

        field = "month" if kind == "revenue" else keys[-1]
        problems += flag(book.files[kind], keyed, repeated, field, describe, f"duplicate {label}")
    return problems


def _known_ids(book: CheckInput, entity: str) -> set[str] | None:
    """Ids a reference may point at: in the files or in the database (None: cannot tell)."""
    if entity == "territories":
        if "reps" in book.unreadable:
            return None
        named = book.column("reps", "territory_id")
        return set(book.existing.territories) | (set(named.dropna()) if named is not None else set())
    if entity in book.unreadable:
        return None
    own = book.column(entity, {"reps": "rep_id", "accounts": "account_id"}[entity])
    stored = book.existing.reps if entity == "reps" else book.existing.accounts
    return set(stored) | (set(own.dropna()) if own is not None else set())


def check_references(book: CheckInput) -> list[Problem]:
    """Every rep, territory and account a row names exists in the files or in the database."""
    problems: list[Problem] = []
    for kind, column, entity in REFERENCES:
        values = book.column(kind, column)
        known = _known_ids(book, entity)
        if values is None or known is None:
            continue
        unknown = values.notna() & ~values.isin(known)
        source = "reps" if entity == "territories" else entity
        where = f"{book.files[source]} nor in " if source in book.frames else ""
        noun = entity.removesuffix("s").replace("territorie", "territory")
        problems += flag(
            book.files[kind],
            book.frames[kind],
            unknown,
            column,
            f"unknown {noun} {{{column}}}: not in {where}the database",
            f"unknown {noun}",
        )
    return problems


def check_coordinates(book: CheckInput) -> list[Problem]:
    """Latitudes within -90..90, longitudes within -180..180, both or neither, and not 0,0."""
    problems: list[Problem] = []
    for kind, (lat_name, lon_name) in COORDINATES.items():
        lat, lon = book.column(kind, lat_name), book.column(kind, lon_name)
        if lat is None and lon is None:
            continue
        frame, file = book.frames[kind], book.files[kind]
        lat = lat if lat is not None else pd.Series(np.nan, index=frame.index)
        lon = lon if lon is not None else pd.Series(np.nan, index=frame.index)
        problems += flag(
            file,
            frame,
            lat.notna() & ~lat.between(-90, 90),
            lat_name,
            f"latitude {{{lat_name}}} is outside -90..90",
            "latitude outside -90..90",
        )
        problems += flag(
            file,
            frame,
            lon.notna() & ~lon.between(-180, 180),
            lon_name,
            f"longitude {{{lon_name}}} is outside -180..180",
            "longitude outside -180..180",
        )
        problems += flag(
            file,
            frame,
            lat.eq(0) & lon.eq(0),
            lat_name,
            "coordinates 0,0 are not a real location (missing values exported as 0?)",
            "coordinates 0,0",
        )
        problems += flag(
            file,
            frame,
            lat.notna() & lon.isna(),
            lon_name,
            "latitude given without longitude",
            "latitude without longitude",
        )
        problems += flag(
            file,
            frame,
            lon.notna() & lat.isna(),
            lat_name,
            "longitude given without latitude",
            "longitude without latitude",
        )
    return problems


def check_placement(book: CheckInput) -> list[Problem]:
    """An account needs a place on the map: coordinates or a known US postal code.

    Existing accounts are exempt when the file has no location columns (their place is kept)."""
    accounts = book.frames.get("accounts")
    if accounts is None or accounts.empty:
        return []
    location = {"lat", "lon", "postal_code"} & set(accounts)
    unplaced = (
        accounts["lat"].isna() & accounts["lon"].isna()
        if {"lat", "lon"} <= location
        else pd.Series(True, index=accounts.index)
    )  # one coordinate without the other is check_coordinates' problem
    if not location:
        unplaced &= ~accounts["account_id"].isin(book.existing.accounts)
    postal = accounts["postal_code"] if "postal_code" in accounts else pd.Series(None, index=accounts.index)

    def describe(row: pd.Series) -> str:
        code = row.get("postal_code")
        if isinstance(code, str):
            return f"no lat/lon and postal code {code!r} is not a known US postal code"
        return "no lat/lon and no postal code: the account cannot be placed on the map"

    field = "postal_code" if "postal_code" in accounts else "lat"
    return flag(
        book.files["accounts"],
        accounts,
        unplaced & postal.notna(),
        field,
        describe,
        "no lat/lon and an unknown postal code",
    ) + flag(
        book.files["accounts"],
        accounts,
        unplaced & postal.isna(),
        "lat",
        describe,
        "no lat/lon and no postal code",
    )


def check_non_negative(book: CheckInput) -> list[Problem]:
    """Amounts, hours, wallets and head counts are never negative."""
    problems: list[Problem] = []
    for kind, columns in NON_NEGATIVE.items():
        for column in columns:
            values = book.column(kind, column)
            if values is not None:
                problems += flag(
                    book.files[kind],
                    book.frames[kind],
                    (values < 0).fillna(False),
                    column,
                    f"{column} {{{column}}} is negative",
                    f"negative {column}",
                )
    return problems


def check_dates(book: CheckInput) -> list[Problem]:
    """No date after today, except the close date of an open opportunity (and quota periods)."""
    problems: list[Problem] = []
    today = book.today
    for kind, columns in NOT_IN_FUTURE.items():
        for column in columns:
            values = book.column(kind, column)
            if values is None:
                continue
            future = values > today
            message = f"{{{column}}} is in the future (today is {today.date()})"
            if kind == "opportunities" and column == "close_date":
                future &= book.frames[kind]["status"].ne("open")
                message += " and the opportunity is closed ({status})"
            problems += flag(
                book.files[kind], book.frames[kind], future, column, message, f"{column} in the future"
            )
    starts, ends = book.column("quotas", "period_start"), book.column("quotas", "period_end")
    if starts is not None and ends is not None:
        problems += flag(
            book.files["quotas"],
            book.frames["quotas"],
            ends < starts,
            "period_end",
            "period ends {period_end}, before it starts {period_start}",
            "period_end before period_start",
        )
    return problems


def check_codes(book: CheckInput) -> list[Problem]:
    """US state codes are known; opportunity statuses are open, won or lost."""
    problems: list[Problem] = []
    for kind in ("accounts", "reps"):
        states = book.column(kind, "state")
        if states is not None:
            problems += flag(
                book.files[kind],
                book.frames[kind],
                states.notna() & ~states.isin(STATE_CODES),
                "state",
                "unknown US state {state}",
                "unknown US state",
            )
    status = book.column("opportunities", "status")
    if status is not None:
        problems += flag(
            book.files["opportunities"],
            book.frames["opportunities"],
            ~status.isin(OPPORTUNITY_STATUSES),
            "status",
            "status {status} is not open, won or lost",
            "unknown status",
        )
    return problems


def check_territory_owners(book: CheckInput) -> list[Problem]:
    """A territory has one owner: two active reps cannot name the same territory."""
    reps = book.frames.get("reps")
    if reps is None or "territory_id" not in reps:
        return []
    active = reps["active"].fillna(True) if "active" in reps else pd.Series(True, index=reps.index)
    owners = reps[active.astype(bool) & reps["territory_id"].notna()]
    second = owners.duplicated("territory_id", keep="first")
    first = owners[~second].assign(_row=owners[~second].index).set_index("territory_id")

    def describe(row: pd.Series) -> str:
        owner = first.loc[row["territory_id"]]
        return (
            f"territory {row['territory_id']!r} is also owned by active rep {owner['rep_id']!r} "
            f"(row {owner['_row']}); a territory has one owner"
        )

    return flag(
        book.files["reps"], owners, second, "territory_id", describe, "territory with two active owners"
    )


CHECKS: tuple[Callable[[CheckInput], list[Problem]], ...] = (
    check_duplicates,
    check_references,
    check_coordinates,
    check_placement,
    check_non_negative,
    check_dates,
    check_codes,
    check_territory_owners,
)


def run_checks(checked: CheckInput) -> list[Problem]:
    """Every problem every check finds (none stops the others)."""
    started = time.perf_counter()
    problems = [p for check in CHECKS for p in check(checked)]
    log.info("checks ran in %.1f s: %d problem(s)", time.perf_counter() - started, len(problems))
    return problems
