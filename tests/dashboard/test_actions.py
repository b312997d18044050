"""Buttons do what they say, through AppTest on a real database (Refresh now: see test_pages.py): a
solved plan is saved once however often the form is submitted, the Data page's banners describe the
latest import only, and the arcs map draws the ground and the territories under the moves."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from core.db import get_engine, session_scope
from core.models import RebalancePlan
from jobs.launch import served_url

BAD_ACCOUNTS = b"account_id,name,lat\nA-1,Broken,not-a-number\n"


def test_a_new_import_replaces_the_banner_of_a_failed_one(app, writable_db):
    """A refused import, then a good one: the page shows "Imported" and no red banner about the import."""
    at = app(writable_db, "data_page")
    at.get("file_uploader")[1].upload("accounts.csv", BAD_ACCOUNTS, "text/csv")
    next(b for b in at.button if "import" in b.label.lower()).click().run()
    assert any("Import refused" in e.value for e in at.error)
    reps = at.get("file_uploader")[0]
    at.get("file_uploader")[1].clear()
    reps.upload("reps.csv", b"rep_id,name\nR-NEW,Nora New\n", "text/csv")
    next(b for b in at.button if "import" in b.label.lower()).click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("Imported") for s in at.success)
    assert [e.value for e in at.error] == []  # neither the refusal nor "the last import job failed"


def test_the_launcher_tells_its_children_the_port_it_serves(monkeypatch):
    from core.config import get_settings

    monkeypatch.delenv("TERRITORY_DASHBOARD_URL", raising=False)
    get_settings.cache_clear()
    assert served_url(8601) == {"TERRITORY_DASHBOARD_URL": "http://localhost:8601"}
    monkeypatch.setenv("TERRITORY_DASHBOARD_URL", "https://th.example.com")
    get_settings.cache_clear()
    assert served_url(8601) == {}  # the user's own address wins
    get_settings.cache_clear()


@pytest.fixture
def solved(app, writable_db):  # type: ignore[no-untyped-def]
    at = app(writable_db, "optimize")
    at.selectbox(key="base_scenario").set_value("southwest").run()
    at.button[0].click().run()  # the form's Solve button
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_a_plan_is_saved_once_per_solve_and_the_arcs_map_has_ground(solved, writable_db, page):
    """Enter in the name field submits the form, and the click submits it again: one plan, not two."""
    at = solved
    at.segmented_control(key="optimize_view").set_value("Map").run()
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    ids = [layer["id"] for layer in spec["layers"]]
    assert ids.index("state-outlines") < ids.index("territories") < ids.index("moves")
    assert spec["layers"][ids.index("state-outlines")]["data"], "no state outline drawn"
    save = next(b for b in at.button if b.label == "Save as draft")
    save.click().run()
    next(b for b in at.button if b.label == "Save as draft").click().run()
    assert not at.exception, at.exception
    drafts = select(RebalancePlan.id).where(RebalancePlan.status == "draft")  # not the sample's past plan
    with session_scope(get_engine(writable_db)) as session:
        assert session.execute(select(func.count()).select_from(drafts.subquery())).scalar_one() == 1
        plan_id = session.execute(drafts).scalar_one()
    assert any("Already saved as draft plan" in i.value for i in at.info)
    shared = page(writable_db, "optimize", plan=str(plan_id))  # the address /optimize?plan=<id>
    assert not shared.exception, shared.exception
    assert shared.segmented_control(key="optimize_panel").value == "Saved plans"
    assert next(s for s in shared.selectbox if s.label == "Plan").value == plan_id
