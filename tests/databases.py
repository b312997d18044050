"""Throwaway databases for tests, on SQLite (a file in tmp_path) or PostgreSQL (a fresh database).

PostgreSQL needs a server: ``TERRITORY_TEST_POSTGRES_URL`` names a database on it that the test
user may connect to and create databases from (scripts/test.sh starts a throwaway cluster and sets
it). Each test gets its own database, created from ``template0`` and dropped (connections forced
off) afterwards, so tests are as isolated as with one SQLite file each and run in parallel.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from core.db import get_engine

BACKENDS = ("sqlite", "postgresql")
POSTGRES_ENV = "TERRITORY_TEST_POSTGRES_URL"
_SERVER_URL = os.environ.get(POSTGRES_ENV)


def postgres_server() -> URL | None:
    """The URL of the test server's maintenance database, or None when no server is configured."""
    return make_url(_SERVER_URL) if _SERVER_URL else None


def require_backend(backend: str) -> None:
    """Skip the calling test when its backend is not available here (CI always has both)."""
    if backend == "postgresql" and postgres_server() is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (scripts/test.sh sets it)")


def _admin(server: URL):  # type: ignore[no-untyped-def]
    return create_engine(server, isolation_level="AUTOCOMMIT", poolclass=None)


def new_database(backend: str, folder: Path, *, name: str = "territory") -> str:
    """An empty database on ``backend``; returns its SQLAlchemy URL as a string."""
    require_backend(backend)
    if backend == "sqlite":
        return f"sqlite:///{folder / f'{name}.db'}"
    server = postgres_server()
    assert server is not None
    database = f"t_{name}_{uuid.uuid4().hex[:12]}".lower()
    admin = _admin(server)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}" TEMPLATE template0'))
    finally:
        admin.dispose()
    return server.set(database=database).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database made by ``new_database`` (a SQLite file goes with its tmp_path)."""
    parsed = make_url(url)
    get_engine(url).dispose()
    if parsed.get_backend_name() != "postgresql":
        return
    server = postgres_server()
    assert server is not None
    admin = _admin(server)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def clone_database(url: str, folder: Path, *, name: str = "copy") -> str:
    """A private copy of a database (SQLite's backup API copies the WAL too; PostgreSQL clones it as
    a template, so nothing may be connected to the source)."""
    import sqlite3

    parsed = make_url(url)
    get_engine(url).dispose()
    if parsed.get_backend_name() == "sqlite":
        target = folder / f"{name}.db"
        with sqlite3.connect(str(parsed.database)) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        return f"sqlite:///{target}"
    server = postgres_server()
    assert server is not None
    database = f"t_{name}_{uuid.uuid4().hex[:12]}".lower()
    admin = _admin(server)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}" TEMPLATE "{parsed.database}"'))
    finally:
        admin.dispose()
    return parsed.set(database=database).render_as_string(hide_password=False)
