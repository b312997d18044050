"""Numbers for people: $4.2M, 83%, +3.1 pts. Shared by the CLI, emails and the dashboard."""

from __future__ import annotations

import math


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def money(value: float | None) -> str:
    """$4.2M, $850K, $920; negative amounts keep their sign."""
    if _missing(value):
        return "—"
    sign = "-" if value < 0 else ""
    value = abs(float(value))  # type: ignore[arg-type]
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= limit:
            return f"{sign}${value / limit:.1f}{suffix}"
    return f"{sign}${value:,.0f}"


def pct(value: float | None, digits: int = 0) -> str:
    """A share as a percentage: 0.834 -> 83%."""
    return "—" if _missing(value) else f"{float(value) * 100:.{digits}f}%"  # type: ignore[arg-type]


def points(value: float | None) -> str:
    """Percentage points with a sign: 3.14 -> +3.1 pts."""
    return "—" if _missing(value) else f"{float(value):+.1f} pts"  # type: ignore[arg-type]


def ratio(value: float | None) -> str:
    """A multiple: 2.5 -> 2.5×."""
    return "—" if _missing(value) else f"{float(value):.1f}×"  # type: ignore[arg-type]
