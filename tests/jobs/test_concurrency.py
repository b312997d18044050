"""Jobs started together on one database, in real processes: none fails, on SQLite and PostgreSQL.

Each try starts two processes that import everything, meet at a barrier and then run the job
function at the same moment (as two cron entries or two dashboard hosts would). The number of
tries is ``TERRITORY_TEST_CONCURRENCY_TRIES`` (default 3; the issue's check is 30).
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import get_engine
from core.models import ForecastRun, JobRun, TeamKpi
from tests.databases import BACKENDS, drop_database, new_database
from tests.processes import clean_main

TRIES = int(os.environ.get("TERRITORY_TEST_CONCURRENCY_TRIES", "3"))
AS_OF = date(2026, 11, 23)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import" / "ours"


def run_job(url: str, job: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    """In a child process: wait for the other one, then run ``job`` and report how it ended."""
    try:
        from core.config import get_settings

        os.environ["TERRITORY_FORECAST_WORKERS"] = "1"
        get_settings.cache_clear()
        engine = get_engine(url)
        work = _job(job)
        barrier.wait(timeout=120)
        work(engine)
        results.put((job, "ok"))
    except BaseException:  # noqa: B036 - reported to the parent, which fails the test
        results.put((job, traceback.format_exc()))


def _job(job: str):  # type: ignore[no-untyped-def]
    if job == "kpis":
        from jobs.kpis import refresh_kpis

        return lambda engine: refresh_kpis(engine, as_of=AS_OF)
    if job == "forecasts":
        from jobs.forecasts import refresh_forecasts

        return lambda engine: refresh_forecasts(engine, as_of=AS_OF, full=True)
    if job == "alerts":
        from jobs.alerts import refresh_alerts

        return refresh_alerts
    from core.importing import import_files

    files = {kind: FIXTURES / f"{kind}.csv" for kind in ("reps", "accounts", "revenue")}
    return lambda engine: import_files(engine, files, today=AS_OF)


@pytest.fixture(scope="module", params=BACKENDS)
def book(request, tmp_path_factory) -> Iterator[str]:
    """A small sample book (few accounts, so two forecast runs are quick)."""
    from jobs.setup import initialise

    url = new_database(request.param, tmp_path_factory.mktemp("together"), name="together")
    engine = get_engine(url)
    initialise(engine, sample="custom", reps=3, accounts=24, states=["AZ"], as_of=AS_OF, backfill=False)
    engine.dispose()
    yield url
    drop_database(url)


def run_together(url: str, jobs: tuple[str, ...]) -> list[str]:
    """Start one process per job, released together; returns the failures (tracebacks)."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(jobs)), context.Queue()
    processes = [context.Process(target=run_job, args=(url, job, barrier, results)) for job in jobs]
    with clean_main():
        for process in processes:
            process.start()
    outcomes = [_result(results, processes) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return [f"{job}: {outcome}" for job, outcome in outcomes if outcome != "ok"]


def _result(results, processes) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The next child's report; a child that died without one is a failure, not a ten-minute wait."""
    import queue

    for _ in range(600):
        try:
            return results.get(timeout=1)
        except queue.Empty:
            dead = [p for p in processes if p.exitcode not in (None, 0)]
            if dead:
                return ("?", f"a process died without a report (exit code {dead[0].exitcode})")
    return ("?", "no report within 600 s")


@pytest.mark.slow
@pytest.mark.parametrize(
    "jobs",
    [("kpis", "kpis"), ("forecasts", "forecasts"), ("alerts", "alerts"), ("import", "kpis", "alerts")],
    ids=["two-kpi-refreshes", "two-forecast-refreshes", "two-alert-runs", "import-kpis-alerts"],
)
def test_jobs_started_together_all_succeed(book, jobs):
    for attempt in range(TRIES):
        failures = run_together(book, jobs)
        assert not failures, f"try {attempt + 1} of {TRIES}:\n" + "\n".join(failures)
    engine = get_engine(book)
    with engine.connect() as connection:
        assert (
            connection.execute(
                select(func.count()).select_from(JobRun).where(JobRun.status != "success")
            ).scalar()
            == 0
        )
        assert connection.execute(
            select(func.count()).select_from(ForecastRun).where(ForecastRun.is_current)
        ).scalar() in (0, 1)
        assert connection.execute(
            select(func.count()).select_from(TeamKpi).where(TeamKpi.snapshot_date == AS_OF)
        ).scalar() in (0, 1)
