"""The import job: validate, then store in one transaction, its run recorded like every job's.

A refused import raises ``ImportValidationError`` listing every problem; nothing is written, and
the run is recorded as ``failed`` with that list (``core.jobruns.record_job``, in a transaction of
its own), so a refused import shows in the job history while the data stays untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine

from core.audit import record
from core.auth import SYSTEM_ACTOR, Actor, require
from core.book import Book
from core.db import session_scope
from core.importing.checks import load_existing_ids
from core.importing.problems import ImportValidationError
from core.importing.store import StoreReport, store_book
from core.importing.validation import validate_book, validate_frames
from core.jobruns import record_job


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote and how long it took."""

    files: tuple[str, ...]
    report: StoreReport
    seconds: float
    job_run_id: int | None = None
    rows_read: Mapping[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        read = ", ".join(f"{rows:,} {kind}" for kind, rows in self.rows_read.items())
        return f"imported {', '.join(self.files)} in {self.seconds:.1f} s; read {read}; {self.report}"


def import_files(
    engine: Engine,
    files: Mapping[str, Path | str],
    *,
    trigger: str = "cli",
    today: date | None = None,
    actor: Actor = SYSTEM_ACTOR,
) -> ImportResult:
    """Validate CRM exports, then write them in one transaction; raise ``ImportValidationError``
    listing every problem (nothing written) when any is found. The run is recorded as a JobRun.

    ``actor`` must be allowed to import (``core.auth``, checked before anything is read); the audit
    event is written in the import's own transaction, so an import exists exactly when its event does.
    """
    require(actor, "import")
    names = tuple(Path(p).name for p in files.values())
    return _run_job(
        engine,
        job="import",
        trigger=trigger,
        message=f"files: {', '.join(names)}",
        work=lambda: _import_files(engine, files, today=today, actor=actor, trigger=trigger),
        files=names,
    )


def _import_files(
    engine: Engine, files: Mapping[str, Path | str], *, today: date | None, actor: Actor, trigger: str
) -> tuple[Book, StoreReport]:
    book, problems = validate_book(files, existing=load_existing_ids(engine), today=today)
    if problems:
        raise ImportValidationError(problems)
    with session_scope(engine) as session:
        report = store_book(session, book, source="import", today=today)
        names = ", ".join(sorted(files))
        record(session, actor.email, "import", f"imported {names}: {report}", _source(trigger))
        return book, report


def _source(trigger: str) -> str:
    """Where an import came from, as the audit trail says it: the page or the CLI."""
    return "page" if trigger == "dashboard" else "cli"


def import_book(engine: Engine, book: Book, *, source: str = "sample", trigger: str = "cli") -> ImportResult:
    """Check an in-memory book with the import's checks, then store it in one transaction.

    Dates are checked against the later of today and the book's ``as_of`` (a sample may describe
    a day ahead of the clock); ``source`` is recorded on the assignment history.
    """
    today = max(date.today(), book.as_of) if book.as_of else date.today()

    def work() -> tuple[Book, StoreReport]:
        typed, problems = validate_frames(book, existing=load_existing_ids(engine), today=today)
        if problems:
            raise ImportValidationError(problems)
        with session_scope(engine) as session:
            return typed, store_book(session, typed, source=source, today=book.as_of or today)

    job = "sample" if source == "sample" else "import"
    return _run_job(engine, job=job, trigger=trigger, message=f"book ({source})", work=work, files=("book",))


def _run_job(
    engine: Engine,
    *,
    job: str,
    trigger: str,
    message: str,
    work: Callable[[], tuple[Book, StoreReport]],
    files: tuple[str, ...],
) -> ImportResult:
    """Run ``work`` inside ``record_job``: a refusal is recorded with its problems, a crash too."""
    started = time.perf_counter()
    with record_job(engine, job, trigger=trigger, message=message, refusals=(ImportValidationError,)) as run:
        book, report = work()
        run.rows_written = report.rows_written
    rows_read = {kind: len(frame) for kind, frame in book.frames().items() if len(frame)}
    return ImportResult(
        files=files,
        report=report,
        seconds=time.perf_counter() - started,
        job_run_id=run.run_id,
        rows_read=rows_read,
    )
