"""Accounts a plan moved, and what happened to them since: the one definition of "activity since the move".

An account is *moved in by a plan* when its latest ``AssignmentHistory`` row written by a plan
(``source = "plan"``, a ``plan_id``) is effective on or before the day asked about and the account
still sits in the territory that row moved it to (an account moved on again by hand or by an import
no longer counts for that plan). Its *activity since the move* is every ``Activity`` on or after the
effective date up to and including the day asked about, by anyone; ``by_new_owner`` counts those
logged by the current owner of the territory it moved to. It is *silent* when it has had no activity
since the move and the move is at least ``SILENT_AFTER_DAYS`` days old.

The 30/60/90-day plan review (``core.plan_review``) and the "moved account without activity" alert
(``core.alerts.moved``) both read these functions, so the page, the CLI and the email agree.
This module reads the database through a ``Connection`` and imports nothing from ``core.plans`` (the
alerts package is imported by it).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Select, select
from sqlalchemy.engine import Connection
from sqlmodel import col

from core.models import Account, Activity, AssignmentHistory, Territory

SILENT_AFTER_DAYS = 30
MOVE_COLUMNS = ["account_id", "territory_id", "from_territory_id", "plan_id", "moved_on"]
ACTIVITY_COLUMNS = ["activities", "by_new_owner", "last_activity"]


def moved_in_by_plans(connection: Connection, *, as_of: date, plan_id: int | None = None) -> pd.DataFrame:
    """Accounts moved in by a plan effective on or before ``as_of`` and still where it put them.

    One row per account (its latest plan move): account_id, territory_id (where the plan moved it),
    from_territory_id, plan_id, moved_on (the effective date). ``plan_id`` keeps one plan's moves.
    """
    statement: Select[*tuple[Any, ...]] = (
        select(
            col(AssignmentHistory.id),
            col(AssignmentHistory.account_id),
            col(AssignmentHistory.to_territory_id).label("territory_id"),
            col(AssignmentHistory.from_territory_id),
            col(AssignmentHistory.plan_id),
            col(AssignmentHistory.effective_date).label("moved_on"),
            col(Account.territory_id).label("current_territory_id"),
        )
        .join(Account, col(Account.id) == col(AssignmentHistory.account_id))
        .where(col(AssignmentHistory.source) == "plan")
        .where(col(AssignmentHistory.plan_id).is_not(None))
        .where(col(AssignmentHistory.effective_date) <= as_of)
    )
    frame = pd.read_sql(statement, connection)
    if frame.empty:
        return pd.DataFrame(columns=MOVE_COLUMNS)
    frame["moved_on"] = pd.to_datetime(frame["moved_on"]).dt.date
    latest = frame.sort_values(["account_id", "moved_on", "id"]).drop_duplicates("account_id", keep="last")
    still_there = latest[latest["territory_id"] == latest["current_territory_id"]]
    if plan_id is not None:
        still_there = still_there[still_there["plan_id"] == plan_id]
    return still_there[MOVE_COLUMNS].reset_index(drop=True)


def activity_since_move(connection: Connection, moves: pd.DataFrame, *, as_of: date) -> pd.DataFrame:
    """Per move (rows and index of ``moves``): activities since the move up to ``as_of``, by anyone,
    those by the new territory's current owner, and the last one's date (None without any).

    ``moves`` has account_id, territory_id and moved_on.
    """
    empty = pd.DataFrame({"activities": 0, "by_new_owner": 0, "last_activity": None}, index=moves.index)
    if moves.empty:
        return empty[ACTIVITY_COLUMNS]
    earliest = min(moves["moved_on"])
    activities = pd.read_sql(
        select(col(Activity.account_id), col(Activity.rep_id), col(Activity.occurred_on))
        .where(col(Activity.account_id).in_([int(a) for a in moves["account_id"]]))
        .where(col(Activity.occurred_on) >= earliest)
        .where(col(Activity.occurred_on) <= as_of),
        connection,
    )
    owners = pd.read_sql(select(col(Territory.id), col(Territory.owner_rep_id)), connection)
    owner = moves["territory_id"].map(owners.set_index("id")["owner_rep_id"])
    activities["occurred_on"] = pd.to_datetime(activities["occurred_on"]).dt.date
    rows = []
    for index, move in moves.iterrows():
        mine = activities[
            (activities["account_id"] == move["account_id"]) & (activities["occurred_on"] >= move["moved_on"])
        ]
        rows.append(
            {
                "activities": len(mine),
                "by_new_owner": int((mine["rep_id"] == owner[index]).sum()) if pd.notna(owner[index]) else 0,
                "last_activity": max(mine["occurred_on"]) if len(mine) else None,
            }
        )
    return pd.DataFrame(rows, index=moves.index, columns=ACTIVITY_COLUMNS)


def is_silent(activities: int, moved_on: date, as_of: date) -> bool:
    """No activity since the move, and the move at least ``SILENT_AFTER_DAYS`` days old at ``as_of``."""
    return activities == 0 and as_of - moved_on >= timedelta(days=SILENT_AFTER_DAYS)


def silent_moved_accounts(connection: Connection, *, as_of: date) -> pd.DataFrame:
    """The moved-in accounts (``moved_in_by_plans``) that are silent at ``as_of``."""
    moves = moved_in_by_plans(connection, as_of=as_of)
    activity = activity_since_move(connection, moves, as_of=as_of)
    silent = [
        is_silent(int(n), moved_on, as_of)
        for n, moved_on in zip(activity["activities"], moves["moved_on"], strict=True)
    ]
    return moves[pd.Series(silent, index=moves.index, dtype=bool)].reset_index(drop=True)


def silent_moved_counts(connection: Connection, *, as_of: date) -> pd.Series:
    """Per territory_id: how many accounts a plan moved into it are silent at ``as_of`` (absent: none)."""
    silent = silent_moved_accounts(connection, as_of=as_of)
    return silent.groupby("territory_id").size().astype(float)
