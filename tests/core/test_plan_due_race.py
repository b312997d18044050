"""Scheduled plans are applied exactly once when two processes run ``apply_due_plans`` at once.

Two spawned processes (each with its own engine) wait at one barrier and then both apply the plans
due today, on SQLite and PostgreSQL. Exactly one run applies the plan; the other finds it applied
(the conditional update scheduled -> applied) and applies nothing: one history row per move and one
pair of quota rows, not two.
"""

from __future__ import annotations

import multiprocessing
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from core.db import get_engine, session_scope
from core.models import (
    Account,
    AccountPotential,
    AssignmentHistory,
    ForecastRun,
    Quota,
    QuotaAdjustment,
    RebalancePlan,
    Rep,
    Territory,
)
from core.plans import assignments_fingerprint, save_plan
from tests.processes import clean_main

pytestmark = pytest.mark.slow  # spawns processes
WORKERS, ACCOUNTS, TRIES = 2, 21, 3
APPROVER = "ada@example.com"


def _book(engine) -> None:  # type: ignore[no-untyped-def]
    from core.auth import SYSTEM_ACTOR, create_user

    create_user(engine, APPROVER, role="approver", password=None, actor=SYSTEM_ACTOR)
    start = date.today() - timedelta(days=10)
    with session_scope(engine) as session:
        reps = [Rep(external_id=f"R{i}", name=f"Rep {i}") for i in (1, 2)]
        session.add_all(reps)
        session.flush()
        territories = [
            Territory(external_id=f"T{i}", name=f"T{i}", owner_rep_id=r.id) for i, r in enumerate(reps, 1)
        ]
        session.add_all(territories)
        session.add_all(
            Quota(rep_id=r.id, period_start=start, period_end=start + timedelta(days=89), amount=90_000.0)
            for r in reps
        )
        session.flush()
        accounts = [
            Account(external_id=f"A{i}", name=f"Acct {i}", territory_id=territories[0].id)
            for i in range(ACCOUNTS)
        ]
        accounts.append(Account(external_id="KEEP", name="Stays", territory_id=territories[0].id))
        session.add_all(accounts)
        run = ForecastRun(as_of=date.today(), status="complete", is_current=True)
        session.add(run)
        session.flush()
        session.add_all(
            AccountPotential(
                run_id=run.id,
                account_id=a.id,
                forecast_12m=1.0,
                wallet=1.0,
                potential=1.0,
                method="prophet",
                history_hash="h",
            )
            for a in accounts
        )


def _scheduled_plan(engine, source: str, target: str) -> int:  # type: ignore[no-untyped-def]
    """A plan moving every A account from ``source`` to ``target``, scheduled for today."""
    moves = [{"account": f"A{i}", "from": source, "to": target, "reason": "balance"} for i in range(ACCOUNTS)]
    plan_id = save_plan(
        engine,
        name=f"due {source}->{target}",
        scenario_toml="",
        result={"status": "OPTIMAL", "moves": moves},
        fingerprint=assignments_fingerprint(engine),
        created_by=None,
    )
    with session_scope(engine) as session:  # straight to the state under test
        plan = session.get(RebalancePlan, plan_id)
        assert plan is not None
        plan.status, plan.approved_by = "scheduled", APPROVER
        plan.scheduled_by, plan.effective_date, plan.quota_method = APPROVER, date.today(), "potential"
    return plan_id


def _due_worker(url: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    from core.plans import apply_due_plans

    engine = get_engine(url)
    engine.connect().close()  # connect before the start line, so both start together
    barrier.wait()
    try:
        due = apply_due_plans(engine)
        results.put(("ok", list(due.applied), list(due.refused)))
    except Exception as error:  # noqa: BLE001 - reported to the test
        results.put(("error", f"{type(error).__name__}: {error}", []))
    finally:
        engine.dispose()


def _race(url: str) -> list[tuple[str, object, list[int]]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    processes = [ctx.Process(target=_due_worker, args=(url, barrier, results)) for _ in range(WORKERS)]
    with clean_main():
        for process in processes:
            process.start()
    outcomes = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return outcomes


def _count(engine, model, plan_id: int) -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return int(
            session.execute(select(func.count()).select_from(model).where(model.plan_id == plan_id)).scalar()
            or 0
        )


def test_two_processes_apply_a_due_plan_exactly_once(engine, db_url):
    _book(engine)
    for attempt in range(TRIES):
        source, target = ("T1", "T2") if attempt % 2 == 0 else ("T2", "T1")
        plan_id = _scheduled_plan(engine, source, target)
        engine.dispose()
        outcomes = _race(db_url)
        assert all(status == "ok" for status, _, _ in outcomes), outcomes
        applied = [ids for _, ids, _ in outcomes]
        assert sorted(applied) == [[], [plan_id]], outcomes
        assert all(refused == [] for _, _, refused in outcomes), outcomes  # the loser refuses nothing
        assert _count(engine, AssignmentHistory, plan_id) == ACCOUNTS
        assert _count(engine, QuotaAdjustment, plan_id) == 2  # one transfer, two signed rows
        with session_scope(engine) as session:
            plan = session.get(RebalancePlan, plan_id)
            assert plan is not None and (plan.status, plan.applied_by) == ("applied", APPROVER)
            total = session.execute(select(func.sum(QuotaAdjustment.amount))).scalar()
        assert round(float(total), 2) == 0.0
