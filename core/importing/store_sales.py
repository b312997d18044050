"""Storing what happens on accounts: revenue months, opportunities, activities and quotas."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from core.importing.bulk import db_frame, execute_rows, id_map, stored_rows, table_of, upsert
from core.models import Account, Activity, Opportunity, Quota, Rep, RevenueMonth


def store_revenue(connection: Connection, revenue: pd.DataFrame) -> int:
    if revenue.empty:
        return 0
    account_ids = revenue["account_id"].map(id_map(connection, Account)).astype("int64")
    rows = pd.DataFrame(
        {"account_id": account_ids, "month": revenue["month"], "amount": revenue["amount"].astype(float)}
    )
    return upsert(
        connection, table_of(RevenueMonth), rows, keys=["account_id", "month"], update_columns=["amount"]
    )


STAGE_OF_STATUS = {"won": "Closed Won", "lost": "Closed Lost", "open": "Open"}


def store_opportunities(connection: Connection, opportunities: pd.DataFrame) -> int:
    if opportunities.empty:
        return 0
    frame = opportunities.copy()
    frame["account_id"] = frame["account_id"].map(id_map(connection, Account)).astype("int64")
    if "rep_id" in frame:
        frame["rep_id"] = frame["rep_id"].map(id_map(connection, Rep)).astype("Int64")
    stage = frame["stage"] if "stage" in frame else pd.Series(None, index=frame.index, dtype=object)
    frame["stage"] = stage.where(stage.notna(), frame["status"].map(STAGE_OF_STATUS))
    columns = {
        "opportunity_id": "external_id",
        "account_id": "account_id",
        "rep_id": "rep_id",
        "name": "name",
        "amount": "amount",
        "stage": "stage",
        "status": "status",
        "created_on": "created_on",
        "close_date": "close_date",
    }
    rows, provided = db_frame(frame, columns, {})
    return upsert(
        connection,
        table_of(Opportunity),
        rows,
        keys=["external_id"],
        update_columns=[c for c in provided if c != "external_id"],
    )


ACTIVITY_KEY = ["account_id", "rep_id", "occurred_on", "kind"]


def store_activities(connection: Connection, activities: pd.DataFrame) -> int:
    """Activities with an id upsert by it; those without are deduplicated on (account, rep, day, kind)."""
    if activities.empty:
        return 0
    frame = activities.copy()
    frame["account_id"] = frame["account_id"].map(id_map(connection, Account)).astype("int64")
    if "rep_id" in frame:
        frame["rep_id"] = frame["rep_id"].map(id_map(connection, Rep)).astype("Int64")
    columns = {
        "activity_id": "external_id",
        "account_id": "account_id",
        "rep_id": "rep_id",
        "kind": "kind",
        "occurred_on": "occurred_on",
        "hours": "hours",
    }
    rows, provided = db_frame(frame, columns, {"kind": "call", "hours": 0.5})
    with_id = rows["external_id"].notna() if "external_id" in rows else pd.Series(False, index=rows.index)
    table = table_of(Activity)
    written = upsert(
        connection,
        table,
        rows[with_id],
        keys=["external_id"],
        update_columns=[c for c in provided if c != "external_id"],
    )
    without_id = rows[~with_id].drop(columns=["external_id"], errors="ignore")
    return written + _insert_new_activities(connection, without_id)


def _insert_new_activities(connection: Connection, rows: pd.DataFrame) -> int:
    """Insert the activities whose (account, rep, day, kind) is not stored yet."""
    if rows.empty:
        return 0
    if "rep_id" not in rows:
        rows = rows.assign(rep_id=pd.Series(pd.NA, index=rows.index, dtype="Int64"))
    rows = rows.drop_duplicates(ACTIVITY_KEY)
    table = table_of(Activity)
    stored = stored_rows(connection, table, ACTIVITY_KEY, like=rows).drop_duplicates(ACTIVITY_KEY)
    hit = np.zeros(len(rows), dtype=bool)
    if not stored.empty:
        stored = stored.astype({"account_id": "int64", "rep_id": "Int64", "kind": str})
        probe = rows[ACTIVITY_KEY].astype({"kind": str}).reset_index(drop=True)
        hit = probe.merge(stored.assign(_hit=True), on=ACTIVITY_KEY, how="left")["_hit"].notna().to_numpy()
    execute_rows(connection, table.insert().inline(), table, rows[~hit])
    return int((~hit).sum())


def store_quotas(connection: Connection, quotas: pd.DataFrame) -> int:
    if quotas.empty:
        return 0
    rows = pd.DataFrame(
        {
            "rep_id": quotas["rep_id"].map(id_map(connection, Rep)).astype("int64"),
            "period_start": quotas["period_start"],
            "period_end": quotas["period_end"],
            "amount": quotas["amount"].astype(float),
        }
    )
    return upsert(
        connection,
        table_of(Quota),
        rows,
        keys=["rep_id", "period_start"],
        update_columns=["period_end", "amount"],
    )
