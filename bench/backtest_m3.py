"""Accuracy table on the M3 micro monthly series (product vs default Prophet vs seasonal naive).

    .venv/bin/python bench/backtest_m3.py [--series FILE] [--workers 0] [--json OUT]

Prints the table of ``core.backtest.format_backtest_table`` and the wall time of each model.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from core.backtest import MODELS, format_backtest_table, run_backtest

WORKSPACE = Path(__file__).resolve().parents[2]  # shared/ sits beside the repository
DEFAULT_SERIES = WORKSPACE / "shared/benchmarks/forecast/m3_micro_monthly.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=Path, default=DEFAULT_SERIES)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    merged: dict = {"models": {}, "interval_coverage": {}}
    for model in MODELS:
        started = time.perf_counter()
        result = run_backtest(args.series, models=(model,), workers=args.workers)
        print(f"{model}: {time.perf_counter() - started:.1f} s")
        merged["models"].update(result["models"])
        merged["interval_coverage"].update(result["interval_coverage"])
        merged["series"], merged["horizon"] = result["series"], result["horizon"]
    print(format_backtest_table(merged))
    if args.json is not None:
        args.json.write_text(json.dumps(merged, indent=2))


if __name__ == "__main__":
    main()
