"""Salesforce id mappings: a User export and a Territory2 export map our reps and territories to
their Salesforce ids (``rep.salesforce_id``, ``territory.salesforce_id``), for the CRM-ready plan
exports (``core.crm_export``).

Two kinds of file, read like every import (UTF-8 with or without BOM; comma, semicolon or tab;
headers in any case) and refused as a whole with one ``Problem`` per file, row and field:

* ``salesforce_users``: ``Id``, ``Name``, ``Email`` (a Data Loader or report export of User). A rep
  is matched by email (case-insensitive), else by name when exactly one user has it.
* ``salesforce_territories``: ``Id``, ``Name``, ``DeveloperName`` (an export of Territory2). A
  territory is matched by DeveloperName against our territory id (letters and digits compared,
  so ``SW_T001`` is ``SW-T001``), else by name when exactly one territory2 has it.

Rows that match none of ours are not problems (an org has more users than reps) and are counted;
an id that is not a Salesforce id of the right object, an empty id, a repeated id, or two rows
matching the same rep or territory are. Ids are stored only when the whole file is clean.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.db import session_scope
from core.importing.problems import ImportValidationError, Problem, flag
from core.importing.reading import _not_text, _read_table, _sniff_delimiter
from core.jobruns import record_job
from core.models import Rep, Territory
from core.salesforce_ids import TERRITORY2, USER, is_salesforce_id


@dataclass(frozen=True)
class MappingKind:
    """One kind of Salesforce export: its object, columns (ours -> accepted headers) and our table."""

    label: str  # what the file holds, for messages
    prefix: str  # the Salesforce key prefix of its ids
    headers: Mapping[str, tuple[str, ...]]  # our column -> header keys (lower case, letters and digits)
    required: tuple[str, ...]
    model: type[Rep] | type[Territory]


KINDS: dict[str, MappingKind] = {
    "salesforce_users": MappingKind(
        "Salesforce User",
        USER,
        {"salesforce_id": ("id", "userid"), "name": ("name", "fullname"), "email": ("email", "emailaddress")},
        ("salesforce_id", "name"),
        Rep,
    ),
    "salesforce_territories": MappingKind(
        "Salesforce Territory2",
        TERRITORY2,
        {
            "salesforce_id": ("id", "territory2id"),
            "name": ("name", "territory2name", "label"),
            "developer_name": ("developername", "territory2developername"),
        },
        ("salesforce_id", "name"),
        Territory,
    ),
}


@dataclass(frozen=True)
class MappingResult:
    """What one mapping import stored."""

    kind: str
    rows: int
    mapped: int  # our reps or territories that got (or kept) an id from the file
    unmatched: int  # rows of the file that match none of ours

    def __str__(self) -> str:
        what = "reps" if self.kind == "salesforce_users" else "territories"
        return (
            f"mapped {self.mapped} {what} to Salesforce ids from {self.rows} rows "
            f"({self.unmatched} rows match none of ours)"
        )


def _key(text: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text).strip().lower().removesuffix("__c"))


def _plain(text: object) -> str:
    """A name or email compared loosely: case and runs of whitespace do not count."""
    return " ".join(str(text).split()).casefold()


def read_mapping_file(path: Path | str, kind: str) -> tuple[pd.DataFrame, list[Problem]]:
    """A Salesforce export of ``kind`` as a frame of our column names (index: spreadsheet row)."""
    spec = KINDS[kind]
    path = Path(path)
    raw = path.read_bytes()
    problem = _not_text(path.name, raw)
    if problem is not None:
        return pd.DataFrame(), [problem]
    try:
        table = _read_table(raw, _sniff_delimiter(raw), dtype=str)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as error:
        message = f"not a well-formed CSV file ({error})".replace("\n", " ")
        return pd.DataFrame(), [Problem(path.name, None, None, message)]
    by_key = {_key(h): h for h in reversed(table.columns)}  # the first header of a key wins
    mapping: dict[str, str] = {}
    for ours, aliases in spec.headers.items():
        found = next((by_key[a] for a in aliases if a in by_key), None)
        if found is not None and found not in mapping:
            mapping[found] = ours
    missing = [c for c in spec.required if c not in mapping.values()]
    if missing:
        return pd.DataFrame(), [
            Problem(path.name, 1, c, f"required column '{c}' of a {spec.label} export is missing")
            for c in missing
        ]
    frame = table[list(mapping)].rename(columns=mapping)
    frame.index = frame.index + 2
    frame = frame[frame.notna().any(axis=1)]
    if frame.empty:
        return frame, [Problem(path.name, None, None, "no data rows below the header")]
    return frame, _row_problems(path.name, frame, spec)


def _row_problems(file: str, frame: pd.DataFrame, spec: MappingKind) -> list[Problem]:
    ids = frame["salesforce_id"].str.strip()
    empty = ids.isna() | (ids == "")
    problems = flag(file, frame, empty, "Id", "the Id is empty", "the Id is empty")
    shape = ~empty & ~ids.map(lambda v: is_salesforce_id(v, prefix=spec.prefix))
    problems += flag(
        file,
        frame,
        shape,
        "Id",
        lambda row: (
            f"{_shown(row['salesforce_id'])} is not a {spec.label} id (15 or 18 letters and digits "
            f"starting {spec.prefix})"
        ),
        f"not {spec.label} ids",
    )
    repeated = ~empty & ids.duplicated(keep="first")
    problems += flag(file, frame, repeated, "Id", "this Id is on an earlier row too", "repeated Ids")
    return problems


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def match_rows(frame: pd.DataFrame, kind: str, ours: pd.DataFrame) -> pd.Series:
    """For each file row, the id of the rep or territory it maps to (NA when none).

    ``ours`` holds ``id``, ``external_id``, ``name`` and, for reps, ``email``.
    """
    by_name = _unique(ours, "name")
    if kind == "salesforce_users":
        by_email = _unique(ours, "email")
        first = frame.get("email", pd.Series(pd.NA, index=frame.index)).map(
            lambda v: by_email.get(_plain(v)) if pd.notna(v) else None
        )
    else:
        by_code = {_key(e): i for e, i in zip(ours["external_id"], ours["id"], strict=True)}
        first = frame.get("developer_name", pd.Series(pd.NA, index=frame.index)).map(
            lambda v: by_code.get(_key(v)) if pd.notna(v) else None
        )
    second = frame["name"].map(lambda v: by_name.get(_plain(v)) if pd.notna(v) else None)
    return first.where(first.notna(), second).astype("Int64")


def _unique(ours: pd.DataFrame, column: str) -> dict[str, int]:
    """Our rows by a loosely compared value, leaving out values two of ours share."""
    values = ours[column].dropna().map(_plain)
    once = values[~values.duplicated(keep=False)]
    return dict(zip(once, ours.loc[once.index, "id"], strict=True))


def _ours(engine: Engine, spec: MappingKind) -> pd.DataFrame:
    model = spec.model
    columns = [col(model.id), col(model.external_id), col(model.name)]
    if model is Rep:
        columns.append(col(Rep.email))
    with engine.connect() as connection:
        rows = connection.execute(select(*columns)).all()
    names = ["id", "external_id", "name", "email"][: len(columns)]
    return pd.DataFrame(rows, columns=names)


def check_mapping(
    path: Path | str, kind: str, ours: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series, list[Problem]]:
    """Read, match and check one file: the frame, each row's match, and every problem."""
    frame, problems = read_mapping_file(path, kind)
    if frame.empty:
        return frame, pd.Series(dtype="Int64"), problems
    matched = match_rows(frame, kind, ours)
    twice = matched.notna() & matched.duplicated(keep=False)
    what = "rep" if kind == "salesforce_users" else "territory"
    external = dict(zip(ours["id"], ours["external_id"], strict=True))
    problems += flag(
        Path(path).name,
        frame.assign(_ours=matched.map(lambda i: external.get(i) if pd.notna(i) else None)),
        twice,
        "Id",
        lambda row: f"two rows map to {what} {row['_ours']}: keep one",
        f"rows mapping to a {what} another row maps to",
    )
    return frame, matched, problems


def import_salesforce_mapping(
    engine: Engine, path: Path | str, kind: str, *, trigger: str = "cli"
) -> MappingResult:
    """Store the Salesforce ids of a User or Territory2 export on our reps or territories.

    Raises ``ImportValidationError`` listing every problem (nothing written). Recorded as an
    ``import`` job run like every import.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown Salesforce file kind {kind!r}; choose from {', '.join(KINDS)}")
    spec = KINDS[kind]
    name = Path(path).name
    with record_job(
        engine, "import", trigger=trigger, message=f"{kind}: {name}", refusals=(ImportValidationError,)
    ) as run:
        frame, matched, problems = check_mapping(path, kind, _ours(engine, spec))
        if problems:
            raise ImportValidationError(problems)
        pairs = {
            int(i): str(sf).strip()
            for i, sf in zip(matched, frame["salesforce_id"], strict=True)
            if pd.notna(i)
        }
        with session_scope(engine) as session:
            for our_id, salesforce_id in pairs.items():
                session.execute(
                    update(spec.model).where(col(spec.model.id) == our_id).values(salesforce_id=salesforce_id)
                )
        run.rows_written = len(pairs)
    return MappingResult(kind, len(frame), len(pairs), int(matched.isna().sum()))
