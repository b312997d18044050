"""End to end in a real browser: `streamlit run` on a sample database, driven by Chromium through Playwright.

Opens every page, checks that none shows an exception, that the map canvas draws (non-background
pixels) and that switching the map metric changes its colours, and that nothing is fetched from
outside the machine (no basemap tiles, no CDN). Screenshots of every page land in the test's tmp
directory (and in E2E_SHOTS_DIR when set) for a person to look at.
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

from tests.dashboard.conftest import APP, PASSWORD, make_sample_db, role_email

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
PAGES = {
    "overview": "Overview",
    "map": "Map",
    "territory": "Territory",
    "drift": "Drift",
    "alerts": None,
    "optimize": None,
    "data": "Data",
}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}

pytestmark = [
    pytest.mark.e2e,
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


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """`streamlit run dashboard/server.py` on a fresh southwest database, headless, on a free port."""
    folder = tmp_path_factory.mktemp("e2e")
    url = make_sample_db(folder / "southwest.db")
    port = free_port()
    env = {**os.environ, "TERRITORY_DATABASE_URL": url}
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
        ],
        cwd=APP.parent.parent,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


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
    page.get_by_role("button", name="Sign in").wait_for(timeout=90_000)
    page.get_by_label("Email", exact=True).fill(role_email("admin"))
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
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
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("E2E_SHOTS_DIR"):
        target = Path(os.environ["E2E_SHOTS_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)
    return path


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_without_an_exception(browser_page, server, tmp_path, path):
    open_page(browser_page, server, path)
    if path == "map":
        browser_page.wait_for_timeout(1500)  # deck.gl draws on the next animation frames
    shoot(browser_page, tmp_path, path)
    assert browser_page.locator("[data-testid='stException']").count() == 0
    title = PAGES[path]  # pages other helpers own (alerts, optimize) are only checked for errors
    if title:
        assert browser_page.locator("h1").first.inner_text().strip() == title


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
    for path in PAGES:
        open_page(browser_page, server, path)
    assert browser_page.outside_requests == []
