"""End to end in a real browser: `streamlit run` on a sample database, driven by Chromium through Playwright.

Opens every page by its address, checks that none shows "Page not found", an exception or a metric
card whose value is cut off, that the map canvas draws (non-background pixels) and that switching the
map metric changes its colours, and that nothing is fetched from outside the machine (no basemap
tiles, no CDN). Full-page screenshots of every page land in ``artifacts/screenshots/`` (git-ignored,
kept by CI; E2E_SHOTS_DIR overrides) for a person to look at.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.dashboard.conftest import APP, PASSWORD, make_sample_db, role_email
from tests.databases import BACKENDS, drop_database, new_database

SERVER = APP.parent / "server.py"  # the app with its sign-in routes, as `territory run` starts it

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADDRESSES = {  # address -> (file name of its screenshot, expected title or None)
    "overview": ("overview", "Overview"),
    "map": ("map", "Map"),
    "territory": ("territory", "Territory"),
    "territory?id=SW-T003": ("territory-by-id", "Territory"),
    "drift": ("drift", "Drift"),
    "alerts": ("alerts", None),
    "optimize": ("optimize", None),
    "optimize?plan=1": ("optimize-plan", None),
    "data": ("data", "Data"),
}
SHOTS = Path(os.environ.get("E2E_SHOTS_DIR") or APP.parent.parent / "artifacts" / "screenshots")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("browser"),  # one at a time: two app servers on 2 cores time pages out
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium); CI installs it",
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(base: str, process: subprocess.Popen, timeout: float = 90.0) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer on {base} within {timeout:.0f} s")


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory) -> Iterator[str]:
    """`streamlit run dashboard/server.py` on a fresh southwest database (SQLite, then PostgreSQL),
    headless, on a free port."""
    folder = tmp_path_factory.mktemp("e2e")
    url = make_sample_db(new_database(request.param, folder, name="e2e"))
    base, process, log = start_server(url, folder)
    try:
        yield base
    finally:
        stop_server(process, log)
        drop_database(url)


@pytest.fixture(scope="module")
def browser_page(server) -> Iterator:  # type: ignore[type-arg]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.outside_requests = []  # type: ignore[attr-defined]
        page.on("request", lambda request: _note_outside(page, request.url))
        sign_in_as_admin(page, server)
        yield page
        browser.close()


def sign_in_as_admin(page, base: str) -> None:  # type: ignore[no-untyped-def]
    """Every page needs a session: sign in once (the cookie serves every later URL)."""
    page.goto(base)
    page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=90_000)
    page.get_by_label("Email", exact=True).fill(role_email("admin"))
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_selector("h1:has-text('Overview')", timeout=90_000)


def _note_outside(page, url: str) -> None:  # type: ignore[no-untyped-def]
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https", "ws", "wss") and parsed.hostname not in LOCAL_HOSTS:
        page.outside_requests.append(url)


IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the script run the last action started has finished and the page has drawn."""
    page.wait_for_timeout(400)
    page.wait_for_selector(IDLE, timeout=90_000)
    page.wait_for_timeout(600)


def open_page(page, base: str, path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/{path}")
    page.wait_for_selector("h1, [data-testid='stAlert']", timeout=90_000)
    settle(page)


def shoot(page, tmp_path: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    """A full-page screenshot in the test's tmp directory, copied to ``SHOTS`` for people and CI."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)
    return path


METRIC_TEXT = ", ".join(
    f"[data-testid='{part}']{inner}" for part in ("stMetricValue", "stMetricDelta") for inner in ("", " *")
)
TRUNCATED_METRICS = f"""() => [...document.querySelectorAll("{METRIC_TEXT}")]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""


@pytest.mark.parametrize("address", list(ADDRESSES))
def test_every_page_opens_by_its_address(browser_page, server, tmp_path, address):
    """No "Page not found", no exception, no metric card cut off; a screenshot for a person."""
    name, title = ADDRESSES[address]
    open_page(browser_page, server, address)
    if title:  # the page's own heading, once it has drawn (a loaded machine draws slowly)
        expect(browser_page.locator("h1").first).to_have_text(title, timeout=120_000)
    if address == "map":
        browser_page.wait_for_selector("[data-testid='stDeckGlJsonChart'] canvas", timeout=120_000)
        browser_page.wait_for_timeout(2500)  # deck.gl draws on the next animation frames
    shoot(browser_page, tmp_path, name)
    assert browser_page.get_by_text("Page not found").count() == 0, address
    assert browser_page.locator("[data-testid='stException']").count() == 0
    assert browser_page.evaluate(TRUNCATED_METRICS) == [], "a metric card's value is cut off"
    assert urlparse(browser_page.url).path == "/" + address.split("?")[0]
    if title:  # the Alerts and Optimize pages are only checked for errors here
        assert browser_page.locator("h1").first.inner_text().strip() == title


def test_the_root_address_opens_the_overview(browser_page, server):
    open_page(browser_page, server, "")
    assert urlparse(browser_page.url).path == "/overview"
    assert browser_page.locator("h1").first.inner_text().strip() == "Overview"


def test_a_table_row_opens_its_territory_in_the_same_tab_and_the_page_links_back(browser_page, server):
    open_page(browser_page, server, "overview")
    pages_before = len(browser_page.context.pages)
    table = browser_page.locator("[data-testid='stDataFrame']").first
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    browser_page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)  # the first row's selection cell
    browser_page.wait_for_url("**/territory?**", timeout=60_000)
    settle(browser_page)
    assert len(browser_page.context.pages) == pages_before  # no new tab
    assert browser_page.locator("h1").first.inner_text().strip() == "Territory"
    browser_page.get_by_role("link", name="Back to the overview").click()
    browser_page.wait_for_url("**/overview", timeout=60_000)


def test_territory_deep_link_opens_that_territory(browser_page, server):
    open_page(browser_page, server, "territory?territory=SW-T003")
    chosen = browser_page.get_by_role("combobox", name="Territory").input_value()
    assert chosen.endswith("(SW-T003)")


def map_pixels(page, tmp_path: Path, name: str) -> Image.Image:  # type: ignore[no-untyped-def]
    chart = page.locator("[data-testid='stDeckGlJsonChart']").first
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # deck.gl draws on the next animation frames
    png = chart.screenshot()
    shoot(page, tmp_path, name)
    return Image.open(io.BytesIO(png)).convert("RGB")


def drawn_share(image: Image.Image) -> float:
    """Share of pixels that differ from the chart's background (its most common colour)."""
    histogram = image.getcolors(maxcolors=1 << 24) or []
    background = max(histogram)[0]
    return 1 - background / (image.width * image.height)


def test_map_draws_and_its_colours_follow_the_metric(browser_page, server, tmp_path):
    open_page(browser_page, server, "map")
    imbalance = map_pixels(browser_page, tmp_path, "map-imbalance")
    assert drawn_share(imbalance) > 0.02, "the map canvas is blank"
    browser_page.get_by_role("radio", name="Coverage", exact=True).click()
    settle(browser_page)
    coverage = map_pixels(browser_page, tmp_path, "map-coverage")
    assert drawn_share(coverage) > 0.02
    changed = sum(abs(a - b) for a, b in zip(imbalance.histogram(), coverage.histogram(), strict=True))
    assert changed > 0.05 * imbalance.width * imbalance.height * 3, (
        "switching the metric did not recolour the map"
    )


def test_nothing_is_fetched_from_outside_the_machine(browser_page, server):
    for address in ADDRESSES:
        open_page(browser_page, server, address)
    assert browser_page.outside_requests == []


def test_the_plan_map_draws_moves_over_territories_and_states(browser_page, server, tmp_path):
    """Solve the book's field scenario, open the plan's map: arcs over today's territories, not a blank."""
    open_page(browser_page, server, "optimize")
    browser_page.get_by_role("button", name="Solve").click()
    browser_page.wait_for_selector("text=Solved in", timeout=240_000)
    settle(browser_page)
    browser_page.get_by_role("radio", name="Map", exact=True).click()
    settle(browser_page)
    image = map_pixels(browser_page, tmp_path, "optimize-map")
    assert drawn_share(image) > 0.2, "the plan map has no ground or territories under the arcs"
    assert browser_page.evaluate(TRUNCATED_METRICS) == [], "a metric card's value is cut off"
    assert browser_page.locator("[data-testid='stException']").count() == 0


def start_server(url: str, folder: Path, *extra: str, port: int | None = None):  # type: ignore[no-untyped-def]
    port = port or free_port()
    log = (folder / "streamlit.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(SERVER),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            *extra,
        ],
        cwd=SERVER.parent.parent,
        env={**os.environ, "TERRITORY_DATABASE_URL": url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, process)
    return base, process, log


def stop_server(process, log) -> None:  # type: ignore[no-untyped-def]
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
