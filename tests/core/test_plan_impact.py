"""The impact preview on a tiny book worked out by hand (tests/plan_impact_book.py), on both databases.

Plan "A1 to Bo" moves A1 (potential $24,000, rest of quarter $3,000, open "Big deal" $5,000) from
Ana's T1 to Bo's T2, effective Nov 16 2026 (day 47 of the 92-day quarter).

Quota (method potential, ``core.quota``): Ana's quota not yet expected before Nov 16 is
100,000 − 100,000 × 46/92 = 50,000; A1 is 24,000 / (24,000 + 72,000) = 25% of her book, so
$12,500 moves: Ana 100,000 → 87,500, Bo 80,000 → 92,500 (team 180,000 both sides).

Projected attainment = (bookings + rest-of-quarter forecast) / quota; bookings stay:
Ana (40,000 + 3,000 + 9,000) / 100,000 = 52% → (40,000 + 9,000) / 87,500 = 56%;
Bo (30,000 + 4,500 + 6,000) / 80,000 = 50.625% → (40,500 + 3,000) / 92,500 = 47.03%.

Workload (1.5 touch hours an account + travel 0.25 × 2 × km / 60): A1 is 0.75° = 83.396 km from
Ana's home and 0.25° = 27.799 km from Bo's: travel 0.694969 h → 0.231656 h.
Ana 3 + 0.694969 → 1.5 h; Bo 3 → 4.5 + 0.231656 h.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from core.auth import SYSTEM_ACTOR, create_user
from core.db import session_scope
from core.models import QuotaAdjustment, RebalancePlan, Territory
from core.plan_impact import (
    Change,
    Flow,
    compare_json,
    compare_table,
    impact_of,
    impact_table,
    load_impact_book,
    plan_impact,
)
from core.plans import PlanError, apply_plan, approve_plan, get_plan, submit_plan
from core.queries import load_accounts, load_quotas, load_territories
from core.quota import adjustment_rows, quota_as_of, quota_transfers
from core.rebalance import Move
from tests.plan_impact_book import EFFECTIVE, save_moves, seed_impact_book

KM_PER_DEGREE = 111.19508
TRAVEL_BEFORE = 0.25 * 2 * 0.75 * KM_PER_DEGREE / 60
TRAVEL_AFTER = 0.25 * 2 * 0.25 * KM_PER_DEGREE / 60


@pytest.fixture
def book(engine):
    seed_impact_book(engine)
    return engine


def by_rep(impact):
    return {r.rep: r for r in impact.reps}


def approx_change(change: Change, before, after) -> bool:
    return change.before == pytest.approx(before, abs=1e-4) and change.after == pytest.approx(after, abs=1e-4)


def test_the_hand_worked_impact(book):
    plan_id = save_moves(book, "A1 to Bo", ("A1", "T1", "T2"))
    impact = plan_impact(book, plan_id, effective_date=EFFECTIVE)
    ana, bo = by_rep(impact)["Ana Alvarez"], by_rep(impact)["Bo Li"]
    assert [r.rep for r in impact.reps] == ["Ana Alvarez", "Bo Li"]
    assert ana.territories == ("North · Ana",) and ana.rep_id == "R1"
    assert ana.accounts == Flow(2, 0, 1, 1) and bo.accounts == Flow(2, 1, 0, 3)
    assert ana.potential == Flow(96_000, 0, 24_000, 72_000) and bo.potential == Flow(
        84_000, 24_000, 0, 108_000
    )
    assert ana.revenue_ttm == Flow(96_000, 0, 24_000, 72_000)
    assert ana.pipeline == Flow(5_000, 0, 5_000, 0) and bo.pipeline == Flow(7_000, 5_000, 0, 12_000)
    assert ana.quota == Change(100_000, 87_500) and bo.quota == Change(80_000, 92_500)
    assert (ana.bookings, bo.bookings) == (40_000, 30_000)
    assert approx_change(ana.forecast_rest, 12_000, 9_000) and approx_change(bo.forecast_rest, 10_500, 13_500)
    assert approx_change(ana.projected_attainment, 0.52, 0.56)
    assert approx_change(bo.projected_attainment, 40_500 / 80_000, 43_500 / 92_500)
    assert approx_change(ana.workload_hours, 3 + TRAVEL_BEFORE, 1.5)
    assert approx_change(bo.workload_hours, 3, 4.5 + TRAVEL_AFTER)
    assert approx_change(ana.travel_hours, TRAVEL_BEFORE, 0) and approx_change(
        bo.travel_hours, 0, TRAVEL_AFTER
    )
    [deal] = impact.opportunities  # the open one only: the lost deal on A1 is no pipeline
    assert (deal.name, deal.stage, deal.amount, deal.close_date, deal.account) == (
        "Big deal",
        "Proposal",
        5_000,
        date(2026, 12, 15),
        "Acme A1",
    )
    assert (deal.from_rep, deal.to_rep) == ("Ana Alvarez", "Bo Li")
    [move] = impact.quota_moves
    assert (move.from_rep, move.to_rep, move.amount, move.share) == ("Ana Alvarez", "Bo Li", 12_500, 0.25)


def test_gained_and_lost_are_the_moves_and_team_totals_are_conserved(book):
    """Both ways at once: A1 to Bo and A4 to Ana; quota moves both ways and the team keeps its total."""
    plan_id = save_moves(book, "swap", ("A1", "T1", "T2"), ("A4", "T2", "T1"))
    impact = plan_impact(book, plan_id, effective_date=EFFECTIVE)
    moved = {
        "potential": 24_000 + 48_000,
        "revenue_ttm": 24_000 + 48_000,
        "pipeline": 5_000 + 7_000,
        "accounts": 2,
    }
    for figure, amount in moved.items():
        flows = [getattr(r, figure) for r in impact.reps]
        assert sum(f.gained for f in flows) == pytest.approx(amount)
        assert sum(f.lost for f in flows) == pytest.approx(amount)
        assert all(f.after == pytest.approx(f.before + f.gained - f.lost) for f in flows)
        total = getattr(impact.totals, figure)
        assert total.before == pytest.approx(total.after)
    assert impact.totals.quota == Change(180_000.0, 180_000.0)  # to the cent
    # Bo's not-yet-expected 40,000 × 48/84 = 22,857.14 goes to Ana; Ana's 12,500 to Bo
    quotas = {r.rep: r.quota.after for r in impact.reps}
    assert quotas == {"Ana Alvarez": 110_357.14, "Bo Li": 69_642.86}
    assert sorted(o.name for o in impact.opportunities) == ["Big deal", "Renewal"]


def test_quota_after_is_what_core_quota_gives(book):
    plan_id = save_moves(book, "swap", ("A1", "T1", "T2"), ("A4", "T2", "T1"))
    for method in ("potential", "revenue", "none"):
        impact = plan_impact(book, plan_id, quota_method=method, effective_date=EFFECTIVE)
        accounts = load_accounts(engine=book)
        ids = dict(zip(accounts["external_id"], accounts["account_id"], strict=True))
        territories = load_territories(engine=book)
        tid = dict(zip(territories["external_id"], territories["territory_id"], strict=True))
        metric = {"A1": 24_000.0, "A2": 36_000.0, "A3": 72_000.0, "A4": 48_000.0}
        frame = accounts.assign(
            potential=accounts["external_id"].map(metric), revenue_ttm=accounts["external_id"].map(metric)
        )
        moves = pd.DataFrame(
            {
                "account_id": [ids["A1"], ids["A4"]],
                "from_territory_id": [tid["T1"], tid["T2"]],
                "to_territory_id": [tid["T2"], tid["T1"]],
            }
        )
        no_adjustments = pd.DataFrame(columns=["rep_id", "period_start", "effective_date", "amount"])
        transfers = quota_transfers(
            moves,
            frame,
            territories,
            load_quotas(engine=book),
            no_adjustments,
            effective_date=EFFECTIVE,
            method=method,
        )
        rows = pd.DataFrame(adjustment_rows(transfers, effective_date=EFFECTIVE))
        rows = rows[list(no_adjustments.columns)] if not rows.empty else no_adjustments
        expected = quota_as_of(load_quotas(engine=book), rows, EFFECTIVE)
        owner = dict(zip(territories["rep_name"], territories["owner_rep_id"], strict=True))
        for rep in impact.reps:
            assert rep.quota.after == pytest.approx(expected.at[owner[rep.rep], "quota"], abs=0.005), method
        assert impact.quota_method == method
        if method == "none":
            assert all(r.quota.before == r.quota.after for r in impact.reps)


def test_an_applied_plan_reads_the_same(book):
    """After Apply the accounts sit at their new territory; the impact still compares the plan's before
    and after (the moves' from and to), so it reads the same."""
    for email, role in (("p@example.com", "planner"), ("a@example.com", "approver")):
        create_user(book, email, role=role, password=None, actor=SYSTEM_ACTOR)
    plan_id = save_moves(book, "A1 to Bo", ("A1", "T1", "T2"))
    preview = plan_impact(book, plan_id, effective_date=EFFECTIVE)
    submit_plan(book, plan_id, actor="p@example.com")
    approve_plan(book, plan_id, approver="a@example.com")
    apply_plan(book, plan_id, actor="a@example.com", effective_date=EFFECTIVE, today=EFFECTIVE)
    applied = plan_impact(book, plan_id)  # the plan's own effective date
    assert applied.as_of == EFFECTIVE and applied.status == "applied"
    assert applied.reps == preview.reps and applied.opportunities == preview.opportunities


def test_json_document_and_compare(book):
    first = save_moves(book, "A1 to Bo", ("A1", "T1", "T2"))
    second = save_moves(book, "A4 to Ana", ("A4", "T2", "T1"))
    impacts = [plan_impact(book, p, effective_date=EFFECTIVE) for p in (first, second)]
    document = impacts[0].as_json()
    assert set(document) >= {"plan", "as_of", "quota_method", "reps", "opportunities", "totals"}
    ana = document["reps"][0]
    assert ana["rep"] == "Ana Alvarez" and ana["accounts"] == {
        "before": 2,
        "gained": 0,
        "lost": 1,
        "after": 1,
    }
    assert ana["quota"] == {"before": 100_000.0, "after": 87_500.0}
    assert document["opportunities"][0]["close_date"] == "2026-12-15"
    table = compare_table(impacts).set_index(["Rep", "Figure"])
    assert list(table.columns) == ["Before", f"#{first} after", f"#{second} after"]
    assert list(table.loc["Ana Alvarez", "Quota"]) == ["$100K", "$88K", "$123K"]  # 100,000 + 22,857.14
    assert list(table.loc["Bo Li", "Accounts"]) == ["2", "3", "1"]
    assert table.index.get_level_values("Rep").unique().tolist() == ["Ana Alvarez", "Bo Li"]
    side = compare_json(impacts)
    assert [p["plan"]["id"] for p in side["plans"]] == [first, second]
    assert set(side["reps"][0]["plans"]) == {str(first), str(second)}
    assert impact_table(impacts[0]).loc[0, "Projected attainment"] == "52% → 56%"


def test_unknown_plan_and_method(book):
    with pytest.raises(PlanError, match="no plan 99"):
        plan_impact(book, 99)
    plan_id = save_moves(book, "A1 to Bo", ("A1", "T1", "T2"))
    with pytest.raises(ValueError, match="quota method"):
        plan_impact(book, plan_id, quota_method="seniority", effective_date=EFFECTIVE)


def test_a_vacant_territory_is_a_row_of_its_own_and_takes_no_quota(book):
    with session_scope(book) as session:
        session.add(Territory(external_id="T3", name="East", owner_rep_id=None))
    plan_id = save_moves(book, "A1 to the vacancy", ("A1", "T1", "T3"))
    impact = plan_impact(book, plan_id, effective_date=EFFECTIVE)
    vacant = by_rep(impact)["vacant (East)"]
    assert vacant.rep_id is None and vacant.accounts == Flow(0, 1, 0, 1)
    assert vacant.quota == Change(None, None) and vacant.projected_attainment == Change(None, None)
    assert by_rep(impact)["Ana Alvarez"].quota == Change(100_000, 100_000)
    [move] = impact.quota_moves
    assert move.skipped == "the gaining territory is vacant" and move.amount == 0
    assert impact.opportunities[0].to_rep == "vacant (East)"


def test_an_applied_plan_with_stored_quota_adjustments_shows_them(book):
    """Once Apply has written the plan's quota rows, the impact reads them ("as applied"), whatever
    method is asked, and other plans' rows count in before and after alike."""
    plan_id = save_moves(book, "A1 to Bo", ("A1", "T1", "T2"))
    other = save_moves(book, "earlier", ("A4", "T2", "T1"))
    territories = load_territories(engine=book)
    reps = dict(zip(territories["rep_external_id"], territories["owner_rep_id"].astype(int), strict=True))
    with session_scope(book) as session:
        plan = session.get(RebalancePlan, plan_id)
        plan.quota_method = "revenue"
        for rep, amount, owner in (
            ("R1", -10_000.0, plan_id),
            ("R2", 10_000.0, plan_id),
            ("R2", 1_000.0, other),
        ):
            session.add(
                QuotaAdjustment(
                    rep_id=reps[rep],
                    period_start=date(2026, 10, 1),
                    period_end=date(2026, 12, 31),
                    effective_date=EFFECTIVE,
                    amount=amount,
                    method="revenue",
                    plan_id=owner,
                )
            )
    impact = plan_impact(book, plan_id, quota_method="none", effective_date=EFFECTIVE)
    assert impact.quota_from_stored and impact.quota_method == "revenue" and impact.quota_moves == ()
    quotas = {r.rep: r.quota for r in impact.reps}
    assert quotas == {"Ana Alvarez": Change(100_000, 90_000), "Bo Li": Change(81_000, 91_000)}


def test_any_plan_conserves_the_team_and_its_gains_are_its_losses(book):
    """Property: whatever accounts move between the three territories (one vacant), the reps' gains
    add up to their losses, every rep's after = before + gained − lost, the team keeps its potential,
    revenue, pipeline and quota (to the cent), and the impact lists exactly the reps that change."""
    with session_scope(book) as session:
        session.add(Territory(external_id="T3", name="East", owner_rep_id=None))
    plan = get_plan(book, save_moves(book, "template"))
    loaded = load_impact_book(book, plan_id=plan.id, as_of=EFFECTIVE)
    home = {"A1": "T1", "A3": "T1", "A2": "T2", "A4": "T2"}

    @settings(max_examples=15, deadline=None)
    @given(hst.dictionaries(hst.sampled_from(sorted(home)), hst.sampled_from(["T1", "T2", "T3"])))
    def check(targets: dict[str, str]) -> None:
        moves = tuple(Move(a, home[a], t, "") for a, t in sorted(targets.items()) if t != home[a])
        impact = impact_of(loaded, replace(plan, moves=moves), as_of=EFFECTIVE)
        for figure in ("accounts", "potential", "revenue_ttm", "pipeline"):
            flows = [getattr(r, figure) for r in impact.reps]
            assert sum(f.gained for f in flows) == pytest.approx(sum(f.lost for f in flows))
            assert all(f.after == pytest.approx(f.before + f.gained - f.lost) for f in flows)
            total = getattr(impact.totals, figure)
            assert total.before == pytest.approx(total.after)
        quota = impact.totals.quota
        assert quota.before is None or round(quota.before, 2) == round(quota.after, 2)
        movers = {home[m.account] for m in moves} | {m.to_territory for m in moves}
        assert len(impact.reps) == len(movers)  # one territory per rep here

    check()
