"""Writing frames to tables fast: bulk ``upsert`` (insert the new rows, update only the changed
ones) straight through the driver's ``executemany``, plus small helpers shared by the store modules."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import SQLModel, col

from core.models import Account, Rep, Territory

log = logging.getLogger(__name__)

CHUNK_ROWS = 20_000


def _column_values(values: pd.Series, process: Callable[[object], object] | None = None) -> list[object]:
    """Driver-ready values of one column: None for missing, ``date`` for naive days, timezone-aware
    ``datetime`` for timestamps, then the column type's own bind processor (if any). Dates and
    strings are converted once per distinct value."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        python: list[object] = [u.to_pydatetime() for u in uniques]
    elif pd.api.types.is_datetime64_any_dtype(values):
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        python = [u.date() for u in uniques]
    elif pd.api.types.is_float_dtype(values) or pd.api.types.is_integer_dtype(values) or process is None:
        plain = values.to_numpy(dtype=object, na_value=None).tolist()
        return plain if process is None else [None if v is None else process(v) for v in plain]
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        python = list(uniques)
    converted = [process(v) for v in python] if process is not None else python
    return np.array([*converted, None], dtype=object)[codes].tolist()


def execute_rows(connection: Connection, statement: ClauseElement, table: Table, frame: pd.DataFrame) -> None:
    """Execute ``statement`` once per row of ``frame`` (columns named like the table's), in chunks.

    SQLAlchemy compiles the statement for the connection's dialect and supplies each column type's
    bind processor; values go to the driver's ``executemany`` column by column, which is several
    times faster than SQLAlchemy's per-row parameter processing for millions of rows."""
    dialect = connection.dialect
    names = list(frame.columns)
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=names))
    order = list(compiled.positiontup or ()) if compiled.positional else names
    processors = {n: table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names}
    for start in range(0, len(frame), CHUNK_ROWS):
        part = frame.iloc[start : start + CHUNK_ROWS]
        columns = [_column_values(part[name], processors[name]) for name in order]
        rows: list = list(zip(*columns, strict=True))
        if not compiled.positional:
            rows = [dict(zip(order, row, strict=True)) for row in rows]
        connection.exec_driver_sql(compiled.string, rows)


def _records(frame: pd.DataFrame) -> Iterator[list[dict[str, object]]]:
    """Chunks of row dicts, ``CHUNK_ROWS`` at a time (bounded memory for millions of rows)."""
    names = list(frame.columns)
    for start in range(0, len(frame), CHUNK_ROWS):
        part = frame.iloc[start : start + CHUNK_ROWS]
        columns = [_column_values(part[name]) for name in names]
        yield [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _insert_for(connection: Connection) -> Callable[[Table], Any] | None:
    """The dialect's INSERT with ON CONFLICT support (SQLite, PostgreSQL), or None."""
    from sqlalchemy.dialects import postgresql, sqlite

    return {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(connection.dialect.name)


def upsert(
    connection: Connection,
    table: Table,
    frame: pd.DataFrame,
    *,
    keys: Sequence[str],
    update_columns: Sequence[str],
) -> int:
    """Insert the rows of ``frame`` whose ``keys`` are new; update the others where a value of
    ``update_columns`` differs from the stored one. Returns the number of rows written.

    The stored rows are read first and compared in pandas, so re-importing the same file writes
    nothing, and new rows go in as plain INSERTs (in SQLite several times faster than an
    ``INSERT ... ON CONFLICT DO UPDATE`` that may touch indexed columns). Changed rows are written
    with ``ON CONFLICT ... DO UPDATE`` on SQLite and PostgreSQL, keyed UPDATEs elsewhere.
    """
    if frame.empty:
        return 0
    stored = stored_rows(connection, table, [*keys, *update_columns], like=frame).dropna(subset=list(keys))
    if stored.empty:
        execute_rows(connection, table.insert().inline(), table, frame)
        return len(frame)
    merged = (
        frame[list(keys)]
        .reset_index(drop=True)
        .merge(stored.assign(_stored=True), on=list(keys), how="left", validate="many_to_one")
    )
    present = merged["_stored"].notna().to_numpy()
    changed = np.zeros(len(frame), dtype=bool)
    for column in update_columns:
        changed |= _differs(frame[column], merged[column])
    execute_rows(connection, table.insert().inline(), table, frame[~present])
    if changed.any():
        _update_changed(connection, table, frame[present & changed], keys=keys, update_columns=update_columns)
    log.info(
        "%s: %d new, %d changed, %d unchanged rows",
        table.name,
        (~present).sum(),
        (present & changed).sum(),
        (present & ~changed).sum(),
    )
    return int((~present).sum() + (present & changed).sum())


def stored_rows(
    connection: Connection, table: Table, columns: Sequence[str], *, like: pd.DataFrame
) -> pd.DataFrame:
    """``columns`` of every stored row, as the driver returns them (no per-value result
    processing: millions of rows), with dates parsed to compare with ``like``."""
    compiled = select(*(table.c[c] for c in columns)).compile(dialect=connection.dialect)
    cursor = connection.connection.cursor()  # the DBAPI cursor: plain tuples, no Row objects
    try:
        cursor.execute(compiled.string)
        stored = pd.DataFrame.from_records(cursor.fetchall(), columns=list(columns))
    finally:
        cursor.close()
    for column in columns:
        if pd.api.types.is_datetime64_any_dtype(like[column]) and not stored.empty:
            codes, uniques = pd.factorize(stored[column], use_na_sentinel=True)
            days = pd.to_datetime(pd.Series(uniques, dtype=object)).to_numpy(dtype="datetime64[ns]")
            stored[column] = np.append(days, np.datetime64("NaT", "ns"))[codes]
    return stored


def _differs(ours: pd.Series, stored: pd.Series) -> np.ndarray:
    """Row by row: do two columns hold different values (missing equals missing; 1 equals True)?"""
    ours_na, stored_na = ours.isna().to_numpy(), stored.isna().to_numpy()
    both = ~ours_na & ~stored_na
    equal = np.zeros(len(ours), dtype=bool)
    if both.any():
        equal[both] = ours.to_numpy(dtype=object)[both] == stored.to_numpy(dtype=object)[both]
    return ~((ours_na & stored_na) | equal)


def _update_changed(
    connection: Connection,
    table: Table,
    rows: pd.DataFrame,
    *,
    keys: Sequence[str],
    update_columns: Sequence[str],
) -> None:
    insert = _insert_for(connection)
    if insert is not None:
        statement = insert(table).inline()
        changed = or_(*(table.c[c].is_distinct_from(statement.excluded[c]) for c in update_columns))
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={c: statement.excluded[c] for c in update_columns}, where=changed
        )
        execute_rows(connection, statement, table, rows)
        return
    statement = (
        update(table)
        .where(and_(*(table.c[k] == bindparam(f"k_{k}") for k in keys)))
        .values({c: bindparam(f"v_{c}") for c in update_columns})
    )
    renamed = rows[[*keys, *update_columns]].set_axis(
        [*(f"k_{k}" for k in keys), *(f"v_{c}" for c in update_columns)], axis=1
    )
    for chunk in _records(renamed):
        connection.execute(statement, chunk)


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a SQLModel class."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def id_map(connection: Connection, model: type[Rep] | type[Territory] | type[Account]) -> pd.Series:
    """``external_id -> id`` of a table."""
    rows = connection.execute(select(col(model.external_id), col(model.id))).all()
    return pd.Series([r[1] for r in rows], index=[r[0] for r in rows], dtype="int64")


def db_frame(
    frame: pd.DataFrame, columns: Mapping[str, str], defaults: Mapping[str, object]
) -> tuple[pd.DataFrame, list[str]]:
    """Rows with database column names, and the columns the source provided (what updates touch).

    NOT NULL columns with a default get it where the source is empty or has no such column."""
    provided = [db for ours, db in columns.items() if ours in frame]
    rows = pd.DataFrame({db: frame[ours] for ours, db in columns.items() if ours in frame}, index=frame.index)
    for column, default in defaults.items():
        rows[column] = (
            rows[column].astype(object).where(rows[column].notna(), default) if column in rows else default
        )
    return rows, provided
