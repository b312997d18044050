"""KPIs under effective-dated assignments and quota adjustments: credit follows the effective date.

The book (hand-worked; Q1 = 01-01..03-31, Q2 = 04-01..06-30, 91 days; 2026):

    T1 owned by rep 11, T2 by rep 12; both reps have 100k quota in Q1 and in Q2.
    A1 today in T2, moved T1 → T2 effective ``MOVE`` (a parameter: 05-15 mid-quarter, or 04-01,
       the first day of Q2). A2 in T1 and A3 in T2 never move.
    Deals on A1: O1 10k won the day before the move; O2 20k won on the move date; O3 5k won 03-31
       (the last day of Q1); O4 50k open, closing 06-20. A2: O5 7k won 04-20. A3: O6 3k won 04-21.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import Settings
from core.kpis import compute_kpis
from core.quota import adjustment_rows, quota_transfers
from tests.factories import kpi_inputs, synthetic_kpi_inputs


@pytest.fixture
def cfg() -> Settings:
    return Settings(_env_file=None)


def book(move: date, *, with_history: bool = True, adjustments: list[dict] | None = None):
    """The book above; without history A1 simply sits in T2 (the old, undated reading)."""
    day_before = move - timedelta(days=1)
    inputs = kpi_inputs(
        accounts=[
            {"account_id": 1, "territory_id": 2},
            {"account_id": 2, "territory_id": 1},
            {"account_id": 3, "territory_id": 2},
        ],
        territories=[{"territory_id": 1, "owner_rep_id": 11}, {"territory_id": 2, "owner_rep_id": 12}],
        opportunities=[
            deal(1, 10_000, "won", day_before),
            deal(1, 20_000, "won", move),
            deal(1, 5_000, "won", date(2026, 3, 31)),
            deal(1, 50_000, "open", date(2026, 6, 20)),
            deal(2, 7_000, "won", date(2026, 4, 20)),
            deal(3, 3_000, "won", date(2026, 4, 21)),
        ],
        quotas=[
            {"rep_id": rep, "period_start": start, "period_end": end, "amount": 100_000.0}
            for rep in (11, 12)
            for start, end in ((date(2026, 1, 1), date(2026, 3, 31)), (date(2026, 4, 1), date(2026, 6, 30)))
        ],
    )
    moves = pd.DataFrame(
        [
            {
                "account_id": 1,
                "from_territory_id": None,
                "to_territory_id": 1,
                "effective_date": date(2025, 1, 1),
            },
            {"account_id": 1, "from_territory_id": 1, "to_territory_id": 2, "effective_date": move},
        ]
    )
    if with_history:
        inputs = replace(inputs, moves=moves)
    if adjustments:
        inputs = replace(inputs, quota_adjustments=pd.DataFrame(adjustments))
    return inputs


def deal(account: int, amount: float, status: str, close: date) -> dict[str, object]:
    return {
        "account_id": account,
        "amount": float(amount),
        "status": status,
        "created_on": date(2026, 1, 2),
        "close_date": close,
    }


def kpis(inputs, as_of: date, cfg: Settings) -> pd.DataFrame:
    return compute_kpis(inputs, as_of=as_of, settings=cfg).territories.set_index("territory_id")


MID = date(2026, 5, 15)
Q2 = date(2026, 4, 1)


def test_booking_the_day_before_the_move_stays_with_the_old_territory(cfg):
    """Move 05-15, as of 05-20: T1 has O1 10k (05-14) + O5 7k; T2 has O2 20k (05-15) + O6 3k."""
    k = kpis(book(MID), date(2026, 5, 20), cfg)
    assert k.at[1, "bookings"] == 17_000 and k.at[2, "bookings"] == 23_000
    assert k.at[1, "accounts"] == 1 and k.at[2, "accounts"] == 2


def test_before_the_move_the_account_counts_for_the_old_territory(cfg):
    """As of 05-14 A1 is still in T1 (2 accounts); O1 (05-14) is T1's; its open pipeline is T1's:
    O4 50k and O2 20k (won 05-15, still open on 05-14)."""
    k = kpis(book(MID), date(2026, 5, 14), cfg)
    assert (k.at[1, "accounts"], k.at[2, "accounts"]) == (2, 1)
    assert k.at[1, "bookings"] == 17_000 and k.at[2, "bookings"] == 3_000
    # pipeline coverage = open 70k / remaining (100k − 17k) for T1; T2 has none
    assert k.at[1, "pipeline_coverage"] == pytest.approx(70_000 / 83_000)
    assert k.at[2, "pipeline_coverage"] == 0


def test_open_pipeline_follows_the_account_on_the_snapshot_day(cfg):
    """As of 05-15 (the effective date) the open 50k belongs to T2: remaining 100k − 23k."""
    k = kpis(book(MID), date(2026, 5, 15), cfg)
    assert k.at[2, "pipeline_coverage"] == pytest.approx(50_000 / 77_000)
    assert k.at[1, "pipeline_coverage"] == 0


def test_effective_date_on_the_first_day_of_a_quarter(cfg):
    """Move 04-01. As of 03-31 (Q1): A1 in T1, O3 5k (03-31) and O1 10k (03-31, the day before) are
    T1's Q1 bookings. As of 04-30 (Q2): O3 and O1 stay in Q1 (counted nowhere in Q2); T2 has O2 20k
    (04-01) + O6 3k, T1 has O5 7k."""
    q1 = kpis(book(Q2), date(2026, 3, 31), cfg)
    assert q1.at[1, "bookings"] == 15_000 and q1.at[2, "bookings"] == 0
    assert q1.at[1, "accounts"] == 2
    q2 = kpis(book(Q2), date(2026, 4, 30), cfg)
    assert q2.at[1, "bookings"] == 7_000 and q2.at[2, "bookings"] == 23_000
    assert q2.at[1, "pace"] == pytest.approx(30 / 91)


def test_without_history_every_booking_follows_the_current_territory(cfg):
    """The old reading (no history rows): A1 in T2 all along, so O1 goes to T2 too."""
    k = kpis(book(MID, with_history=False), date(2026, 5, 20), cfg)
    assert k.at[1, "bookings"] == 7_000 and k.at[2, "bookings"] == 33_000


def test_quota_and_pace_follow_the_adjustments(cfg):
    """30k of Q2 quota moves from rep 11 to rep 12 effective 05-15.

    As of 05-20 (day 50 of 91): quota T1 70k, T2 130k. The base is expected evenly over 91 days,
    the adjustment over its 47 days 05-15..06-30 (6 of them done by 05-20):
    expected T1 = 100k × 50/91 − 30k × 6/47, pace = expected / 70k; T2 the same with +30k / 130k.
    Attainment T1 17k / 70k, T2 23k / 130k. As of 05-14 the adjustment is not in force yet.
    """
    adjustments = [
        {"rep_id": 11, "period_start": Q2, "effective_date": MID, "amount": -30_000.0},
        {"rep_id": 12, "period_start": Q2, "effective_date": MID, "amount": 30_000.0},
    ]
    k = kpis(book(MID, adjustments=adjustments), date(2026, 5, 20), cfg)
    assert (k.at[1, "quota"], k.at[2, "quota"]) == (70_000, 130_000)
    pace_1 = (100_000 * 50 / 91 - 30_000 * 6 / 47) / 70_000
    pace_2 = (100_000 * 50 / 91 + 30_000 * 6 / 47) / 130_000
    assert k.at[1, "pace"] == pytest.approx(pace_1) and k.at[2, "pace"] == pytest.approx(pace_2)
    assert k.at[1, "attainment"] == pytest.approx(17_000 / 70_000)
    assert k.at[1, "attainment_gap"] == pytest.approx((17_000 / 70_000 - pace_1) * 100)
    before = kpis(book(MID, adjustments=adjustments), date(2026, 5, 14), cfg)
    assert (before.at[1, "quota"], before.at[2, "quota"]) == (100_000, 100_000)
    assert before.at[1, "pace"] == pytest.approx(44 / 91)


def test_drift_recomputes_the_earlier_gap_with_what_was_in_force_then(cfg):
    """As of 06-11 (28 days after 05-14): gap(06-11) uses quota 70k and A1's deals split at 05-15;
    gap(05-14) uses 100k, pace 44/91 and T1's 17k; drift is the difference."""
    adjustments = [
        {"rep_id": 11, "period_start": Q2, "effective_date": MID, "amount": -30_000.0},
        {"rep_id": 12, "period_start": Q2, "effective_date": MID, "amount": 30_000.0},
    ]
    k = kpis(book(MID, adjustments=adjustments), date(2026, 6, 11), cfg)
    pace_now = (100_000 * 72 / 91 - 30_000 * 28 / 47) / 70_000
    gap_now = (17_000 / 70_000 - pace_now) * 100
    gap_then = (17_000 / 100_000 - 44 / 91) * 100
    assert k.at[1, "attainment_gap"] == pytest.approx(gap_now)
    assert k.at[1, "drift"] == pytest.approx(gap_now - gap_then)


def test_team_attainment_follows(cfg):
    """Team attainment as of 05-20 = (17k + 23k) / (70k + 130k): the team quota is unchanged."""
    adjustments = [
        {"rep_id": 11, "period_start": Q2, "effective_date": MID, "amount": -30_000.0},
        {"rep_id": 12, "period_start": Q2, "effective_date": MID, "amount": 30_000.0},
    ]
    team = compute_kpis(book(MID, adjustments=adjustments), as_of=date(2026, 5, 20), settings=cfg).team
    assert team["attainment"] == pytest.approx(40_000 / 200_000)


# --------------------------------------------------------------------------- property

TODAY = date(2026, 6, 15)


def apply_plan(inputs, *, seed: int, effective: date):
    """Move a random fifth of the accounts to other territories effective ``effective`` as a plan
    would: today's territory updated, one history row per move, the quota the moves carry
    (core.quota) as adjustment rows."""
    rng = np.random.default_rng(seed)
    accounts = inputs.accounts
    n_territories = len(inputs.territories)
    chosen = accounts.sample(frac=0.2, random_state=seed)
    shift = rng.integers(1, n_territories, len(chosen))
    to = (chosen["territory_id"].to_numpy() - 1 + shift) % n_territories + 1
    moves = pd.DataFrame(
        {
            "account_id": chosen["account_id"].to_numpy(),
            "from_territory_id": chosen["territory_id"].to_numpy(),
            "to_territory_id": to,
        }
    )
    transfers = quota_transfers(
        moves,
        accounts[["account_id", "territory_id", "potential"]],
        inputs.territories[["territory_id", "owner_rep_id"]],
        inputs.quotas,
        inputs.quota_adjustments,
        effective_date=effective,
    )
    adjustments = pd.DataFrame(adjustment_rows(transfers, effective_date=effective))
    moved = accounts.set_index("account_id")["territory_id"].copy()
    moved.loc[moves["account_id"].to_numpy()] = to
    return replace(
        inputs,
        accounts=accounts.assign(territory_id=moved.reindex(accounts["account_id"]).to_numpy()),
        moves=moves.assign(effective_date=pd.Timestamp(effective)),  # the synthetic book has no history
        quota_adjustments=adjustments if not adjustments.empty else inputs.quota_adjustments,
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    effective_back=st.integers(0, 80),
    before=st.integers(1, 60),
)
def test_kpis_before_the_effective_date_do_not_change_when_a_plan_is_applied(seed, effective_back, before):
    """Any book, any plan: every KPI as of a day before the plan's effective date is what it was."""
    cfg = Settings(_env_file=None)
    inputs = synthetic_kpi_inputs(60, 5, as_of=TODAY, months=18, activity_days=200, vacant=1, seed=seed)
    effective = TODAY - timedelta(days=effective_back)
    applied = apply_plan(inputs, seed=seed, effective=effective)
    day = effective - timedelta(days=before)
    plain = compute_kpis(inputs, as_of=day, settings=cfg)
    with_plan = compute_kpis(applied, as_of=day, settings=cfg)
    pd.testing.assert_frame_equal(plain.territories, with_plan.territories)
    assert_same_team(plain.team, with_plan.team)


def assert_same_team(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if x is None or y is None:
            assert x is None and y is None, key
        elif isinstance(x, float) or isinstance(y, float):
            assert np.isclose(x, y, equal_nan=True), key
        else:
            assert x == y, key


def test_applying_a_plan_changes_kpis_from_its_effective_date(cfg):
    """Not vacuous: from the effective date the plan's accounts count for their new territories."""
    inputs = synthetic_kpi_inputs(60, 5, as_of=TODAY, months=18, activity_days=200, vacant=1, seed=3)
    applied = apply_plan(inputs, seed=3, effective=TODAY - timedelta(days=10))
    plain = compute_kpis(inputs, as_of=TODAY, settings=cfg).territories
    with_plan = compute_kpis(applied, as_of=TODAY, settings=cfg).territories
    assert not plain["accounts"].equals(with_plan["accounts"])
    assert not applied.quota_adjustments.empty
    assert with_plan["quota"].sum() == pytest.approx(plain["quota"].sum())  # the team quota is conserved
