"""Fixtures for the dashboard tests: one real southwest database per session, copies for tests that write.

Pages run through the real app shell with Streamlit's AppTest, signed in (as admin unless a test
says which role). Streamlit's caches are process-wide,
but every loader is keyed by the database URL and its data version, so tests on different copies
never see each other's frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import get_settings
from core.db import get_engine
from tests.databases import BACKENDS, clone_database, drop_database, new_database

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
APP = DASHBOARD / "streamlit_app.py"
PAGES = ("overview", "map", "territory", "drift", "alerts", "optimize", "data_page")
TIMEOUT = 120


def make_sample_db(path: Path | str, sample: str = "southwest", **options: object) -> str:
    """A database (a SQLite file at ``path``, or a database URL) with a sample book, its backfilled
    KPI history and today's snapshot."""
    from jobs.kpis import refresh_kpis
    from jobs.setup import initialise

    url = path if isinstance(path, str) else f"sqlite:///{path}"
    engine = get_engine(url)
    initialise(engine, sample=sample, **options)  # type: ignore[arg-type]
    refresh_kpis(engine)
    add_role_users(url)
    engine.dispose()
    return url


ROLES = ("viewer", "planner", "approver", "admin")
PASSWORD = "a long password"


def role_email(role: str) -> str:
    return f"{role}@example.com"


def add_role_users(url: str) -> None:
    """One local user per role (``viewer@example.com`` ... ``admin@example.com``, password PASSWORD)."""
    from core.auth import SYSTEM_ACTOR, create_user, list_users
    from core.db import upgrade_schema

    engine = get_engine(url)
    upgrade_schema(engine)
    known = {u.email for u in list_users(engine)}
    for role in ROLES:
        if role_email(role) not in known:
            create_user(engine, role_email(role), role=role, password=PASSWORD, actor=SYSTEM_ACTOR)


def signed_in(at: AppTest, url: str, role: str) -> None:
    """Give an AppTest the signed session of ``role``'s user (what the sign-in form leaves behind)."""
    from core.auth import redeem_ticket, start_session
    from dashboard.auth import STATE

    add_role_users(url)  # on a new database, what `territory run` does first: the schema and an admin
    engine = get_engine(url)
    at.session_state[STATE] = redeem_ticket(engine, start_session(engine, role_email(role)))


@pytest.fixture(scope="session", params=BACKENDS)
def sample_db(request, tmp_path_factory) -> Iterator[str]:
    """The southwest sample on each backend (PostgreSQL skipped where no server is configured)."""
    url = new_database(request.param, tmp_path_factory.mktemp("dashboard"), name="southwest")
    yield make_sample_db(url)
    drop_database(url)


@pytest.fixture
def writable_db(sample_db, tmp_path) -> Iterator[str]:
    """A private copy of the sample database, on the same backend."""
    url = clone_database(sample_db, tmp_path)
    yield url
    drop_database(url)


@pytest.fixture
def use_db(monkeypatch) -> Callable[[str], str]:
    """Point the dashboard at a database URL (what TERRITORY_DATABASE_URL does for `streamlit run`)."""

    def point(url: str) -> str:
        monkeypatch.setenv("TERRITORY_DATABASE_URL", url)
        get_settings.cache_clear()
        return url

    return point


@pytest.fixture
def app(use_db) -> Callable[..., AppTest]:
    """Run the whole app (navigation, notices) on a page, optionally with URL query parameters."""

    def run(url: str, page: str = "overview", *, role: str | None = "admin", **query: str) -> AppTest:
        use_db(url)
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        if role is not None:
            signed_in(at, url, role)
        for key, value in query.items():
            at.query_params[key] = value
        at.run()
        if page != "overview":
            at.switch_page(f"app_pages/{page}.py").run()
        return at

    return run


@pytest.fixture
def page(use_db) -> Callable[..., AppTest]:
    """Run one page script on its own (as a deep link opens it), with URL query parameters."""

    def run(url: str, name: str, *, role: str = "admin", **query: str) -> AppTest:
        from core.auth import Actor
        from dashboard.auth import ACTOR

        use_db(url)
        at = AppTest.from_file(str(DASHBOARD / "app_pages" / f"{name}.py"), default_timeout=TIMEOUT)
        at.session_state[ACTOR] = Actor(role_email(role), role)  # what the app's sign-in gate sets
        for key, value in query.items():
            at.query_params[key] = value
        return at.run()

    return run
