"""The territory in force for an account on a day: one home for effective-dated assignments.

``Account.territory_id`` is today's assignment; ``AssignmentHistory`` records every change with the
day it takes effect. The territory in force on day d is found by undoing, from today, the moves that
take effect after d:

* A **move** is a history row with a ``from_territory_id``: a change between two territories, or
  out of a territory (to none). Its ``effective_date`` is the new territory's **first day**: on
  that day and after, the account is in ``to_territory_id``; the day before, in
  ``from_territory_id``. A row without ``effective_date`` takes effect on its ``changed_at`` date.
* On day d an account is in the ``from_territory_id`` of its **earliest** move effective after d
  (moves effective on the same day keep their recorded order: the first one's ``from`` is where
  the account was before that day), or, with no such move, in its current territory.
* A row without a ``from`` that is the account's **first** history row places the account (an
  imported new account, note "new account") and is not undone: an account's first known territory
  extends backwards, so a snapshot backfilled to before the import still counts the account where
  it was first placed. A later row without a ``from`` (the account had left every territory and
  is assigned again) is a move out of "unassigned": before it the account is unassigned.

Every (account, day) therefore has exactly one territory (or none when unassigned), whatever the
history holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

MOVE_COLUMNS = ("account_id", "from_territory_id", "effective_date")


def empty_moves() -> pd.DataFrame:
    """A moves frame with no rows (account_id, from_territory_id, to_territory_id, effective_date)."""
    return pd.DataFrame(
        {
            "account_id": pd.Series(dtype="int64"),
            "from_territory_id": pd.Series(dtype="float64"),
            "to_territory_id": pd.Series(dtype="float64"),
            "effective_date": pd.Series(dtype="datetime64[ns]"),
        }
    )


def territory_on(
    current: pd.Series,
    moves: pd.DataFrame,
    account_ids: Sequence[int] | pd.Series | np.ndarray,
    days: date | pd.Timestamp | Sequence[date] | pd.Series | np.ndarray,
) -> pd.Series:
    """The territory in force for each (account, day) pair (module docstring), as float ids (NaN: none).

    ``current``: account_id -> territory now (NaN when unassigned). ``moves``: the history rows,
    account_id, from_territory_id, effective_date, in recorded order (placements are skipped here).
    ``days`` is one day for every account, or one per account (same length as ``account_ids``).
    The result is aligned with ``account_ids`` (a RangeIndex).
    """
    ids = pd.Series(np.asarray(account_ids), dtype="int64")
    if isinstance(days, date | pd.Timestamp):
        stamps = pd.Series(pd.Timestamp(days), index=ids.index)
    else:
        stamps = pd.Series(pd.to_datetime(np.asarray(days)), index=ids.index)
    now = ids.map(current.astype(float)).astype(float).rename("territory_id")
    undo = _first_move_per_day(moves)
    if undo.empty or ids.empty:
        return now
    queries = pd.DataFrame({"account_id": ids, "day": stamps.astype("datetime64[ns]"), "row": ids.index})
    queries = queries.dropna(subset=["day"]).sort_values("day")
    found = pd.merge_asof(
        queries,
        undo,
        left_on="day",
        right_on="effective_date",
        by="account_id",
        direction="forward",
        allow_exact_matches=False,  # a move effective on d is already in force on d
    ).set_index("row")
    moved = found["moved"].eq(True).reindex(ids.index, fill_value=False)
    before = found["from_territory_id"].reindex(ids.index).astype(float)
    return before.where(moved, now).rename("territory_id")


def _first_move_per_day(moves: pd.DataFrame) -> pd.DataFrame:
    """The moves (placements left out), the first per (account, effective date), sorted by date."""
    if moves is None or moves.empty:
        return pd.DataFrame(columns=["account_id", "effective_date", "from_territory_id", "moved"])
    frame = moves.loc[:, list(MOVE_COLUMNS)].copy()
    frame["account_id"] = frame["account_id"].astype("int64")
    placement = frame["from_territory_id"].isna() & ~frame["account_id"].duplicated(keep="first")
    frame = frame[~placement]
    frame["effective_date"] = pd.to_datetime(frame["effective_date"]).astype("datetime64[ns]")
    frame["from_territory_id"] = frame["from_territory_id"].astype(float)
    frame["moved"] = True
    frame = frame.drop_duplicates(["account_id", "effective_date"], keep="first")
    return frame.sort_values("effective_date", kind="stable").reset_index(drop=True)
