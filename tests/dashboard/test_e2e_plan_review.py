"""Move-by-move review in a real browser: a planner opens a saved draft, rejects a move with a
reason, re-solves around the edit and submits; an approver reads the impact preview, approves and
applies. `streamlit run
dashboard/server.py` on a southwest database, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from core.db import get_engine, session_scope
from core.models import Account, AssignmentHistory, Territory
from core.plan_edits import plan_edits
from core.plans import get_plan
from jobs.optimize import optimize, save_run
from tests.dashboard.conftest import PASSWORD, make_sample_db, role_email
from tests.dashboard.test_e2e import CHROMIUM, CHROMIUM_ARGS, settle, start_server, stop_server
from tests.dashboard.test_plan_edits_page import QUICK

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("browser"),  # one at a time: two app servers on 2 cores time pages out
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
WAIT_MS = 240_000  # a re-solve, or the Optimize page with its impact preview, on a loaded machine


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, str, int]]:
    """(app address, database URL, id of a saved draft) on a fresh southwest database."""
    folder = tmp_path_factory.mktemp("review")
    url = make_sample_db(folder / "southwest.db")
    engine = get_engine(url)
    run = optimize(engine, QUICK)
    assert len(run.result.moves) >= 2
    plan_id = save_run(engine, run, name="review in a browser", created_by=role_email("planner"))
    engine.dispose()
    base, process, log = start_server(url, folder)
    try:
        yield base, url, plan_id
    finally:
        stop_server(process, log)


@pytest.fixture(scope="module")
def browser() -> Iterator:  # type: ignore[type-arg]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def signed_in_page(browser, base: str, role: str):  # type: ignore[no-untyped-def]
    """A new browser context signed in as ``role``'s user."""
    page = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
    page.goto(base)
    page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=WAIT_MS)
    page.get_by_label("Email", exact=True).fill(role_email(role))
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_selector("h1:has-text('Overview')", timeout=WAIT_MS)
    settle(page)
    return page


def open_plan(page, base: str, plan_id: int) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/optimize?plan={plan_id}")
    page.get_by_text("Export CRM CSV").wait_for(timeout=WAIT_MS)
    settle(page)


def click(page, name: str) -> None:  # type: ignore[no-untyped-def]
    button = page.get_by_role("button", name=name, exact=True)
    button.scroll_into_view_if_needed()
    button.click()
    settle(page)


def wait_text(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_text(text).first.wait_for(timeout=WAIT_MS)


def book(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Account external id -> its territory's external id, now."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Account.external_id, Territory.external_id).join(
                Territory, Territory.id == Account.territory_id
            )
        )
        return dict(rows.tuples().all())


def test_reject_resolve_submit_approve_apply(browser, served):
    base, url, plan_id = served
    engine = get_engine(url)
    rejected = get_plan(engine, plan_id).moves[0]

    planner = signed_in_page(browser, base, "planner")
    open_plan(planner, base, plan_id)
    wait_text(planner, "Review move by move")
    reject_form = planner.locator("[data-testid='stForm']").filter(has_text="Moves to reject")
    choose = reject_form.get_by_role("combobox").first
    choose.scroll_into_view_if_needed()
    choose.click()
    planner.get_by_role("option").filter(has_text=f"({rejected.account})").first.click()
    planner.keyboard.press("Escape")
    reject_form.get_by_label("Why (required)").fill("the rep just closed a deal there")
    click(planner, "Reject selected moves")
    wait_text(planner, f"plan {plan_id} revision 2")
    assert rejected.account not in {m.account for m in get_plan(engine, plan_id).moves}

    click(planner, "Re-solve around my edits")
    wait_text(planner, f"plan {plan_id} revision 3")
    wait_text(planner, "against the unedited solve")
    resolved = get_plan(engine, plan_id)
    assert resolved.solver_status in ("OPTIMAL", "FEASIBLE") and resolved.revision == 3
    assert (rejected.account, rejected.to_territory) not in {
        (m.account, m.to_territory) for m in resolved.moves
    }
    click(planner, "Submit for approval")
    wait_text(planner, f"Plan {plan_id} submitted.")

    approver = signed_in_page(browser, base, "approver")
    open_plan(approver, base, plan_id)
    # the impact preview is on the page before Approve and Apply: per rep, book, gains and losses, quota
    wait_text(approver, "Impact per rep")
    for heading in ("Book before → after:", "Gained and lost:", "Quota, projected attainment and load"):
        wait_text(approver, heading)
    click(approver, "Approve")
    wait_text(approver, f"Plan {plan_id} approved.")
    click(approver, "Apply…")
    wait_text(approver, "accounts change territory")
    click(approver, "Apply now")
    wait_text(approver, f"Plan {plan_id} applied")

    applied = get_plan(engine, plan_id)
    assert applied.status == "applied" and [e.kind for e in plan_edits(engine, plan_id)] == [
        "reject",
        "resolve",
    ]
    with session_scope(engine) as session:
        history = session.execute(select(AssignmentHistory).where(AssignmentHistory.plan_id == plan_id)).all()
    assert len(history) == len(applied.moves)
    now = book(engine)
    assert all(now[m.account] == m.to_territory for m in applied.moves)
    assert now[rejected.account] != rejected.to_territory  # the rejected move was not made
    engine.dispose()
