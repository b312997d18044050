"""The Plan review page on the southwest sample: a viewer opens /review?plan=ID on the first day."""

from __future__ import annotations

from datetime import date

from core.db import get_engine
from core.plan_review import applied_plans, plan_outcome
from core.sample import generate_book


def sample_plan(url: str) -> int:
    (plan_id, _, _), *_ = applied_plans(get_engine(url))
    return plan_id


def test_a_viewer_reads_the_review_of_the_sample_plan(app, sample_db):
    plan_id = sample_plan(sample_db)
    at = app(sample_db, "review", role="viewer", plan=str(plan_id))
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox[0].value == plan_id
    checkpoints, territories, since, team, accounts = (d.value for d in at.dataframe)
    assert list(checkpoints["status"]) == ["reviewed"] * 3  # applied 120 days ago
    past = generate_book("southwest", as_of=date.today()).past_plan
    assert past is not None
    outcome = plan_outcome(get_engine(sample_db), plan_id)
    names = {t.territory: t.name for t in outcome.territories}
    giver, receiver = past.moves[0][1], past.moves[0][2]
    assert set(territories["territory"]) == {names[giver], names[receiver]}  # the changed ones, by name
    # predicted → actual in one cell each, so the table fits 1400 px without scrolling
    assert list(territories.columns) == ["territory", "moves", "potential", "index", "accounts", "workload"]
    assert territories["potential"].str.fullmatch(r"\$\S+ → \$\S+").all()  # written by core.format
    assert list(since.columns) == ["territory", "vs pace", "coverage", "activity change, now"]
    assert sorted(accounts["account"]) == sorted(a.name for a in outcome.accounts)
    silent = accounts.loc[accounts["silent 30+ days"] == "yes", "account"].tolist()
    assert silent == [a.name for a in outcome.accounts if a.account == past.silent_account]
    assert list(team[""]) == ["before the plan", "predicted", "actual"]


def test_the_page_shows_every_territory_on_request(app, sample_db):
    at = app(sample_db, "review", role="viewer", plan=str(sample_plan(sample_db)))
    at.toggle[0].set_value(False).run()
    assert not at.exception
    assert len(at.dataframe[1].value) == 12
