"""Numbers for people: $4.2M, 83%, +3.1 pts. Shared by the CLI, emails and the dashboard.

The plain formatters (``money``, ``pct``, ``points``, ...) turn one number into text, "—" when it
is unknown (None or NaN). A ``Unit`` is the kind of number a KPI is (``MONEY``, ``SHARE``,
``POINTS``, ``INDEX``, ...) and carries every way it is written: on a card or in a table
(``text``), as a change over time (``change``), in an alert sentence with as many decimals as it
takes (``reading``) and as a threshold a person types (``threshold``, ``scale``, ``suffix``).
The KPI registry (``core.kpi_registry``) gives every KPI its unit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, TypeGuard

if TYPE_CHECKING:
    import pandas as pd

DASH = "—"


def _given(value: float | None) -> TypeGuard[float]:
    """A number to show: neither None nor NaN."""
    return not (value is None or (isinstance(value, float) and math.isnan(value)))


def money(value: float | None) -> str:
    """Money at the scale a person reads it; negative amounts keep their sign.

    Under $1,000 in dollars ($920); thousands as K with one decimal under $10K ($9.5K) and none from
    there ($850K); millions and billions with one decimal ($4.2M, $1.3B). A value that rounds up to
    the next scale is written in it: 999,960 -> $1.0M, not $1000K.
    """
    if not _given(value):
        return DASH
    sign = "-" if value < 0 else ""
    value = abs(float(value))
    if round(value) < 1000:
        return f"{sign}${value:,.0f}"
    for limit, suffix in ((1e3, "K"), (1e6, "M"), (1e9, "B")):
        scaled = value / limit
        digits = 0 if suffix == "K" and scaled >= 9.95 else 1
        if round(scaled, digits) < 1000 or suffix == "B":
            break
    return f"{sign}${scaled:.{digits}f}{suffix}"


def pct(value: float | None, digits: int = 0) -> str:
    """A share as a percentage: 0.834 -> 83%."""
    return f"{float(value) * 100:.{digits}f}%" if _given(value) else DASH


def signed_pct(value: float | None) -> str:
    """A relative change as a signed percentage: -0.42 -> -42%, 0.05 -> +5%."""
    return f"{float(value) * 100:+.0f}%" if _given(value) else DASH


def points(value: float | None) -> str:
    """Percentage points with a sign: 3.14 -> +3.1 pts."""
    return f"{float(value):+.1f} pts" if _given(value) else DASH


def ratio(value: float | None) -> str:
    """A multiple: 2.5 -> 2.5×."""
    return f"{float(value):.1f}×" if _given(value) else DASH


def number(value: float | None, digits: int = 2) -> str:
    """A plain figure (CV 0.18, index 1.32, health 74 with ``digits=0``)."""
    return f"{float(value):.{digits}f}" if _given(value) else DASH


def count(value: float | None) -> str:
    """A whole count with thousands separators: 1234.0 -> 1,234."""
    return f"{float(value):,.0f}" if _given(value) else DASH


def hours(value: float | None) -> str:
    """Hours: 1234.4 -> 1,234 h."""
    return f"{float(value):,.0f} h" if _given(value) else DASH


def trim(value: float) -> str:
    """A typed number without trailing zeros: 62.5, 70, -10, 0.15 (float noise rounded off)."""
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _signed(digits: int, suffix: str = "") -> Callable[[float | None], str]:
    return lambda d: f"{float(d):+,.{digits}f}{suffix}" if _given(d) else DASH


def _no_note(value: float) -> str:
    return ""


def _mean_note(value: float) -> str:
    """Where an index stands against the mean of 1.0: " (22% above the mean)"."""
    share = round((value - 1.0) * 100)
    if share == 0:
        return " (at the mean)"
    return f" ({abs(share)}% {'above' if share > 0 else 'below'} the mean)"


@dataclass(frozen=True)
class Unit:
    """The kind of number a KPI is, with every way a person reads it.

    ``text``: a card, a table cell, the CLI ("$4.2M", "58%", "+3.1 pts"; "—" when unknown).
    ``change``: a difference of two readings ("+3.1 pts" for shares, "+0.12" for an index).
    ``reading``: an alert sentence, with ``decimals`` more digits when a value must differ from its
    threshold ("58%", "-14 points", "2.1×"). ``note``: what follows a reading ("22% above the mean").
    A threshold is typed as ``stored × scale`` and reads ``prefix + number + suffix``
    ("70%", "-10 points", "3×"); ``attributive`` replaces the suffix before a noun
    ("the -10-point threshold").
    """

    name: str
    text: Callable[[float | None], str]
    change: Callable[[float | None], str]
    reading: Callable[[float, int], str]
    scale: float = 1.0
    prefix: str = ""
    suffix: str = ""
    attributive: str | None = None
    note: Callable[[float], str] = _no_note

    def threshold(self, value: float, *, before_noun: bool = False) -> str:
        """A threshold as a person reads it: "70%", "-10 points" ("-10-point" before a noun)."""
        suffix = self.attributive if before_noun and self.attributive is not None else self.suffix
        return f"{self.prefix}{trim(value * self.scale)}{suffix}"

    @property
    def typed_in(self) -> str:
        """The unit a person types a threshold in ("%", "points", "×"; "value" for plain figures)."""
        return self.suffix.strip() or self.prefix or "value"


MONEY = Unit(
    "money",
    money,
    lambda d: DASH if not _given(d) else ("+" if d >= 0 else "") + money(d),
    lambda v, decimals: money(v),
    prefix="$",
)
COUNT = Unit("count", count, _signed(0), lambda v, decimals: f"{v:.{decimals}f}")
SHARE = Unit(
    "share",
    pct,
    lambda d: points(None if not _given(d) else d * 100),
    lambda v, decimals: f"{v * 100:.{decimals}f}%",
    scale=100.0,
    suffix="%",
)
SIGNED_SHARE = Unit(
    "signed share",
    signed_pct,
    lambda d: points(None if not _given(d) else d * 100),
    lambda v, decimals: f"{v * 100:+.{decimals}f}%",
    scale=100.0,
    suffix="%",
)
POINTS = Unit(
    "points",
    points,
    points,
    lambda v, decimals: f"{v:+.{decimals}f} points",
    suffix=" points",
    attributive="-point",
)
INDEX = Unit("index", number, _signed(2), lambda v, decimals: f"{v:.{decimals + 2}f}", note=_mean_note)
RATIO = Unit("ratio", ratio, _signed(2), lambda v, decimals: f"{v:.{decimals + 1}f}×", suffix="×")
NUMBER = Unit("number", number, _signed(2), lambda v, decimals: f"{v:.{decimals + 2}f}")
SCORE = Unit("score", lambda v: number(v, 0), _signed(0), lambda v, decimals: f"{v:.{decimals}f}")
HOURS = Unit("hours", hours, _signed(0, " h"), lambda v, decimals: f"{v:,.{decimals}f} h", suffix=" h")
UNITS = (MONEY, COUNT, SHARE, SIGNED_SHARE, POINTS, INDEX, RATIO, NUMBER, SCORE, HOURS)


# --- dates -------------------------------------------------------------------------------------

MONTH_AXIS = "%b %Y"  # a chart's month axis (Vega/d3 time format): "Mar 2026", never a bare "Mar"


def _missing_moment(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value) in ("NaT", "nan")


def month_label(value: date | datetime | str | None) -> str:
    """A month with its year: date(2026, 3, 14) -> "Mar 2026"; "—" when unknown."""
    if _missing_moment(value):
        return DASH
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment:%b %Y}"


def day_label(value: date | datetime | str | None) -> str:
    """A day: 2026-11-23; "—" when unknown."""
    if _missing_moment(value):
        return DASH
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment:%Y-%m-%d}"


def moment_label(value: datetime | str | None, *, seconds: bool = False) -> str:
    """A time of day, to the minute: 2026-11-23 09:00 (with ``seconds``: 09:00:05); "—" when unknown."""
    if _missing_moment(value):
        return DASH
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment:%Y-%m-%d %H:%M:%S}" if seconds else f"{moment:%Y-%m-%d %H:%M}"


# --- words for codes ---------------------------------------------------------------------------

# What the solver's status means to a person (CP-SAT's names, and the runner's own).
SOLVER_WORDS = {
    "OPTIMAL": "best possible plan",
    "FEASIBLE": "good plan (time limit reached)",
    "INFEASIBLE": "no plan meets the rules",
    "MODEL_INVALID": "the scenario is not valid",
    "UNKNOWN": "no plan found in time",
    "TIMEOUT": "no plan found in time",
    "HEURISTIC": "quick plan (no solver proof)",
    "CURRENT": "today's book (no move needed)",
    "EDITED": "edited by hand (re-solve to optimise around the edits)",
}

# A move's risks (core.rebalance.result.RISKS) in words.
RISK_WORDS = {
    "large_revenue": "large revenue",
    "open_opportunity": "open opportunity",
    "long_tenure": "long-held account",
}


def solver_words(status: str | None) -> str:
    """The solver's status as a person reads it: OPTIMAL -> "best possible plan"."""
    if not status:
        return DASH
    return SOLVER_WORDS.get(status, status.replace("_", " ").lower())


def risk_words(risks: Iterable[str]) -> str:
    """A move's risks in words: ("large_revenue", "long_tenure") -> "large revenue, long-held account"."""
    return ", ".join(RISK_WORDS.get(r, r.replace("_", " ")) for r in risks)


def seconds(value: float | None) -> str:
    """A duration in seconds: 12.34 -> 12.3 s."""
    return f"{float(value):,.1f} s" if _given(value) else DASH


# --- names ---------------------------------------------------------------------------------------


def territory_label(territory_id: str, territories: pd.DataFrame | None) -> str:
    """A territory as a person knows it: "Phoenix North · Maria Lopez" (its id when unknown)."""
    if territories is None or territory_id not in set(territories["external_id"]):
        return territory_id
    row = territories.set_index("external_id").loc[territory_id]
    rep = row.get("rep_name")
    name = row["name"] if isinstance(row["name"], str) and row["name"] else territory_id
    return f"{name} · {rep}" if isinstance(rep, str) and rep else f"{name} · vacant"


def territory_labels(territories: pd.DataFrame) -> dict[str, str]:
    """Every territory id with its label, for pickers (``format_func``)."""
    return {t: territory_label(t, territories) for t in territories["external_id"]}
