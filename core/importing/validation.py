"""Validation: read every file (or take an in-memory ``Book``), run every check, collect every problem."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pandas as pd

from core.book import SPECS, Book, empty_frame
from core.importing.checks import CheckInput, ExistingIds, run_checks
from core.importing.parsing import prepare_frame
from core.importing.problems import Problem
from core.importing.reading import read_export

KINDS = tuple(SPECS)


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
    reads = {kind: read_export(Path(path), kind) for kind, path in files.items()}
    problems = [p for read in reads.values() for p in read.problems]
    checked = CheckInput(
        frames={k: r.frame for k, r in reads.items() if r.readable},
        files={k: Path(p).name for k, p in files.items()},
        existing=existing or ExistingIds(),
        today=pd.Timestamp(today or date.today()),
        unreadable=frozenset(k for k, r in reads.items() if not r.readable),
    )
    problems += run_checks(checked)
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
    problems += run_checks(checked)
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


def _as_book(frames: Mapping[str, pd.DataFrame]) -> Book:
    def clean(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop(columns=[c for c in frame if c.startswith("_")]).reset_index(drop=True)

    return Book(**{kind: clean(frames[kind]) if kind in frames else empty_frame(kind) for kind in KINDS})
