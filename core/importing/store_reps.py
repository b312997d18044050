"""Storing reps and the territories they name (owner, vacancies)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlmodel import col

from core.config import get_settings
from core.importing.bulk import db_frame, id_map, table_of, upsert
from core.models import Rep, Territory

REP_COLUMNS = {
    "rep_id": "external_id",
    "name": "name",
    "email": "email",
    "home_city": "home_city",
    "home_lat": "home_lat",
    "home_lon": "home_lon",
    "state": "state",
    "region": "region",
    "specialties": "specialties",
    "capacity_hours": "capacity_hours",
    "active": "active",
    "hired_at": "hired_at",
    "left_at": "left_at",
    "salesforce_id": "salesforce_id",
}


def store_reps(connection: Connection, reps: pd.DataFrame) -> int:
    if reps.empty:
        return 0
    defaults = {"specialties": "", "capacity_hours": get_settings().default_capacity_hours, "active": True}
    rows, provided = db_frame(reps, REP_COLUMNS, defaults)
    return upsert(
        connection,
        table_of(Rep),
        rows,
        keys=["external_id"],
        update_columns=[c for c in provided if c != "external_id"],
    )


def _active(reps: pd.DataFrame) -> pd.Series:
    return reps["active"].fillna(True).astype(bool) if "active" in reps else pd.Series(True, index=reps.index)


def store_territories(connection: Connection, reps: pd.DataFrame) -> tuple[int, int]:
    """Upsert the territories the reps name, then vacate the ones their reps gave up."""
    if reps.empty:
        return 0, 0
    written = 0
    if "territory_id" in reps:
        wanted = _territory_rows(connection, reps)
        written = upsert(
            connection,
            table_of(Territory),
            wanted,
            keys=["external_id"],
            update_columns=["name", "region", "owner_rep_id"]
            + (["salesforce_id"] if "salesforce_id" in wanted else []),
        )
    return written, _vacate_territories(connection, reps)


def _territory_rows(connection: Connection, reps: pd.DataFrame) -> pd.DataFrame:
    """One row per named territory: name and region kept from the database unless the file has them."""
    rep_ids = id_map(connection, Rep)
    named = reps[reps["territory_id"].notna()].assign(_active=_active(reps))
    named = named.sort_values("_active", ascending=False, kind="stable")  # the owner's row first
    first = named.drop_duplicates("territory_id").set_index("territory_id")
    owners = named[named["_active"]].drop_duplicates("territory_id").set_index("territory_id")["rep_id"]
    stored = pd.DataFrame(
        connection.execute(
            select(col(Territory.external_id), col(Territory.name), col(Territory.region))
        ).all(),
        columns=["external_id", "name", "region"],
    ).set_index("external_id")
    ids = first.index
    name = _first_given(first.get("territory_name"), stored["name"].reindex(ids), pd.Series(ids, index=ids))
    region = _first_given(first.get("region"), stored["region"].reindex(ids))
    owner = owners.reindex(ids).map(rep_ids)
    rows = pd.DataFrame(
        {
            "external_id": ids,
            "name": name.to_numpy(dtype=object),
            "region": region.to_numpy(dtype=object),
            "owner_rep_id": owner.astype("Int64").to_numpy(dtype=object, na_value=None),
        }
    )
    if "territory_salesforce_id" in first:  # a file that gives them; otherwise the stored ids stay
        rows["salesforce_id"] = (
            first["territory_salesforce_id"]
            .astype(object)
            .where(first["territory_salesforce_id"].notna(), None)
            .to_numpy(dtype=object)
        )
    return rows


def _first_given(*candidates: pd.Series | None) -> pd.Series:
    """Per row, the first non-missing value among the candidate columns (None-safe, object dtype)."""
    present = [c.astype(object) for c in candidates if c is not None]
    value = present[0]
    for other in present[1:]:
        value = value.where(value.notna(), other)
    return value


def _vacate_territories(connection: Connection, reps: pd.DataFrame) -> int:
    """Territories owned by a rep of the file who is inactive, or who now names another territory."""
    owned = pd.DataFrame(
        connection.execute(
            select(col(Territory.id), col(Territory.external_id), col(Rep.external_id)).join(
                Rep, col(Rep.id) == col(Territory.owner_rep_id)
            )
        ).all(),
        columns=["id", "territory_id", "rep_id"],
    )
    mine = owned.merge(
        reps.assign(_active=_active(reps)).drop_duplicates("rep_id")[["rep_id", "_active"]], on="rep_id"
    )
    gone = ~mine["_active"]
    if "territory_id" in reps:
        kept = reps.loc[_active(reps) & reps["territory_id"].notna(), ["rep_id", "territory_id"]]
        still = mine.merge(kept.assign(_kept=True), on=["rep_id", "territory_id"], how="left")["_kept"]
        gone |= still.isna().to_numpy()
    ids = mine.loc[gone.to_numpy(), "id"].astype(int).tolist()
    if ids:
        table = table_of(Territory)
        connection.execute(update(table).where(table.c.id.in_(ids)).values(owner_rep_id=None))
    return len(ids)
