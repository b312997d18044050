"""Shared fixtures: a real database per test on SQLite and on PostgreSQL, settings isolated from
the developer's environment.

``db_url`` and ``engine`` are parametrized over both backends, so every test that touches the
database runs twice; the PostgreSQL runs are skipped when no server is configured
(``TERRITORY_TEST_POSTGRES_URL``, which scripts/test.sh always sets).
"""

from __future__ import annotations

import os
import sys

import pytest

from core.config import get_settings
from core.db import get_engine, upgrade_schema
from tests.databases import BACKENDS, drop_database, new_database

# Tests never read a developer's .env or TERRITORY_* variables (TERRITORY_TEST_* configure the tests
# themselves and are no settings; xdist workers inherit this environment).
for _key in [k for k in os.environ if k.startswith("TERRITORY_") and not k.startswith("TERRITORY_TEST_")]:
    del os.environ[_key]


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _restore_main():
    """Give ``__main__`` back after each test: a Streamlit AppTest leaves its page script there, and a
    process a later test spawns (a forecast pool, a race) would import and run that page instead."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def db_url(backend, tmp_path):
    """An empty database (no schema yet) on each backend."""
    url = new_database(backend, tmp_path)
    yield url
    drop_database(url)


@pytest.fixture
def engine(db_url):
    engine = get_engine(db_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()
