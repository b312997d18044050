"""Full forecast refresh speed: synthetic accounts through ``forecast_many`` (prints accounts/s).

    .venv/bin/python bench/forecast_speed.py [--accounts 7500] [--months 36] [--workers 0] [--seed 7]
                                             [--all-regular] [--plain-sample 150]

Then, in the same run and with the same workers, plain default Prophet (``Prophet()`` fit and
predict, 1,000 samples: ``core.backtest.default_prophet_account``) on an evenly spaced sample of
``--plain-sample`` of the same accounts; its time per account times the number of accounts is the
plain-Prophet refresh the product is compared with (``--plain-sample 0`` skips it).

Series are 36 monthly amounts ending the month before ``as_of``: levels log-uniform between $1K
and $40K a month, a linear trend of -2%..+3% a month, yearly seasonality of 0-30% amplitude with a
random phase, and 5-20% multiplicative noise. About 8% are new (3-11 months of history), 5%
churned (zero for the last 3-8 months), 5% intermittent (revenue in a third of the months), 2%
prospects with no revenue at all. ``--all-regular`` drops those cases: every account is a Prophet fit.
"""

from __future__ import annotations

import argparse
import collections
import functools
import logging
import os
import resource
import time
from datetime import date

import numpy as np

from core.backtest import default_prophet_account
from core.forecast import AccountHistory, forecast_many, map_chunked
from core.months import add_months

AS_OF = date(2025, 1, 15)


def synthetic_histories(
    n_accounts: int, n_months: int, seed: int, *, all_regular: bool = False
) -> list[AccountHistory]:
    """Deterministic mix of regular, new, churned, intermittent and empty accounts."""
    rng = np.random.default_rng(seed)
    first = add_months(date(AS_OF.year, AS_OF.month, 1), -n_months)
    months = tuple(add_months(first, step) for step in range(n_months))
    return [_history(account_id, months, rng, all_regular) for account_id in range(1, n_accounts + 1)]


def _history(
    account_id: int, months: tuple[date, ...], rng: np.random.Generator, all_regular: bool
) -> AccountHistory:
    n = len(months)
    step = np.arange(n)
    level = np.exp(rng.uniform(np.log(1_000), np.log(40_000)))
    trend = np.exp(rng.uniform(-0.02, 0.03) * step)
    season = 1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * (step + rng.integers(12)) / 12)
    amounts = level * trend * season * np.exp(rng.normal(0, rng.uniform(0.05, 0.2), n))
    kind = 1.0 if all_regular else rng.random()
    if kind < 0.08:
        amounts[: n - int(rng.integers(3, 12))] = 0.0
    elif kind < 0.13:
        amounts[n - int(rng.integers(3, 9)) :] = 0.0
    elif kind < 0.18:
        amounts[rng.random(n) > 0.33] = 0.0
    elif kind < 0.20:
        amounts[:] = 0.0
    keep = amounts > 0  # months without revenue are simply absent, as in a CRM export
    return AccountHistory(
        account_id,
        tuple(m for m, k in zip(months, keep, strict=True) if k),
        tuple(float(round(a, 2)) for a in amounts[keep]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=7500)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--all-regular", action="store_true")
    parser.add_argument("--plain-sample", type=int, default=150)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    histories = synthetic_histories(args.accounts, args.months, args.seed, all_regular=args.all_regular)
    started, cpu_started = time.perf_counter(), cpu_seconds()
    results = forecast_many(histories, as_of=AS_OF, horizon=12, workers=args.workers)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    cores = args.workers or os.cpu_count() or 1
    methods = collections.Counter(result.method for result in results)
    errors = sum(result.error is not None for result in results)
    print(f"accounts: {len(results)}  months: {args.months}  workers: {args.workers or 'cpu_count'}")
    print(f"elapsed: {elapsed:.1f} s  throughput: {len(results) / elapsed:.1f} accounts/s  errors: {errors}")
    # CPU seconds of this process and its workers (and their Stan processes): what the refresh costs
    # on an idle machine with `cores` cores, independent of other load on a shared one.
    print(
        f"cpu: {cpu:.1f} s  ({1000 * cpu / len(results):.1f} ms/account)  "
        f"idle-machine estimate: {len(results) / (cpu / cores):.1f} accounts/s on {cores} cores"
    )
    for method, count in sorted(methods.items()):
        print(f"  {method:<24} {count:>6}")
    if args.plain_sample > 0:
        plain = plain_prophet_seconds(histories, args.plain_sample, as_of=AS_OF, workers=args.workers)
        print_comparison((elapsed, cpu), plain, len(histories), args.plain_sample)


def plain_prophet_seconds(
    histories: list[AccountHistory], sample: int, *, as_of: date, workers: int
) -> tuple[float, float]:
    """Wall-clock and CPU seconds per account of plain default Prophet on an evenly spaced sample."""
    step = max(1, len(histories) // sample)
    chosen = histories[::step][:sample]
    function = functools.partial(default_prophet_account, as_of=as_of, horizon=12)
    started, cpu_started = time.perf_counter(), cpu_seconds()
    map_chunked(function, chosen, workers=workers)
    return (time.perf_counter() - started) / len(chosen), (cpu_seconds() - cpu_started) / len(chosen)


def print_comparison(
    product: tuple[float, float], plain_per_account: tuple[float, float], accounts: int, sample: int
) -> None:
    """Both refreshes, wall clock and CPU (CPU is what a shared machine's load does not distort)."""
    (wall, cpu), (plain_wall, plain_cpu) = product, (accounts * s for s in plain_per_account)
    print(
        f"plain default Prophet on a sample of {sample}: {1000 * plain_per_account[0]:.0f} ms/account wall, "
        f"{1000 * plain_per_account[1]:.0f} ms CPU -> {plain_wall:.0f} s wall, {plain_cpu:.0f} s CPU "
        f"for {accounts:,} accounts (estimated: per account x count)"
    )
    print(
        f"product refresh {wall:.1f} s wall, {cpu:.1f} s CPU: {plain_wall / wall:.1f}x faster than plain "
        f"Prophet by wall clock, {plain_cpu / cpu:.1f}x by CPU"
    )


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
