"""Crash leftovers and process lifetimes, with real processes killed for real.

- a forecast job killed by ``kill -9``: its worker processes end with it, and the next start marks
  the run abandoned and removes the partial rows of its unfinished forecast run;
- SIGTERM and SIGINT on `territory run` stop the scheduler and Streamlit (no orphans);
- two schedulers against one database: one runs the jobs, the other says it stands by.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psutil
import pytest
from sqlalchemy import func, insert, select

from core.db import get_engine
from core.liveness import ABANDONED, LockBusy, database_lock, sweep_dead_runs
from core.models import Account, AccountForecast, ForecastRun, JobRun
from tests.databases import BACKENDS, drop_database, new_database

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 11, 23)


@pytest.fixture(scope="module", params=BACKENDS)
def book(request, tmp_path_factory) -> Iterator[str]:
    from jobs.setup import initialise

    url = new_database(request.param, tmp_path_factory.mktemp("liveness"), name="liveness")
    engine = get_engine(url)
    initialise(engine, sample="custom", reps=3, accounts=24, states=["AZ"], as_of=AS_OF, backfill=False)
    engine.dispose()
    yield url
    drop_database(url)


def territory(*args: str, **options: object) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERRITORY_FORECAST_WORKERS": "2"}
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-m", "jobs", *args], env=env, cwd=ROOT, text=True, **options
    )


def wait_for(condition, timeout: float = 120.0, every: float = 0.3):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {condition}")


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # ended (or a zombie) meanwhile
        return ""


def all_gone(processes: list[psutil.Process], timeout: float = 30.0) -> bool:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def count(engine, table, *where) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table).where(*where)).scalar() or 0)


@pytest.mark.slow
def test_kill_9_of_a_forecast_job_leaves_no_workers_and_is_abandoned_on_the_next_start(book):
    engine = get_engine(book)
    job = territory("refresh", "forecasts", "--full", "--db", book, "--as-of", str(AS_OF))
    workers = wait_for(lambda: [p for p in descendants(job.pid) if "spawn_main" in command_line(p)])
    assert count(engine, JobRun, JobRun.job == "forecasts", JobRun.status == "running") == 1
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert all_gone(workers), "forecast workers outlived their parent"
    assert count(engine, JobRun, JobRun.job == "forecasts", JobRun.status == "running") == 1  # left over

    assert sweep_dead_runs(engine) == 1  # what the scheduler and `territory run` do at start-up
    assert count(engine, JobRun, JobRun.job == "forecasts", JobRun.status == "running") == 0
    assert count(engine, JobRun, JobRun.job == "forecasts", JobRun.status == ABANDONED) == 1
    assert count(engine, ForecastRun, ForecastRun.status == "running") == 0


def test_partial_rows_of_an_unfinished_forecast_run_are_removed(engine):
    """A forecast run whose process died midway (rows written, never made current) loses its rows;
    a run that is alive (its job's lock held) is left alone."""
    from jobs.setup import initialise

    initialise(engine, sample="custom", reps=2, accounts=6, states=["AZ"], as_of=AS_OF, backfill=False)
    with engine.begin() as connection:
        connection.execute(insert(JobRun).values(job="forecasts", status="running", trigger="cli"))
        run_id = connection.execute(
            insert(ForecastRun).values(as_of=AS_OF, status="running", is_current=False)
        ).inserted_primary_key[0]
        account_id = connection.execute(select(func.min(Account.id))).scalar()
        connection.execute(
            insert(AccountForecast),
            [
                {
                    "run_id": run_id,
                    "account_id": account_id,
                    "month": date(2026, 12, 1),
                    "yhat": 1.0,
                    "yhat_lower": 0.5,
                    "yhat_upper": 1.5,
                }
            ],
        )
    with database_lock(engine, "job:forecasts"):  # alive: another process runs it
        with pytest.raises(LockBusy):
            with database_lock(engine, "job:forecasts", wait=False):
                pass
    assert sweep_dead_runs(engine) == 1
    assert count(engine, AccountForecast, AccountForecast.run_id == run_id) == 0
    assert count(engine, ForecastRun, ForecastRun.id == run_id, ForecastRun.status == ABANDONED) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_on_territory_run_stops_the_scheduler_and_streamlit(book, stop):
    port = free_port()
    run = territory(
        "run", "--db", book, "--port", str(port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )

    def serving() -> list[psutil.Process] | None:
        children = descendants(run.pid)
        names = " ".join(command_line(p) for p in children)
        return children if "streamlit" in names and " scheduler" in names else None

    children = wait_for(serving, timeout=600)
    run.send_signal(stop)
    assert run.wait(timeout=60) == 0
    assert all_gone(children), "the scheduler or Streamlit outlived `territory run`"


@pytest.mark.slow
def test_a_second_scheduler_stands_by(book):
    first = territory("scheduler", "--db", book, stderr=subprocess.PIPE)
    try:
        engine = get_engine(book)
        wait_for(lambda: _held(engine, "scheduler"))
        second = territory("scheduler", "--db", book, stderr=subprocess.PIPE)
        try:
            line = read_until(second, "standing by")
            assert "another scheduler is running the jobs" in line
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=30) == 0
            assert "scheduler started" in read_until(second, "scheduler started")
        finally:
            second.terminate()
            second.wait(timeout=30)
    finally:
        first.terminate()
        first.wait(timeout=30)


def read_until(process: subprocess.Popen, text: str) -> str:
    """The first line of the process's stderr containing ``text`` (fails at end of output)."""
    for line in process.stderr:  # type: ignore[union-attr]
        if text in line:
            return line
    raise AssertionError(f"the process ended without saying {text!r}")


def _held(engine, name: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        with database_lock(engine, name, wait=False):
            return False
    except LockBusy:
        return True
