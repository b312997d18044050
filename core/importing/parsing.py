"""Parsing cell values by column kind (text, number, whole number, flag, date), then
``prepare_frame``: parse a frame, complete what the file implies, report bad and empty cells."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from core.book import SPECS
from core.importing.completion import complete
from core.importing.headers import column_kinds
from core.importing.problems import Problem, flag

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
        problems += flag(file, frame, bad[column], column, f"{{{column}}} is not a {what}", f"not a {what}")
    result = complete(kind, pd.DataFrame(typed, index=frame.index))
    for column in [c.name for c in SPECS[kind] if c.required]:
        empty = result[column].isna().to_numpy() if column in result else np.ones(len(result), dtype=bool)
        empty &= ~bad.get(column, np.zeros(len(result), dtype=bool))
        problems += flag(file, result, empty, column, "required value is empty", "required value is empty")
    return result[[c for c in result.columns if not c.startswith("_")]], problems
