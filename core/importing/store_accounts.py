"""Storing accounts: their territory (given, or their owner rep's), the move stamps and the
assignment history of every account that changed territory or arrived in one."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlmodel import col

from core.importing.bulk import db_frame, execute_rows, id_map, table_of, upsert
from core.models import Account, AssignmentHistory, Rep, Territory

ACCOUNT_COLUMNS = {
    "account_id": "external_id",
    "name": "name",
    "industry": "industry",
    "segment": "segment",
    "city": "city",
    "state": "state",
    "postal_code": "postal_code",
    "lat": "lat",
    "lon": "lon",
    "strategic": "strategic",
    "locked": "locked",
    "owned_since": "owned_since",
    "last_moved_at": "last_moved_at",
    "wallet_estimate": "wallet_estimate",
    "annual_revenue": "annual_revenue",
    "employees": "employees",
    "salesforce_id": "salesforce_id",
}


def _account_territories(connection: Connection, accounts: pd.DataFrame) -> pd.Series | None:
    """The territory (database id) of each account row; None when the file says nothing about it."""
    if "territory_id" not in accounts and "owner_rep_id" not in accounts:
        return None
    territory = accounts.get("territory_id", pd.Series(None, index=accounts.index, dtype=object))
    if "owner_rep_id" in accounts:
        owned = pd.DataFrame(
            connection.execute(
                select(col(Rep.external_id), col(Territory.external_id))
                .join(Territory, col(Territory.owner_rep_id) == col(Rep.id))
                .order_by(col(Territory.id))
            ).all(),
            columns=["rep", "territory"],
        ).drop_duplicates("rep")
        of_owner = accounts["owner_rep_id"].map(owned.set_index("rep")["territory"])
        territory = territory.where(territory.notna(), of_owner)
    return territory.map(id_map(connection, Territory)).astype("Int64")


def store_accounts(
    connection: Connection, accounts: pd.DataFrame, *, source: str, today: date
) -> tuple[int, int, int]:
    """Upsert accounts; returns (rows written, new accounts, assignment history rows)."""
    if accounts.empty:
        return 0, 0, 0
    columns = ["account_id", "id", "territory_id", "owned_since", "last_moved_at"]
    before = pd.DataFrame(
        connection.execute(
            select(
                col(Account.external_id),
                col(Account.id),
                col(Account.territory_id),
                col(Account.owned_since),
                col(Account.last_moved_at),
            )
        ).all(),
        columns=columns,
    ).set_index("account_id")
    rows, provided = db_frame(accounts, ACCOUNT_COLUMNS, {"strategic": False, "locked": False})
    territory = _account_territories(connection, accounts)
    moves = pd.DataFrame(index=accounts.index)
    if territory is not None:
        old = accounts["account_id"].map(before["territory_id"]).astype("Int64")
        known = accounts["account_id"].isin(before.index)
        moves = pd.DataFrame({"account_id": accounts["account_id"], "from": old, "to": territory})[
            (known & old.fillna(-1).ne(territory.fillna(-1))) | (~known & territory.notna())
        ]
        rows["territory_id"] = territory.to_numpy(dtype=object, na_value=None)
        provided.append("territory_id")
        moved = known & accounts.index.isin(moves.index)
        _stamp_moves(rows, provided, accounts, before, moved=moved, today=today)
    written = upsert(
        connection,
        table_of(Account),
        rows,
        keys=["external_id"],
        update_columns=[c for c in provided if c != "external_id"],
    )
    history = _write_history(connection, moves, source=source, today=today)
    return written, int((~accounts["account_id"].isin(before.index)).sum()), history


def _stamp_moves(
    rows: pd.DataFrame,
    provided: list[str],
    accounts: pd.DataFrame,
    before: pd.DataFrame,
    *,
    moved: pd.Series,
    today: date,
) -> None:
    """Moved accounts get ``today`` as owned_since / last_moved_at unless the file gives a date;
    other accounts keep what the file or the database has."""
    stamp = pd.Timestamp(today)
    for column in ("owned_since", "last_moved_at"):
        given = accounts[column] if column in accounts else pd.Series(pd.NaT, index=accounts.index)
        stored = pd.to_datetime(accounts["account_id"].map(before[column]))
        value = given.where(given.notna(), stored.where(~moved, stamp))
        rows[column] = value.astype("datetime64[ns]")
        if column not in provided:
            provided.append(column)


def _write_history(connection: Connection, moves: pd.DataFrame, *, source: str, today: date) -> int:
    if moves.empty:
        return 0
    ids = id_map(connection, Account)
    history = pd.DataFrame(
        {
            "account_id": moves["account_id"].map(ids).astype("int64"),
            "from_territory_id": moves["from"].astype("Int64"),
            "to_territory_id": moves["to"].astype("Int64"),
            "changed_at": datetime.now(UTC),
            "effective_date": pd.Timestamp(today),
            "source": source,
            "note": np.where(
                moves["from"].isna().to_numpy(), "new account", "territory changed in the CRM data"
            ),
        }
    )
    table = table_of(AssignmentHistory)
    execute_rows(connection, table.insert().inline(), table, history)
    return len(history)
