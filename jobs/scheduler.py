"""The scheduler: APScheduler 3.x with cron schedules from settings and a job store in the database.

Jobs have fixed ids and are added with ``replace_existing``, so a restart re-reads the persisted
next run time instead of adding a second copy; ``coalesce`` folds runs missed while the scheduler
was down into one, ``max_instances=1`` keeps a slow run from overlapping the next, and a misfire
grace time lets a late run still happen. Job functions are referenced by import path so the store
can persist them.
"""

from __future__ import annotations

import logging

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from core.config import get_settings
from core.db import get_engine, upgrade_schema

log = logging.getLogger(__name__)
JOB_TABLE = "apscheduler_jobs"


def scheduled_forecasts(database_url: str) -> None:
    from jobs.forecasts import refresh_forecasts

    refresh_forecasts(get_engine(database_url), trigger="scheduler")


def scheduled_kpis_and_alerts(database_url: str) -> None:
    """KPIs, then alerts right after, so an alert never reads a stale snapshot."""
    from jobs.alerts import refresh_alerts
    from jobs.kpis import refresh_kpis

    engine = get_engine(database_url)
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


def run_scheduler(database_url: str) -> None:
    """Block running the scheduled jobs until interrupted."""
    upgrade_schema(get_engine(database_url))
    scheduler = configure(BlockingScheduler(timezone="UTC"), database_url)
    log.info(
        "scheduler started: forecasts %r, KPIs %r", get_settings().forecast_cron, get_settings().kpi_cron
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")
