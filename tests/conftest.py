"""Shared fixtures: a real SQLite file per test, settings isolated from the developer's environment."""

from __future__ import annotations

import os

import pytest

from core.config import get_settings
from core.db import get_engine, upgrade_schema

# Tests never read a developer's .env or TERRITORY_* variables.
for _key in [k for k in os.environ if k.startswith("TERRITORY_")]:
    del os.environ[_key]


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'territory.db'}"


@pytest.fixture
def engine(db_url):
    engine = get_engine(db_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()
