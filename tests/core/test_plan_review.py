"""The 30/60/90-day review of an applied plan on a tiny hand-drawn book (SQLite and PostgreSQL).

The book: territories T1 (owner R1) and T2 (owner R2); plan "spring" moves A1 and A2 from T2 to T1,
effective 2026-03-10; A3 stays in T1, A4 in T2. Reviewed as of 2026-05-20:

checkpoints   30 days = 2026-04-09 (snapshot 2026-04-06: 3 days before; 2026-04-12 is as near, later)
              60 days = 2026-05-09 (snapshot 2026-05-11: 2 days after)
              90 days = 2026-06-08, after the as-of date: due (the 2026-05-25 snapshot is never read)
before move   the snapshot of 2026-03-08 (latest on or before the effective date)

A1  no forecast run has it -> baseline at the move: 12 complete months before March 2026 of $1,000
    = $12,000 a year, $1,000 a month. Revenue Mar 900, Apr 800, May 1,200.
      at 30 days: months [Mar]            revenue   900, forecast 1,000 (90%)
      at 60 days: months [Mar, Apr]       revenue 1,700, forecast 2,000 (85%)
    Activities: 2026-03-01 by R2 (before the move, not counted), 2026-03-20 by R1, 2026-04-15 by R2.
      at 30 days: 1 activity, 1 by the new owner (R1), last 2026-03-20
      at 60 days: 2 activities, 1 by the new owner, last 2026-04-15
A2  the run current on 2026-03-10 is the one as of 2026-03-01 (yhat 2,000 a month); the run as of
    2026-04-01 (5,000) came later and is not the forecast at the move. Revenue Mar 1,500, then 0.
      at 30 days: revenue 1,500, forecast 2,000; at 60 days: 1,500 against 4,000
    No activity since the move: silent at both checkpoints (30 days and more after it).
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from core.auth import SYSTEM
from core.db import session_scope
from core.models import (
    Account,
    AccountForecast,
    Activity,
    ForecastRun,
    Rep,
    RevenueMonth,
    TeamKpi,
    Territory,
    TerritoryKpi,
)
from core.months import add_months
from core.moved_accounts import silent_moved_accounts, silent_moved_counts
from core.plan_review import PlanReviewError, plan_outcome
from core.plans import apply_plan, approve_plan, assignments_fingerprint, save_plan, submit_plan

EFFECTIVE, AS_OF = date(2026, 3, 10), date(2026, 5, 20)


def metrics(potential, accounts, index):
    return {
        "potential": potential,
        "accounts": accounts,
        "workload_hours": 10.0 * accounts,
        "revenue_ttm": potential / 2,
        "potential_index": index,
    }


RESULT = {
    "status": "OPTIMAL",
    "objective": 1.0,
    "gap": 0.0,
    "moves": [
        {"account": "A1", "from": "T2", "to": "T1", "reason": "balances potential", "risks": []},
        {"account": "A2", "from": "T2", "to": "T1", "reason": "closer to R1", "risks": ["long_tenure"]},
    ],
    "territories": [
        {"territory": "T1", "name": "North",
         "before": metrics(60_000, 1, 0.6), "after": metrics(100_000, 3, 1.0)},
        {"territory": "T2", "name": "South",
         "before": metrics(140_000, 3, 1.4), "after": metrics(100_000, 1, 1.0)},
    ],
    "team": {
        "before": {"cv": 0.4, "max_min_ratio": 2.33, "quartile_ratio": 2.33, "out_of_band": 2,
                   "max_deviation": 0.4, "multi_state": 0},
        "after": {"cv": 0.0, "max_min_ratio": 1.0, "quartile_ratio": 1.0, "out_of_band": 0,
                  "max_deviation": 0.0, "multi_state": 0},
    },
}  # fmt: skip


def snapshot(session, day, territory, potential, index, gap, coverage):
    session.add(
        TerritoryKpi(
            snapshot_date=day,
            territory_id=territory.id,
            accounts=3 if territory.external_id == "T1" else 1,
            potential=potential,
            potential_index=index,
            workload_hours=31.0,
            attainment_gap=gap,
            coverage=coverage,
            activity_change=-0.1,
        )
    )


@pytest.fixture
def reviewed(engine):
    """The tiny book with plan "spring" applied on EFFECTIVE; returns (engine, plan id)."""
    with session_scope(engine) as session:
        r1, r2 = Rep(external_id="R1", name="Ria"), Rep(external_id="R2", name="Sam")
        session.add_all([r1, r2])
        session.flush()
        t1 = Territory(external_id="T1", name="North", owner_rep_id=r1.id)
        t2 = Territory(external_id="T2", name="South", owner_rep_id=r2.id)
        session.add_all([t1, t2])
        session.flush()
        accounts = {
            a: Account(external_id=a, name=f"Account {a}", territory_id=t.id)
            for a, t in (("A1", t2), ("A2", t2), ("A3", t1), ("A4", t2))
        }
        session.add_all(accounts.values())
        session.flush()
        a1, a2 = accounts["A1"].id, accounts["A2"].id
        for k in range(12):  # March 2025 .. February 2026: the baseline of A1
            session.add(RevenueMonth(account_id=a1, month=add_months(date(2025, 3, 1), k), amount=1_000.0))
        for month, (x1, x2) in zip(
            (date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)),
            ((900, 1_500), (800, 0), (1_200, 0)),
            strict=True,
        ):
            session.add(RevenueMonth(account_id=a1, month=month, amount=float(x1)))
            session.add(RevenueMonth(account_id=a2, month=month, amount=float(x2)))
        for as_of, yhat in ((date(2026, 3, 1), 2_000.0), (date(2026, 4, 1), 5_000.0)):
            run = ForecastRun(as_of=as_of, status="complete")
            session.add(run)
            session.flush()
            for k in range(12):
                session.add(
                    AccountForecast(
                        run_id=run.id,
                        account_id=a2,
                        month=add_months(as_of, k),
                        yhat=yhat,
                        yhat_lower=0,
                        yhat_upper=0,
                    )
                )
        for day, rep in ((date(2026, 3, 1), r2), (date(2026, 3, 20), r1), (date(2026, 4, 15), r2)):
            session.add(Activity(account_id=a1, rep_id=rep.id, occurred_on=day))
        session.add(Activity(account_id=accounts["A3"].id, rep_id=r1.id, occurred_on=date(2026, 4, 1)))
        for day, p1, i1, gap in (
            (date(2026, 3, 8), 60_000, 0.6, -12.0),
            (date(2026, 4, 6), 95_000, 0.95, -6.0),
            (date(2026, 4, 12), 96_000, 0.96, -5.0),
            (date(2026, 5, 11), 104_000, 1.04, -2.5),
            (date(2026, 5, 25), 110_000, 1.10, 1.0),
        ):
            snapshot(session, day, t1, p1, i1, gap, 0.8)
            snapshot(session, day, t2, 200_000 - p1, 2 - i1, 3.0, None)
            session.add(
                TeamKpi(snapshot_date=day, cv_potential=abs(1 - i1), out_of_band=int(abs(1 - i1) > 0.15))
            )
    plan_id = save_plan(
        engine, name="spring", scenario_toml="", result=RESULT, fingerprint=assignments_fingerprint(engine)
    )
    submit_plan(engine, plan_id, actor=SYSTEM)
    approve_plan(engine, plan_id, approver=SYSTEM)
    apply_plan(engine, plan_id, actor=SYSTEM, effective_date=EFFECTIVE, today=EFFECTIVE)  # applied then
    return engine, plan_id


def test_checkpoints_read_the_nearest_snapshot_and_later_ones_are_due(reviewed):
    outcome = plan_outcome(*reviewed, as_of=AS_OF)
    assert [(c.days, c.day, c.status, c.snapshot_date) for c in outcome.checkpoints] == [
        (30, date(2026, 4, 9), "reviewed", date(2026, 4, 6)),
        (60, date(2026, 5, 9), "reviewed", date(2026, 5, 11)),
        (90, date(2026, 6, 8), "due", None),
    ]
    assert outcome.checkpoints[2].words() == "90 days: due on 2026-06-08"


def test_territories_predicted_against_actual(reviewed):
    outcome = plan_outcome(*reviewed, as_of=AS_OF)
    north, south = outcome.territories
    assert (north.name, north.gained, north.lost, south.lost) == ("North", 2, 0, 2)
    assert (north.predicted.potential, north.predicted.potential_index) == (100_000, 1.0)
    at_30, at_60, at_90 = north.actual
    assert (at_30.snapshot_date, at_30.potential, at_30.potential_index, at_30.attainment_gap) == (
        date(2026, 4, 6), 95_000, 0.95, -6.0,
    )  # fmt: skip
    assert (at_60.potential, at_60.potential_index, at_60.attainment_gap) == (104_000, 1.04, -2.5)
    assert at_90 is None
    assert (north.before_move.snapshot_date, north.before_move.attainment_gap) == (date(2026, 3, 8), -12.0)
    assert south.actual[0].coverage is None and south.actual[0].potential == 105_000
    assert outcome.team_predicted.cv == 0.0
    assert [t and (t.snapshot_date, t.cv) for t in outcome.team_actual] == [
        (date(2026, 4, 6), pytest.approx(0.05)),
        (date(2026, 5, 11), pytest.approx(0.04)),
        None,
    ]


def test_moved_accounts_retention(reviewed):
    outcome = plan_outcome(*reviewed, as_of=AS_OF)
    a1, a2 = outcome.accounts
    assert (a1.account, a1.from_name, a1.to_name, a1.moved_on) == ("A1", "South", "North", EFFECTIVE)
    assert (a1.forecast_source, a1.forecast_12m) == ("baseline", 12_000)
    assert (a2.forecast_source, a2.forecast_12m, a2.risks, a2.reason) == (
        "forecast run 1", 24_000, ("long_tenure",), "closer to R1",
    )  # fmt: skip
    r30, r60, r90 = a1.readings
    assert (r30.months, r30.revenue, r30.forecast, r30.revenue_ratio) == (1, 900, 1_000, 0.9)
    assert (r30.activities, r30.by_new_owner, r30.last_activity, r30.silent) == (
        1,
        1,
        date(2026, 3, 20),
        False,
    )
    assert (r60.months, r60.revenue, r60.forecast, r60.revenue_ratio) == (2, 1_700, 2_000, 0.85)
    assert (r60.activities, r60.by_new_owner, r60.last_activity) == (2, 1, date(2026, 4, 15))
    assert r90 is None
    s30, s60, _ = a2.readings
    assert (s30.revenue, s30.forecast, s30.activities, s30.last_activity, s30.silent) == (
        1_500,
        2_000,
        0,
        None,
        True,
    )
    assert (s60.revenue, s60.forecast, s60.silent) == (1_500, 4_000, True)


def test_json_holds_territories_and_accounts(reviewed):
    data = json.loads(json.dumps(plan_outcome(*reviewed, as_of=AS_OF).as_json()))
    assert {"plan", "as_of", "checkpoints", "team", "territories", "accounts"} <= set(data)
    north = data["territories"][0]
    assert north["predicted"]["potential"] == 100_000 and north["actual"]["30"]["potential"] == 95_000
    assert north["actual"]["90"] is None
    a1 = data["accounts"][0]
    assert a1["account"] == "A1" and a1["retention"]["60"]["revenue_ratio"] == 0.85
    assert a1["retention"]["30"]["last_activity"] == "2026-03-20"


def test_a_plan_that_is_not_applied_has_no_review(reviewed):
    engine, _ = reviewed
    draft = save_plan(engine, name="draft", scenario_toml="", result={"moves": []}, fingerprint="x")
    with pytest.raises(PlanReviewError, match=f"plan {draft} is draft: only an applied plan"):
        plan_outcome(engine, draft)
    with pytest.raises(PlanReviewError, match="there is no plan 999"):
        plan_outcome(engine, 999)


def test_silent_moved_accounts_for_the_alert(reviewed):
    engine, plan_id = reviewed
    with engine.connect() as connection:
        t1 = connection.execute(select(Territory.id).where(Territory.external_id == "T1")).scalar_one()
        assert silent_moved_counts(connection, as_of=date(2026, 4, 8)).to_dict() == {}  # 29 days: not yet
        assert silent_moved_counts(connection, as_of=date(2026, 4, 9)).to_dict() == {t1: 1.0}  # A2 only
        silent = silent_moved_accounts(connection, as_of=AS_OF)
    assert list(silent["plan_id"]) == [plan_id]
    with session_scope(engine) as session:  # a call to A2 ends its silence
        a2 = session.execute(select(Account).where(Account.external_id == "A2")).scalar_one()
        session.add(Activity(account_id=a2.id, rep_id=None, occurred_on=date(2026, 5, 1)))
    with engine.connect() as connection:
        assert silent_moved_counts(connection, as_of=AS_OF).to_dict() == {}
        assert silent_moved_counts(connection, as_of=date(2026, 4, 30)).to_dict() == {t1: 1.0}
