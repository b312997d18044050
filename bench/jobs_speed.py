"""Job speed through the database, as the scheduler runs them.

    python bench/jobs_speed.py [--workdir DIR] [--skip-forecasts] [--skip-kpis]

1. forecasts: the `national` book (7,500 accounts): a full refresh (accounts/s, target >= 60), then
   plain default Prophet on an evenly spaced sample of the same accounts (``--plain-sample``, same
   workers; time per account x 7,500 is its full refresh: the product must be at least 10x faster),
   then an incremental refresh after 5% of the accounts' revenue changed (target < 15 s);
2. KPIs: one snapshot of a 50,000-account / 200-territory custom book (target < 10 s), loading included.
Prints one line per measurement. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

from forecast_speed import (
    cpu_seconds,
    plain_prophet_seconds,
    print_comparison,
)  # bench/ is the script's folder
from sqlalchemy import select, update

from core.config import get_settings
from core.db import get_engine
from core.models import ForecastRun, RevenueMonth
from core.queries import load_accounts, load_revenue
from jobs.forecasts import build_histories, refresh_forecasts
from jobs.kpis import refresh_kpis
from jobs.setup import initialise

AS_OF = date(2026, 11, 23)


def forecasts(workdir: Path, plain_sample: int) -> None:
    engine = get_engine(f"sqlite:///{workdir / 'national.db'}")
    initialise(engine, sample="national", as_of=AS_OF, backfill=False)
    started, cpu_started = time.perf_counter(), cpu_seconds()
    refresh_forecasts(engine, as_of=AS_OF, full=True)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    print(f"forecasts full     national 7,500 accounts: {elapsed:6.1f} s  {7500 / elapsed:6.1f} accounts/s")
    if plain_sample > 0:
        accounts = load_accounts(engine=engine)
        histories = build_histories(load_revenue(engine=engine), accounts["account_id"], as_of=AS_OF)
        workers = get_settings().forecast_workers
        per_account = plain_prophet_seconds(histories, plain_sample, as_of=AS_OF, workers=workers)
        print_comparison((elapsed, cpu), per_account, len(histories), plain_sample)
    with engine.begin() as connection:  # 5% of the accounts get a corrected month
        ids = [r for (r,) in connection.execute(select(RevenueMonth.account_id).distinct())][::20]
        connection.execute(
            update(RevenueMonth)
            .where(RevenueMonth.account_id.in_(ids))
            .where(RevenueMonth.month == date(2026, 10, 1))
            .values(amount=RevenueMonth.amount + 1)
        )
    started = time.perf_counter()
    run_id = refresh_forecasts(engine, as_of=AS_OF)
    elapsed = time.perf_counter() - started
    with engine.connect() as connection:
        run = connection.execute(select(ForecastRun).where(ForecastRun.id == run_id)).one()
    print(
        f"forecasts incremental ({run.accounts_fitted + run.accounts_failed} refit, "
        f"{run.accounts_reused} reused):"
        f" {elapsed:6.1f} s"
    )


def kpis(workdir: Path) -> None:
    engine = get_engine(f"sqlite:///{workdir / 'custom50k.db'}")
    initialise(engine, sample="custom", reps=200, accounts=50_000, as_of=AS_OF, backfill=False)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        refresh_kpis(engine, as_of=AS_OF)
        timings.append(time.perf_counter() - started)
    print(
        f"KPI refresh        50,000 accounts / 200 territories: best {min(timings):5.1f} s, "
        f"median {sorted(timings)[1]:5.1f} s (load + compute + store)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-forecasts", action="store_true")
    parser.add_argument("--skip-kpis", action="store_true")
    parser.add_argument("--plain-sample", type=int, default=150)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="territory-bench-"))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; workdir {workdir}")
    if not args.skip_forecasts:
        forecasts(workdir, args.plain_sample)
    if not args.skip_kpis:
        kpis(workdir)


if __name__ == "__main__":
    main()
