"""Engine factory, session scope and schema setup.

Everything SQLite-specific lives here (pragmas); the rest of the code speaks plain SQLAlchemy so
that any database URL (PostgreSQL included) works.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event, exc, inspect
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import Session, create_engine

from core.config import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SUPPORTED_BACKENDS = ("sqlite", "postgresql")


class DatabaseError(Exception):
    """A database that cannot be used as asked, in one line (the URL's password masked)."""


def masked(url: str | URL) -> str:
    """The URL as text with its password hidden: what every message and log line shows."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except exc.ArgumentError:
        return "<not a URL>"
    return parsed.render_as_string(hide_password=True)


def parse_database_url(url: str | URL) -> URL:
    """A checked URL: SQLAlchemy syntax (percent-encoding included), a supported backend, an installed
    driver. Raises DatabaseError naming the problem."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except exc.ArgumentError:
        raise DatabaseError(
            f"{str(url)[:80]!r} is not a database URL: use sqlite:///path/to/file.db or "
            "postgresql+psycopg://user:password@host:5432/database"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise DatabaseError(
            f"{masked(parsed)}: unsupported database {parsed.drivername!r}; "
            "use sqlite:/// or postgresql+psycopg://"
        )
    try:
        parsed.get_dialect()
    except exc.NoSuchModuleError:
        raise DatabaseError(f"{masked(parsed)}: unknown driver {parsed.drivername!r}") from None
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL (None for an in-memory database or another backend)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    database = str(url.database)
    if database.startswith("file:"):  # URI filename: sqlite:///file:path?mode=ro&uri=true
        database = database.removeprefix("file:").split("?")[0]
    return Path(database)


def open_database(url: str | URL, *, create: bool = False) -> Engine:
    """The engine of an existing database. Only ``create`` (what `territory init` and `run` do) may
    make a new SQLite file (and its folder); otherwise a missing file is an error, not a new empty
    database."""
    parsed = parse_database_url(url)
    path = sqlite_path(parsed)
    if path is not None and not create:
        if path.is_dir():
            raise DatabaseError(f"{path}: is a folder, not a database file")
        if not path.parent.is_dir():
            raise DatabaseError(f"{path}: the folder {path.parent} does not exist")
        if not path.exists():
            raise DatabaseError(f"{path}: no such database; `territory init --db ...` creates one")
    return get_engine(parsed.render_as_string(hide_password=False))


def explain_database_error(error: BaseException, url: str | URL | None = None) -> str | None:
    """One line for a database error a user can act on (None when it is not one of those)."""
    if isinstance(error, DatabaseError):
        return str(error)
    if not isinstance(error, exc.DBAPIError):
        return None
    where = masked(url) if url is not None else "the database"
    text = str(error.orig).strip() if error.orig is not None else str(error)
    first = text.splitlines()[0] if text else type(error).__name__
    lowered = text.lower()
    if "file is not a database" in lowered or "file is encrypted" in lowered:
        return f"{where}: not a SQLite database (the file holds something else)"
    if "readonly database" in lowered or "read-only" in lowered:
        return f"{where}: the database is read-only, nothing was written"
    if "unable to open database file" in lowered:
        return f"{where}: cannot open the database file (missing folder or no permission)"
    if "does not exist" in lowered and "database" in lowered:
        return f"{where}: {_without_secrets(first, url)} (create it, or fix the URL)"
    if isinstance(error, exc.OperationalError) and (
        "connection" in lowered or "could not translate host" in lowered or "timeout" in lowered
    ):
        return f"{where}: cannot connect to the database server: {_without_secrets(first, url)}"
    return f"{where}: database error: {_without_secrets(first, url)}"


def _without_secrets(message: str, url: str | URL | None) -> str:
    if url is None:
        return message
    try:
        password = (make_url(url) if isinstance(url, str) else url).password
    except exc.ArgumentError:
        return message
    return message.replace(str(password), "***") if password else message


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache: bulk imports of millions of rows
    cursor.close()


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """One engine per URL; SQLite gets WAL, enforced foreign keys and a busy timeout."""
    url = url or get_settings().database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose work commits as one transaction, or rolls back whole on any error."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser reads % as interpolation: a percent-encoded password must be written as %%
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade_schema(engine: Engine) -> None:
    """Create the schema, or upgrade an existing database in place keeping its data."""
    from alembic import command

    cfg = _alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def schema_is_current(engine: Engine) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def has_table(engine: Engine, name: str) -> bool:
    return inspect(engine).has_table(name)
