"""Forecast job: revenue histories -> core.forecast.forecast_many -> forecasts and potentials.

A run writes under a new run id while the previous run stays current; only when every account
has a result does one transaction make the new run current. A crash midway leaves a ``failed``
(or ``running``) run that nothing reads. Incremental by default: an account whose history hash
equals the one of its last successful fit reuses that fit (copied into the new run); ``full``
refits everything. Old runs beyond the last few are pruned so the database does not grow
without bound under a long-running scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

import pandas as pd
from sqlalchemy import delete, insert, inspect, literal, select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.accounts import account_potential, account_wallet
from core.config import get_settings
from core.forecast import AccountForecastResult, AccountHistory, forecast_many, history_hash
from core.jobruns import record_job
from core.models import AccountForecast, AccountPotential, ForecastRun, utcnow
from core.months import month_start
from core.queries import current_forecast_run, load_accounts, load_revenue, read_frame

log = logging.getLogger(__name__)
KEEP_RUNS = 3
WRITE_BATCH = 500


def build_histories(revenue: pd.DataFrame, account_ids: pd.Series, *, as_of: date) -> list[AccountHistory]:
    """One history per account (accounts without revenue get an empty one), months before as_of's month."""
    cutoff = month_start(as_of)
    known = revenue[revenue["month"] < cutoff].sort_values(["account_id", "month"])
    grouped = {key: frame for key, frame in known.groupby("account_id", sort=False)}
    histories = []
    for account_id in account_ids:
        frame = grouped.get(account_id)
        months = tuple(frame["month"]) if frame is not None else ()
        amounts = tuple(float(a) for a in frame["amount"]) if frame is not None else ()
        histories.append(AccountHistory(account_id=int(account_id), months=months, amounts=amounts))
    return histories


def refresh_forecasts(
    engine: Engine,
    *,
    as_of: date | None = None,
    full: bool = False,
    trigger: str = "cli",
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """The forecast job. Returns the new current run id."""
    settings = get_settings()
    as_of = as_of or date.today()
    with record_job(engine, "forecasts", trigger=trigger) as job:
        accounts = load_accounts(engine=engine)
        histories = build_histories(load_revenue(engine=engine), accounts["account_id"], as_of=as_of)
        reusable = {} if full else _reusable_fits(engine, histories, as_of=as_of)
        to_fit = [h for h in histories if h.account_id not in reusable]
        run_id = _start_run(engine, as_of=as_of, full=full, total=len(histories))
        job.progress(0.02, f"run {run_id}: fitting {len(to_fit):,} accounts, reusing {len(reusable):,}")
        try:
            writer = _RunWriter(engine, run_id, accounts, total=len(to_fit), job=job, on_progress=on_progress)
            forecast_many(
                to_fit,
                as_of=as_of,
                horizon=settings.forecast_horizon_months,
                workers=settings.forecast_workers,
                dask_address=settings.dask_address,
                on_result=writer.add,
            )
            writer.flush()
            _copy_reused(engine, run_id, reusable, accounts)
            _make_current(engine, run_id, fitted=writer.fitted, failed=writer.failed, reused=len(reusable))
        except BaseException as error:
            _mark_failed(engine, run_id, error)
            raise
        job.rows_written = writer.rows
        _prune_old_runs(engine)
    return run_id


def _start_run(engine: Engine, *, as_of: date, full: bool, total: int) -> int:
    with engine.begin() as connection:
        result = connection.execute(
            insert(ForecastRun).values(
                started_at=utcnow(),
                as_of=as_of,
                status="running",
                is_current=False,
                full=full,
                accounts_total=total,
            )
        )
        key = result.inserted_primary_key
        if key is None:
            raise RuntimeError("the database returned no id for the new forecast run")
        return int(key[0])


class _RunWriter:
    """Buffers results and writes them in batches under the run id (not yet current)."""

    def __init__(
        self,
        engine: Engine,
        run_id: int,
        accounts: pd.DataFrame,
        *,
        total: int,
        job,  # type: ignore[no-untyped-def]
        on_progress: Callable[[int, int], None] | None,
    ) -> None:
        self.engine, self.run_id, self.total, self.job, self.on_progress = (
            engine,
            run_id,
            total,
            job,
            on_progress,
        )
        self.accounts = accounts.set_index("account_id")
        self.weight = get_settings().whitespace_weight
        self.buffer: list[AccountForecastResult] = []
        self.done = self.fitted = self.failed = self.rows = 0

    def add(self, result: AccountForecastResult) -> None:
        self.buffer.append(result)
        self.done += 1
        self.fitted += result.error is None
        self.failed += result.error is not None
        if len(self.buffer) >= WRITE_BATCH:
            self.flush()
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def flush(self) -> None:
        if not self.buffer:
            return
        forecasts, potentials = self._rows(self.buffer)
        with self.engine.begin() as connection:
            connection.execute(insert(AccountForecast), forecasts)
            connection.execute(insert(AccountPotential), potentials)
        self.rows += len(forecasts) + len(potentials)
        self.buffer = []
        self.job.progress(
            0.02 + 0.95 * self.done / max(self.total, 1), f"{self.done:,} of {self.total:,} fitted"
        )

    def _rows(self, results: list[AccountForecastResult]) -> tuple[list[dict], list[dict]]:
        forecasts = [
            {
                "run_id": self.run_id,
                "account_id": r.account_id,
                "month": m,
                "yhat": y,
                "yhat_lower": lo,
                "yhat_upper": hi,
            }
            for r in results
            for m, y, lo, hi in zip(r.months, r.yhat, r.yhat_lower, r.yhat_upper, strict=True)
        ]
        ids = [r.account_id for r in results]
        forecast_12m = pd.Series([float(sum(r.yhat[:12])) for r in results], index=ids)
        wallet = account_wallet(self.accounts.loc[ids], forecast_12m)
        potential = account_potential(forecast_12m, wallet, self.weight)
        potentials = [
            {
                "run_id": self.run_id,
                "account_id": r.account_id,
                "forecast_12m": float(forecast_12m.iat[i]),
                "wallet": float(wallet.iat[i]),
                "potential": float(potential.iat[i]),
                "method": r.method,
                "history_hash": r.history_hash,
                "error": r.error,
            }
            for i, r in enumerate(results)
        ]
        return forecasts, potentials


def _reusable_fits(engine: Engine, histories: list[AccountHistory], *, as_of: date) -> dict[int, int]:
    """account_id -> run id of its last fit, for accounts whose history has not changed since."""
    run_id = current_forecast_run(engine=engine)
    if run_id is None:
        return {}
    with engine.connect() as connection:
        previous_as_of = connection.execute(
            select(col(ForecastRun.as_of)).where(col(ForecastRun.id) == run_id)
        ).scalar()
    if previous_as_of is None or month_start(pd.Timestamp(previous_as_of).date()) != month_start(as_of):
        return {}  # a new month moves the forecast window: refit everything
    previous = read_frame(
        engine,
        select(
            col(AccountPotential.account_id), col(AccountPotential.history_hash), col(AccountPotential.error)
        ).where(col(AccountPotential.run_id) == run_id),
    )
    previous = previous[previous["error"].isna()].set_index("account_id")["history_hash"]
    return {
        h.account_id: run_id
        for h in histories
        if previous.get(h.account_id) is not None and previous[h.account_id] == history_hash(h)
    }


def _copy_reused(engine: Engine, run_id: int, reusable: dict[int, int], accounts: pd.DataFrame) -> None:
    """Copy reused fits into the new run (wallets are re-read: an import may have changed them)."""
    if not reusable:
        return
    source = next(iter(reusable.values()))
    ids = list(reusable)
    potentials = read_frame(engine, select(AccountPotential).where(col(AccountPotential.run_id) == source))
    potentials = potentials[potentials["account_id"].isin(ids)].drop(columns=["id"]).assign(run_id=run_id)
    wallet = account_wallet(
        accounts.set_index("account_id").loc[potentials["account_id"]],
        potentials.set_index("account_id")["forecast_12m"],
    )
    potentials["wallet"] = wallet.to_numpy()
    potentials["potential"] = account_potential(
        potentials["forecast_12m"], potentials["wallet"], get_settings().whitespace_weight
    ).to_numpy()
    columns = ["account_id", "month", "yhat", "yhat_lower", "yhat_upper"]
    fitted_now = select(col(AccountPotential.account_id)).where(col(AccountPotential.run_id) == run_id)
    table_columns = inspect(AccountForecast).columns
    copied = select(literal(run_id), *[table_columns[c] for c in columns]).where(
        col(AccountForecast.run_id) == source, col(AccountForecast.account_id).not_in(fitted_now)
    )
    with engine.begin() as connection:
        # the reused forecast months are copied inside the database (every account of the source run
        # not refit in this one), before the reused potentials join the new run
        connection.execute(insert(AccountForecast).from_select(["run_id", *columns], copied))
        connection.execute(insert(AccountPotential), potentials.to_dict("records"))


def _make_current(engine: Engine, run_id: int, *, fitted: int, failed: int, reused: int) -> None:
    """One transaction: the new run becomes the only current one."""
    with engine.begin() as connection:
        current_runs = col(ForecastRun.is_current) == True  # noqa: E712
        connection.execute(update(ForecastRun).where(current_runs).values(is_current=False))
        connection.execute(
            update(ForecastRun)
            .where(col(ForecastRun.id) == run_id)
            .values(
                status="complete",
                is_current=True,
                finished_at=utcnow(),
                accounts_fitted=fitted,
                accounts_failed=failed,
                accounts_reused=reused,
            )
        )


def _mark_failed(engine: Engine, run_id: int, error: BaseException) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(ForecastRun)
            .where(col(ForecastRun.id) == run_id)
            .values(status="failed", finished_at=utcnow(), error=f"{type(error).__name__}: {error}")
        )


def _prune_old_runs(engine: Engine) -> None:
    """Keep the current run and the few before it; delete older runs' rows."""
    with engine.begin() as connection:
        runs = connection.execute(
            select(col(ForecastRun.id), col(ForecastRun.is_current)).order_by(col(ForecastRun.id).desc())
        )
        old_runs = [run_id for i, (run_id, current) in enumerate(runs) if i >= KEEP_RUNS and not current]
        for old in old_runs:
            connection.execute(delete(AccountForecast).where(col(AccountForecast.run_id) == old))
            connection.execute(delete(AccountPotential).where(col(AccountPotential.run_id) == old))
