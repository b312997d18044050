"""KPIs: a hand-worked book for every KPI, edge cases, as-of correctness, oracles and properties."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from core.accounts import EARTH_RADIUS_KM, account_tier
from core.config import Settings
from core.kpis import (
    KPIS,
    TEAM_KPI_COLUMNS,
    TERRITORY_KPI_COLUMNS,
    KpiInputs,
    compute_kpis,
    fiscal_quarter,
    gini,
    quartile_ratio,
)
from core.models import TeamKpi, TerritoryKpi
from tests.factories import kpi_inputs, monthly_revenue, synthetic_kpi_inputs

AS_OF = date(2025, 6, 15)
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180  # along a meridian haversine is exactly R × Δφ


@pytest.fixture
def cfg() -> Settings:
    return Settings(_env_file=None)


def north(lat: float, km: float) -> float:
    return lat + km / KM_PER_DEGREE


def row(result, territory_id: int) -> dict:
    """The territory's row with None for missing values."""
    return next(r for r in result.territory_rows() if r["territory_id"] == territory_id)


# --------------------------------------------------------------------------- the hand-worked book


def book() -> KpiInputs:
    """Two territories, five assigned accounts and one unassigned; as_of 2025-06-15.

    T1 owned by rep 11 (home 40N 100W, capacity 100 h); T2 vacant (no home: centroid of its accounts).

    A1 T1 strategic flag, potential 500k, ttm 12 × 25k = 300k, 60 km north of home.
        workload = 10 touch + 1 visit × 2 × 60 km / 60 km/h = 12 h
    A2 T1 ttm 12 × 10k = 120k (key; May 2024 and June 2025 revenue are outside the window),
        potential NaN → 120k + 0.3 × (220k − 120k) = 150k; 120 km south: 4 + 0.5 × 2 × 120 / 60 = 6 h
    A3 T1 prospect: no revenue, no wallet, no coordinates → potential 0, long-tail, 0.5 h
    A4 T2 ttm 12 × 50k/12 = 50k (standard), potential 250k, 60 km south of the T2 centroid:
        1.5 + 0.25 × 2 × 60 / 60 = 2 h
    A5 T2 ttm 10k (long-tail), potential 100k, 60 km north of the centroid: 0.5 h (no visits)
    A6 unassigned, potential 1M: counted nowhere.

    T1: accounts 3, potential 650k, ttm 420k, workload 18.5 h, utilization 0.185
    T2: accounts 2, potential 350k, ttm 60k, workload 2.5 h, utilization None (vacant)
    potential index 650/500 = 1.3 and 0.7; workload index 18.5/10.5 and 2.5/10.5.

    Activities (coverage window 90 days: touched when on or after 2025-03-18):
    A1 06-10 (w0), 05-01 (w1), 04-01 (w2); A3 06-15 (w0, as_of itself); A2 03-17 (age 90: w3, not
    touched); A3 06-16 (future: ignored); A4 03-18 (age 89: w2, touched).
    T1 coverage 500/650 = 10/13, touched share 2/3, windows [2,1,1,1] → change 2/1 − 1 = +1.0
    T2 coverage 250/350 = 5/7, touched share 1/2, windows [0,0,1,0] → change 0/(1/3) − 1 = −1.0

    Quotas of rep 11: May 2025 (05-01..05-31) 62k, June 2025 (06-01..06-30) 100k.
    T1 bookings (June): O1 40k won 06-05 → attainment 0.4, pace 15/30 = 0.5, gap −10 pts.
    projected (40k + 20k + 10k + 0) / 100k = 0.7.
    pipeline: O4 70k (won 06-20, open at as_of) + O5 50k open closing 06-25 = 120k; O6 created
    after as_of, O7 closes next period, O8 lost, O11 overdue → out. remaining 60k → 2.0×.
    At 05-18 (as_of − 28): May period, O3 31k won 05-10 (O2 closes 05-31, later) → 0.5 attainment,
    pace 18/31 → gap (0.5 − 18/31) × 100; drift = −10 − that.
    T2 vacant: no quota; fiscal quarter Q2 (04-01..06-30), pace 76/91, bookings O9 15k (O10 won
    03-31, previous quarter: out).
    """
    home = (40.0, -100.0)
    accounts = [
        {
            "account_id": 1,
            "territory_id": 1,
            "lat": north(40, 60),
            "lon": -100.0,
            "strategic": True,
            "potential": 500_000.0,
            "wallet_estimate": 600_000.0,
            "forecast_rest_of_period": 20_000.0,
        },
        {
            "account_id": 2,
            "territory_id": 1,
            "lat": north(40, -120),
            "lon": -100.0,
            "strategic": False,
            "potential": np.nan,
            "wallet_estimate": 220_000.0,
            "forecast_rest_of_period": 10_000.0,
        },
        {
            "account_id": 3,
            "territory_id": 1,
            "lat": np.nan,
            "lon": np.nan,
            "strategic": False,
            "potential": np.nan,
            "wallet_estimate": np.nan,
            "forecast_rest_of_period": np.nan,
        },
        {
            "account_id": 4,
            "territory_id": 2,
            "lat": 35.0,
            "lon": -90.0,
            "strategic": False,
            "potential": 250_000.0,
            "wallet_estimate": np.nan,
            "forecast_rest_of_period": 0.0,
        },
        {
            "account_id": 5,
            "territory_id": 2,
            "lat": north(35, 120),
            "lon": -90.0,
            "strategic": False,
            "potential": 100_000.0,
            "wallet_estimate": np.nan,
            "forecast_rest_of_period": 0.0,
        },
        {
            "account_id": 6,
            "territory_id": None,
            "lat": 30.0,
            "lon": -95.0,
            "strategic": False,
            "potential": 1_000_000.0,
            "wallet_estimate": np.nan,
            "forecast_rest_of_period": 0.0,
        },
    ]
    territories = [
        {
            "territory_id": 1,
            "owner_rep_id": 11,
            "home_lat": home[0],
            "home_lon": home[1],
            "capacity_hours": 100.0,
        },
        {"territory_id": 2, "owner_rep_id": None, "home_lat": None, "home_lon": None, "capacity_hours": None},
    ]
    twelve = date(2024, 6, 1)
    revenue = (
        monthly_revenue(1, [25_000] * 12, first_month=twelve)
        + monthly_revenue(2, [50_000] + [10_000] * 12 + [99_999], first_month=date(2024, 5, 1))
        + monthly_revenue(4, [50_000 / 12] * 12, first_month=twelve)
        + monthly_revenue(5, [10_000 / 12] * 12, first_month=twelve)
        + monthly_revenue(6, [1_000] * 12, first_month=twelve)
    )
    activities = [
        {"account_id": a, "rep_id": 11, "occurred_on": d, "hours": 1.0}
        for a, d in [
            (1, date(2025, 6, 10)),
            (1, date(2025, 5, 1)),
            (1, date(2025, 4, 1)),
            (3, date(2025, 6, 15)),
            (2, date(2025, 3, 17)),
            (3, date(2025, 6, 16)),
            (4, date(2025, 3, 18)),
            (6, date(2025, 6, 1)),
        ]
    ]
    opportunities = [
        opp(1, 40_000, "won", date(2025, 5, 20), date(2025, 6, 5)),  # O1
        opp(2, 25_000, "won", date(2025, 4, 1), date(2025, 5, 31)),  # O2
        opp(2, 31_000, "won", date(2025, 4, 1), date(2025, 5, 10)),  # O3
        opp(1, 70_000, "won", date(2025, 6, 1), date(2025, 6, 20)),  # O4
        opp(3, 50_000, "open", date(2025, 6, 1), date(2025, 6, 25)),  # O5
        opp(3, 1_000_000, "open", date(2025, 6, 16), date(2025, 6, 28)),  # O6
        opp(1, 80_000, "open", date(2025, 6, 1), date(2025, 7, 15)),  # O7
        opp(2, 20_000, "lost", date(2025, 5, 1), date(2025, 6, 10)),  # O8
        opp(4, 15_000, "won", date(2025, 6, 1), date(2025, 6, 2)),  # O9
        opp(5, 5_000, "won", date(2025, 3, 1), date(2025, 3, 31)),  # O10
        opp(1, 9_000, "open", date(2025, 5, 1), date(2025, 6, 10)),  # O11
        opp(6, 500_000, "won", date(2025, 6, 1), date(2025, 6, 3)),  # unassigned account
    ]
    quotas = [
        {"rep_id": 11, "period_start": date(2025, 5, 1), "period_end": date(2025, 5, 31), "amount": 62_000.0},
        {
            "rep_id": 11,
            "period_start": date(2025, 6, 1),
            "period_end": date(2025, 6, 30),
            "amount": 100_000.0,
        },
    ]
    return kpi_inputs(
        accounts=accounts,
        territories=territories,
        revenue=revenue,
        activities=activities,
        opportunities=opportunities,
        quotas=quotas,
    )


def opp(account_id: int, amount: float, status: str, created: date, close: date) -> dict:
    return {
        "account_id": account_id,
        "rep_id": 11,
        "amount": float(amount),
        "status": status,
        "created_on": created,
        "close_date": close,
    }


@pytest.fixture
def result(cfg):
    return compute_kpis(book(), as_of=AS_OF, settings=cfg)


def test_size_and_revenue_kpis(result):
    """accounts 3/2 (A6 unassigned), potential 650k/350k, ttm 420k/60k (see book())."""
    t1, t2 = row(result, 1), row(result, 2)
    assert (t1["accounts"], t2["accounts"]) == (3, 2)
    assert t1["potential"] == pytest.approx(650_000)
    assert t2["potential"] == pytest.approx(350_000)
    assert t1["revenue_ttm"] == pytest.approx(420_000)
    assert t2["revenue_ttm"] == pytest.approx(60_000)


def test_workload_and_utilization(result):
    """T1 12 + 6 + 0.5 = 18.5 h of 100 h; T2 (centroid home) 2 + 0.5 = 2.5 h, no capacity."""
    t1, t2 = row(result, 1), row(result, 2)
    assert t1["workload_hours"] == pytest.approx(18.5)
    assert t2["workload_hours"] == pytest.approx(2.5)
    assert t1["utilization"] == pytest.approx(0.185)
    assert t2["utilization"] is None


def test_indices(result):
    """Mean potential 500k → 1.3 / 0.7; mean workload 10.5 h → 18.5/10.5 and 2.5/10.5."""
    t1, t2 = row(result, 1), row(result, 2)
    assert (t1["potential_index"], t2["potential_index"]) == (pytest.approx(1.3), pytest.approx(0.7))
    assert t1["workload_index"] == pytest.approx(18.5 / 10.5)
    assert t2["workload_index"] == pytest.approx(2.5 / 10.5)


def test_coverage_and_touched_share(result):
    """T1: A1 and A3 touched → 500/650 of potential, 2 of 3 accounts; T2: A4 (day 89) → 250/350, 1 of 2."""
    t1, t2 = row(result, 1), row(result, 2)
    assert t1["coverage"] == pytest.approx(10 / 13)
    assert t1["accounts_touched_share"] == pytest.approx(2 / 3)
    assert t2["coverage"] == pytest.approx(5 / 7)
    assert t2["accounts_touched_share"] == pytest.approx(1 / 2)


def test_quota_kpis(result):
    """T1: 40k of 100k, pace 15/30, gap −10 pts, projected 0.7, pipeline 120k / 60k = 2.0×."""
    t1 = row(result, 1)
    assert t1["quota"] == 100_000
    assert t1["bookings"] == pytest.approx(40_000)
    assert t1["attainment"] == pytest.approx(0.4)
    assert t1["pace"] == pytest.approx(0.5)
    assert t1["attainment_gap"] == pytest.approx(-10.0)
    assert t1["projected_attainment"] == pytest.approx(0.7)
    assert t1["pipeline_coverage"] == pytest.approx(2.0)


def test_drift_recomputes_the_gap_28_days_earlier_in_its_own_period(result):
    """At 05-18 the May period holds: 31k / 62k = 0.5 vs pace 18/31; drift = −10 − (0.5 − 18/31) × 100."""
    assert row(result, 1)["drift"] == pytest.approx(-10.0 - (0.5 - 18 / 31) * 100)


def test_vacant_territory_keeps_bookings_and_pace_of_the_fiscal_quarter(result):
    """T2: 15k won in Q2 (the 03-31 win is the previous quarter), pace 76/91, no quota KPIs."""
    t2 = row(result, 2)
    assert t2["bookings"] == pytest.approx(15_000)
    assert t2["pace"] == pytest.approx(76 / 91)
    for column in (
        "quota",
        "attainment",
        "attainment_gap",
        "drift",
        "projected_attainment",
        "pipeline_coverage",
    ):
        assert t2[column] is None, column


def test_activity_change(result):
    """T1 windows [2, 1, 1, 1] → +100%; T2 [0, 0, 1, 0] → −100%."""
    assert row(result, 1)["activity_change"] == pytest.approx(1.0)
    assert row(result, 2)["activity_change"] == pytest.approx(-1.0)


def test_health_and_deductions(result):
    """T1: potential 1.3 → 5 + 50 × 0.15 = 12.5; workload 1.76 → capped 10; pipeline 2.0× → 5 + 5 × 1 = 10;
    the gap of exactly −10 pts does not fire → 100 − 32.5 = 67.5.
    T2: vacant 20, potential 0.7 → 12.5, workload 0.24 → 10, activity −100% → capped 10 → 47.5."""
    t1, t2 = row(result, 1), row(result, 2)
    assert t1["health"] == pytest.approx(67.5)
    assert [d["points"] for d in json.loads(t1["deductions"])] == [12.5, 10.0, 10.0]
    assert "potential index 1.30" in json.loads(t1["deductions"])[0]["reason"]
    assert t2["health"] == pytest.approx(47.5)
    reasons = [d["reason"] for d in json.loads(t2["deductions"])]
    assert reasons[0] == "territory is vacant (no owner rep)"
    assert any("activity -100%" in r for r in reasons)


def test_team(result):
    """Potentials 650k / 350k: cv 150/500 = 0.3, max/min = quartile ratio = 65/35 (k = 1),
    Gini = 2 × 300k / (2 × 2² × 500k) = 0.15; both out of both bands; rep 11 at 0.4 < pace 0.5;
    coverage (500k + 0 + 250k) / 1M = 0.75; attainment 40k / 100k."""
    team = result.team
    assert team["snapshot_date"] == AS_OF
    assert (team["territories"], team["accounts"]) == (2, 5)
    assert team["potential"] == pytest.approx(1_000_000)
    assert team["cv_potential"] == pytest.approx(0.3)
    assert team["max_min_ratio"] == pytest.approx(65 / 35)
    assert team["quartile_ratio"] == pytest.approx(65 / 35)
    assert team["gini"] == pytest.approx(0.15)
    assert (team["out_of_band"], team["workload_out_of_band"]) == (2, 2)
    assert team["reps_on_pace_share"] == 0.0
    assert team["coverage"] == pytest.approx(0.75)
    assert team["attainment"] == pytest.approx(0.4)


# --------------------------------------------------------------------------- the output contract


def test_columns_are_the_db_tables(result):
    table_columns = [c for c in TerritoryKpi.model_fields if c not in ("id", "computed_at")]
    assert list(result.territories.columns) == table_columns == list(TERRITORY_KPI_COLUMNS)
    assert list(result.team) == [c for c in TeamKpi.model_fields if c not in ("id", "computed_at")]
    assert list(TEAM_KPI_COLUMNS) == list(result.team)
    assert set(KPIS) == set(TERRITORY_KPI_COLUMNS) - {"snapshot_date", "territory_id", "health", "deductions"}


def test_rows_build_table_objects(result):
    """NaN becomes None and values are plain Python, so rows go straight into the tables."""
    rows = [TerritoryKpi(**r) for r in result.territory_rows()]
    assert rows[1].utilization is None and rows[1].quota is None
    assert type(rows[0].accounts) is int and type(rows[0].potential) is float
    assert isinstance(rows[0].snapshot_date, date)
    TeamKpi(**result.team)


# --------------------------------------------------------------------------- edge cases


def one_territory(
    *, owner=11, capacity=100.0, quota_rows=(), accounts=None, revenue=(), activities=(), opps=()
):
    """One territory (optionally vacant) with given pieces; default: one account of potential 100k."""
    accounts = accounts or [{"account_id": 1, "territory_id": 1, "potential": 100_000.0}]
    return kpi_inputs(
        accounts=accounts,
        territories=[{"territory_id": 1, "owner_rep_id": owner, "capacity_hours": capacity}],
        revenue=revenue,
        activities=activities,
        opportunities=opps,
        quotas=list(quota_rows),
    )


def quota_row(start: date, end: date, amount: float, rep: int = 11) -> dict:
    return {"rep_id": rep, "period_start": start, "period_end": end, "amount": amount}


@pytest.mark.parametrize(
    ("as_of", "pace", "bookings"),
    [
        (date(2025, 4, 1), 1 / 91, 1_000),  # first day of the period: only that day's win
        (date(2025, 6, 30), 1.0, 1_000 + 2_000 + 4_000),  # last day: all three
        (date(2025, 5, 15), 45 / 91, 1_000 + 2_000),
    ],
)
def test_period_boundaries(cfg, as_of, pace, bookings):
    """Quarter 04-01..06-30 (91 days); wins on 04-01, 05-15 and 06-30; one on 03-31 never counts."""
    opps = [
        opp(1, a, "won", date(2025, 3, 1), d)
        for a, d in [
            (500, date(2025, 3, 31)),
            (1_000, date(2025, 4, 1)),
            (2_000, date(2025, 5, 15)),
            (4_000, date(2025, 6, 30)),
        ]
    ]
    inputs = one_territory(quota_rows=[quota_row(date(2025, 4, 1), date(2025, 6, 30), 10_000)], opps=opps)
    r = row(compute_kpis(inputs, as_of=as_of, settings=cfg), 1)
    assert r["pace"] == pytest.approx(pace)
    assert r["bookings"] == pytest.approx(bookings)
    assert r["attainment"] == pytest.approx(bookings / 10_000)


def test_overlapping_quota_rows_take_the_latest_start(cfg):
    """A yearly 400k row and a June 100k row both contain 06-15: June (latest start) wins, pace 15/30."""
    quotas = [
        quota_row(date(2025, 1, 1), date(2025, 12, 31), 400_000),
        quota_row(date(2025, 6, 1), date(2025, 6, 30), 100_000),
    ]
    r = row(compute_kpis(one_territory(quota_rows=quotas), as_of=AS_OF, settings=cfg), 1)
    assert r["quota"] == 100_000 and r["pace"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("created", "close", "counted"),
    [
        (date(2025, 6, 1), AS_OF, True),  # closing today is still pipeline
        (date(2025, 6, 1), AS_OF - timedelta(days=1), False),  # overdue
        (date(2025, 6, 1), date(2025, 6, 30), True),  # last day of the period
        (date(2025, 6, 1), date(2025, 7, 1), False),  # next period
        (AS_OF, date(2025, 6, 20), True),  # created today
        (AS_OF + timedelta(days=1), date(2025, 6, 20), False),  # created after as_of
    ],
)
def test_pipeline_window(cfg, created, close, counted):
    """Open deals of 10k against a 100k quota with nothing booked: 0.1× when counted, else 0."""
    inputs = one_territory(
        quota_rows=[quota_row(date(2025, 6, 1), date(2025, 6, 30), 100_000)],
        opps=[opp(1, 10_000, "open", created, close)],
    )
    r = row(compute_kpis(inputs, as_of=AS_OF, settings=cfg), 1)
    assert r["pipeline_coverage"] == pytest.approx(0.1 if counted else 0.0)


@pytest.mark.parametrize(
    ("recent_age", "baseline_age", "change"),
    [
        (0, 30, 2.0),  # 1 / mean(1, 0, 0) − 1
        (29, 119, 2.0),  # edges of the latest and the oldest window
        (29, 120, None),  # 120 days back is outside all windows: no baseline
        (30, 60, -1.0),  # both in the baseline: 0 / (2/3) − 1
    ],
)
def test_activity_windows(cfg, recent_age, baseline_age, change):
    activities = [
        {"account_id": 1, "occurred_on": AS_OF - timedelta(days=a)} for a in (recent_age, baseline_age)
    ]
    r = row(compute_kpis(one_territory(activities=activities), as_of=AS_OF, settings=cfg), 1)
    assert r["activity_change"] == (None if change is None else pytest.approx(change))


def test_drift_across_a_period_boundary(cfg):
    """as_of 07-10 in Q3 (pace 10/92, nothing won: gap −1000/92); 28 days before (06-12) in Q2 with
    5k of 10k won and pace 73/91 → gap (0.5 − 73/91) × 100."""
    quotas = [
        quota_row(date(2025, 4, 1), date(2025, 6, 30), 10_000),
        quota_row(date(2025, 7, 1), date(2025, 9, 30), 10_000),
    ]
    inputs = one_territory(quota_rows=quotas, opps=[opp(1, 5_000, "won", date(2025, 5, 1), date(2025, 6, 1))])
    r = row(compute_kpis(inputs, as_of=date(2025, 7, 10), settings=cfg), 1)
    assert r["attainment_gap"] == pytest.approx(-1000 / 92)
    assert r["drift"] == pytest.approx(-1000 / 92 - (0.5 - 73 / 91) * 100)


@pytest.mark.parametrize(
    ("as_of", "ttm"),
    [
        (date(2025, 6, 1), 12),  # first of the month: June excluded, June 2024..May 2025
        (date(2025, 6, 30), 12),  # last of the month: same window
        (date(2025, 7, 1), 12 - 1 + 100),  # July: June 2024 drops out, June 2025 (100) comes in
    ],
)
def test_revenue_month_boundaries(cfg, as_of, ttm):
    """1 a month from May 2024 to May 2025 (13 months), 100 in June 2025."""
    revenue = monthly_revenue(1, [1] * 13 + [100], first_month=date(2024, 5, 1))
    r = row(compute_kpis(one_territory(revenue=revenue), as_of=as_of, settings=cfg), 1)
    assert r["revenue_ttm"] == pytest.approx(ttm)


@pytest.mark.parametrize(
    ("as_of", "fy_start", "start", "end"),
    [
        (date(2025, 4, 1), 1, date(2025, 4, 1), date(2025, 6, 30)),
        (date(2025, 3, 31), 1, date(2025, 1, 1), date(2025, 3, 31)),
        (date(2025, 1, 15), 2, date(2024, 11, 1), date(2025, 1, 31)),
        (date(2025, 2, 1), 2, date(2025, 2, 1), date(2025, 4, 30)),
        (date(2024, 12, 31), 10, date(2024, 10, 1), date(2024, 12, 31)),
    ],
)
def test_fiscal_quarter(as_of, fy_start, start, end):
    assert fiscal_quarter(pd.Timestamp(as_of), fy_start) == (pd.Timestamp(start), pd.Timestamp(end))


@pytest.mark.parametrize(
    ("ttm", "strategic", "tier"),
    [
        (200_000.01, False, "strategic"),
        (200_000, False, "key"),
        (100_000, False, "key"),
        (99_999, False, "standard"),
        (20_000, False, "standard"),
        (19_999, False, "long_tail"),
        (0, False, "long_tail"),
        (0, True, "strategic"),
    ],
)
def test_tier_thresholds(cfg, ttm, strategic, tier):
    assert account_tier(pd.Series([float(ttm)]), pd.Series([strategic]), cfg).iloc[0] == tier


@pytest.mark.parametrize("dtype", [bool, object, "boolean", float])
def test_strategic_flag_of_any_dtype(cfg, dtype):
    """True flags strategic whatever the loader's dtype; missing flags count as not strategic."""
    flags = pd.Series([True, False, None if dtype in (object, "boolean") else False], dtype=dtype)
    tiers = account_tier(pd.Series([0.0, 0.0, 0.0]), flags, cfg)
    assert tiers.tolist() == ["strategic", "long_tail", "long_tail"]


def test_zero_quota_gives_none_not_infinity(cfg):
    """Quota 0 with bookings: attainment, gap, projection and pipeline coverage (nothing remains) are None."""
    inputs = one_territory(
        quota_rows=[quota_row(date(2025, 6, 1), date(2025, 6, 30), 0.0)],
        opps=[
            opp(1, 1_000, "won", date(2025, 6, 1), date(2025, 6, 2)),
            opp(1, 1_000, "open", date(2025, 6, 1), date(2025, 6, 20)),
        ],
    )
    r = row(compute_kpis(inputs, as_of=AS_OF, settings=cfg), 1)
    assert r["quota"] == 0.0 and r["bookings"] == 1_000
    for column in ("attainment", "attainment_gap", "drift", "projected_attainment", "pipeline_coverage"):
        assert r[column] is None, column
    assert r["pace"] == pytest.approx(0.5)


def test_quota_met_leaves_no_remaining_quota(cfg):
    """Bookings above quota: remaining max(1k − 2k, 0) = 0 → pipeline coverage None, attainment 2.0."""
    inputs = one_territory(
        quota_rows=[quota_row(date(2025, 6, 1), date(2025, 6, 30), 1_000.0)],
        opps=[
            opp(1, 2_000, "won", date(2025, 6, 1), date(2025, 6, 2)),
            opp(1, 1_000, "open", date(2025, 6, 1), date(2025, 6, 20)),
        ],
    )
    r = row(compute_kpis(inputs, as_of=AS_OF, settings=cfg), 1)
    assert r["attainment"] == pytest.approx(2.0)
    assert r["pipeline_coverage"] is None


@pytest.mark.parametrize(
    ("wallet", "potential"),
    [(np.nan, 0.0), (50_000.0, 0.3 * 50_000)],
)
def test_account_with_no_history(cfg, wallet, potential):
    """A prospect: ttm 0, long-tail, fallback potential = 0.3 × wallet (0 without a wallet)."""
    accounts = [{"account_id": 1, "territory_id": 1, "potential": np.nan, "wallet_estimate": wallet}]
    r = row(compute_kpis(one_territory(accounts=accounts), as_of=AS_OF, settings=cfg), 1)
    assert r["revenue_ttm"] == 0.0
    assert r["potential"] == pytest.approx(potential)
    assert r["workload_hours"] == pytest.approx(cfg.touch_hours_long_tail)


def test_vacant_and_missing_capacity(cfg):
    """Owned with no capacity → default 140 h; vacant → utilization None and the vacancy deduction."""
    owned = row(compute_kpis(one_territory(capacity=None), as_of=AS_OF, settings=cfg), 1)
    assert owned["utilization"] == pytest.approx(cfg.touch_hours_long_tail / cfg.default_capacity_hours)
    vacant = row(compute_kpis(one_territory(owner=None), as_of=AS_OF, settings=cfg), 1)
    assert vacant["utilization"] is None and vacant["quota"] is None
    assert json.loads(vacant["deductions"])[0] == {
        "reason": "territory is vacant (no owner rep)",
        "points": 20.0,
    }


def test_all_zero_series(cfg):
    """Zero revenue, zero potential everywhere: ratios over zero are None, nothing is inf or NaN-poisoned."""
    accounts = [{"account_id": i, "territory_id": i % 2 + 1, "potential": 0.0} for i in range(1, 5)]
    inputs = kpi_inputs(
        accounts=accounts,
        territories=[{"territory_id": 1, "owner_rep_id": 11}, {"territory_id": 2, "owner_rep_id": 12}],
        revenue=[
            r for i in range(1, 5) for r in monthly_revenue(i, [0.0] * 12, first_month=date(2024, 6, 1))
        ],
    )
    result = compute_kpis(inputs, as_of=AS_OF, settings=cfg)
    for r in result.territory_rows():
        assert r["potential_index"] is None and r["coverage"] is None
        assert r["workload_index"] == pytest.approx(1.0)
        assert 0 <= r["health"] <= 100
    for key in (
        "cv_potential",
        "max_min_ratio",
        "quartile_ratio",
        "gini",
        "coverage",
        "attainment",
        "reps_on_pace_share",
    ):
        assert result.team[key] is None, key
    assert result.team["out_of_band"] == 0


def test_empty_activities(cfg):
    """No activities: nothing covered (0, not None), activity change unknown (None)."""
    r = row(compute_kpis(one_territory(), as_of=AS_OF, settings=cfg), 1)
    assert r["coverage"] == 0.0 and r["accounts_touched_share"] == 0.0
    assert r["activity_change"] is None


def test_empty_book(cfg):
    """No territories: an empty frame with the table columns and an empty team."""
    result = compute_kpis(kpi_inputs(accounts=[], territories=[]), as_of=AS_OF, settings=cfg)
    assert result.territories.empty and list(result.territories.columns) == list(TERRITORY_KPI_COLUMNS)
    assert result.team["territories"] == 0 and result.team["cv_potential"] is None


def test_territory_without_accounts_counts_in_the_mean(cfg):
    """Potentials 100k and 0 → mean 50k → indices 2.0 and 0.0; the empty territory has no coverage."""
    inputs = kpi_inputs(
        accounts=[{"account_id": 1, "territory_id": 1, "potential": 100_000.0}],
        territories=[{"territory_id": 1, "owner_rep_id": 11}, {"territory_id": 2, "owner_rep_id": 12}],
    )
    result = compute_kpis(inputs, as_of=AS_OF, settings=cfg)
    assert [r["potential_index"] for r in result.territory_rows()] == [2.0, 0.0]
    assert row(result, 2)["coverage"] is None and row(result, 2)["accounts_touched_share"] is None


def test_travel_from_home_and_without_coordinates(cfg):
    """A key account 90 km from home: 4 + 0.5 × 2 × 90 / 60 = 5.5 h; without coordinates: 4 h."""
    placed = {"account_id": 1, "territory_id": 1, "lat": north(40, 90), "lon": -100.0, "potential": 1.0}
    revenue = monthly_revenue(1, [10_000] * 12, first_month=date(2024, 6, 1))
    home = {"territory_id": 1, "owner_rep_id": 11, "home_lat": 40.0, "home_lon": -100.0}
    for account, hours in ((placed, 5.5), ({**placed, "lat": np.nan, "lon": np.nan}, 4.0)):
        inputs = kpi_inputs(accounts=[account], territories=[home], revenue=revenue)
        assert row(compute_kpis(inputs, as_of=AS_OF, settings=cfg), 1)["workload_hours"] == pytest.approx(
            hours
        )


def test_settings_drive_the_definitions(cfg):
    """A wider potential band clears T1's potential deduction (12.5 points back: 67.5 → 80)."""
    wide = cfg.model_copy(update={"potential_band": 0.5})
    assert row(compute_kpis(book(), as_of=AS_OF, settings=wide), 1)["health"] == pytest.approx(80.0)


def test_date_objects_and_nullable_ints_give_the_same_snapshot(cfg):
    """What a loader may hand over (``date`` objects, Int64 ids with NA) equals datetime64 / float input."""
    inputs = synthetic_kpi_inputs(300, 5, as_of=AS_OF, vacant=1, seed=11)

    def as_objects(frame: pd.DataFrame) -> pd.DataFrame:
        dates = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
        return frame.assign(**{c: frame[c].dt.date for c in dates})

    loaded = KpiInputs(
        accounts=inputs.accounts.astype({"territory_id": "Int64"}),
        territories=inputs.territories.astype({"owner_rep_id": "Int64"}),
        revenue=as_objects(inputs.revenue),
        activities=as_objects(inputs.activities),
        opportunities=as_objects(inputs.opportunities),
        quotas=as_objects(inputs.quotas),
    )
    expected = compute_kpis(inputs, as_of=AS_OF, settings=cfg)
    actual = compute_kpis(loaded, as_of=AS_OF, settings=cfg)
    pd.testing.assert_frame_equal(expected.territories, actual.territories)
    assert expected.team == actual.team


def test_missing_required_column_fails_fast(cfg):
    inputs = KpiInputs(
        accounts=pd.DataFrame({"account_id": [1]}), territories=pd.DataFrame({"owner_rep_id": [1]})
    )
    with pytest.raises(ValueError, match="territories frame lacks required column"):
        compute_kpis(inputs, as_of=AS_OF, settings=cfg)


def test_duplicate_accounts_fail_fast(cfg):
    accounts = [{"account_id": 1, "territory_id": 1}, {"account_id": 1, "territory_id": 1}]
    with pytest.raises(ValueError, match="duplicate account_id"):
        compute_kpis(one_territory(accounts=accounts), as_of=AS_OF, settings=cfg)


# --------------------------------------------------------------------------- as-of correctness


def with_future_noise(inputs: KpiInputs, as_of: date, seed: int = 0) -> KpiInputs:
    """The same book plus revenue from as_of's month on, later activities and deals created later."""
    rng = np.random.default_rng(seed)
    ids = inputs.accounts["account_id"].to_numpy()
    n = 500
    later = pd.Timestamp(as_of) + pd.to_timedelta(rng.integers(1, 200, n), unit="D")
    month = pd.Timestamp(as_of).to_period("M").to_timestamp() + pd.to_timedelta(
        rng.integers(0, 3, n) * 31, unit="D"
    )
    revenue = pd.DataFrame(
        {
            "account_id": rng.choice(ids, n),
            "month": month.to_period("M").to_timestamp(),
            "amount": rng.uniform(1, 1e6, n),
        }
    )
    activities = pd.DataFrame(
        {"account_id": rng.choice(ids, n), "rep_id": np.nan, "occurred_on": later, "hours": 1.0}
    )
    opps = pd.DataFrame(
        {
            "account_id": rng.choice(ids, n),
            "rep_id": np.nan,
            "amount": rng.uniform(1, 1e6, n),
            "status": rng.choice(["open", "won", "lost"], n),
            "created_on": later,
            "close_date": later + pd.Timedelta(days=5),
        }
    )
    return KpiInputs(
        accounts=inputs.accounts,
        territories=inputs.territories,
        quotas=inputs.quotas,
        revenue=pd.concat([inputs.revenue, revenue], ignore_index=True),
        activities=pd.concat([inputs.activities, activities], ignore_index=True),
        opportunities=pd.concat([inputs.opportunities, opps], ignore_index=True),
    )


@pytest.mark.parametrize("as_of", [date(2025, 6, 15), date(2025, 3, 31), date(2025, 1, 1)])
def test_data_after_as_of_is_ignored(cfg, as_of):
    inputs = synthetic_kpi_inputs(400, 6, as_of=date(2025, 6, 15), vacant=1, seed=3)
    before = compute_kpis(inputs, as_of=as_of, settings=cfg)
    after = compute_kpis(with_future_noise(inputs, as_of), as_of=as_of, settings=cfg)
    pd.testing.assert_frame_equal(before.territories, after.territories)
    assert before.team == after.team


def test_deals_closed_after_as_of_were_open_then(cfg):
    """Recomputing 06-15: deals won 06-20 and lost 06-25 were open pipeline then (30k / 100k remaining)."""
    inputs = one_territory(
        quota_rows=[quota_row(date(2025, 6, 1), date(2025, 6, 30), 100_000)],
        opps=[
            opp(1, 10_000, "won", date(2025, 6, 1), date(2025, 6, 20)),
            opp(1, 20_000, "lost", date(2025, 6, 1), date(2025, 6, 25)),
        ],
    )
    then = row(compute_kpis(inputs, as_of=AS_OF, settings=cfg), 1)
    assert then["bookings"] == 0.0 and then["pipeline_coverage"] == pytest.approx(0.3)
    later = row(compute_kpis(inputs, as_of=date(2025, 6, 30), settings=cfg), 1)
    assert later["bookings"] == 10_000.0 and later["pipeline_coverage"] == 0.0


def test_drift_equals_the_gap_of_the_snapshot_28_days_earlier(cfg):
    """Oracle: drift(d) = gap(d) − gap of an independent compute at d − 28, on a random book."""
    inputs = synthetic_kpi_inputs(600, 8, as_of=AS_OF, vacant=1, seed=5)
    now = compute_kpis(inputs, as_of=AS_OF, settings=cfg).territories
    then = compute_kpis(inputs, as_of=AS_OF - timedelta(days=28), settings=cfg).territories
    expected = now["attainment_gap"] - then["attainment_gap"]
    assert now["drift"].notna().sum() == 7
    np.testing.assert_allclose(now["drift"], expected, equal_nan=True)


# --------------------------------------------------------------------------- team oracles and properties


def test_gini_matches_the_pairwise_definition():
    """Gini = Σ_i Σ_j |x_i − x_j| / (2 n² mean), brute force on random potentials."""
    values = np.random.default_rng(1).lognormal(13, 1, 11)
    pairwise = 2 * sum(abs(a - b) for a, b in combinations(values, 2))
    assert gini(values) == pytest.approx(pairwise / (2 * values.size**2 * values.mean()))
    assert gini(np.array([0.0, 0.0, 0.0, 1.0])) == pytest.approx(0.75)


def test_quartile_ratio_by_hand():
    """8 territories: k = 2; top (8 + 7) / 2 = 7.5, bottom (1 + 2) / 2 = 1.5 → 5.0."""
    assert quartile_ratio(np.array([3.0, 1, 8, 2, 5, 7, 4, 6])) == pytest.approx(5.0)
    assert quartile_ratio(np.array([3.0, 1, 8, 2, 5, 7, 4])) == pytest.approx(8.0)  # n = 7: k = 1
    assert quartile_ratio(np.array([0.0, 1, 2, 3])) is None


def test_reps_on_pace_share_counts_each_rep_once(cfg):
    """Rep 11 owns T1 and T2 (bookings 3k + 3k of a 10k quota: 0.6 ≥ pace 0.5); rep 12 has 1k of 10k → 1/2."""
    accounts = [{"account_id": i, "territory_id": i, "potential": 1.0} for i in (1, 2, 3)]
    inputs = kpi_inputs(
        accounts=accounts,
        territories=[
            {"territory_id": 1, "owner_rep_id": 11},
            {"territory_id": 2, "owner_rep_id": 11},
            {"territory_id": 3, "owner_rep_id": 12},
        ],
        opportunities=[
            opp(a, x, "won", date(2025, 6, 1), date(2025, 6, 5))
            for a, x in ((1, 3_000), (2, 3_000), (3, 1_000))
        ],
        quotas=[quota_row(date(2025, 6, 1), date(2025, 6, 30), 10_000, rep) for rep in (11, 12)],
    )
    team = compute_kpis(inputs, as_of=AS_OF, settings=cfg).team
    assert team["reps_on_pace_share"] == 0.5
    assert team["attainment"] == pytest.approx(7_000 / 20_000)


book_shapes = st.integers(min_value=1, max_value=6).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.one_of(st.just(0.0), st.floats(1.0, 1e7, allow_nan=False)),
                st.floats(0.0, 100.0),
                st.floats(0.0, 100.0),
                st.one_of(st.none(), st.integers(0, 200)),
            ),
            min_size=0,
            max_size=25,
        ),
    )
)


@pytest.mark.slow
@hyp_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book_shapes)
def test_indices_average_to_one_and_shares_stay_in_range(shape):
    """Any book: mean index 1 when the mean is positive; coverage, touched share in [0, 1]; health 0–100."""
    n, rows = shape
    accounts = [
        {
            "account_id": i + 1,
            "territory_id": t + 1,
            "potential": p,
            "lat": 30 + lat / 10,
            "lon": -100 + lon / 10,
        }
        for i, (t, p, lat, lon, _) in enumerate(rows)
    ]
    activities = [
        {"account_id": i + 1, "occurred_on": AS_OF - timedelta(days=age)}
        for i, (*_, age) in enumerate(rows)
        if age is not None
    ]
    territories = [
        {
            "territory_id": t + 1,
            "owner_rep_id": (t + 11) if t % 3 else None,
            "home_lat": 30.0,
            "home_lon": -100.0,
        }
        for t in range(n)
    ]
    frame = compute_kpis(
        kpi_inputs(accounts=accounts, territories=territories, activities=activities),
        as_of=AS_OF,
        settings=Settings(_env_file=None),
    ).territories
    for column, base in (("potential_index", "potential"), ("workload_index", "workload_hours")):
        if frame[base].mean() > 0:
            assert frame[column].mean() == pytest.approx(1.0)
        else:
            assert frame[column].isna().all()
    for column in ("coverage", "accounts_touched_share"):
        assert frame[column].dropna().between(0, 1).all()
    assert frame["health"].between(0, 100).all()
    assert frame["accounts"].sum() == len(rows)
