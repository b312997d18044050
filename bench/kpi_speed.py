"""How long compute_kpis takes on a large book: 50,000 accounts, 200 territories.

36 months of revenue, about a year of activities (~8 per account) and opportunities (~2 per
account), quarterly quotas. Prints the seconds to build the inputs and, over a few repeats, the
seconds of ``compute_kpis`` (best and median). Run: ``.venv/bin/python bench/kpi_speed.py``
(options: ``--accounts N --territories N --repeats N --object-dates``; the last passes dates as
``date`` objects, as an ORM loader without parse_dates would, to show the parsing cost).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from core.config import Settings  # noqa: E402
from core.kpis import KpiInputs, compute_kpis  # noqa: E402
from tests.factories import synthetic_kpi_inputs  # noqa: E402

AS_OF = date(2025, 6, 15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--territories", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--object-dates", action="store_true", help="dates as datetime.date objects")
    args = parser.parse_args()

    started = time.perf_counter()
    inputs = synthetic_kpi_inputs(args.accounts, args.territories, as_of=AS_OF, vacant=5, seed=7)
    if args.object_dates:
        inputs = with_date_objects(inputs)
    built = time.perf_counter() - started
    print(
        f"inputs: {len(inputs.accounts):,} accounts, {len(inputs.territories):,} territories, "
        f"{len(inputs.revenue):,} revenue rows, {len(inputs.activities):,} activities, "
        f"{len(inputs.opportunities):,} opportunities, {len(inputs.quotas):,} quotas (built in {built:.2f} s)"
    )
    settings = Settings()
    timings = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = compute_kpis(inputs, as_of=AS_OF, settings=settings)
        timings.append(time.perf_counter() - started)
    print(
        f"compute_kpis: best {min(timings):.3f} s, median {statistics.median(timings):.3f} s "
        f"over {args.repeats} runs ({len(result.territories)} territory rows)"
    )
    print(
        f"team: cv_potential={result.team['cv_potential']:.3f} gini={result.team['gini']:.3f} "
        f"out_of_band={result.team['out_of_band']}"
    )


def with_date_objects(inputs: KpiInputs) -> KpiInputs:
    def convert(frame: pd.DataFrame) -> pd.DataFrame:
        dates = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
        return frame.assign(**{c: frame[c].dt.date for c in dates})

    return replace(
        inputs,
        revenue=convert(inputs.revenue),
        activities=convert(inputs.activities),
        opportunities=convert(inputs.opportunities),
        quotas=convert(inputs.quotas),
    )


if __name__ == "__main__":
    main()
