"""Which job runs are alive: one database lock per job, and runs left behind by dead processes.

A job takes its lock before it records a ``running`` row and keeps it until it has finished, so
two KPI refreshes (or forecast runs, alert runs, imports) started together run one after the
other instead of colliding, whether they come from two shells, two schedulers or two dashboard
hosts. The lock belongs to the process's connection (PostgreSQL advisory lock) or open file
(SQLite: ``flock`` on a file next to the database), so the operating system or the server frees
it when the process dies, even by ``kill -9``. Hence the liveness rule: whoever holds a job's lock
knows every other ``running`` row of that job is left over from a dead process, and marks it
``abandoned`` (a forecast run it leaves unfinished loses its partial rows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import hashlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from core.db import sqlite_path
from core.models import AccountForecast, AccountPotential, ForecastRun, JobRun, utcnow

log = logging.getLogger(__name__)
ABANDONED = "abandoned"
ABANDONED_ERROR = "abandoned: the process running this job ended before it finished"


class LockBusy(RuntimeError):
    """Another process holds the lock and the caller asked not to wait."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks."""
    digest = hashlib.blake2b(f"territory-health:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def database_lock(engine: Engine, name: str, *, wait: bool = True) -> Iterator[None]:
    """Hold the database-wide lock ``name`` for the block (raises LockBusy if ``wait`` is False
    and another process holds it). Not re-entrant: do not nest the same name."""
    if engine.url.get_backend_name() == "postgresql":
        with _advisory_lock(engine, name, wait=wait):
            yield
    elif (path := sqlite_path(engine.url)) is not None:
        with _file_lock(path, name, wait=wait):
            yield
    else:
        yield  # an in-memory database lives in one process: nothing to share


@contextmanager
def _advisory_lock(engine: Engine, name: str, *, wait: bool) -> Iterator[None]:
    key = lock_key(name)
    connection = engine.connect()
    try:
        if wait:
            connection.execute(select(func.pg_advisory_lock(key)))
        elif not connection.execute(select(func.pg_try_advisory_lock(key))).scalar():
            raise LockBusy(name)
        connection.commit()  # a session lock: it outlives the transaction, not the connection
        try:
            yield
        finally:
            connection.execute(select(func.pg_advisory_unlock(key)))
            connection.commit()
    finally:
        connection.close()


@contextmanager
def _file_lock(database: Path, name: str, *, wait: bool) -> Iterator[None]:
    path = database.with_name(f"{database.name}.{name}.lock")
    handle: IO[str] = path.open("a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockBusy(name) from None
        yield
    finally:
        handle.close()  # closing the file releases the lock


@contextmanager
def exclusive_job(engine: Engine, job: str) -> Iterator[None]:
    """Run ``job`` alone: wait for another run of it to finish, then clear leftovers of dead runs."""
    with database_lock(engine, f"job:{job}"):
        abandon_dead_runs(engine, job)
        yield


def abandon_dead_runs(engine: Engine, job: str) -> int:
    """Mark ``running`` rows of ``job`` abandoned; the caller holds the job's lock, so none is alive."""
    with engine.begin() as connection:
        count = connection.execute(
            update(JobRun)
            .where(col(JobRun.job) == job, col(JobRun.status) == "running")
            .values(status=ABANDONED, finished_at=utcnow(), error=ABANDONED_ERROR)
        ).rowcount
        if job == "forecasts":
            _remove_unfinished_forecast_runs(connection)
    if count:
        log.warning("%d %s run(s) had died without finishing: marked abandoned", count, job)
    return int(count or 0)


def _remove_unfinished_forecast_runs(connection: Connection) -> None:
    """A forecast run still ``running`` with its job dead: delete its partial rows."""
    unfinished = select(col(ForecastRun.id)).where(
        col(ForecastRun.status) == "running",
        col(ForecastRun.is_current) == False,  # noqa: E712
    )
    connection.execute(delete(AccountForecast).where(col(AccountForecast.run_id).in_(unfinished)))
    connection.execute(delete(AccountPotential).where(col(AccountPotential.run_id).in_(unfinished)))
    connection.execute(
        update(ForecastRun)
        .where(col(ForecastRun.id).in_(unfinished))
        .values(status=ABANDONED, finished_at=utcnow(), error=ABANDONED_ERROR)
    )


def sweep_dead_runs(engine: Engine) -> int:
    """At start-up: mark abandoned every ``running`` job whose lock nobody holds (its process died)."""
    with engine.connect() as connection:
        jobs = connection.execute(
            select(col(JobRun.job)).where(col(JobRun.status) == "running").distinct()
        ).scalars()
        names = sorted(set(jobs))
    swept = 0
    for job in names:
        try:
            with database_lock(engine, f"job:{job}", wait=False):
                swept += abandon_dead_runs(engine, job)
        except LockBusy:
            continue  # alive: another process is running it right now
    return swept


@contextmanager
def single_instance(
    engine: Engine, name: str, *, poll_s: float = 5.0, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold lock ``name`` for the block; while another process holds it, stand by (calling
    ``on_wait`` once) and take over when it goes."""
    with ExitStack() as stack:
        told = False
        while True:
            try:
                stack.enter_context(database_lock(engine, name, wait=False))
                break
            except LockBusy:
                if not told and on_wait is not None:
                    on_wait()
                told = True
                time.sleep(poll_s)
        yield


PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (worker processes and the
    children of `territory run` must not outlive it, even after ``kill -9``). No-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl: best effort
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os.kill(os.getpid(), sig)
