"""The sign-in gate, role-dependent buttons and names-as-text, through the real app shell (AppTest)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.db import get_engine, session_scope
from core.importing import import_files
from core.models import Rep, Territory
from dashboard.auth import STATE, safe_return_path
from dashboard.components import as_text
from tests.dashboard.conftest import PASSWORD, role_email

INJECTION = "**[Sign in again](http://evil.example/login)** ![t](http://host/px.png)"


def markdown_sources(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        e.value
        for kind in ("markdown", "caption", "info", "warning", "error", "success")
        for e in at.get(kind)
    ]


def test_a_visitor_sees_only_the_sign_in_form(app, sample_db):
    at = app(sample_db, role=None)
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Email", "Password"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert at.title[0].value == "Territory Health" and not at.dataframe and not at.metric


def test_the_form_signs_in_and_a_wrong_password_does_not(app, writable_db, monkeypatch):
    monkeypatch.setenv("TERRITORY_SIGNIN_DELAY_S", "0")
    at = app(writable_db, role=None)
    at.text_input[0].input(role_email("planner"))
    at.text_input[1].input("not it at all")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["wrong email or password"] and STATE not in at.session_state
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    # the run that signs in ends with the redirect to the cookie route (a rerun would drop it): the
    # form is gone, and the tab holds the session for when the browser comes back (or "Continue")
    assert not at.exception and [i.value for i in at.info] == ["Signed in. Opening the dashboard…"]
    assert not at.text_input and [b.label for b in at.button] == ["Continue"]
    assert at.session_state[STATE]
    at.button[0].click().run()
    assert not at.exception and at.title[0].value == "Overview"
    assert "planner@example.com · planner" in [t.value for t in at.text]


@pytest.mark.parametrize(("role", "buttons"), [("viewer", False), ("admin", True)])
def test_job_and_import_buttons_are_for_admins(app, sample_db, role, buttons):
    at = app(sample_db, role=role)
    assert any(b.key == "refresh-button" for b in at.button) is buttons
    data_page = app(sample_db, "data_page", role=role)
    assert (len(data_page.get("file_uploader")) == 6) is buttons


def test_imported_names_render_as_text_everywhere(app, writable_db, tmp_path):
    """A rep and a territory named with Markdown (a link and a remote image) show literally."""
    engine = get_engine(writable_db)
    with session_scope(engine) as session:
        rep = session.execute(select(Rep).order_by(Rep.id)).scalars().first()
        territory = session.execute(select(Territory).where(Territory.owner_rep_id == rep.id)).scalar_one()
        rep_id, territory_id = rep.external_id, territory.external_id
    reps = tmp_path / "reps.csv"
    with open(reps, "w") as handle:
        handle.write(
            f'rep_id,name,territory_id,territory_name\n{rep_id},"{INJECTION}",{territory_id},"{INJECTION}"\n'
        )
    import_files(engine, {"reps": reps})
    from jobs.kpis import refresh_kpis

    refresh_kpis(engine)
    for page in ("overview", "territory", "map", "drift", "alerts"):
        at = app(writable_db, page)
        assert not at.exception, page
        for source in markdown_sources(at):
            assert "](http" not in source, (page, source)  # no link or image syntax reaches Markdown
    overview = app(writable_db)
    assert any(as_text(INJECTION) in source for source in markdown_sources(overview))
    # what Markdown shows for the escaped name is the name itself, character for character
    assert re.sub(r"\\(.)", r"\1", as_text(INJECTION)) == INJECTION


def test_map_tooltips_are_text_not_html():
    from dashboard.maps import TOOLTIP

    assert set(TOOLTIP) == {"text"}  # deck.gl puts a "text" tooltip in as text; "html" would render markup


def test_the_admin_page_adds_users_and_shows_the_audit_trail(app, writable_db):
    at = app(writable_db, "admin")
    assert not at.exception and at.title[0].value == "Users and audit"
    email_box = next(t for t in at.text_input if t.label == "New user's email")
    email_box.input("new.viewer@example.com")
    next(t for t in at.text_input if t.label == "Initial password").input("a fine password")
    next(b for b in at.button if b.label == "Add user").click().run()
    assert any("Added new.viewer@example.com as viewer" in s.value for s in at.success)
    audit = at.dataframe[-1].value
    assert audit.iloc[0][["actor", "action", "source"]].tolist() == ["admin@example.com", "users.add", "page"]


@pytest.mark.parametrize(
    ("asked", "opened"),
    [
        ("territory?id=SW-T003", "territory?id=SW-T003"),
        ("map", "map"),
        ("", ""),
        ("//evil.example/x", ""),
        ("/territory", ""),
        ("https://evil.example/", ""),
        ("javascript:alert(1)", ""),
        ("\\\\evil.example", ""),
        ("signin/complete?ticket=x", ""),
        ("signout", ""),
        ("map\r\nSet-Cookie: x=1", ""),
    ],
)
def test_the_page_opened_after_sign_in_is_a_page_of_this_app(asked, opened):
    """The cookie route opens the page the sign-in was asked for, never another site or a sign-in route."""
    assert safe_return_path(asked) == opened
