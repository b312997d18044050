"""Numbers for people: $4.2M, 83%, +3.1 pts. Shared by the CLI, emails and the dashboard."""

from __future__ import annotations

import math
from typing import TypeGuard


def _given(value: float | None) -> TypeGuard[float]:
    """A number to show: neither None nor NaN."""
    return not (value is None or (isinstance(value, float) and math.isnan(value)))


def money(value: float | None) -> str:
    """$4.2M, $850K, $920; negative amounts keep their sign."""
    if not _given(value):
        return "—"
    sign = "-" if value < 0 else ""
    value = abs(float(value))
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= limit:
            return f"{sign}${value / limit:.1f}{suffix}"
    return f"{sign}${value:,.0f}"


def pct(value: float | None, digits: int = 0) -> str:
    """A share as a percentage: 0.834 -> 83%."""
    return f"{float(value) * 100:.{digits}f}%" if _given(value) else "—"


def points(value: float | None) -> str:
    """Percentage points with a sign: 3.14 -> +3.1 pts."""
    return f"{float(value):+.1f} pts" if _given(value) else "—"


def ratio(value: float | None) -> str:
    """A multiple: 2.5 -> 2.5×."""
    return f"{float(value):.1f}×" if _given(value) else "—"
