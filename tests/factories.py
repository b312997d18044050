"""Small, seeded frames for tests (and the benchmarks): KPI inputs by hand or at random.

``kpi_inputs(accounts=[{...}], ...)`` turns lists of row dicts into ``KpiInputs`` (optional
columns take their defaults, empty lists give typed empty frames). ``monthly_revenue`` writes a
revenue series; ``synthetic_kpi_inputs`` builds a random book of any size with numpy only (no
Python loop per account), deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from core.kpis import KPI_INPUT_COLUMNS, KpiInputs, empty_frame

Rows = Sequence[Mapping[str, object]]


def rows_frame(kind: str, rows: Rows) -> pd.DataFrame:
    """A KPI input frame of ``kind`` from row dicts; absent optional columns take their defaults."""
    if not rows:
        return empty_frame(kind)
    frame = pd.DataFrame(list(rows))
    for column, default in KPI_INPUT_COLUMNS[kind].items():
        if column not in frame.columns and default is not None:
            frame[column] = default
    return frame


def kpi_inputs(
    *,
    accounts: Rows,
    territories: Rows,
    revenue: Rows = (),
    activities: Rows = (),
    opportunities: Rows = (),
    quotas: Rows = (),
) -> KpiInputs:
    """``KpiInputs`` from lists of row dicts."""
    return KpiInputs(
        accounts=rows_frame("accounts", accounts),
        territories=rows_frame("territories", territories),
        revenue=rows_frame("revenue", revenue),
        activities=rows_frame("activities", activities),
        opportunities=rows_frame("opportunities", opportunities),
        quotas=rows_frame("quotas", quotas),
    )


def monthly_revenue(
    account_id: int, amounts: Sequence[float], *, first_month: date
) -> list[dict[str, object]]:
    """Revenue rows for consecutive months starting at ``first_month``."""
    months = pd.date_range(first_month, periods=len(amounts), freq="MS")
    return [
        {"account_id": account_id, "month": m.date(), "amount": float(a)}
        for m, a in zip(months, amounts, strict=True)
    ]


def synthetic_kpi_inputs(
    n_accounts: int,
    n_territories: int,
    *,
    as_of: date,
    months: int = 36,
    activity_days: int = 365,
    vacant: int = 0,
    seed: int = 0,
) -> KpiInputs:
    """A random book: accounts clustered around territory homes, revenue, activities, deals, quarterly quotas.

    The last ``vacant`` territories have no owner. Dates are datetime64 (what a loader gives).
    """
    rng = np.random.default_rng(seed)
    day = pd.Timestamp(as_of)
    territories = _synthetic_territories(rng, n_territories, vacant)
    accounts = _synthetic_accounts(rng, n_accounts, territories)
    return KpiInputs(
        accounts=accounts,
        territories=territories,
        revenue=_synthetic_revenue(rng, accounts, day, months),
        activities=_synthetic_activities(rng, accounts, territories, day, activity_days),
        opportunities=_synthetic_opportunities(rng, accounts, day, activity_days),
        quotas=_synthetic_quotas(rng, territories, day),
    )


def _synthetic_territories(rng: np.random.Generator, n: int, vacant: int) -> pd.DataFrame:
    owner = np.arange(1, n + 1, dtype=float) + 1000
    owner[n - vacant :] = np.nan
    return pd.DataFrame(
        {
            "territory_id": np.arange(1, n + 1),
            "owner_rep_id": owner,
            "home_lat": rng.uniform(30, 45, n),
            "home_lon": rng.uniform(-120, -80, n),
            "capacity_hours": rng.choice([120.0, 140.0, 160.0], n),
        }
    )


def _synthetic_accounts(rng: np.random.Generator, n: int, territories: pd.DataFrame) -> pd.DataFrame:
    territory = rng.integers(0, len(territories), n)
    potential = rng.lognormal(11, 1, n)
    potential[rng.random(n) < 0.2] = np.nan  # no forecast yet: the fallback applies
    return pd.DataFrame(
        {
            "account_id": np.arange(1, n + 1),
            "territory_id": territories["territory_id"].to_numpy()[territory],
            "lat": territories["home_lat"].to_numpy()[territory] + rng.normal(0, 0.6, n),
            "lon": territories["home_lon"].to_numpy()[territory] + rng.normal(0, 0.6, n),
            "strategic": rng.random(n) < 0.02,
            "potential": potential,
            "wallet_estimate": rng.lognormal(11.5, 1, n),
            "forecast_rest_of_period": rng.lognormal(9, 1, n),
        }
    )


def _synthetic_revenue(
    rng: np.random.Generator, accounts: pd.DataFrame, day: pd.Timestamp, months: int
) -> pd.DataFrame:
    payers = accounts["account_id"].to_numpy()[rng.random(len(accounts)) < 0.9]  # 10% prospects
    month_index = pd.date_range(end=day.to_period("M").to_timestamp(), periods=months + 1, freq="MS")[:-1]
    base = rng.lognormal(8.5, 1.2, payers.size)
    amount = np.repeat(base, months) * rng.uniform(0.6, 1.4, payers.size * months)
    return pd.DataFrame(
        {
            "account_id": np.repeat(payers, months),
            "month": np.tile(month_index.to_numpy(), payers.size),
            "amount": amount.round(2),
        }
    )


def _synthetic_activities(
    rng: np.random.Generator, accounts: pd.DataFrame, territories: pd.DataFrame, day: pd.Timestamp, days: int
) -> pd.DataFrame:
    per_account = rng.poisson(8 * days / 365, len(accounts))
    account = np.repeat(accounts["account_id"].to_numpy(), per_account)
    owner = territories.set_index("territory_id")["owner_rep_id"]
    rep = np.repeat(accounts["territory_id"].map(owner).to_numpy(), per_account)
    age = rng.integers(0, days, account.size)
    return pd.DataFrame(
        {
            "account_id": account,
            "rep_id": rep,
            "occurred_on": (day - pd.to_timedelta(age, unit="D")).to_numpy(),
            "hours": rng.choice([0.25, 0.5, 1.0, 2.0], account.size),
        }
    )


def _synthetic_opportunities(
    rng: np.random.Generator, accounts: pd.DataFrame, day: pd.Timestamp, days: int
) -> pd.DataFrame:
    n = int(len(accounts) * 2 * days / 365)
    created = day - pd.to_timedelta(rng.integers(0, days, n), unit="D")
    close = created + pd.to_timedelta(rng.integers(14, 180, n), unit="D")
    closed = close <= day
    status = np.where(closed, np.where(rng.random(n) < 0.4, "won", "lost"), "open")
    return pd.DataFrame(
        {
            "account_id": rng.choice(accounts["account_id"].to_numpy(), n),
            "rep_id": np.nan,
            "amount": rng.lognormal(9.5, 1, n).round(2),
            "status": status,
            "created_on": created.to_numpy(),
            "close_date": close.to_numpy(),
        }
    )


def _synthetic_quotas(rng: np.random.Generator, territories: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    reps = territories["owner_rep_id"].dropna().to_numpy()
    starts = pd.date_range(end=day.to_period("Q").to_timestamp(), periods=5, freq="QS")
    ends = starts + pd.offsets.QuarterEnd(0)
    return pd.DataFrame(
        {
            "rep_id": np.repeat(reps, starts.size).astype("int64"),
            "period_start": np.tile(starts.to_numpy(), reps.size),
            "period_end": np.tile(ends.to_numpy(), reps.size),
            "amount": rng.uniform(2e5, 6e5, reps.size * starts.size).round(-3),
        }
    )


# The alert thresholds the hand-worked alert cases were written for (the first defaults: potential
# band ±15%, workload band ±20%, drift below -10 points; only drift critical). The shipped defaults are wider
# (docs/alerts.md, "Defaults"); the worked cases test how a rule reads and fires, not its default.
WORKED_THRESHOLDS = {"potential_index_band": 0.15, "workload_index_band": 0.20, "drift_low": -10.0}
WORKED_SEVERITIES = {"coverage_low": "warning", "activity_drop": "warning", "team_potential_cv": "warning"}


def worked_rules():  # type: ignore[no-untyped-def]
    """The default rules keyed by key, with the thresholds of the hand-worked cases."""
    from dataclasses import replace

    from core.alerts.rules import DEFAULT_RULES, describe

    rules = {
        r.key: replace(
            r,
            threshold=WORKED_THRESHOLDS.get(r.key, r.threshold),
            severity=WORKED_SEVERITIES.get(r.key, r.severity),
        )
        for r in DEFAULT_RULES
    }
    return {key: replace(rule, name=describe(rule)) for key, rule in rules.items()}


def seed_worked_rules(session) -> None:  # type: ignore[no-untyped-def]
    """Seed the default rules, then set the worked cases' thresholds (and names) on the stored rows."""
    from sqlmodel import select

    from core.alerts.rules import seed_default_rules
    from core.models import AlertRule

    seed_default_rules(session)
    rules = worked_rules()
    for row in session.exec(select(AlertRule)).all():
        rule = rules[row.key]
        row.threshold, row.name, row.severity = rule.threshold, rule.name, rule.severity
    session.flush()
