"""Comparators: how a KPI is checked against a limit (machine half) and how that reads (human half).

``BELOW`` (value < threshold), ``ABOVE`` (value > threshold) and ``OUTSIDE`` (|value − 1| >
threshold: the band around a balanced index of 1.0). Comparisons are strict, so a value exactly on
the threshold is inside (within 1e-9, so that float error does not decide); a missing value never
crosses. Alert rules (``core.alerts.rules``) and health deductions (``core.health``) hold these
objects; the database keeps the name ("below") and ``comparator_named`` maps it back at load.

The human half takes the KPI's ``core.format.Unit``: ``describe`` gives "Coverage below 70%",
``crossing`` "below the 70% threshold" / "outside the ±15% band", ``back_inside`` what a
resolved reading says, ``reading`` a value with as many decimals as it needs to differ from the
threshold, ``typed`` the scale and unit a person types the threshold in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.format import Unit, trim

# A value typed as the threshold stays inside despite float error (|0.85 - 1| is 0.15000000000000002).
TOLERANCE = 1e-9
INDEX_CENTER = 1.0  # an index of 1.0 is the mean of the territories in view
MAX_EXTRA_DECIMALS = 4


def _numbers(values: pd.Series | np.ndarray | list[float]) -> np.ndarray:
    """Floats, NaN for anything missing or not a number (object columns from the database hold None)."""
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


@dataclass(frozen=True)
class Comparator:
    """A limit on one side of a threshold; subclasses give the machine half (``mask``, ``excess``)."""

    name: str  # as stored in AlertRule.comparator

    # --- machine half

    @property
    def known(self) -> bool:
        """Whether values can be checked against it (False for a stored name no comparator has)."""
        return True

    def mask(self, values: pd.Series | np.ndarray | list[float], threshold: float) -> np.ndarray:
        """Element-wise: which values cross the threshold (missing values never do)."""
        raise NotImplementedError

    def excess(self, values: pd.Series, limit: float) -> pd.Series:
        """How far beyond the limit each value is, in the KPI's unit (<= 0 or NaN: not beyond)."""
        raise NotImplementedError

    def threshold_problem(self, threshold: float) -> str | None:
        """Why a threshold makes no sense for this comparator, in words; None when it does."""
        return None

    # --- human half

    def threshold_text(self, unit: Unit, threshold: float, *, before_noun: bool = False) -> str:
        """The threshold as a person reads it ("70%", "-10 points", "3×")."""
        return unit.threshold(threshold, before_noun=before_noun)

    def describe(self, label: str, threshold: float, unit: Unit) -> str:
        """The limit in words: "Coverage below 70%"."""
        return f"{label} {self.condition(threshold, unit)}"

    def condition(self, threshold: float, unit: Unit) -> str:
        """The limit without the KPI: "below 70%"."""
        return f"{self.name} {self.threshold_text(unit, threshold)}"

    def crossing(self, threshold: float, unit: Unit) -> str:
        """What a reading beyond the limit is: "below the 70% threshold", "below the -10-point threshold"."""
        return f"{self.name} the {self.threshold_text(unit, threshold, before_noun=True)} threshold"

    def back_inside(self, threshold: float, unit: Unit) -> str:
        """What a reading back within the limit is: "no longer below the 70% threshold"."""
        return f"no longer {self.crossing(threshold, unit)}"

    def reading(self, unit: Unit, value: float, threshold: float) -> str:
        """The value with as many decimals as it takes to differ from the threshold ("69.6%", not "70%")."""
        for decimals in range(MAX_EXTRA_DECIMALS):
            text = unit.reading(value, decimals)
            if text != unit.reading(threshold, decimals):
                return text
        return unit.reading(value, 0)  # equal to the threshold (a reading on the edge)

    def typed(self, unit: Unit) -> tuple[float, str]:
        """How a person types the threshold: the scale (70 for 0.70) and the unit shown."""
        return unit.scale, unit.typed_in


@dataclass(frozen=True)
class Below(Comparator):
    name: str = "below"

    def mask(self, values: pd.Series | np.ndarray | list[float], threshold: float) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return _numbers(values) < threshold - TOLERANCE

    def excess(self, values: pd.Series, limit: float) -> pd.Series:
        return limit - values


@dataclass(frozen=True)
class Above(Comparator):
    name: str = "above"

    def mask(self, values: pd.Series | np.ndarray | list[float], threshold: float) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return _numbers(values) > threshold + TOLERANCE

    def excess(self, values: pd.Series, limit: float) -> pd.Series:
        return values - limit


@dataclass(frozen=True)
class Outside(Comparator):
    """Outside the band 1 ± threshold; the threshold is a share of the mean (0.15 reads "±15%")."""

    name: str = "outside"

    def mask(self, values: pd.Series | np.ndarray | list[float], threshold: float) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.abs(_numbers(values) - INDEX_CENTER) > threshold + TOLERANCE

    def excess(self, values: pd.Series, limit: float) -> pd.Series:
        return (values - INDEX_CENTER).abs() - limit

    def threshold_problem(self, threshold: float) -> str | None:
        return None if threshold > 0 else "a band threshold must be positive (0.15 is ±15%)"

    def threshold_text(self, unit: Unit, threshold: float, *, before_noun: bool = False) -> str:
        return f"±{trim(threshold * 100)}%"

    def crossing(self, threshold: float, unit: Unit) -> str:
        return f"outside the {self.threshold_text(unit, threshold)} band"

    def back_inside(self, threshold: float, unit: Unit) -> str:
        return f"inside the {self.threshold_text(unit, threshold)} band"

    def reading(self, unit: Unit, value: float, threshold: float) -> str:
        return unit.reading(value, 0)  # a value and a band width never read alike

    def typed(self, unit: Unit) -> tuple[float, str]:
        return 100.0, "± % around the mean"


BELOW, ABOVE, OUTSIDE = Below(), Above(), Outside()
COMPARATORS: dict[str, Comparator] = {c.name: c for c in (BELOW, ABOVE, OUTSIDE)}


@dataclass(frozen=True)
class Unknown(Comparator):
    """A stored name no comparator has: it reads as written and refuses to be checked."""

    @property
    def known(self) -> bool:
        return False

    def mask(self, values: pd.Series | np.ndarray | list[float], threshold: float) -> np.ndarray:
        raise ValueError(f"unknown comparator {self.name!r}; expected one of {', '.join(COMPARATORS)}")

    def excess(self, values: pd.Series, limit: float) -> pd.Series:
        return pd.Series(self.mask(values, limit))  # raises


def comparator_named(name: str | Comparator) -> Comparator:
    """The comparator a stored name stands for (an ``Unknown`` one for a name none has)."""
    if isinstance(name, Comparator):
        return name
    return COMPARATORS.get(name) or Unknown(name)
