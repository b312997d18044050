"""What is wrong with an import: one ``Problem`` per file, row and field, and the refusal listing them.

``flag`` turns a vectorised check (a boolean mask over a frame indexed by spreadsheet row) into
problems; one check lists at most ``MAX_ROWS_PER_CHECK`` rows of a file and counts the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_ROWS_PER_CHECK = 20


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


def show_value(value: object) -> str:
    """A cell value as a message quotes it: text in quotes, days as ISO dates, numbers as they are."""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return repr(value) if isinstance(value, str) else str(value)


class _Shown(dict[str, object]):
    """A row for ``str.format_map``: every value rendered by ``_show``."""

    def __getitem__(self, key: str) -> str:
        return show_value(super().__getitem__(key))


def flag(
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
