"""The KPI registry: every KPI's function next to its human half (label, unit, good direction, help).

``KPIS`` holds the per-territory KPIs (one ``TerritoryKpi`` column each), ``HEALTH`` the health
score (computed by ``core.health`` from the others), ``TEAM_KPIS`` the team KPIs (one ``TeamKpi``
column each). An entry is a frozen ``Kpi``: its ``key`` (the snapshot column), ``compute`` (a
function of the snapshot's ``KpiContext``), ``label`` (how sentences, legends and the CLI name
it), ``unit`` (a ``core.format.Unit``: how its numbers read), ``good`` (which way is better:
higher, lower, a band around 1.0, or neutral for a size) and ``help`` (one sentence for people);
``short`` is the heading of a card or a column when the label is too long for one.

Every place that shows a KPI reads it from here: the dashboard cards and tables, the map legend
and tooltips, the ``territory kpis`` report and the alert sentences and emails. ``kpi(key)`` finds
an entry by its column (team entries first for ``scope="team"``).

How to add a KPI — one function, one registry entry, one migration:

1. the function, here: ``def my_kpi(ctx: KpiContext) -> pd.Series`` (one value per territory,
   indexed like ``ctx.territories``; a team KPI returns one number);
2. its entry in ``KPIS`` (or ``TEAM_KPIS``): ``"my_kpi": Kpi("my_kpi", my_kpi, "My KPI", SHARE,
   Good.HIGHER, "What it means.")``;
3. the migration (the snapshot column): a field on ``TerritoryKpi`` (``TeamKpi``) in
   ``core/models.py`` and an Alembic revision under ``core/migrations/versions/`` that adds the
   column (``TERRITORY_KPI_COLUMNS`` / ``TEAM_KPI_COLUMNS`` in ``core/kpis.py`` follow the registry).

The KPI job stores it, the dashboard and the CLI can show it, and an alert rule can watch it
(``tests/core/test_kpi_registry.py`` checks every entry against the snapshot tables).
See docs/kpis.md for the definitions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from core.config import Settings
from core.format import COUNT, HOURS, INDEX, MONEY, NUMBER, POINTS, RATIO, SCORE, SHARE, SIGNED_SHARE, Unit

BAND_TOLERANCE = 1e-9
T = TypeVar("T")


class Good(StrEnum):
    """Which way a KPI is better."""

    HIGHER = "higher"
    LOWER = "lower"
    BAND = "band"  # toward 1.0: too high and too low are both a problem
    NEUTRAL = "neutral"  # a size (accounts, potential): no side is better


@dataclass(frozen=True, eq=False)
class KpiContext:
    """Everything the KPI functions read, prepared once per snapshot.

    ``territories`` is indexed by territory_id (owner_rep_id, home_lat, home_lon, capacity);
    ``accounts`` has one row per assigned account (territory_id, potential, revenue_ttm, tier,
    workload_hours, touched, forecast_rest_of_period); ``position`` and ``position_before`` are
    the quota positions at as_of and as_of − 28 days (period_start, period_end, quota, pace,
    bookings, pipeline); ``activity_windows`` counts activities per territory in the 30-day
    windows 0 (latest) to 3.
    """

    as_of: date
    settings: Settings
    territories: pd.DataFrame
    accounts: pd.DataFrame
    position: pd.DataFrame
    position_before: pd.DataFrame
    activity_windows: pd.DataFrame


@dataclass(frozen=True)
class Kpi(Generic[T]):
    """One KPI: its snapshot column, how it is computed and how it reads to a person.

    ``compute`` is None only for the health score, which ``core.health`` derives from the others.
    """

    key: str
    compute: Callable[[KpiContext], T] | None
    label: str
    unit: Unit
    good: Good
    help: str
    short: str = ""

    @property
    def heading(self) -> str:
        """The card or column heading: ``short`` when given, else the label."""
        return self.short or self.label

    def text(self, value: float | None) -> str:
        """A value on a card, in a table or in the CLI ("58%", "$4.2M"; "—" when unknown)."""
        return self.unit.text(value)

    def change(self, delta: float | None) -> str:
        """A change between two snapshots ("+3.1 pts", "+0.12")."""
        return self.unit.change(delta)

    def __call__(self, ctx: KpiContext) -> T:
        if self.compute is None:
            raise TypeError(f"{self.key} is derived from the other KPIs, not computed from the context")
        return self.compute(ctx)


# --------------------------------------------------------------------------- helpers


def sum_by_territory(frame: pd.DataFrame, column: str, index: pd.Index) -> pd.Series:
    return frame.groupby("territory_id")[column].sum().reindex(index, fill_value=0.0).astype(float)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, NaN where the denominator is 0 or missing."""
    return (numerator / denominator.where(denominator > 0)).astype(float)


def _index(values: pd.Series) -> pd.Series:
    mean = values.mean()
    return values / mean if mean > 0 else values * np.nan


def _gap(position: pd.DataFrame) -> pd.Series:
    return (_ratio(position["bookings"], position["quota"]) - position["pace"]) * 100.0


# --------------------------------------------------------------------------- the KPI functions


def accounts(ctx: KpiContext) -> pd.Series:
    return (
        ctx.accounts.groupby("territory_id").size().reindex(ctx.territories.index, fill_value=0).astype(float)
    )


def potential(ctx: KpiContext) -> pd.Series:
    return sum_by_territory(ctx.accounts, "potential", ctx.territories.index)


def revenue_ttm(ctx: KpiContext) -> pd.Series:
    return sum_by_territory(ctx.accounts, "revenue_ttm", ctx.territories.index)


def workload_hours(ctx: KpiContext) -> pd.Series:
    return sum_by_territory(ctx.accounts, "workload_hours", ctx.territories.index)


def utilization(ctx: KpiContext) -> pd.Series:
    return _ratio(workload_hours(ctx), ctx.territories["capacity"])


def potential_index(ctx: KpiContext) -> pd.Series:
    return _index(potential(ctx))


def workload_index(ctx: KpiContext) -> pd.Series:
    return _index(workload_hours(ctx))


def coverage(ctx: KpiContext) -> pd.Series:
    touched = sum_by_territory(ctx.accounts[ctx.accounts["touched"]], "potential", ctx.territories.index)
    return _ratio(touched, potential(ctx)).clip(upper=1.0)  # a sum of a subset can round above the total


def accounts_touched_share(ctx: KpiContext) -> pd.Series:
    touched = sum_by_territory(ctx.accounts, "touched", ctx.territories.index)
    return _ratio(touched, accounts(ctx))


def quota(ctx: KpiContext) -> pd.Series:
    return ctx.position["quota"]


def bookings(ctx: KpiContext) -> pd.Series:
    return ctx.position["bookings"]


def attainment(ctx: KpiContext) -> pd.Series:
    return _ratio(ctx.position["bookings"], ctx.position["quota"])


def pace(ctx: KpiContext) -> pd.Series:
    return ctx.position["pace"]


def attainment_gap(ctx: KpiContext) -> pd.Series:
    return _gap(ctx.position)


def drift(ctx: KpiContext) -> pd.Series:
    return _gap(ctx.position) - _gap(ctx.position_before)


def projected_attainment(ctx: KpiContext) -> pd.Series:
    rest = sum_by_territory(ctx.accounts, "forecast_rest_of_period", ctx.territories.index)
    return _ratio(ctx.position["bookings"] + rest, ctx.position["quota"])


def pipeline_coverage(ctx: KpiContext) -> pd.Series:
    remaining = (ctx.position["quota"] - ctx.position["bookings"]).clip(lower=0.0)
    return _ratio(ctx.position["pipeline"], remaining)


def activity_change(ctx: KpiContext) -> pd.Series:
    windows = ctx.activity_windows.astype(float)
    baseline = windows.loc[:, 1:].mean(axis=1)
    return _ratio(windows[0], baseline) - 1.0


# --------------------------------------------------------------------------- per territory

KPIS: Mapping[str, Kpi[pd.Series]] = {
    "accounts": Kpi(
        "accounts", accounts, "Accounts", COUNT, Good.NEUTRAL, "Accounts assigned to the territory."
    ),
    "potential": Kpi(
        "potential",
        potential,
        "Potential",
        MONEY,
        Good.NEUTRAL,
        "Sum of the accounts' potential: their forecast revenue plus a share of untapped wallet.",
    ),
    "revenue_ttm": Kpi(
        "revenue_ttm",
        revenue_ttm,
        "Revenue TTM",
        MONEY,
        Good.HIGHER,
        "Revenue over the 12 complete months before the snapshot.",
    ),
    "workload_hours": Kpi(
        "workload_hours",
        workload_hours,
        "Workload",
        HOURS,
        Good.NEUTRAL,
        "Touch and travel hours a month the territory's accounts need.",
    ),
    "utilization": Kpi(
        "utilization",
        utilization,
        "Utilization",
        SHARE,
        Good.LOWER,
        "Workload over the owner's capacity; above 100% the rep cannot serve the book.",
    ),
    "potential_index": Kpi(
        "potential_index",
        potential_index,
        "Potential index",
        INDEX,
        Good.BAND,
        "Potential over the mean territory's: 1.0 is balanced.",
        short="Index",
    ),
    "workload_index": Kpi(
        "workload_index",
        workload_index,
        "Workload index",
        INDEX,
        Good.BAND,
        "Workload over the mean territory's: 1.0 is balanced.",
    ),
    "coverage": Kpi(
        "coverage",
        coverage,
        "Coverage",
        SHARE,
        Good.HIGHER,
        "Share of potential held by accounts touched in the last 90 days.",
    ),
    "accounts_touched_share": Kpi(
        "accounts_touched_share",
        accounts_touched_share,
        "Share of accounts touched",
        SHARE,
        Good.HIGHER,
        "Share of the accounts with an activity in the last 90 days.",
    ),
    "quota": Kpi(
        "quota",
        quota,
        "Quota",
        MONEY,
        Good.NEUTRAL,
        "The owner's quota for the current period, with the quota changes in force on the day.",
    ),
    "bookings": Kpi(
        "bookings", bookings, "Bookings", MONEY, Good.HIGHER, "Amounts won so far in the quota period."
    ),
    "attainment": Kpi(
        "attainment", attainment, "Attainment", SHARE, Good.HIGHER, "Bookings over quota so far this period."
    ),
    "pace": Kpi(
        "pace",
        pace,
        "Pace",
        SHARE,
        Good.NEUTRAL,
        "Share of the quota expected by now: the share of the period elapsed, a quota change "
        "counting from its effective date.",
    ),
    "attainment_gap": Kpi(
        "attainment_gap",
        attainment_gap,
        "Attainment gap",
        POINTS,
        Good.HIGHER,
        "Attainment minus pace, in points: below 0 the territory is behind.",
        short="Vs pace",
    ),
    "drift": Kpi(
        "drift",
        drift,
        "Drift",
        POINTS,
        Good.HIGHER,
        "Change of the attainment gap over the last 28 days, in points.",
    ),
    "projected_attainment": Kpi(
        "projected_attainment",
        projected_attainment,
        "Projected attainment",
        SHARE,
        Good.HIGHER,
        "Bookings plus the forecast for the rest of the period, over quota.",
    ),
    "pipeline_coverage": Kpi(
        "pipeline_coverage",
        pipeline_coverage,
        "Pipeline coverage",
        RATIO,
        Good.HIGHER,
        "Open pipeline closing this period over the quota still to book; 3× is the usual floor.",
    ),
    "activity_change": Kpi(
        "activity_change",
        activity_change,
        "Activity change",
        SIGNED_SHARE,
        Good.HIGHER,
        "Activities in the last 30 days against the 30-day average of the 90 days before.",
    ),
}
HEALTH: Kpi[pd.Series] = Kpi(
    "health",
    None,
    "Health score",
    SCORE,
    Good.HIGHER,
    "0–100: 100 minus the points each broken rule deducts (core.health).",
    short="Health",
)


# --------------------------------------------------------------------------- team


def territories(ctx: KpiContext) -> int:
    return len(ctx.territories)


def team_accounts(ctx: KpiContext) -> int:
    return int(accounts(ctx).sum())


def team_potential(ctx: KpiContext) -> float:
    return float(_potentials(ctx).sum())


def cv_potential(ctx: KpiContext) -> float | None:
    return coefficient_of_variation(_potentials(ctx))


def team_max_min_ratio(ctx: KpiContext) -> float | None:
    return max_min_ratio(_potentials(ctx))


def team_quartile_ratio(ctx: KpiContext) -> float | None:
    return quartile_ratio(_potentials(ctx))


def team_gini(ctx: KpiContext) -> float | None:
    return gini(_potentials(ctx))


def territories_out_of_band(ctx: KpiContext) -> int:
    return int(out_of_band(potential_index(ctx), ctx.settings.potential_band).sum())


def workload_out_of_band(ctx: KpiContext) -> int:
    return int(out_of_band(workload_index(ctx), ctx.settings.workload_band).sum())


def reps_on_pace_share(ctx: KpiContext) -> float | None:
    reps = _rep_positions(ctx)
    return _mean_or_none(reps["bookings"] / reps["quota"] >= reps["pace"])


def team_coverage(ctx: KpiContext) -> float | None:
    total = _potentials(ctx).sum()
    touched = ctx.accounts.loc[ctx.accounts["touched"], "potential"].sum()
    return _div_or_none(min(touched, total), total)


def team_attainment(ctx: KpiContext) -> float | None:
    reps = _rep_positions(ctx)
    return _div_or_none(reps["bookings"].sum(), reps["quota"].sum())


def _potentials(ctx: KpiContext) -> np.ndarray:
    return potential(ctx).to_numpy(dtype=float)


def _rep_positions(ctx: KpiContext) -> pd.DataFrame:
    """Per owner with a positive quota: bookings of all their territories, their quota and pace."""
    owned = pd.DataFrame(
        {
            "rep_id": ctx.territories["owner_rep_id"].to_numpy(),
            "bookings": ctx.position["bookings"].to_numpy(),
            "quota": ctx.position["quota"].to_numpy(),
            "pace": ctx.position["pace"].to_numpy(),
        }
    )
    owned = owned[owned["rep_id"].notna() & (owned["quota"] > 0)]
    return owned.groupby("rep_id").agg(
        bookings=("bookings", "sum"), quota=("quota", "first"), pace=("pace", "first")
    )


TEAM_KPIS: Mapping[str, Kpi[Any]] = {
    "territories": Kpi(
        "territories", territories, "Territories", COUNT, Good.NEUTRAL, "Territories in the snapshot."
    ),
    "accounts": Kpi(
        "accounts", team_accounts, "Accounts", COUNT, Good.NEUTRAL, "Accounts assigned to a territory."
    ),
    "potential": Kpi(
        "potential",
        team_potential,
        "Potential",
        MONEY,
        Good.NEUTRAL,
        "Potential of every territory together.",
    ),
    "cv_potential": Kpi(
        "cv_potential",
        cv_potential,
        "Team CV of potential",
        NUMBER,
        Good.LOWER,
        "Standard deviation / mean of territory potential. Above 0.15 is out of balance.",
        short="CV of potential",
    ),
    "max_min_ratio": Kpi(
        "max_min_ratio",
        team_max_min_ratio,
        "Team max/min potential ratio",
        RATIO,
        Good.LOWER,
        "Largest territory potential over the smallest.",
        short="Max / min",
    ),
    "quartile_ratio": Kpi(
        "quartile_ratio",
        team_quartile_ratio,
        "Team top/bottom quartile potential ratio",
        RATIO,
        Good.LOWER,
        "Mean potential of the top quartile over the bottom quartile. "
        "Above 2× is a classic imbalance signal.",
        short="Quartile ratio",
    ),
    "gini": Kpi(
        "gini",
        team_gini,
        "Team Gini of potential",
        NUMBER,
        Good.LOWER,
        "Gini coefficient of territory potential: 0 is equal, near 1 is one territory holding it all.",
        short="Gini",
    ),
    "out_of_band": Kpi(
        "out_of_band",
        territories_out_of_band,
        "Territories out of band",
        COUNT,
        Good.LOWER,
        "Territories whose potential index is outside 1 ± band.",
        short="Out of band",
    ),
    "workload_out_of_band": Kpi(
        "workload_out_of_band",
        workload_out_of_band,
        "Territories out of workload band",
        COUNT,
        Good.LOWER,
        "Territories whose workload index is outside 1 ± workload band.",
        short="Workload out of band",
    ),
    "reps_on_pace_share": Kpi(
        "reps_on_pace_share",
        reps_on_pace_share,
        "Share of reps at or above pace",
        SHARE,
        Good.HIGHER,
        "Share of reps at or above pace. 60–70% is healthy; below 50% points at territory design.",
        short="Reps on pace",
    ),
    "coverage": Kpi(
        "coverage",
        team_coverage,
        "Coverage",
        SHARE,
        Good.HIGHER,
        "Share of potential held by accounts touched in the last 90 days.",
    ),
    "attainment": Kpi(
        "attainment",
        team_attainment,
        "Attainment",
        SHARE,
        Good.HIGHER,
        "Bookings over quota of every rep with a quota, a rep owning several territories counted once.",
    ),
}


def kpi(key: str, *, scope: str = "territory") -> Kpi[Any]:
    """The registry entry of a snapshot column (team entries first for ``scope="team"``).

    A column the registry does not know reads as a plain number labelled after its name.
    """
    tables = (TEAM_KPIS, KPIS) if scope == "team" else (KPIS, TEAM_KPIS)
    for table in tables:
        if key in table:
            return table[key]
    if key == HEALTH.key:
        return HEALTH
    return Kpi(key, None, key.replace("_", " ").capitalize(), NUMBER, Good.NEUTRAL, "")


# --------------------------------------------------------------------------- team statistics


def out_of_band(index: pd.Series, band: float) -> pd.Series:
    """True where |index − 1| > band (1e-9 tolerance); False where the index is unknown."""
    return ((index - 1.0).abs() - band) > BAND_TOLERANCE


def coefficient_of_variation(values: np.ndarray) -> float | None:
    """Population standard deviation / mean; None when empty or the mean is 0."""
    mean = values.mean() if values.size else 0.0
    return float(values.std() / mean) if mean > 0 else None


def max_min_ratio(values: np.ndarray) -> float | None:
    """Largest / smallest; None when empty or the smallest is 0."""
    return float(values.max() / values.min()) if values.size and values.min() > 0 else None


def quartile_ratio(values: np.ndarray) -> float | None:
    """Mean of the top k / mean of the bottom k values, k = max(1, n // 4); None when the bottom mean is 0."""
    if not values.size:
        return None
    ordered = np.sort(values)
    k = max(1, ordered.size // 4)
    bottom = ordered[:k].mean()
    return float(ordered[-k:].mean() / bottom) if bottom > 0 else None


def gini(values: np.ndarray) -> float | None:
    """Gini of non-negative values (0 = equal, (n−1)/n = one holds all); None when the sum is 0."""
    total = values.sum() if values.size else 0.0
    if total <= 0:
        return None
    ordered = np.sort(values)
    ranks = np.arange(1, ordered.size + 1)
    return float(2.0 * (ranks * ordered).sum() / (ordered.size * total) - (ordered.size + 1) / ordered.size)


def _mean_or_none(flags: pd.Series) -> float | None:
    return float(flags.mean()) if len(flags) else None


def _div_or_none(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator > 0 else None
