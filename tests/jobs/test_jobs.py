"""Jobs on a real SQLite file: forecast runs (current only when complete, incremental), KPI
snapshots, the scheduler's persistent store."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text, update

from core.db import session_scope
from core.forecast import forecast_account
from core.models import ForecastRun, JobRun, RevenueMonth, TeamKpi
from core.queries import current_forecast_run, load_potentials, load_territories
from jobs import forecasts as forecast_job
from jobs.forecasts import refresh_forecasts
from jobs.kpis import refresh_kpis
from jobs.setup import initialise

AS_OF = date(2026, 11, 23)


@pytest.fixture(autouse=True)
def _fit_in_process(monkeypatch):
    """Fits run in the test process here; the process pool and Dask paths have their own tests."""
    monkeypatch.setenv("TERRITORY_FORECAST_WORKERS", "1")


@pytest.fixture
def small_book(engine):
    initialise(engine, sample="custom", reps=3, accounts=24, states=["AZ"], as_of=AS_OF, backfill=False)
    return engine


def test_a_crash_midway_leaves_the_previous_forecasts_current(small_book, monkeypatch):
    first = refresh_forecasts(small_book, as_of=AS_OF, full=True)
    before = load_potentials(engine=small_book).sort_values("account_id").reset_index(drop=True)

    def crash_after_some(histories, *, on_result, **kwargs):
        for history in histories[:5]:
            on_result(forecast_account(history, as_of=AS_OF))
        raise RuntimeError("worker died")

    monkeypatch.setattr(forecast_job, "forecast_many", crash_after_some)
    with pytest.raises(RuntimeError, match="worker died"):
        refresh_forecasts(small_book, as_of=AS_OF, full=True)
    assert current_forecast_run(engine=small_book) == first
    after = load_potentials(engine=small_book).sort_values("account_id").reset_index(drop=True)
    assert after.equals(before)
    with session_scope(small_book) as session:
        runs = session.execute(select(ForecastRun.status).order_by(ForecastRun.id)).scalars().all()
        job = session.execute(
            select(JobRun).where(JobRun.job == "forecasts").order_by(JobRun.id.desc())
        ).scalar()
    assert runs == ["complete", "failed"]
    assert job.status == "failed" and "worker died" in job.error


def test_incremental_refresh_refits_only_changed_histories(small_book):
    refresh_forecasts(small_book, as_of=AS_OF, full=True)
    with small_book.begin() as connection:  # a correction to two accounts' revenue arrives
        changed = [r for (r,) in connection.execute(select(RevenueMonth.account_id).distinct().limit(2))]
        connection.execute(
            update(RevenueMonth)
            .where(RevenueMonth.account_id.in_(changed))
            .values(amount=RevenueMonth.amount * 1.1)
        )
    run_id = refresh_forecasts(small_book, as_of=AS_OF)
    with session_scope(small_book) as session:
        run = session.get(ForecastRun, run_id)
    assert (run.accounts_fitted + run.accounts_failed, run.accounts_reused) == (2, 22)
    assert len(load_potentials(engine=small_book)) == 24  # reused fits were carried into the new run


def test_forecast_potentials_are_never_negative_and_methods_are_recorded(small_book):
    refresh_forecasts(small_book, as_of=AS_OF)
    potentials = load_potentials(engine=small_book)
    assert (potentials["forecast_12m"] >= 0).all() and (
        potentials["potential"] >= potentials["forecast_12m"]
    ).all()
    assert potentials["method"].str.match(r"^(prophet|fallback:\w+)$").all()


@pytest.mark.slow
def test_southwest_facts_hold_under_the_forecast(engine):
    """The designed $2.3M-$6.8M spread is still there once Prophet forecasts replace the baseline."""
    initialise(engine, sample="southwest", as_of=AS_OF, backfill=False)
    refresh_forecasts(engine, as_of=AS_OF)
    refresh_kpis(engine, as_of=AS_OF)
    with engine.connect() as connection:
        low, high = connection.execute(
            text("select min(potential), max(potential) from territorykpi where snapshot_date = :d"),
            {"d": AS_OF},
        ).one()
    assert low == pytest.approx(2.3e6, rel=0.05) and high == pytest.approx(6.8e6, rel=0.05)


def test_sample_load_backfills_26_weeks_of_snapshots(engine):
    initialise(engine, sample="custom", reps=4, accounts=40, states=["NV"], as_of=AS_OF)
    with session_scope(engine) as session:
        days = session.execute(select(TeamKpi.snapshot_date).order_by(TeamKpi.snapshot_date)).scalars().all()
    assert len(days) == 27 and days[-1] == AS_OF and (days[-1] - days[0]).days == 26 * 7


def test_kpi_as_of_recomputes_a_past_snapshot_identically(engine):
    """A snapshot recomputed later for a past date equals the one taken then (only data known then)."""
    initialise(engine, sample="custom", reps=4, accounts=40, states=["NV"], as_of=AS_OF)
    past = date(2026, 10, 26)
    with engine.connect() as connection:
        before = connection.execute(
            text(
                "select territory_id, potential, coverage, drift, health from territorykpi "
                "where snapshot_date = :d order by territory_id"
            ),
            {"d": past},
        ).all()
    refresh_kpis(engine, as_of=past)
    with engine.connect() as connection:
        after = connection.execute(
            text(
                "select territory_id, potential, coverage, drift, health from territorykpi "
                "where snapshot_date = :d order by territory_id"
            ),
            {"d": past},
        ).all()
    assert after == before and len(after) == len(load_territories(engine=engine))


def test_scheduler_restart_neither_loses_nor_doubles_jobs(db_url, engine):
    from apscheduler.schedulers.background import BackgroundScheduler

    from jobs.scheduler import configure

    first = configure(BackgroundScheduler(timezone="UTC"), db_url)
    first.start(paused=True)
    planned = {job.id: job.next_run_time for job in first.get_jobs()}
    first.shutdown(wait=False)
    second = configure(BackgroundScheduler(timezone="UTC"), db_url)  # the process restarts
    second.start(paused=True)
    jobs = second.get_jobs()
    second.shutdown(wait=False)
    assert sorted(job.id for job in jobs) == ["forecasts", "kpis"]
    assert {job.id: job.next_run_time for job in jobs} == planned
    assert all(job.coalesce and job.max_instances == 1 and job.misfire_grace_time > 0 for job in jobs)
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from apscheduler_jobs")).scalar() == 2
