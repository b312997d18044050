"""An alert that brings its fix: a planted imbalance raises the potential alert, whose linked draft
plan brings the territory back within the band inside the churn limits.

The book is a tiny custom sample (4 reps, 40 accounts in Arizona, seed 7, as of 2026-11-23) where
three accounts of each other territory were handed to CU-T001: 18 accounts and about $590K of
wallet against $420K–$470K for the others, so CU-T001's potential index is ~1.3, out of the ±15%
band. The database is built once for the module; each test works on a private copy. Time limits
stay short: the machine running the tests is shared.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from core.alerts.fixes import fix_scenario
from core.config import get_settings
from core.db import get_engine, session_scope
from core.importing import import_book
from core.models import Account, AlertEpisode, AlertRule, Notification, RebalancePlan, Territory
from core.plans import get_plan
from core.sample import generate_book
from jobs.alerts import refresh_alerts
from jobs.optimize import load_problem
from jobs.setup import backfill_history, initialise

AS_OF = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
PLANTED = "CU-T001"
BALANCE_RULES = {"potential_index_band", "workload_index_band", "team_potential_cv"}


@pytest.fixture(scope="module")
def planted_db(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('fix') / 'planted.db'}"
    engine = get_engine(url)
    initialise(engine, sample=None)
    book = generate_book("custom", seed=7, as_of=AS_OF, reps=4, accounts=40, states=["AZ"])
    accounts = book.accounts
    planted = accounts[accounts["territory_id"] != PLANTED].groupby("territory_id").head(3).index
    accounts.loc[planted, "territory_id"] = PLANTED
    accounts.loc[planted, "owner_rep_id"] = "CU-R001"
    import_book(engine, book, source="sample")
    backfill_history(engine, as_of=AS_OF)
    engine.dispose()
    return url


@pytest.fixture
def engine(planted_db, tmp_path, monkeypatch):
    monkeypatch.setenv("TERRITORY_ALERT_FIX_TIME_LIMIT_S", "5")
    get_settings.cache_clear()
    target = tmp_path / "copy.db"
    with sqlite3.connect(planted_db.removeprefix("sqlite:///")) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    engine = get_engine(f"sqlite:///{target}")
    yield engine
    engine.dispose()


def balance_episodes(engine) -> list[tuple[str, str | None, int | None]]:
    """(rule key, territory external id or None for the team, fix plan id) of open balance episodes."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(AlertRule.key, Territory.external_id, AlertEpisode.fix_plan_id)
            .join(AlertEpisode, AlertEpisode.rule_id == AlertRule.id)
            .join(Territory, Territory.id == AlertEpisode.territory_id, isouter=True)
            .where(AlertEpisode.status == "open")
        ).all()
    return [tuple(row) for row in rows if row[0] in BALANCE_RULES]


def plans(engine) -> list[tuple[int, str, str | None]]:
    with session_scope(engine) as session:
        return [
            (p.id, p.status, p.created_by)
            for p in session.execute(select(RebalancePlan).order_by(RebalancePlan.id)).scalars()
        ]


def test_planted_imbalance_raises_an_alert_whose_draft_fixes_it_within_the_limits(engine):
    refresh_alerts(engine, now=NOW)
    episodes = balance_episodes(engine)
    assert ("potential_index_band", PLANTED) in {(key, where) for key, where, _ in episodes}
    plan_ids = {plan_id for _, _, plan_id in episodes}
    assert len(plan_ids) == 1 and None not in plan_ids  # one plan serves the run's balance episodes
    plan = get_plan(engine, plan_ids.pop())
    assert (plan.status, plan.created_by) == ("draft", "system")
    assert plan.moves

    # Apply the plan's assignment in memory on the same frames the optimizer reads.
    scenario = fix_scenario(time_limit_s=5)
    problem = load_problem(engine, scenario, as_of=AS_OF)
    accounts, territories = problem.accounts, problem.territories
    today = territories["external_id"].to_numpy()[accounts["territory"]]
    owner = dict(zip(accounts["external_id"], today, strict=True))
    before = dict(owner)
    for move in plan.moves:
        assert owner[move.account] == move.from_territory
        owner[move.account] = move.to_territory
    potential = accounts.set_index("external_id")["potential"]
    totals = potential.groupby(owner).sum().reindex(territories["external_id"], fill_value=0.0)
    mean = totals.mean()
    band = scenario.constraints.potential.share
    assert abs(before_index := potential.groupby(before).sum()[PLANTED] / mean - 1) > band, before_index
    assert abs(totals[PLANTED] / mean - 1) <= band + 0.01  # potential units round to 1% of the mean

    # Churn: at most max_book_share of each book moves out.
    share = scenario.constraints.churn.max_book_share
    books = accounts.groupby(territories["external_id"].to_numpy()[accounts["territory"]]).size()
    moved_out = {t: sum(m.from_territory == t for m in plan.moves) for t in books.index}
    for territory, count in moved_out.items():
        assert count <= math.floor(share * books[territory] + 1e-9), territory


def test_the_digest_links_to_the_draft(engine):
    refresh_alerts(engine, now=NOW)
    [(plan_id, _, _)] = plans(engine)
    with session_scope(engine) as session:
        [note] = session.execute(select(Notification)).scalars().all()
        text, html = note.body_text, note.body_html
    link = f"http://localhost:8501/optimize?plan={plan_id}"
    assert f"Review the fix: {link}" in text
    assert f'href="{link}"' in html


def test_one_draft_per_episode_across_runs(engine):
    refresh_alerts(engine, now=NOW)
    first = balance_episodes(engine)
    refresh_alerts(engine, now=NOW + timedelta(hours=1))
    refresh_alerts(engine, now=NOW + timedelta(days=2))  # re-notifies: still the same plan
    assert len(plans(engine)) == 1
    assert balance_episodes(engine) == first


def test_a_changed_book_refreshes_the_draft(engine):
    refresh_alerts(engine, now=NOW)
    [(old, _, _)] = plans(engine)
    with session_scope(engine) as session:  # someone moves an account by hand
        session.execute(
            update(Account)
            .where(Account.external_id == "CU-A00001")
            .values(
                territory_id=session.scalar(select(Territory.id).where(Territory.external_id == "CU-T002"))
            )
        )
    refresh_alerts(engine, now=NOW + timedelta(hours=1))
    [(first, status, _), (new, new_status, by)] = plans(engine)
    assert (first, status) == (old, "discarded")
    assert (new_status, by) == ("draft", "system")
    assert {plan_id for _, _, plan_id in balance_episodes(engine)} == {new}


def test_the_setting_turns_fix_plans_off(engine, monkeypatch):
    monkeypatch.setenv("TERRITORY_ALERT_FIX_PLANS", "false")
    get_settings.cache_clear()
    refresh_alerts(engine, now=NOW)
    assert balance_episodes(engine) and plans(engine) == []
    assert {plan_id for _, _, plan_id in balance_episodes(engine)} == {None}


def test_a_fix_that_cannot_meet_the_band_says_why_in_the_email(engine, monkeypatch):
    """No account may move (a churn limit of 0%): no plan, and the digest says why in the solver's words."""
    import jobs.alerts

    def frozen(*, time_limit_s: float):
        return fix_scenario(time_limit_s=time_limit_s).with_changes(
            **{"constraints.churn.max_book_share": 0.0}
        )

    monkeypatch.setattr(jobs.alerts, "fix_scenario", frozen)
    refresh_alerts(engine, now=NOW)
    assert plans(engine) == []
    assert {plan_id for _, _, plan_id in balance_episodes(engine)} == {None}
    with session_scope(engine) as session:
        [note] = session.execute(select(Notification)).scalars().all()
    lines = {x.strip() for x in note.body_text.splitlines() if "No fix plan could be prepared" in x}
    assert len(lines) == 1  # the same reason under every balance alert of the run
    why = lines.pop()  # the solver's explanation and the smallest relaxation that gives a plan
    assert "No plan keeps every territory's potential within ±15% of the team mean" in why
    assert "The tightest band a plan meets is" in why
    assert "optimize?plan" not in note.body_text
