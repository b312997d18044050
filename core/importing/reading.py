"""Reading one CSV export: bytes -> text check -> separator -> headers -> typed frame and problems.

Row numbers are what a spreadsheet shows: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.book import SPECS, empty_frame
from core.importing.headers import column_kinds, map_headers
from core.importing.parsing import prepare_frame
from core.importing.problems import Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportRead:
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
    read = read_export(Path(path), kind)
    return read.frame, read.problems


def read_export(path: Path, kind: str) -> ExportRead:
    name = path.name
    raw = path.read_bytes()
    problem = _not_text(name, raw)
    if problem is not None:
        return ExportRead(empty_frame(kind), [problem], readable=False)
    delimiter = _sniff_delimiter(raw)
    try:
        headers = list(_read_table(raw, delimiter, nrows=0).columns)
        mapping = map_headers(kind, headers)
        problems = _header_problems(kind, name, headers, mapping)
        if problems:
            return ExportRead(empty_frame(kind), problems, readable=False)
        # Numbers are left to the C parser (fast); text, dates and flags are read as text. All
        # columns are read (no usecols) so that a row with too many fields is an error.
        kinds = column_kinds(kind)
        as_text = {h: str for h, target in mapping.items() if kinds[target] not in ("float", "int")}
        table = _read_table(raw, delimiter, dtype=as_text)[list(mapping)]
    except pd.errors.EmptyDataError:
        return ExportRead(empty_frame(kind), [Problem(name, None, None, "the file is empty")], readable=False)
    except pd.errors.ParserError as error:
        line = re.search(r"line (\d+)", str(error))
        message = f"not a well-formed CSV file ({error})".replace("\n", " ")
        return ExportRead(
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


def _from_table(kind: str, name: str, frame: pd.DataFrame, *, decimal_comma: bool) -> ExportRead:
    frame = frame[~_blank_rows(frame)]
    frame.index = frame.index + 2
    if frame.empty:
        return ExportRead(frame, [Problem(name, None, None, "no data rows below the header")], readable=False)
    log.info("read %s: %s rows as %s", name, f"{len(frame):,}", kind)
    typed, problems = prepare_frame(kind, frame, file=name, decimal_comma=decimal_comma)
    return ExportRead(typed, problems, readable=True)


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
