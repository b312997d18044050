"""Bad input to the `territory` command: one line naming the culprit, a non-zero exit, no
traceback, nothing written (every table's row count unchanged, no database file created)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel
from typer.testing import CliRunner

from core.auth import SYSTEM_ACTOR, create_user
from core.config import get_settings
from core.db import get_engine
from jobs.cli import app
from tests.databases import drop_database, new_database, postgres_server

runner = CliRunner()
ADMIN = "admin@example.com"
SECRET = "s%40cret"  # the password of the URLs below, percent-encoded ("s@cret")
GOOD_SCENARIO = 'name = "ok"\ntime_limit_s = 5\n[constraints.churn]\nmax_moves = 3\n'
UNREACHABLE = f"postgresql+psycopg://territory:{SECRET}@127.0.0.1:1/territory"


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]  # {db} is the good database, {dir} a scratch folder
    culprit: str  # the message names this
    files: dict[str, str] | None = None  # scratch files to write first
    needs_server: bool = False


def scenario(text: str) -> dict[str, str]:
    return {"s.toml": text}


CASES: dict[str, Case] = {
    # a file that is not a database
    "status-not-a-db": Case(
        ("status", "--db", "sqlite:///{dir}/junk.db"), "not a SQLite database", {"junk.db": "hello"}
    ),
    "refresh-not-a-db": Case(
        ("refresh", "kpis", "--db", "sqlite:///{dir}/junk.db"), "junk.db", {"junk.db": "hello"}
    ),
    "kpis-not-a-db": Case(
        ("kpis", "--db", "sqlite:///{dir}/junk.db"), "not a SQLite database", {"junk.db": "x" * 200}
    ),
    "init-not-a-db": Case(
        ("init", "--db", "sqlite:///{dir}/junk.db"), "not a SQLite database", {"junk.db": "hello"}
    ),
    "import-not-a-db": Case(
        ("import", "--db", "sqlite:///{dir}/junk.db", "--reps", "{dir}/reps.csv"),
        "not a SQLite database",
        {"junk.db": "hello", "reps.csv": "rep_id,name\nR1,Ann\n"},
    ),
    "optimize-not-a-db": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "sqlite:///{dir}/junk.db"),
        "not a SQLite database",
        {"junk.db": "hello", **scenario(GOOD_SCENARIO)},
    ),
    # a missing file, a folder that does not exist: read commands never create a database
    "status-missing-file": Case(("status", "--db", "sqlite:///{dir}/typo.db"), "typo.db: no such database"),
    "refresh-missing-file": Case(("refresh", "kpis", "--db", "sqlite:///{dir}/typo.db"), "typo.db"),
    "accounts-missing-file": Case(("accounts", "--csv", "-", "--db", "sqlite:///{dir}/typo.db"), "typo.db"),
    "plans-missing-file": Case(("plans", "list", "--db", "sqlite:///{dir}/typo.db"), "typo.db"),
    "status-missing-folder": Case(
        ("status", "--db", "sqlite:///{dir}/nowhere/x.db"), "nowhere does not exist"
    ),
    "scheduler-missing-folder": Case(("scheduler", "--db", "sqlite:///{dir}/nowhere/x.db"), "nowhere"),
    "status-folder": Case(("status", "--db", "sqlite:///{dir}"), "is a folder"),
    # read-only database on writes
    "refresh-read-only": Case(
        ("refresh", "kpis", "--db", "sqlite:///file:{dbfile}?mode=ro&uri=true"), "read-only"
    ),
    "alerts-set-read-only": Case(
        (
            "alerts",
            "set",
            "coverage_low",
            "--threshold",
            "0.5",
            "--db",
            "sqlite:///file:{dbfile}?mode=ro&uri=true",
        ),
        "read-only",
    ),
    # URLs: not a URL, unsupported dialect, unreachable server, missing database
    "status-not-a-url": Case(("status", "--db", "data/territory.db"), "is not a database URL"),
    "status-unsupported": Case(("status", "--db", "oracle://u:p@host/db"), "unsupported database 'oracle'"),
    "status-unknown-driver": Case(("status", "--db", "sqlite+nosuch:///x.db"), "sqlite+nosuch"),
    "status-unreachable": Case(("status", "--db", UNREACHABLE), "cannot connect"),
    "init-unreachable": Case(("init", "--db", UNREACHABLE), "cannot connect"),
    "refresh-unreachable": Case(("refresh", "kpis", "--db", UNREACHABLE), "127.0.0.1:1"),
    "status-missing-database": Case(("status", "--db", "{missing_pg}"), "does not exist", needs_server=True),
    # dates out of range
    "refresh-as-of-year-1": Case(("refresh", "kpis", "--as-of", "0001-01-01", "--db", "{db}"), "--as-of"),
    "refresh-as-of-not-a-date": Case(("refresh", "kpis", "--as-of", "2026-13-01", "--db", "{db}"), "--as-of"),
    "kpis-as-of-far-future": Case(("kpis", "--as-of", "9999-12-31", "--db", "{db}"), "--as-of"),
    "refresh-unknown-target": Case(("refresh", "everything", "--db", "{db}"), "everything"),
    # scenarios against the book
    "scope-unknown-territory": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}", "--save"),
        "scope.territories: unknown territory NOPE-1",
        scenario('[scope]\nkind = "territories"\nterritories = ["NOPE-1"]\n'),
    ),
    "what-if-unknown-territory": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}", "--save"),
        "what_if.vacated: unknown territory GONE",
        scenario('[what_if]\nvacated = ["GONE"]\n'),
    ),
    "scope-unknown-region": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}"),
        "scope.region",
        scenario('[scope]\nkind = "region"\nregion = "Atlantis"\n'),
    ),
    "what-if-added-existing-territory": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}"),
        "what_if.added",
        scenario('[[what_if.added]]\nterritory = "{territory}"\nhome_lat = 33.4\nhome_lon = -112.0\n'),
    ),
    # absurd numbers
    "potential-max-1e300": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}", "--save"),
        "constraints.potential.max",
        scenario("[constraints.potential]\nmax = 1e300\n"),
    ),
    "weight-1e12": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}"),
        "objective.potential_balance",
        scenario("[objective]\npotential_balance = 1e12\n"),
    ),
    "weight-nan": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}"),
        "objective.travel",
        scenario("[objective]\ntravel = nan\n"),
    ),
    "weight-negative": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}"),
        "objective.continuity",
        scenario("[objective]\ncontinuity = -1\n"),
    ),
    "scenario-time-limit-zero": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}"),
        "time_limit_s",
        scenario("time_limit_s = 0\n"),
    ),
    # options
    "time-limit-negative": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--time-limit", "-1", "--db", "{db}", "--save"),
        "--time-limit",
        scenario(GOOD_SCENARIO),
    ),
    "time-limit-zero": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--time-limit", "0", "--db", "{db}", "--save"),
        "--time-limit",
        scenario(GOOD_SCENARIO),
    ),
    "frontier-letters": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--frontier", "a,b", "--db", "{db}", "--save"),
        "--frontier",
        scenario(GOOD_SCENARIO),
    ),
    "frontier-negative": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--frontier", "10,-5", "--db", "{db}"),
        "--frontier",
        scenario(GOOD_SCENARIO),
    ),
    # scenario files
    "scenario-empty": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}", "--save"),
        "s.toml: the scenario file is empty",
        scenario(""),
    ),
    "scenario-blank-lines": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}", "--save"), "is empty", scenario("\n  \n")
    ),
    "scenario-missing": Case(("optimize", "--scenario", "{dir}/nope.toml", "--db", "{db}"), "nope.toml"),
    "scenario-bad-toml": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}"), "s.toml", scenario("[scope\nkind=")
    ),
    "scenario-unknown-field": Case(
        ("optimize", "--scenario", "{dir}/s.toml", "--db", "{db}"),
        "objective.fairness",
        scenario("[objective]\nfairness = 1\n"),
    ),
}


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Iterator[str]:
    url = new_database("sqlite", tmp_path_factory.mktemp("errors"), name="errors")
    result = runner.invoke(
        app, ["init", "--db", url, "--sample", "custom", "--reps", "3", "--accounts", "24", "--states", "AZ"]
    )
    assert result.exit_code == 0, result.output
    create_user(get_engine(url), ADMIN, role="admin", password=None, actor=SYSTEM_ACTOR)
    yield url
    drop_database(url)


def row_counts(url: str) -> dict[str, int]:
    engine = get_engine(url)
    with engine.connect() as connection:
        return {
            name: int(connection.execute(select(func.count()).select_from(table)).scalar() or 0)
            for name, table in SQLModel.metadata.tables.items()
        }


@pytest.fixture
def missing_pg() -> Iterator[str]:
    server = postgres_server()
    if server is None:
        pytest.skip("needs a PostgreSQL server (TERRITORY_TEST_POSTGRES_URL)")
    yield server.set(database="no_such_database_here", password="s@cret").render_as_string(
        hide_password=False
    )


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_one_line_and_changes_nothing(name, book, tmp_path, request, monkeypatch):
    case = CASES[name]
    monkeypatch.setenv("TERRITORY_USER", ADMIN)  # an admin acts: what is refused is the input
    get_settings.cache_clear()
    territory = row_territory(book)
    values = {
        "db": book,
        "dir": str(tmp_path),
        "dbfile": book.removeprefix("sqlite:///"),
        "missing_pg": request.getfixturevalue("missing_pg") if case.needs_server else "",
    }
    for file, text in (case.files or {}).items():
        (tmp_path / file).write_text(text.replace("{territory}", territory))
    before = row_counts(book)
    listing = sorted(p.name for p in tmp_path.iterdir())

    result = runner.invoke(app, [arg.format(**values) for arg in case.args])

    assert result.exit_code != 0, result.output
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert case.culprit in lines[0], lines[0]
    assert "s@cret" not in result.output and SECRET not in result.output
    assert row_counts(book) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no database file created


def row_territory(url: str) -> str:
    from core.queries import load_territories

    return str(load_territories(engine=get_engine(url))["external_id"].iloc[0])


def test_debug_shows_the_traceback(tmp_path):
    result = runner.invoke(app, ["--debug", "status", "--db", f"sqlite:///{tmp_path}/typo.db"])
    assert result.exit_code != 0 and result.exception is not None
    assert not (tmp_path / "typo.db").exists()


def test_a_percent_encoded_password_works_everywhere(tmp_path):
    """status, init and import on a URL whose password is percent-encoded (p@ss -> p%40ss)."""
    server = postgres_server()
    if server is None:
        pytest.skip("needs a PostgreSQL server (TERRITORY_TEST_POSTGRES_URL)")
    url = new_database("postgresql", tmp_path)
    try:
        with_password = (
            url.replace("@", ":p%40ss@", 1)
            if "://" in url and ":" not in url.split("://")[1].split("@")[0]
            else url
        )
        assert runner.invoke(app, ["init", "--db", with_password, "--sample", "none"]).exit_code == 0
        create_user(get_engine(url), ADMIN, role="admin", password=None, actor=SYSTEM_ACTOR)
        for args in (
            ["init", "--db", with_password, "--sample", "none"],
            ["status", "--db", with_password],
            [
                "import",
                "--as",
                ADMIN,
                "--db",
                with_password,
                "--reps",
                str(Path(__file__).parents[1] / "fixtures/import/ours/reps.csv"),
            ],
        ):
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
            assert "p%40ss" not in result.output and "p@ss" not in result.output
    finally:
        drop_database(url)


def test_settings_url_errors_never_show_the_password(monkeypatch):
    monkeypatch.setenv("TERRITORY_DATABASE_URL", "oracle://scott:tiger%21@db/x")
    from core.config import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, ["status"])
    assert result.exit_code != 0
    assert "tiger" not in result.output and "TERRITORY_DATABASE_URL" in result.output
    assert os.environ["TERRITORY_DATABASE_URL"]
