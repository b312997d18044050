"""The scheduler: APScheduler 3.x with cron schedules from settings and a job store in the database.

Jobs have fixed ids and are added with ``replace_existing``, so a restart re-reads the persisted
next run time instead of adding a second copy; ``coalesce`` folds runs missed while the scheduler
was down into one, ``max_instances=1`` keeps a slow run from overlapping the next, and a misfire
grace time lets a late run still happen. Job functions are referenced by import path so the store
can persist them.

Only one scheduler runs jobs per database: it holds a database lock (core.liveness) for as long as
it runs, and a second one started against the same database (a second dashboard host) says so
and stands by, taking over when the first stops.

Scheduled plans (``core.plans.apply_due_plans``) are applied when the scheduler starts and at the
start of every KPI run, so a plan takes effect on its date before the KPIs of that date are computed
(the KPI run is hourly by default; applying is idempotent, a plan is applied once).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import Engine

from core.config import get_settings
from core.db import get_engine, upgrade_schema
from core.jobruns import record_job
from core.liveness import single_instance, sweep_dead_runs
from core.plans import DueRun, apply_due_plans

log = logging.getLogger(__name__)
JOB_TABLE = "apscheduler_jobs"


def scheduled_forecasts(database_url: str) -> None:
    from jobs.forecasts import refresh_forecasts

    refresh_forecasts(get_engine(database_url), trigger="scheduler")


def apply_due(engine: Engine, *, trigger: str = "scheduler") -> DueRun:
    """Apply the scheduled plans whose effective date has come (``core.plans.apply_due_plans``),
    recorded as the ``plans`` job; a plan refused because its book changed is no failure of the job."""
    with record_job(engine, "plans", trigger=trigger, message="apply scheduled plans due today") as run:
        due = apply_due_plans(engine)
        run.rows_written = len(due.applied)
    if due.applied or due.refused:
        log.info("scheduled plans applied: %s; refused: %s", list(due.applied), list(due.refused))
    return due


def scheduled_kpis_and_alerts(database_url: str) -> None:
    """Scheduled plans due today, then KPIs, then alerts right after, so neither reads a stale book."""
    from jobs.alerts import refresh_alerts
    from jobs.kpis import refresh_kpis

    engine = get_engine(database_url)
    apply_due(engine)
    refresh_kpis(engine, trigger="scheduler")
    refresh_alerts(engine, trigger="scheduler")


def configure(scheduler: BaseScheduler, database_url: str) -> BaseScheduler:
    """Add the persistent job store and the two scheduled jobs to ``scheduler``."""
    settings = get_settings()
    scheduler.add_jobstore(SQLAlchemyJobStore(url=database_url, tablename=JOB_TABLE), "default")
    common = {
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": settings.misfire_grace_seconds,
        "replace_existing": True,
        "args": [database_url],
    }
    scheduler.add_job(
        "jobs.scheduler:scheduled_forecasts",
        CronTrigger.from_crontab(settings.forecast_cron),
        id="forecasts",
        name="Refresh account forecasts",
        **common,
    )
    scheduler.add_job(
        "jobs.scheduler:scheduled_kpis_and_alerts",
        CronTrigger.from_crontab(settings.kpi_cron),
        id="kpis",
        name="Refresh KPIs, then alerts",
        **common,
    )
    return scheduler


SCHEDULER_LOCK = "scheduler"


def run_scheduler(database_url: str, *, standby_poll_s: float = 5.0) -> None:
    """Block running the scheduled jobs until interrupted (or stand by while another runs them)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop as cleanly as on Ctrl-C
    engine = get_engine(database_url)
    upgrade_schema(engine)
    where = engine.url.render_as_string(hide_password=True)

    def standing_by() -> None:
        log.warning("another scheduler is running the jobs of %s: standing by until it stops", where)

    try:
        with single_instance(engine, SCHEDULER_LOCK, poll_s=standby_poll_s, on_wait=standing_by):
            sweep_dead_runs(engine)
            apply_due(engine)  # a plan due while no scheduler ran takes effect now, not at the next KPI run
            scheduler = configure(BlockingScheduler(timezone="UTC"), database_url)
            log.info(
                "scheduler started on %s: forecasts %r, KPIs %r",
                where,
                get_settings().forecast_cron,
                get_settings().kpi_cron,
            )
            scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")
