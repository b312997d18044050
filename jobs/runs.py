"""Recording job runs: what ran, when, how it ended, rows written, the error if any, and progress.

Each update is its own short transaction, so the dashboard sees progress while a job runs and a
crash still leaves a ``failed`` row with the error.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.db import session_scope
from core.liveness import exclusive_job
from core.models import JobRun, utcnow

log = logging.getLogger(__name__)


@dataclass
class JobHandle:
    engine: Engine
    run_id: int
    rows_written: int = 0

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Record progress (0..1) where the dashboard can read it."""
        values: dict = {"progress": max(0.0, min(1.0, fraction))}
        if message is not None:
            values["message"] = message[:500]
        with self.engine.begin() as connection:
            connection.execute(update(JobRun).where(col(JobRun.id) == self.run_id).values(**values))


@contextmanager
def record_job(engine: Engine, job: str, *, trigger: str = "cli") -> Iterator[JobHandle]:
    """Run ``job`` alone (core.liveness: one at a time per database, dead runs marked abandoned)."""
    with exclusive_job(engine, job), _record_job(engine, job, trigger=trigger) as handle:
        yield handle


@contextmanager
def _record_job(engine: Engine, job: str, *, trigger: str = "cli") -> Iterator[JobHandle]:
    """Wrap a job: a ``running`` row first, then ``success`` with rows written or ``failed``.

    A failed run records its error; the exception goes on to the caller.
    """
    with session_scope(engine) as session:
        run = JobRun(job=job, trigger=trigger)
        session.add(run)
        session.flush()
        run_id = int(run.id or 0)
    handle = JobHandle(engine, run_id)
    try:
        yield handle
    except BaseException as error:
        _finish(
            engine,
            run_id,
            status="failed",
            rows=handle.rows_written,
            error=f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=8)}",
        )
        log.exception("job %s failed", job)
        raise
    _finish(engine, run_id, status="success", rows=handle.rows_written, error=None)


def _finish(engine: Engine, run_id: int, *, status: str, rows: int, error: str | None) -> None:
    values = {"status": status, "finished_at": utcnow(), "rows_written": rows, "error": error}
    if status == "success":
        values["progress"] = 1.0
    with engine.begin() as connection:
        connection.execute(update(JobRun).where(col(JobRun.id) == run_id).values(**values))
