"""The KPI job reads effective-dated assignments and quota adjustments (SQLite and PostgreSQL).

A tiny book written straight into the database, with the history and quota rows a plan writes:

    reps R1 (owns T1) and R2 (owns T2), each with a 100k quota for Q2 2026 (04-01..06-30).
    A1, A2, A4 imported into T1 and A3 into T2 on 2026-01-05 (history rows without a from).
    The plan moves A1 T1 → T2 effective 05-15 and carries 30k of quota from R1 to R2 from that day
    (two QuotaAdjustment rows). A4 moved T1 → T2 on 04-10 by a manual edit recorded without an
    effective date (it takes effect on its changed_at date), and back T2 → T1 on 05-01.
    Won: A1 10k on 05-14 (the day before the move) and 20k on 05-15; A2 7k on 04-20; A3 3k on 04-21.

    As of 05-14: T1 holds A1, A2, A4 (3 accounts), quota 100k, bookings 10k + 7k = 17k (0.17);
                 T2 holds A3, quota 100k, bookings 3k (0.03).
    As of 05-20: T1 holds A2, A4 (2), quota 70k, bookings 17k (the 05-14 deal stays), 17/70;
                 T2 holds A1, A3 (2), quota 130k, bookings 20k + 3k = 23k, 23/130.
    As of 04-20: A4 is in T2 (moved 04-10): T1 has A1, A2 (2), T2 has A3, A4 (2).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.db import session_scope
from core.models import (
    Account,
    AssignmentHistory,
    Opportunity,
    Quota,
    QuotaAdjustment,
    RebalancePlan,
    Rep,
    Territory,
    TerritoryKpi,
)
from jobs.cli import app
from jobs.kpis import refresh_kpis

MOVE = date(2026, 5, 15)
Q2 = (date(2026, 4, 1), date(2026, 6, 30))
runner = CliRunner()


@pytest.fixture
def book(engine):
    with session_scope(engine) as session:
        r1, r2 = Rep(external_id="R1", name="Rep One"), Rep(external_id="R2", name="Rep Two")
        session.add_all([r1, r2])
        session.flush()
        t1 = Territory(external_id="T1", name="One", owner_rep_id=r1.id)
        t2 = Territory(external_id="T2", name="Two", owner_rep_id=r2.id)
        session.add_all([t1, t2])
        session.flush()
        accounts = {
            name: Account(external_id=name, name=name, territory_id=territory.id)
            for name, territory in (("A1", t2), ("A2", t1), ("A3", t2), ("A4", t1))
        }
        session.add_all(accounts.values())
        plan = RebalancePlan(
            name="Spring rebalance",
            status="applied",
            scenario="",
            result="{}",
            assignments_fingerprint="x",
            effective_date=MOVE,
            quota_method="potential",
        )
        session.add(plan)
        session.flush()
        ids = {name: account.id for name, account in accounts.items()}
        imported = datetime(2026, 1, 5, 9, tzinfo=UTC)
        for name, territory in (("A1", t1), ("A2", t1), ("A3", t2), ("A4", t1)):
            session.add(
                AssignmentHistory(
                    account_id=ids[name],
                    to_territory_id=territory.id,
                    changed_at=imported,
                    effective_date=imported.date(),
                    note="new account",
                )
            )
        session.add_all(
            [
                AssignmentHistory(
                    account_id=ids["A4"],
                    from_territory_id=t1.id,
                    to_territory_id=t2.id,
                    changed_at=datetime(2026, 4, 10, 15, tzinfo=UTC),
                    source="manual",
                ),
                AssignmentHistory(
                    account_id=ids["A4"],
                    from_territory_id=t2.id,
                    to_territory_id=t1.id,
                    changed_at=datetime(2026, 5, 1, 8, tzinfo=UTC),
                    effective_date=date(2026, 5, 1),
                    source="manual",
                ),
                AssignmentHistory(
                    account_id=ids["A1"],
                    from_territory_id=t1.id,
                    to_territory_id=t2.id,
                    effective_date=MOVE,
                    source="plan",
                    plan_id=plan.id,
                ),
            ]
        )
        for rep, amount in ((r1, -30_000.0), (r2, 30_000.0)):
            session.add(Quota(rep_id=rep.id, period_start=Q2[0], period_end=Q2[1], amount=100_000.0))
            session.add(
                QuotaAdjustment(
                    rep_id=rep.id,
                    territory_id=(t1 if amount < 0 else t2).id,
                    period_start=Q2[0],
                    period_end=Q2[1],
                    effective_date=MOVE,
                    amount=amount,
                    method="potential",
                    plan_id=plan.id,
                    reason="plan 1: Spring rebalance",
                )
            )
        for n, (name, amount, close) in enumerate(
            (("A1", 10_000, date(2026, 5, 14)), ("A1", 20_000, MOVE), ("A2", 7_000, date(2026, 4, 20)))
            + (("A3", 3_000, date(2026, 4, 21)),)
        ):
            session.add(
                Opportunity(
                    external_id=f"O{n}",
                    account_id=ids[name],
                    amount=float(amount),
                    status="won",
                    stage="Closed Won",
                    created_on=date(2026, 3, 1),
                    close_date=close,
                )
            )
    return engine


def snapshot(engine, day: date) -> dict[str, dict]:
    refresh_kpis(engine, as_of=day)
    with session_scope(engine) as session:
        rows = session.execute(
            select(Territory.external_id, TerritoryKpi)
            .join(Territory, Territory.id == TerritoryKpi.territory_id)
            .where(TerritoryKpi.snapshot_date == day)
        ).all()
        return {name: kpi.model_dump() for name, kpi in rows}


def test_before_the_plan_the_old_assignment_and_quota_hold(book):
    k = snapshot(book, date(2026, 5, 14))
    assert (k["T1"]["accounts"], k["T2"]["accounts"]) == (3, 1)
    assert (k["T1"]["quota"], k["T2"]["quota"]) == (100_000, 100_000)
    assert (k["T1"]["bookings"], k["T2"]["bookings"]) == (17_000, 3_000)
    assert k["T1"]["attainment"] == pytest.approx(0.17) and k["T2"]["attainment"] == pytest.approx(0.03)


def test_from_the_effective_date_accounts_credit_and_quota_follow(book):
    k = snapshot(book, date(2026, 5, 20))
    assert (k["T1"]["accounts"], k["T2"]["accounts"]) == (2, 2)
    assert (k["T1"]["quota"], k["T2"]["quota"]) == (70_000, 130_000)
    assert (k["T1"]["bookings"], k["T2"]["bookings"]) == (17_000, 23_000)
    assert k["T1"]["attainment"] == pytest.approx(17 / 70) and k["T2"]["attainment"] == pytest.approx(
        23 / 130
    )


def test_a_history_row_without_effective_date_takes_effect_on_its_change_date(book):
    k = snapshot(book, date(2026, 4, 20))
    assert (k["T1"]["accounts"], k["T2"]["accounts"]) == (2, 2)
    before = snapshot(book, date(2026, 4, 9))
    assert (before["T1"]["accounts"], before["T2"]["accounts"]) == (3, 1)


def url_of(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_accounts_as_of_lists_the_territory_in_force(book):
    """`territory accounts --as-of`: A1 is in T1 on 05-14 and in T2 from 05-15; A4 in T2 on 04-20."""

    def territories(day: str | None) -> dict[str, str]:
        dated = ["--as-of", day] if day else []
        result = runner.invoke(app, ["accounts", "--csv", "-", "--db", url_of(book), *dated])
        assert result.exit_code == 0, result.output
        return {row["account_id"]: row["territory_id"] for row in csv.DictReader(io.StringIO(result.output))}

    assert territories("2026-05-14") == {"A1": "T1", "A2": "T1", "A3": "T2", "A4": "T1"}
    assert territories("2026-05-15") == {"A1": "T2", "A2": "T1", "A3": "T2", "A4": "T1"}
    assert territories("2026-04-20") == {"A1": "T1", "A2": "T1", "A3": "T2", "A4": "T2"}
    assert territories("2025-06-01") == territories("2026-01-05")  # imported accounts extend backwards
    assert territories(None) == {"A1": "T2", "A2": "T1", "A3": "T2", "A4": "T1"}  # today's assignment


def test_kpis_json_carries_quota_per_territory(book):
    refresh_kpis(book, as_of=date(2026, 5, 20))
    result = runner.invoke(app, ["kpis", "--db", url_of(book), "--as-of", "2026-05-20", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["territory"]: row for row in json.loads(result.output)["territories"]}
    assert (rows["T1"]["quota"], rows["T2"]["quota"]) == (70_000, 130_000)
    assert (rows["T1"]["bookings"], rows["T2"]["bookings"]) == (17_000, 23_000)
