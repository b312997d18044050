"""Job runs: every job, the import included, is recorded by ``core.jobruns.record_job``.

A run is a ``running`` row first, then ``success`` (rows written, progress 1) or ``failed`` with
its error: a crash records its type, message and traceback; a refusal (an import with problems)
records the message written for the user and counts as finished (progress 1).
"""

from __future__ import annotations

from contextlib import nullcontext

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

import core.importing.run
import core.importing.store
import core.jobruns
import jobs.alerts
import jobs.forecasts
import jobs.kpis
from core.importing import ImportValidationError, import_book, import_files
from core.jobruns import record_job
from core.models import JobRun
from core.sample import generate_book
from jobs.kpis import refresh_kpis
from tests.core.test_importing import TODAY, copy_fixtures, db_checksum, set_cell

RECORDED = (
    "job",
    "trigger",
    "status",
    "started_at",
    "finished_at",
    "rows_written",
    "progress",
    "message",
    "error",
)


def _runs(engine: Engine) -> list[JobRun]:
    with engine.connect() as connection:
        return [JobRun(**row._mapping) for row in connection.execute(select(JobRun).order_by(JobRun.id))]


def _filled(run: JobRun) -> set[str]:
    """The fields of a run that hold a value (what the run recorded)."""
    return {name for name in RECORDED if getattr(run, name) not in (None, 0, 0.0)}


@pytest.fixture
def finishes(monkeypatch) -> list[tuple[int, str]]:
    """Every run finished by ``core.jobruns`` (run id, status), whichever job it was."""
    seen: list[tuple[int, str]] = []
    finish = core.jobruns._finish

    def spy(engine: Engine, run_id: int, **values: object) -> None:
        seen.append((run_id, str(values["status"])))
        finish(engine, run_id, **values)

    monkeypatch.setattr(core.jobruns, "_finish", spy)
    return seen


def test_every_job_records_through_the_one_record_job():
    for job in (jobs.kpis, jobs.forecasts, jobs.alerts):
        assert job.record_job is record_job
    assert core.importing.run.record_job is record_job


def test_an_import_and_a_kpi_run_are_recorded_alike(engine, tmp_path, finishes):
    result = import_files(engine, copy_fixtures(tmp_path / "files"), trigger="dashboard", today=TODAY)
    written = refresh_kpis(engine, as_of=TODAY, trigger="dashboard")
    imported, kpis = _runs(engine)
    assert finishes == [(imported.id, "success"), (kpis.id, "success")]
    assert (imported.job, imported.status, imported.trigger) == ("import", "success", "dashboard")
    assert (kpis.job, kpis.status, kpis.trigger) == ("kpis", "success", "dashboard")
    assert imported.rows_written == result.report.rows_written and kpis.rows_written == written
    assert imported.progress == kpis.progress == 1.0
    assert _filled(imported) == _filled(kpis) == set(RECORDED) - {"error"}
    assert result.job_run_id == imported.id
    assert imported.message.startswith("files: ")


def test_a_refused_import_leaves_a_failed_run_with_its_problems_and_writes_nothing(
    engine, tmp_path, finishes
):
    files = copy_fixtures(tmp_path / "files")
    import_files(engine, files, today=TODAY)
    before = db_checksum(engine)
    set_cell("revenue", 2, "amount", "lots")(files)
    with pytest.raises(ImportValidationError) as refused:
        import_files(engine, files, today=TODAY)
    assert db_checksum(engine) == before
    run = _runs(engine)[-1]
    assert finishes[-1] == (run.id, "failed")
    assert (run.job, run.status, run.rows_written, run.progress) == ("import", "failed", 0, 1.0)
    assert run.error == str(refused.value)  # the problems as the user reads them, no traceback
    assert run.error.splitlines()[0].startswith("import refused, nothing was written; 1 problem(s)")
    assert "'lots' is not a number" in run.error and run.finished_at is not None


def test_a_crash_while_storing_is_recorded_like_any_job_crash_and_rolled_back(engine, tmp_path, monkeypatch):
    """Reps and accounts are stored before revenue: the crash undoes them (one transaction)."""

    def crash(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(core.importing.store, "store_revenue", crash)
    before = db_checksum(engine)
    with pytest.raises(RuntimeError):
        import_files(engine, copy_fixtures(tmp_path / "files"), today=TODAY)
    assert db_checksum(engine) == before
    run = _runs(engine)[-1]
    assert (run.job, run.status, run.rows_written) == ("import", "failed", 0)
    assert run.error.startswith("RuntimeError: disk full") and "Traceback" in run.error


def test_a_sample_load_is_recorded_as_the_sample_job(engine):
    book = generate_book("custom", seed=3, accounts=12, reps=2, states=["AZ"])
    result = import_book(engine, book, trigger="cli")
    (run,) = _runs(engine)
    assert (run.job, run.status, run.message) == ("sample", "success", "book (sample)")
    assert run.rows_written == result.report.rows_written > 0


@pytest.mark.parametrize(
    ("raised", "status", "error", "progress"),
    [
        (None, "success", None, 1.0),
        (ValueError("bad input"), "failed", "bad input", 1.0),  # a refusal: the job's own answer
        (KeyError("boom"), "failed", "KeyError: 'boom'\nTraceback", 0.25),  # a crash stays where it got
    ],
)
def test_record_job_ends_every_run_with_its_outcome(engine, raised, status, error, progress):
    with pytest.raises(type(raised)) if raised else nullcontext():
        with record_job(engine, "demo", trigger="scheduler", message="start", refusals=(ValueError,)) as job:
            job.progress(0.25)
            job.rows_written = 3
            if raised is not None:
                raise raised
    (run,) = _runs(engine)
    assert (run.job, run.trigger, run.status, run.rows_written) == ("demo", "scheduler", status, 3)
    assert run.progress == progress and run.message == "start" and run.finished_at is not None
    assert (run.error is None) if error is None else run.error.startswith(error)
