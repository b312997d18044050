"""Recording job runs: what ran, when, how it ended, rows written, the error if any, and progress.

Every job (forecasts, KPIs, alerts, imports, sample loads) records its run through ``record_job``.
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
    """The running job's row: report progress, count the rows written (recorded at the end)."""

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
def record_job(
    engine: Engine,
    job: str,
    *,
    trigger: str = "cli",
    message: str | None = None,
    refusals: tuple[type[BaseException], ...] = (),
) -> Iterator[JobHandle]:
    """Run ``job`` alone and record it (below): one run of a job at a time per database, the leftovers
    of a dead run cleared first (``core.liveness.exclusive_job``)."""
    recorded = _recorded(engine, job, trigger=trigger, message=message, refusals=refusals)
    with exclusive_job(engine, job), recorded as handle:
        yield handle


@contextmanager
def _recorded(
    engine: Engine,
    job: str,
    *,
    trigger: str,
    message: str | None,
    refusals: tuple[type[BaseException], ...],
) -> Iterator[JobHandle]:
    """Wrap a job: a ``running`` row first, then ``success`` with rows written or ``failed``.

    A failed run records its error; the exception goes on to the caller. A crash records its type,
    message and traceback (and is logged). An exception of ``refusals`` is the job's answer, not a
    crash (an import refused for its problems): the run has finished (progress 1) and records the
    exception's own message, which is written for the user.
    """
    with session_scope(engine) as session:
        run = JobRun(job=job, trigger=trigger, message=message)
        session.add(run)
        session.flush()
        run_id = int(run.id or 0)
    handle = JobHandle(engine, run_id)
    try:
        yield handle
    except refusals as refusal:
        _finish(engine, run_id, status="failed", rows=handle.rows_written, error=str(refusal), progress=1.0)
        log.info("job %s refused: %s", job, str(refusal).splitlines()[0] if str(refusal) else "")
        raise
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
    _finish(engine, run_id, status="success", rows=handle.rows_written, error=None, progress=1.0)


def _finish(
    engine: Engine, run_id: int, *, status: str, rows: int, error: str | None, progress: float | None = None
) -> None:
    values: dict = {"status": status, "finished_at": utcnow(), "rows_written": rows, "error": error}
    if progress is not None:
        values["progress"] = progress
    with engine.begin() as connection:
        connection.execute(update(JobRun).where(col(JobRun.id) == run_id).values(**values))
