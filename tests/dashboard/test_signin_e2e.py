"""Sign-in in a real browser: `streamlit run dashboard/server.py` (the app and its cookie routes),
driven by Debian's Chromium through Playwright.

A visitor without a session sees only the sign-in, on every URL. Each role signs in and sees the
pages it may use and no other; the session is an HTTP-only cookie that survives a reload, a direct
URL and a new tab, and signing out in one tab ends it in the others.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.dashboard.conftest import PASSWORD, make_sample_db, role_email
from tests.dashboard.test_e2e import CHROMIUM, CHROMIUM_ARGS, settle, start_server, stop_server
from tests.databases import BACKENDS, drop_database, new_database

SERVER = Path(__file__).resolve().parents[2] / "dashboard" / "server.py"
NAV = (
    "Overview",
    "Map",
    "Territory",
    "Drift",
    "Alerts",
    "Optimize",
    "Plan review",
    "Data",
    "Users and audit",
)
VISIBLE = {
    "viewer": {"Overview", "Map", "Territory", "Drift", "Alerts", "Plan review", "Data"},
    "planner": {"Overview", "Map", "Territory", "Drift", "Alerts", "Data", "Optimize", "Plan review"},
    "approver": {"Overview", "Map", "Territory", "Drift", "Alerts", "Data", "Optimize", "Plan review"},
    "admin": set(NAV),
}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("browser"),  # one at a time: two app servers on 2 cores time pages out
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory) -> Iterator[str]:
    """The app on a southwest database with one user per role, on SQLite and on PostgreSQL."""
    folder = tmp_path_factory.mktemp("signin")
    url = make_sample_db(new_database(request.param, folder, name="signin"))
    base, process, log = start_server(url, folder)
    try:
        yield base
    finally:
        stop_server(process, log)
        drop_database(url)


@pytest.fixture(scope="module")
def browser() -> Iterator:  # type: ignore[type-arg]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def wait_for_sign_in(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=90_000)
    settle(page)


def sign_in(  # type: ignore[no-untyped-def]
    page, base: str, email: str, password: str = PASSWORD, path: str = "", heading: str = "Overview"
) -> None:
    page.goto(f"{base}/{path}")
    wait_for_sign_in(page)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_selector(f"h1:has-text('{heading}')", timeout=90_000)
    settle(page)


def eventually(read, expected, seconds: float = 15.0):  # type: ignore[no-untyped-def]
    """``read()`` once it equals ``expected`` (a page still drawing its sidebar or uploaders), else its
    last value, for the assertion to show."""
    value = read()
    for _ in range(int(seconds * 10)):
        if value == expected:
            break
        time.sleep(0.1)
        value = read()
    return value


def session_cookie(context):  # type: ignore[no-untyped-def]
    """The session cookie: the app draws only after the cookie route has set it (the sign-in run ends
    with the redirect there), so it is present as soon as a signed-in page shows."""
    found = [c for c in context.cookies() if c["name"] == "territory_session"]
    assert found, "no territory_session cookie after signing in"
    return found[0]


def nav_links(page) -> set[str]:  # type: ignore[no-untyped-def]
    links = page.locator("[data-testid='stSidebarNav'] a")
    return {links.nth(i).inner_text().strip().split("\n")[-1] for i in range(links.count())}  # after the icon


@pytest.mark.parametrize("path", ["", "map", "optimize", "data", "admin", "territory?territory=SW-T003"])
def test_a_visitor_without_a_session_sees_only_the_sign_in(browser, server, path):
    page = browser.new_context().new_page()
    page.goto(f"{server}/{path}")
    wait_for_sign_in(page)
    assert (
        page.get_by_label("Email", exact=True).count() == 1
        and page.get_by_label("Password", exact=True).count() == 1
    )
    assert page.locator("h1").first.inner_text().strip() == "Territory Health"
    assert nav_links(page) == set()
    assert page.locator("[data-testid='stDataFrame'], [data-testid='stMetric']").count() == 0
    page.context.close()


def test_a_wrong_password_is_refused_without_saying_which_part(browser, server):
    page = browser.new_context().new_page()
    page.goto(server)
    wait_for_sign_in(page)
    page.get_by_label("Email", exact=True).fill(role_email("viewer"))
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_text("wrong email or password").wait_for(timeout=30_000)
    assert page.context.cookies() == [] or all(
        c["name"] != "territory_session" for c in page.context.cookies()
    )
    page.context.close()


@pytest.mark.parametrize("role", ["viewer", "planner", "approver", "admin"])
def test_each_role_sees_its_pages_and_stays_signed_in(browser, server, role):
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    sign_in(page, server, role_email(role))
    cookie = session_cookie(context)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert eventually(lambda: nav_links(page), VISIBLE[role]) == VISIBLE[role]
    assert page.get_by_text(f"{role_email(role)} · {role}").count() == 1

    page.reload()  # a reload keeps the session
    page.wait_for_selector("h1:has-text('Overview')", timeout=90_000)
    settle(page)
    data_tab = context.new_page()  # a new tab, on a direct URL
    data_tab.goto(f"{server}/data")
    data_tab.wait_for_selector("h1:has-text('Data')", timeout=90_000)
    settle(data_tab)
    wanted = 6 if role == "admin" else 0  # imports are for admins
    uploads = eventually(lambda: data_tab.locator("[data-testid='stFileUploader']").count(), wanted)
    assert uploads == wanted
    if role in ("viewer",):
        data_tab.goto(f"{server}/optimize")  # not in its navigation: Streamlit opens the default page
        settle(data_tab)
        assert data_tab.locator("h1").first.inner_text().strip() != "Optimize"

    page.get_by_role("button", name="Sign out").click()  # ends the session everywhere
    wait_for_sign_in(page)
    assert all(c["name"] != "territory_session" for c in context.cookies())
    data_tab.reload()
    wait_for_sign_in(data_tab)
    context.close()


def test_signing_out_ends_the_session_on_other_browsers_holding_the_cookie(browser, server):
    first = browser.new_context()
    page = first.new_page()
    sign_in(page, server, role_email("approver"))
    stolen = [c for c in first.cookies() if c["name"] == "territory_session"]
    second = browser.new_context()
    second.add_cookies(stolen)
    other = second.new_page()
    other.goto(f"{server}/map")
    other.wait_for_selector("h1:has-text('Map')", timeout=90_000)
    page.get_by_role("button", name="Sign out").click()
    wait_for_sign_in(page)
    other.reload()
    wait_for_sign_in(other)  # the same cookie no longer opens anything
    first.close()
    second.close()


def test_signing_in_opens_the_page_that_was_asked_for(browser, server):
    """A link from an alert email (a territory page) opens that page once the reader has signed in."""
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    sign_in(page, server, role_email("viewer"), path="territory?id=SW-T003", heading="Territory")
    session_cookie(context)
    assert urlparse(page.url).path == "/territory" and "id=SW-T003" in urlparse(page.url).query
    assert page.get_by_role("combobox", name="Territory").input_value().endswith("(SW-T003)")
    context.close()
