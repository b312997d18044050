"""Exactly-once apply, approve and reject under real concurrency, on SQLite and PostgreSQL.

Several processes (spawned, each with its own engine and connections) wait at one barrier and then
all call the same transition at once. Exactly one may succeed; every other one must be refused
with "plan N was already <done> by X at T", and the plan's effects (one history row per move) must
be there exactly once. Before the fix (status read, then written), most tries let two applies
through: 18 of 20 on SQLite, every one on PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import re

import pytest
from sqlalchemy import func, select

from core.db import get_engine, session_scope
from core.models import Account, AssignmentHistory, RebalancePlan, Rep, Territory
from core.plans import assignments_fingerprint, save_plan
from tests.processes import clean_main

WORKERS = 5
pytestmark = pytest.mark.slow  # spawns processes: about a minute per backend
ACCOUNTS = 41


def _users(engine) -> list[str]:  # type: ignore[no-untyped-def]
    """Approvers who race (created as users: every write checks the actor's role)."""
    emails = [f"approver{i}@example.com" for i in range(WORKERS)]
    from core.auth import SYSTEM_ACTOR, create_user

    for email in emails:
        create_user(engine, email, role="approver", password=None, actor=SYSTEM_ACTOR)
    return emails


def _book_with_plan(engine, status: str) -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        reps = [Rep(external_id=f"R{i}", name=f"Rep {i}") for i in (1, 2)]
        session.add_all(reps)
        session.flush()
        territories = [
            Territory(external_id=f"T{i}", name=f"T{i}", owner_rep_id=r.id) for i, r in enumerate(reps, 1)
        ]
        session.add_all(territories)
        session.flush()
        session.add_all(
            Account(external_id=f"A{i}", name=f"Acct {i}", territory_id=territories[0].id)
            for i in range(ACCOUNTS)
        )
    moves = [{"account": f"A{i}", "from": "T1", "to": "T2", "reason": "balance"} for i in range(ACCOUNTS)]
    plan_id = save_plan(
        engine,
        name="race",
        scenario_toml="",
        result={"status": "OPTIMAL", "moves": moves},
        fingerprint=assignments_fingerprint(engine),
        created_by=None,
    )
    with session_scope(engine) as session:  # straight to the state under test
        plan = session.get(RebalancePlan, plan_id)
        assert plan is not None
        plan.status = status
        if status == "approved":
            plan.approved_by = "someone@example.com"
    return plan_id


def _race_worker(url: str, action: str, plan_id: int, actor: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    import core.plans as plans

    engine = get_engine(url)
    engine.connect().close()  # connect before the start line, so all start together
    barrier.wait()
    try:
        if action == "apply":
            plans.apply_plan(engine, plan_id, actor=actor)
        elif action == "approve":
            plans.approve_plan(engine, plan_id, approver=actor)
        else:
            plans.reject_plan(engine, plan_id, actor=actor, comment="not now")
        results.put(("ok", actor))
    except Exception as error:  # noqa: BLE001 - the refusal is the result
        results.put(("refused", f"{type(error).__name__}: {error}"))
    finally:
        engine.dispose()


def _race(url: str, action: str, plan_id: int, actors: list[str]) -> list[tuple[str, str]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(actors)), ctx.Queue()
    processes = [
        ctx.Process(target=_race_worker, args=(url, action, plan_id, actor, barrier, results))
        for actor in actors
    ]
    with clean_main():
        for process in processes:
            process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return outcomes


@pytest.mark.parametrize("tries", [2])
def test_concurrent_applies_move_the_accounts_exactly_once(engine, db_url, tries):
    actors = _users(engine)
    for _ in range(tries):
        plan_id = _book_with_plan(engine, "approved") if _ == 0 else _reset(engine)
        engine.dispose()
        outcomes = _race(db_url, "apply", plan_id, actors)
        winners = [who for status, who in outcomes if status == "ok"]
        refusals = [why for status, why in outcomes if status == "refused"]
        assert len(winners) == 1, outcomes
        winner = re.escape(winners[0])
        pattern = (
            rf"PlanError: plan {plan_id} was already applied by {winner} at \d{{4}}-\d\d-\d\d \d\d:\d\d.*"
        )
        assert all(re.fullmatch(pattern, why) for why in refusals), refusals
        with session_scope(engine) as session:
            rows = session.execute(
                select(func.count())
                .select_from(AssignmentHistory)
                .where(AssignmentHistory.plan_id == plan_id)
            ).scalar()
        assert rows == ACCOUNTS


def _reset(engine) -> int:  # type: ignore[no-untyped-def]
    """A fresh approved plan moving every account back (the book is where the last apply left it)."""
    with session_scope(engine) as session:
        t1, t2 = (
            session.execute(select(Territory).where(Territory.external_id == e)).scalar_one()
            for e in ("T1", "T2")
        )
        for account in session.execute(select(Account)).scalars():
            account.territory_id = t1.id
    with session_scope(engine) as session:
        last = session.execute(select(func.max(RebalancePlan.id))).scalar()
    moves = [{"account": f"A{i}", "from": "T1", "to": "T2", "reason": "balance"} for i in range(ACCOUNTS)]
    plan_id = save_plan(
        engine,
        name=f"race {last}",
        scenario_toml="",
        result={"status": "OPTIMAL", "moves": moves},
        fingerprint=assignments_fingerprint(engine),
        created_by=None,
    )
    with session_scope(engine) as session:
        plan = session.get(RebalancePlan, plan_id)
        assert plan is not None
        plan.status, plan.approved_by = "approved", "someone@example.com"
    return plan_id


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_concurrent_reviews_decide_exactly_once(engine, db_url, action):
    actors = _users(engine)
    plan_id = _book_with_plan(engine, "submitted")
    engine.dispose()
    outcomes = _race(db_url, action, plan_id, actors)
    winners = [who for status, who in outcomes if status == "ok"]
    assert len(winners) == 1, outcomes
    done = "approved" if action == "approve" else "rejected"
    pattern = rf"PlanError: plan {plan_id} was already {done} by {re.escape(winners[0])} at .*"
    assert all(re.fullmatch(pattern, why) for status, why in outcomes if status == "refused"), outcomes
