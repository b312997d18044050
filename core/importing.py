"""Validated CRM import: CSV exports (or a sample ``Book``) -> checks -> one all-or-nothing write.

Three stages, each usable alone:

* ``read_csv_file(path, kind)`` reads one export (UTF-8 with or without BOM; comma, semicolon or
  tab separated), maps its headers onto our column names (``core.book.SPECS``; Salesforce export
  names are accepted too, case-insensitively) and parses types, reporting every bad cell.
* ``validate_book(files, existing=...)`` reads all files and checks them together and against the
  ids already in the database. Every problem is collected; none stops the others.
* ``store_book(session, book)`` upserts a valid book in the caller's transaction.

``import_files`` and ``import_book`` chain the three inside one transaction and record a ``JobRun``
in a separate one, so a refused import shows in the job history while the data stays untouched.

Row numbers are what a spreadsheet shows: the header is row 1, the first data row is row 2. A
``Book`` (no file) is numbered as if each frame were written out as CSV. Checks are vectorised; one
check lists at most ``MAX_ROWS_PER_CHECK`` rows of a file and then counts the rest in one problem.

Choices where the issue is silent:

* Upserts: a file is the truth for the columns it has. Columns a file does not have are left as
  they are in the database (new rows take the model defaults); an empty cell in a present column
  clears it. Unchanged rows are not written at all.
* Territories are created from the reps file only; an account's ``territory_id`` must name one of
  those or one already stored (a typo is a problem, not a new vacant territory).
* An account whose owner rep owns no territory (e.g. an inactive owner) is stored unassigned.
* Dates: ISO (with or without a time), ``m/d/Y``, ``d.m.Y``, ``Y/m/d`` and ``Y-m`` are read;
  "future" means after ``today`` (default: the clock; an ``import_book`` sample: its ``as_of``).
"""

from __future__ import annotations

import io
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session, SQLModel, col

from core.book import SPECS, Book, empty_frame
from core.config import get_settings
from core.db import session_scope
from core.geo_postal import STATE_CODES, locate_postal_codes, normalise_postal_codes, normalise_states
from core.models import (
    Account,
    Activity,
    AssignmentHistory,
    JobRun,
    Opportunity,
    Quota,
    Rep,
    RevenueMonth,
    Territory,
)

log = logging.getLogger(__name__)
_T = TypeVar("_T")

KINDS = tuple(SPECS)
MAX_ROWS_PER_CHECK = 20
CHUNK_ROWS = 20_000
OPPORTUNITY_STATUSES = frozenset({"open", "won", "lost"})


# --- problems ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One thing wrong with an import, named by file, spreadsheet row (header = 1) and field."""

    file: str
    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f" row {self.row}" if self.row is not None else "")
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.message}"


class ImportValidationError(ValueError):
    """The import was refused; ``problems`` lists every problem found. Nothing was written."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        listed = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"import refused, nothing was written; {len(self.problems)} problem(s):\n{listed}")


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


def _show(value: object) -> str:
    """A cell value as a message quotes it: text in quotes, days as ISO dates, numbers as they are."""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return repr(value) if isinstance(value, str) else str(value)


class _Shown(dict[str, object]):
    """A row for ``str.format_map``: every value rendered by ``_show``."""

    def __getitem__(self, key: str) -> str:
        return _show(super().__getitem__(key))


def _flag(
    file: str,
    frame: pd.DataFrame,
    mask: pd.Series | np.ndarray,
    field: str | None,
    describe: str | Callable[[pd.Series], str],
    label: str,
) -> list[Problem]:
    """Problems for the rows of ``frame`` (indexed by row number) where ``mask`` holds.

    ``describe`` is a message template filled with the row's values ("latitude {lat} is ...") or
    a function of the row. Only the first ``MAX_ROWS_PER_CHECK`` rows are described one by one;
    the rest are counted in one more problem.
    """
    hits = frame.index[np.asarray(mask, dtype=bool)]
    if len(hits) == 0:
        return []

    def message(row: pd.Series) -> str:
        return describe.format_map(_Shown(row.to_dict())) if isinstance(describe, str) else describe(row)

    problems = [Problem(file, int(row), field, message(frame.loc[row])) for row in hits[:MAX_ROWS_PER_CHECK]]
    if len(hits) > MAX_ROWS_PER_CHECK:
        problems.append(Problem(file, None, field, f"{len(hits) - MAX_ROWS_PER_CHECK:,} more rows: {label}"))
    return problems


# --- headers -----------------------------------------------------------------------------------
# Accepted header names per kind and column, besides our own, in order of preference. Keys are
# compared lower-case with everything but letters and digits removed and a custom-field "__c"
# suffix dropped, so "BillingPostalCode", "Billing Zip/Postal Code" and "billing_postal_code" match.
# Columns starting with "_" are helpers that derive one of ours (then are dropped).
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "reps": {
        "rep_id": ("id", "userid", "ownerid"),
        "name": ("fullname", "repname"),
        "email": ("emailaddress",),
        "home_city": ("city",),
        "home_lat": ("latitude", "lat"),
        "home_lon": ("longitude", "lon", "lng"),
        "state": ("statecode", "stateprovince"),
        "specialties": ("specialty", "specialization"),
        "capacity_hours": ("capacity",),
        "active": ("isactive",),
        "hired_at": ("hiredate", "startdate"),
        "left_at": ("enddate", "terminationdate"),
        "territory_id": ("territory", "territory2id"),
        "territory_name": ("territory2name",),
        "_first_name": ("firstname",),
        "_last_name": ("lastname",),
    },
    "accounts": {
        "account_id": ("id", "accountid", "sfid"),
        "name": ("accountname",),
        "territory_id": ("territory", "territory2id"),
        "owner_rep_id": ("ownerid", "accountownerid"),
        "industry": (),
        "segment": ("customersegment",),
        "city": ("billingcity", "shippingcity"),
        "state": (
            "billingstatecode",
            "billingstate",
            "billingstateprovince",
            "statecode",
            "shippingstatecode",
            "shippingstate",
        ),
        "postal_code": (
            "billingpostalcode",
            "billingzippostalcode",
            "postalcode",
            "zip",
            "zipcode",
            "shippingpostalcode",
        ),
        "lat": ("billinglatitude", "latitude", "shippinglatitude"),
        "lon": ("billinglongitude", "longitude", "lng", "shippinglongitude"),
        "strategic": ("isstrategic", "strategicaccount"),
        "locked": ("islocked",),
        "owned_since": ("ownersince",),
        "wallet_estimate": ("wallet", "walletsize"),
        "annual_revenue": (),
        "employees": ("numberofemployees",),
    },
    "revenue": {
        "account_id": ("accountid", "account"),
        "month": ("date", "period", "monthstart", "revenuemonth"),
        "amount": ("revenue", "value"),
    },
    "activities": {
        "activity_id": ("id", "taskid", "eventid"),
        "account_id": ("accountid", "whatid"),
        "rep_id": ("ownerid", "assignedtoid"),
        "kind": ("type", "tasksubtype", "eventsubtype", "activitytype", "subtype"),
        "occurred_on": ("activitydate", "date", "activitydatetime"),
        "hours": ("durationhours",),
        "_minutes": ("durationinminutes",),
    },
    "opportunities": {
        "opportunity_id": ("id",),
        "account_id": ("accountid",),
        "rep_id": ("ownerid",),
        "name": ("opportunityname",),
        "amount": (),
        "stage": ("stagename",),
        "status": (),
        "created_on": ("createddate",),
        "close_date": ("closedate",),
        "_is_won": ("iswon", "won"),
        "_is_closed": ("isclosed", "closed"),
    },
    "quotas": {
        "rep_id": ("quotaownerid", "ownerid", "userid"),
        "period_start": ("startdate", "start"),
        "period_end": ("enddate", "end"),
        "amount": ("quotaamount", "quota"),
    },
}
HELPER_KINDS = {
    "_first_name": "str",
    "_last_name": "str",
    "_minutes": "float",
    "_is_won": "bool",
    "_is_closed": "bool",
}


def _header_key(header: str) -> str:
    text = str(header).strip().lower()
    text = text.removesuffix("__c")
    return re.sub(r"[^a-z0-9]", "", text)


def column_kinds(kind: str) -> dict[str, str]:
    """Our columns of ``kind`` (and its helper columns) with their value kind."""
    ours = {c.name: c.kind for c in SPECS[kind]}
    return ours | {name: HELPER_KINDS[name] for name in ALIASES[kind] if name.startswith("_")}


def map_headers(kind: str, headers: Sequence[str]) -> dict[str, str]:
    """``{file header: our column}`` for the headers of a ``kind`` file that we recognise."""
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(_header_key(header), header)
    mapping: dict[str, str] = {}
    for target in column_kinds(kind):
        for alias in (_header_key(target), *ALIASES[kind].get(target, ())):
            found = by_key.get(alias)
            if found is not None and found not in mapping:
                mapping[found] = target
                break
    return mapping


# --- reading -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Read:
    frame: pd.DataFrame
    problems: list[Problem]
    readable: bool  # False: the file could not be read at all (its ids are unknown, not absent)


def read_csv_file(path: Path | str, kind: str) -> tuple[pd.DataFrame, list[Problem]]:
    """One CSV export of ``kind`` as a typed frame with our column names, and its problems.

    Handles UTF-8 with or without BOM, comma / semicolon / tab separators (sniffed from the header;
    a semicolon file may use decimal commas), our column names and Salesforce export names. The
    frame's index is the spreadsheet row number. Problems cover the file itself (empty, binary,
    not UTF-8, not CSV, no header, missing required columns) and each cell (wrong type, empty
    required value). Absent optional columns are absent from the frame.
    """
    read = _read_csv(Path(path), kind)
    return read.frame, read.problems


def _read_csv(path: Path, kind: str) -> _Read:
    name = path.name
    raw = path.read_bytes()
    problem = _not_text(name, raw)
    if problem is not None:
        return _Read(empty_frame(kind), [problem], readable=False)
    delimiter = _sniff_delimiter(raw)
    try:
        headers = list(_read_table(raw, delimiter, nrows=0).columns)
        mapping = map_headers(kind, headers)
        problems = _header_problems(kind, name, headers, mapping)
        if problems:
            return _Read(empty_frame(kind), problems, readable=False)
        # Numbers are left to the C parser (fast); text, dates and flags are read as text. All
        # columns are read (no usecols) so that a row with too many fields is an error.
        kinds = column_kinds(kind)
        as_text = {h: str for h, target in mapping.items() if kinds[target] not in ("float", "int")}
        table = _read_table(raw, delimiter, dtype=as_text)[list(mapping)]
    except pd.errors.EmptyDataError:
        return _Read(empty_frame(kind), [Problem(name, None, None, "the file is empty")], readable=False)
    except pd.errors.ParserError as error:
        line = re.search(r"line (\d+)", str(error))
        message = f"not a well-formed CSV file ({error})".replace("\n", " ")
        return _Read(
            empty_frame(kind),
            [Problem(name, int(line.group(1)) if line else None, None, message)],
            readable=False,
        )
    return _from_table(kind, name, table.rename(columns=mapping), decimal_comma=delimiter == ";")


def _read_table(raw: bytes, delimiter: str, **options: object) -> pd.DataFrame:
    """Every cell as written: empty cells are missing, nothing else ("NA", "null") is."""
    return pd.read_csv(
        io.BytesIO(raw),
        sep=delimiter,
        keep_default_na=False,
        na_values=[""],
        skip_blank_lines=False,
        index_col=False,
        encoding="utf-8-sig",
        **options,
    )


def _from_table(kind: str, name: str, frame: pd.DataFrame, *, decimal_comma: bool) -> _Read:
    frame = frame[~_blank_rows(frame)]
    frame.index = frame.index + 2
    if frame.empty:
        return _Read(frame, [Problem(name, None, None, "no data rows below the header")], readable=False)
    log.info("read %s: %s rows as %s", name, f"{len(frame):,}", kind)
    typed, problems = prepare_frame(kind, frame, file=name, decimal_comma=decimal_comma)
    return _Read(typed, problems, readable=True)


def _not_text(name: str, raw: bytes) -> Problem | None:
    """A problem when the bytes are not a UTF-8 text file, else None."""
    if not raw.strip():
        return Problem(name, None, None, "the file is empty")
    if raw.startswith(b"PK\x03\x04"):
        return Problem(
            name, None, None, "this is a ZIP or Excel workbook, not CSV: save the sheet as CSV UTF-8"
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        return Problem(
            name,
            raw.count(b"\n", 0, nul) + 1,
            None,
            f"binary content (NUL byte at offset {nul:,}): not a CSV export "
            "(UTF-16 text also shows this: save it as CSV UTF-8)",
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Problem(
            name,
            raw.count(b"\n", 0, error.start) + 1,
            None,
            f"not UTF-8 text (byte 0x{raw[error.start]:02X} at offset {error.start:,}): "
            "save the file as CSV UTF-8",
        )
    return None


def _sniff_delimiter(raw: bytes) -> str:
    """The separator of the header line: the most frequent of , ; and tab outside quotes."""
    header = raw.lstrip(b"\xef\xbb\xbf").lstrip().split(b"\n", 1)[0].decode("utf-8", errors="replace")
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {sep: unquoted.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


def _header_problems(kind: str, name: str, headers: Sequence[str], mapping: dict[str, str]) -> list[Problem]:
    required = [c.name for c in SPECS[kind] if c.required]
    if not mapping:
        first = ", ".join(str(h) for h in headers[:6])[:120]
        return [
            Problem(
                name,
                1,
                None,
                f"no header row with {kind} columns (the first line reads '{first}'); "
                f"expected at least {', '.join(required)}",
            )
        ]
    present = set(mapping.values())
    if kind == "reps" and "_first_name" in present and "_last_name" in present:
        present.add("name")
    return [
        Problem(name, 1, column, f"required column '{column}' is missing")
        for column in required
        if column not in present
    ]


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows with no value at all (blank lines): checked on the first column, then on the candidates."""
    candidates = frame.iloc[:, 0].isna().to_numpy()
    blank = np.zeros(len(frame), dtype=bool)
    if candidates.any():
        blank[candidates] = frame.iloc[np.flatnonzero(candidates)].isna().all(axis=1).to_numpy()
    return blank


# --- parsing values ----------------------------------------------------------------------------
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0", "x"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0"})
WHAT = {"float": "number", "int": "whole number", "bool": "true/false value", "date": "date"}


def _text_values(values: pd.Series) -> pd.Series:
    """Stripped strings, None for blanks; works on any dtype (factorised: fast on repeated ids)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    cleaned = [
        None if u is None or (isinstance(u, float) and np.isnan(u)) else (str(u).strip() or None)
        for u in uniques
    ]
    table = np.array([*cleaned, None], dtype=object)
    return pd.Series(table[codes], index=values.index, dtype=object)


def _parse_str(values: pd.Series, decimal_comma: bool) -> tuple[pd.Series, np.ndarray]:
    return _text_values(values), np.zeros(len(values), dtype=bool)


def _parse_float(values: pd.Series, decimal_comma: bool) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype(float)
        return numbers, ~np.isfinite(numbers.to_numpy()) & numbers.notna().to_numpy()
    text = _text_values(values)
    numbers = pd.to_numeric(text, errors="coerce")
    retry = numbers.isna() & text.notna()
    if retry.any():
        numbers[retry] = pd.to_numeric(_clean_numbers(text[retry], decimal_comma), errors="coerce")
    numbers = numbers.astype(float)
    bad = (text.notna() & ~np.isfinite(numbers.fillna(np.inf))).to_numpy()  # unparsed, inf or nan
    return numbers.where(~bad), bad


def _clean_numbers(text: pd.Series, decimal_comma: bool) -> pd.Series:
    """Currency signs and spaces removed; "1,234.5" read as 1234.5, and in a semicolon file
    "1.234,5" too. Anything else (e.g. "1.234,5" in a comma file) stays unparseable."""
    cleaned = text.str.replace(r"[\s$€£]", "", regex=True)
    thousands = cleaned.str.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?")
    cleaned = cleaned.where(~thousands, cleaned.str.replace(",", "", regex=False))
    if decimal_comma:
        european = cleaned.str.fullmatch(r"[-+]?\d{1,3}(\.\d{3})+(,\d+)?|[-+]?\d+,\d+")
        cleaned = cleaned.where(~european, cleaned.str.replace(".", "", regex=False).str.replace(",", "."))
    return cleaned


def _parse_int(values: pd.Series, decimal_comma: bool) -> tuple[pd.Series, np.ndarray]:
    numbers, bad = _parse_float(values, decimal_comma)
    fractional = (numbers.notna() & (numbers != numbers.round())).to_numpy()
    bad = bad | fractional
    return numbers.where(~bad).round().astype("Int64"), bad


def _parse_bool(values: pd.Series, decimal_comma: bool) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean"), np.zeros(len(values), dtype=bool)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed: list[object] = []
    wrong: list[bool] = []
    for value in uniques:
        word = str(bool(value) if isinstance(value, bool | np.bool_) else value).strip().lower()
        parsed.append(True if word in TRUE_WORDS else False if word in FALSE_WORDS else None)
        wrong.append(word != "" and word not in TRUE_WORDS | FALSE_WORDS)
    table = np.array([*parsed, None], dtype=object)
    bad = np.array([*wrong, False])[codes]
    return pd.Series(table[codes], index=values.index).astype("boolean"), bad


# Date formats tried in order on the text before any time part; ISO first (Salesforce exports
# ISO dates and ISO timestamps; report exports use US month/day/year).
DATE_FORMATS = (
    (r"\d{4}-\d{1,2}-\d{1,2}", "%Y-%m-%d"),
    (r"\d{4}-\d{1,2}", "%Y-%m"),
    (r"\d{1,2}/\d{1,2}/\d{4}", "%m/%d/%Y"),
    (r"\d{1,2}\.\d{1,2}\.\d{4}", "%d.%m.%Y"),
    (r"\d{4}/\d{1,2}/\d{1,2}", "%Y/%m/%d"),
)


def _parse_date(values: pd.Series, decimal_comma: bool) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
        return dates.dt.normalize().astype("datetime64[ns]"), np.zeros(len(values), dtype=bool)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed, wrong = _parse_unique_dates(pd.Series(uniques, dtype=object))
    table = np.append(parsed.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
    bad = np.append(wrong, False)[codes]
    return pd.Series(table[codes], index=values.index, dtype="datetime64[ns]"), bad


def _parse_unique_dates(uniques: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Dates for distinct values (date objects or text); ``wrong`` marks non-blank unparseable ones."""
    parsed = pd.Series(pd.NaT, index=uniques.index, dtype="datetime64[ns]")
    is_text = uniques.map(lambda v: isinstance(v, str))
    objects = uniques[~is_text]
    if len(objects):
        parsed[~is_text] = pd.to_datetime(objects, errors="coerce").astype("datetime64[ns]")
    text = uniques[is_text].astype(str).str.strip()
    day_part = text.str.split(r"[T ]", n=1, regex=True).str[0]
    for pattern, form in DATE_FORMATS:
        todo = day_part.str.fullmatch(pattern) & parsed[is_text].isna()
        if todo.any():
            parsed.loc[todo[todo].index] = pd.to_datetime(day_part[todo], format=form, errors="coerce")
    parsed = parsed.where(parsed.isna(), parsed.dt.normalize())
    wrong = np.zeros(len(uniques), dtype=bool)
    wrong[np.flatnonzero(is_text.to_numpy())] = (text.ne("") & parsed[is_text].isna()).to_numpy()
    return parsed, wrong


PARSERS: dict[str, Callable[[pd.Series, bool], tuple[pd.Series, np.ndarray]]] = {
    "str": _parse_str,
    "float": _parse_float,
    "int": _parse_int,
    "bool": _parse_bool,
    "date": _parse_date,
}


def prepare_frame(
    kind: str, frame: pd.DataFrame, *, file: str, decimal_comma: bool = False
) -> tuple[pd.DataFrame, list[Problem]]:
    """Parse the columns of a ``kind`` frame (raw text or already typed), derive what the file
    implies (status from stage, hours from minutes, lat/lon from postal codes, ...) and report bad
    cells and empty required values. The index must be the row numbers."""
    kinds = column_kinds(kind)
    typed: dict[str, pd.Series] = {}
    bad: dict[str, np.ndarray] = {}
    problems: list[Problem] = []
    for column in [c for c in frame.columns if c in kinds]:
        typed[column], bad[column] = PARSERS[kinds[column]](frame[column], decimal_comma)
        what = WHAT.get(kinds[column], "value")
        problems += _flag(file, frame, bad[column], column, f"{{{column}}} is not a {what}", f"not a {what}")
    result = COMPLETERS.get(kind, _nothing_to_complete)(pd.DataFrame(typed, index=frame.index))
    for column in [c.name for c in SPECS[kind] if c.required]:
        empty = result[column].isna().to_numpy() if column in result else np.ones(len(result), dtype=bool)
        empty &= ~bad.get(column, np.zeros(len(result), dtype=bool))
        problems += _flag(file, result, empty, column, "required value is empty", "required value is empty")
    return result[[c for c in result.columns if not c.startswith("_")]], problems


# --- derived values (per kind) -------------------------------------------------------------------
def _nothing_to_complete(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def _complete_reps(frame: pd.DataFrame) -> pd.DataFrame:
    """Name from first + last name; inactive when a leaving date is set; "a, b" specialties as "a|b"."""
    if "_first_name" in frame or "_last_name" in frame:
        parts = frame.reindex(columns=["_first_name", "_last_name"]).fillna("")
        joined = (parts["_first_name"] + " " + parts["_last_name"]).str.strip().replace("", None)
        frame["name"] = frame["name"].where(frame["name"].notna(), joined) if "name" in frame else joined
    if "left_at" in frame:
        still_here = pd.Series(frame["left_at"].isna(), dtype="boolean")
        frame["active"] = frame["active"].fillna(still_here) if "active" in frame else still_here
    if "specialties" in frame:
        frame["specialties"] = frame["specialties"].str.replace(r"\s*[,;|]\s*", "|", regex=True)
    if "state" in frame:
        frame["state"] = normalise_states(frame["state"]).astype(object).where(frame["state"].notna(), None)
    return frame


def _complete_accounts(frame: pd.DataFrame) -> pd.DataFrame:
    """Two-letter states; lat/lon (and a missing city or state) from a known US postal code."""
    if "state" in frame:
        frame["state"] = normalise_states(frame["state"]).astype(object).where(frame["state"].notna(), None)
    if "postal_code" not in frame or frame["postal_code"].isna().all():
        return frame
    frame["postal_code"] = (
        normalise_postal_codes(frame["postal_code"]).astype(object).where(frame["postal_code"].notna(), None)
    )
    places = locate_postal_codes(frame["postal_code"])
    unplaced = (
        frame["lat"].isna() & frame["lon"].isna()
        if {"lat", "lon"} <= set(frame)
        else pd.Series(True, index=frame.index)
    )
    for column in ("lat", "lon"):
        current = frame[column] if column in frame else pd.Series(np.nan, index=frame.index)
        frame[column] = current.where(~unplaced, places[column]).astype(float)
    for column in ("city", "state"):
        current = frame[column] if column in frame else pd.Series(None, index=frame.index, dtype=object)
        frame[column] = current.where(current.notna(), places[column].astype(object)).where(
            lambda s: s.notna(), None
        )
    return frame


def _complete_revenue(frame: pd.DataFrame) -> pd.DataFrame:
    """Any day of a month stands for the month: stored as its first day."""
    if "month" in frame:
        frame["month"] = frame["month"].dt.to_period("M").dt.to_timestamp()
    return frame


def _complete_activities(frame: pd.DataFrame) -> pd.DataFrame:
    """Hours from a duration in minutes (Salesforce Event.DurationInMinutes); kinds lower-case."""
    if "_minutes" in frame:
        from_minutes = frame["_minutes"] / 60.0
        frame["hours"] = frame["hours"].fillna(from_minutes) if "hours" in frame else from_minutes
    if "kind" in frame:
        frame["kind"] = frame["kind"].str.lower()
    return frame


def _complete_opportunities(frame: pd.DataFrame) -> pd.DataFrame:
    """Status (open | won | lost) from IsWon / IsClosed, else from the stage name ("Closed Won")."""
    missing = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    status = frame["status"].str.lower() if "status" in frame else missing.astype(object)
    if "_is_closed" in frame or "_is_won" in frame:
        closed, won = frame.get("_is_closed", missing), frame.get("_is_won", missing)
        flags = np.select(
            [
                won.eq(True).fillna(False),
                closed.eq(False).fillna(False),
                (closed.eq(True) & won.eq(False)).fillna(False),
            ],
            ["won", "open", "lost"],
            "",
        )
        status = status.where(status.notna(), pd.Series(flags, index=frame.index).replace("", None))
    if "stage" in frame:
        stage = frame["stage"].str.lower().fillna("")
        by_stage = np.select([stage.str.contains("won"), stage.str.contains("lost")], ["won", "lost"], "open")
        status = status.where(status.notna(), pd.Series(by_stage, index=frame.index))
    frame["status"] = status.where(status.notna(), "open")
    return frame


COMPLETERS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "reps": _complete_reps,
    "accounts": _complete_accounts,
    "revenue": _complete_revenue,
    "activities": _complete_activities,
    "opportunities": _complete_opportunities,
}


# --- checks across rows and files ----------------------------------------------------------------
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
            shown = ", ".join(_show(v) for v in key)
            return f"duplicate {label} {shown}: first on row {first.loc[key if len(key) > 1 else key[0]]}"

        field = "month" if kind == "revenue" else keys[-1]
        problems += _flag(book.files[kind], keyed, repeated, field, describe, f"duplicate {label}")
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
        problems += _flag(
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
        problems += _flag(
            file,
            frame,
            lat.notna() & ~lat.between(-90, 90),
            lat_name,
            f"latitude {{{lat_name}}} is outside -90..90",
            "latitude outside -90..90",
        )
        problems += _flag(
            file,
            frame,
            lon.notna() & ~lon.between(-180, 180),
            lon_name,
            f"longitude {{{lon_name}}} is outside -180..180",
            "longitude outside -180..180",
        )
        problems += _flag(
            file,
            frame,
            lat.eq(0) & lon.eq(0),
            lat_name,
            "coordinates 0,0 are not a real location (missing values exported as 0?)",
            "coordinates 0,0",
        )
        problems += _flag(
            file,
            frame,
            lat.notna() & lon.isna(),
            lon_name,
            "latitude given without longitude",
            "latitude without longitude",
        )
        problems += _flag(
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
    return _flag(
        book.files["accounts"],
        accounts,
        unplaced & postal.notna(),
        field,
        describe,
        "no lat/lon and an unknown postal code",
    ) + _flag(
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
                problems += _flag(
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
            problems += _flag(
                book.files[kind], book.frames[kind], future, column, message, f"{column} in the future"
            )
    starts, ends = book.column("quotas", "period_start"), book.column("quotas", "period_end")
    if starts is not None and ends is not None:
        problems += _flag(
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
            problems += _flag(
                book.files[kind],
                book.frames[kind],
                states.notna() & ~states.isin(STATE_CODES),
                "state",
                "unknown US state {state}",
                "unknown US state",
            )
    status = book.column("opportunities", "status")
    if status is not None:
        problems += _flag(
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

    return _flag(
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


# --- validation --------------------------------------------------------------------------------
def validate_book(
    files: Mapping[str, Path | str], *, existing: ExistingIds | None = None, today: date | None = None
) -> tuple[Book, list[Problem]]:
    """Read and check CRM exports together before anything is written.

    ``files`` maps a kind (reps, accounts, revenue, activities, opportunities, quotas) to a CSV
    path. References may point at ids in the files or in ``existing`` (the database). Returns the
    typed book (only the given kinds; absent optional columns stay absent) and every problem found.
    """
    unknown = set(files) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown file kind(s) {', '.join(sorted(unknown))}; choose from {', '.join(KINDS)}")
    reads = {kind: _read_csv(Path(path), kind) for kind, path in files.items()}
    problems = [p for read in reads.values() for p in read.problems]
    checked = CheckInput(
        frames={k: r.frame for k, r in reads.items() if r.readable},
        files={k: Path(p).name for k, p in files.items()},
        existing=existing or ExistingIds(),
        today=pd.Timestamp(today or date.today()),
        unreadable=frozenset(k for k, r in reads.items() if not r.readable),
    )
    problems += _run_checks(checked)
    return _as_book(checked.frames), _in_reading_order(problems, list(checked.files.values()))


def validate_frames(
    book: Book, *, existing: ExistingIds | None = None, today: date | None = None
) -> tuple[Book, list[Problem]]:
    """The same checks as ``validate_book`` on an in-memory ``Book`` (e.g. a generated sample).

    Problems name the kind as the file and number rows as if each frame were a CSV file.
    """
    frames: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for kind, frame in book.frames().items():
        if frame.empty:
            continue
        numbered = frame.reset_index(drop=True)
        numbered.index = numbered.index + 2
        missing = [c.name for c in SPECS[kind] if c.required and c.name not in numbered]
        problems += [Problem(kind, None, c, f"required column '{c}' is missing") for c in missing]
        if not missing:
            frames[kind], found = prepare_frame(kind, numbered, file=kind)
            problems += found
    checked = CheckInput(
        frames=frames,
        files={kind: kind for kind in KINDS},
        existing=existing or ExistingIds(),
        today=pd.Timestamp(today or date.today()),
    )
    problems += _run_checks(checked)
    typed = _as_book(frames)
    return (
        Book(**{k: getattr(typed, k) for k in KINDS}, as_of=book.as_of, stories=book.stories),
        _in_reading_order(problems, list(KINDS)),
    )


def _in_reading_order(problems: list[Problem], files: list[str]) -> list[Problem]:
    """By file, then row; a check's "N more rows" count stays last in its file."""

    def key(problem: Problem) -> tuple[int, float]:
        order = files.index(problem.file) if problem.file in files else len(files)
        return order, problem.row if problem.row is not None else math.inf

    return sorted(problems, key=key)


def _run_checks(checked: CheckInput) -> list[Problem]:
    started = time.perf_counter()
    problems = [p for check in CHECKS for p in check(checked)]
    log.info("checks ran in %.1f s: %d problem(s)", time.perf_counter() - started, len(problems))
    return problems


def _as_book(frames: Mapping[str, pd.DataFrame]) -> Book:
    def clean(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop(columns=[c for c in frame if c.startswith("_")]).reset_index(drop=True)

    return Book(**{kind: clean(frames[kind]) if kind in frames else empty_frame(kind) for kind in KINDS})


# --- storing -----------------------------------------------------------------------------------
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


def _execute_rows(
    connection: Connection, statement: ClauseElement, table: Table, frame: pd.DataFrame
) -> None:
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
    stored = _stored_rows(connection, table, [*keys, *update_columns], like=frame).dropna(subset=list(keys))
    if stored.empty:
        _execute_rows(connection, table.insert().inline(), table, frame)
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
    _execute_rows(connection, table.insert().inline(), table, frame[~present])
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


def _stored_rows(
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
        _execute_rows(connection, statement, table, rows)
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


def _table(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a SQLModel class."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def _id_map(connection: Connection, model: type[Rep] | type[Territory] | type[Account]) -> pd.Series:
    """``external_id -> id`` of a table."""
    rows = connection.execute(select(col(model.external_id), col(model.id))).all()
    return pd.Series([r[1] for r in rows], index=[r[0] for r in rows], dtype="int64")


def _db_frame(
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
}
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
}


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
    reps = _timed("reps", _store_reps, connection, book.reps)
    territories, vacated = _timed("territories", _store_territories, connection, book.reps)
    accounts, new, changes = _timed(
        "accounts", _store_accounts, connection, book.accounts, source=source, today=today
    )
    revenue = _timed("revenue", _store_revenue, connection, book.revenue)
    opportunities = _timed("opportunities", _store_opportunities, connection, book.opportunities)
    activities = _timed("activities", _store_activities, connection, book.activities)
    quotas = _timed("quotas", _store_quotas, connection, book.quotas)
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


def _store_reps(connection: Connection, reps: pd.DataFrame) -> int:
    if reps.empty:
        return 0
    defaults = {"specialties": "", "capacity_hours": get_settings().default_capacity_hours, "active": True}
    rows, provided = _db_frame(reps, REP_COLUMNS, defaults)
    return upsert(
        connection,
        _table(Rep),
        rows,
        keys=["external_id"],
        update_columns=[c for c in provided if c != "external_id"],
    )


def _active(reps: pd.DataFrame) -> pd.Series:
    return reps["active"].fillna(True).astype(bool) if "active" in reps else pd.Series(True, index=reps.index)


def _store_territories(connection: Connection, reps: pd.DataFrame) -> tuple[int, int]:
    """Upsert the territories the reps name, then vacate the ones their reps gave up."""
    if reps.empty:
        return 0, 0
    written = 0
    if "territory_id" in reps:
        wanted = _territory_rows(connection, reps)
        written = upsert(
            connection,
            _table(Territory),
            wanted,
            keys=["external_id"],
            update_columns=["name", "region", "owner_rep_id"],
        )
    return written, _vacate_territories(connection, reps)


def _territory_rows(connection: Connection, reps: pd.DataFrame) -> pd.DataFrame:
    """One row per named territory: name and region kept from the database unless the file has them."""
    rep_ids = _id_map(connection, Rep)
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
    return pd.DataFrame(
        {
            "external_id": ids,
            "name": name.to_numpy(dtype=object),
            "region": region.to_numpy(dtype=object),
            "owner_rep_id": owner.astype("Int64").to_numpy(dtype=object, na_value=None),
        }
    )


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
        table = _table(Territory)
        connection.execute(update(table).where(table.c.id.in_(ids)).values(owner_rep_id=None))
    return len(ids)


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
    return territory.map(_id_map(connection, Territory)).astype("Int64")


def _store_accounts(
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
    rows, provided = _db_frame(accounts, ACCOUNT_COLUMNS, {"strategic": False, "locked": False})
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
        _table(Account),
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
    ids = _id_map(connection, Account)
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
    table = _table(AssignmentHistory)
    _execute_rows(connection, table.insert().inline(), table, history)
    return len(history)


def _store_revenue(connection: Connection, revenue: pd.DataFrame) -> int:
    if revenue.empty:
        return 0
    account_ids = revenue["account_id"].map(_id_map(connection, Account)).astype("int64")
    rows = pd.DataFrame(
        {"account_id": account_ids, "month": revenue["month"], "amount": revenue["amount"].astype(float)}
    )
    return upsert(
        connection, _table(RevenueMonth), rows, keys=["account_id", "month"], update_columns=["amount"]
    )


STAGE_OF_STATUS = {"won": "Closed Won", "lost": "Closed Lost", "open": "Open"}


def _store_opportunities(connection: Connection, opportunities: pd.DataFrame) -> int:
    if opportunities.empty:
        return 0
    frame = opportunities.copy()
    frame["account_id"] = frame["account_id"].map(_id_map(connection, Account)).astype("int64")
    if "rep_id" in frame:
        frame["rep_id"] = frame["rep_id"].map(_id_map(connection, Rep)).astype("Int64")
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
    rows, provided = _db_frame(frame, columns, {})
    return upsert(
        connection,
        _table(Opportunity),
        rows,
        keys=["external_id"],
        update_columns=[c for c in provided if c != "external_id"],
    )


ACTIVITY_KEY = ["account_id", "rep_id", "occurred_on", "kind"]


def _store_activities(connection: Connection, activities: pd.DataFrame) -> int:
    """Activities with an id upsert by it; those without are deduplicated on (account, rep, day, kind)."""
    if activities.empty:
        return 0
    frame = activities.copy()
    frame["account_id"] = frame["account_id"].map(_id_map(connection, Account)).astype("int64")
    if "rep_id" in frame:
        frame["rep_id"] = frame["rep_id"].map(_id_map(connection, Rep)).astype("Int64")
    columns = {
        "activity_id": "external_id",
        "account_id": "account_id",
        "rep_id": "rep_id",
        "kind": "kind",
        "occurred_on": "occurred_on",
        "hours": "hours",
    }
    rows, provided = _db_frame(frame, columns, {"kind": "call", "hours": 0.5})
    with_id = rows["external_id"].notna() if "external_id" in rows else pd.Series(False, index=rows.index)
    table = _table(Activity)
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
    table = _table(Activity)
    stored = _stored_rows(connection, table, ACTIVITY_KEY, like=rows).drop_duplicates(ACTIVITY_KEY)
    hit = np.zeros(len(rows), dtype=bool)
    if not stored.empty:
        stored = stored.astype({"account_id": "int64", "rep_id": "Int64", "kind": str})
        probe = rows[ACTIVITY_KEY].astype({"kind": str}).reset_index(drop=True)
        hit = probe.merge(stored.assign(_hit=True), on=ACTIVITY_KEY, how="left")["_hit"].notna().to_numpy()
    _execute_rows(connection, table.insert().inline(), table, rows[~hit])
    return int((~hit).sum())


def _store_quotas(connection: Connection, quotas: pd.DataFrame) -> int:
    if quotas.empty:
        return 0
    rows = pd.DataFrame(
        {
            "rep_id": quotas["rep_id"].map(_id_map(connection, Rep)).astype("int64"),
            "period_start": quotas["period_start"],
            "period_end": quotas["period_end"],
            "amount": quotas["amount"].astype(float),
        }
    )
    return upsert(
        connection,
        _table(Quota),
        rows,
        keys=["rep_id", "period_start"],
        update_columns=["period_end", "amount"],
    )


# --- import: validate, store, record the job -------------------------------------------------------
@dataclass(frozen=True)
class ImportResult:
    """What an import wrote and how long it took."""

    files: tuple[str, ...]
    report: StoreReport
    seconds: float
    job_run_id: int | None = None
    rows_read: Mapping[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        read = ", ".join(f"{rows:,} {kind}" for kind, rows in self.rows_read.items())
        return f"imported {', '.join(self.files)} in {self.seconds:.1f} s; read {read}; {self.report}"


def import_files(
    engine: Engine, files: Mapping[str, Path | str], *, trigger: str = "cli", today: date | None = None
) -> ImportResult:
    """Validate CRM exports, then write them in one transaction; raise ``ImportValidationError``
    listing every problem (nothing written) when any is found. The run is recorded as a JobRun."""
    names = tuple(Path(p).name for p in files.values())
    return _run_job(
        engine,
        job="import",
        trigger=trigger,
        message=f"files: {', '.join(names)}",
        work=lambda: _import_files(engine, files, today=today),
        files=names,
    )


def _import_files(
    engine: Engine, files: Mapping[str, Path | str], *, today: date | None
) -> tuple[Book, StoreReport]:
    book, problems = validate_book(files, existing=load_existing_ids(engine), today=today)
    if problems:
        raise ImportValidationError(problems)
    with session_scope(engine) as session:
        return book, store_book(session, book, source="import", today=today)


def import_book(engine: Engine, book: Book, *, source: str = "sample", trigger: str = "cli") -> ImportResult:
    """Check an in-memory book with the import's checks, then store it in one transaction.

    Dates are checked against the later of today and the book's ``as_of`` (a sample may describe
    a day ahead of the clock); ``source`` is recorded on the assignment history.
    """
    today = max(date.today(), book.as_of) if book.as_of else date.today()

    def work() -> tuple[Book, StoreReport]:
        typed, problems = validate_frames(book, existing=load_existing_ids(engine), today=today)
        if problems:
            raise ImportValidationError(problems)
        with session_scope(engine) as session:
            return typed, store_book(session, typed, source=source, today=book.as_of or today)

    job = "sample" if source == "sample" else "import"
    return _run_job(engine, job=job, trigger=trigger, message=f"book ({source})", work=work, files=("book",))


def _run_job(engine: Engine, *, job: str, **arguments: Any) -> ImportResult:
    """Run an import alone (core.liveness: one at a time per database, dead runs marked abandoned)."""
    from core.liveness import exclusive_job

    with exclusive_job(engine, job):
        return _run_recorded_job(engine, job=job, **arguments)


def _run_recorded_job(
    engine: Engine,
    *,
    job: str,
    trigger: str,
    message: str,
    work: Callable[[], tuple[Book, StoreReport]],
    files: tuple[str, ...],
) -> ImportResult:
    """Run ``work`` between two JobRun writes of their own, so a failure is recorded too."""
    started = time.perf_counter()
    run_id = _record_job(engine, None, job=job, trigger=trigger, status="running", message=message)
    try:
        book, report = work()
    except Exception as error:
        _record_job(engine, run_id, status="failed", error=str(error))
        raise
    _record_job(engine, run_id, status="success", rows_written=report.rows_written)
    rows_read = {kind: len(frame) for kind, frame in book.frames().items() if len(frame)}
    return ImportResult(
        files=files,
        report=report,
        seconds=time.perf_counter() - started,
        job_run_id=run_id,
        rows_read=rows_read,
    )


def _record_job(engine: Engine, run_id: int | None, **values: object) -> int:
    with session_scope(engine) as session:
        run = session.get(JobRun, run_id) if run_id is not None else JobRun(job=str(values.pop("job")))
        assert run is not None
        for name, value in values.items():
            setattr(run, name, value)
        if values.get("status") in ("success", "failed"):
            run.finished_at = datetime.now(UTC)
            run.progress = 1.0
        session.add(run)
        session.flush()
        assert run.id is not None
        return run.id
