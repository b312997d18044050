"""Accuracy table on the M3 micro monthly series: the product against baselines and statsforecast anchors.

    .venv/bin/python bench/backtest_m3.py [--series FILE] [--workers 0] [--json OUT] [--split test|inner]
                                          [--models product,dot,...] [--calibrate]

Prints the tables of ``core.backtest.format_backtest_table`` and the wall time of each model. The
anchors need statsforecast (``pip install territory-health[bench]``); without it they are skipped.
``--split inner`` scores each series' last 18 training months instead of the test months (where
the method was chosen). ``--calibrate`` prints the interval calibration measured on the inner split
(the constants of ``core.forecast.M3_INNER_CALIBRATION``) and its coverage there, then stops.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from core.backtest import (
    ANCHORS,
    MODELS,
    format_backtest_table,
    inner_split,
    interval_errors,
    load_series,
    run_backtest,
    statsforecast_installed,
)
from core.forecast import calibrate_interval

WORKSPACE = Path(__file__).resolve().parents[2]  # shared/ sits beside the repository
DEFAULT_SERIES = WORKSPACE / "shared/benchmarks/forecast/m3_micro_monthly.csv"


def calibrate(series_path: Path, workers: int) -> None:
    errors = interval_errors(inner_split(load_series(series_path)), workers=workers)
    calibration = calibrate_interval(errors)
    lower, upper = calibration.bounds(errors.shape[1])
    inside = (errors >= lower) & (errors <= upper)
    print(f"inner split: {errors.shape[0]} series x {errors.shape[1]} months")
    print(f"lower={calibration.lower},\nupper={calibration.upper},")
    print(f"coverage on the inner split: {100 * np.nanmean(np.where(np.isnan(errors), np.nan, inside)):.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=Path, default=DEFAULT_SERIES)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--split", choices=("test", "inner"), default="test")
    parser.add_argument("--models", default=None, help="comma-separated (default: all)")
    parser.add_argument("--calibrate", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.calibrate:
        calibrate(args.series, args.workers)
        return
    models = args.models.split(",") if args.models else list(MODELS + ANCHORS)
    if not statsforecast_installed() and any(model in ANCHORS for model in models):
        print("statsforecast is not installed (pip install territory-health[bench]): anchors skipped")
        models = [model for model in models if model not in ANCHORS]
    merged: dict = {"models": {}, "interval_coverage": {}, "interval_score": {}, "seconds": {}}
    for model in models:
        started = time.perf_counter()
        result = run_backtest(args.series, models=(model,), workers=args.workers, split=args.split)
        merged["seconds"][model] = round(time.perf_counter() - started, 1)
        print(f"{model}: {merged['seconds'][model]:.1f} s", flush=True)
        for key in ("models", "interval_coverage", "interval_score"):
            merged[key].update(result[key])
        merged["series"], merged["horizon"], merged["split"] = result["series"], result["horizon"], args.split
    print(format_backtest_table(merged))
    if args.json is not None:
        args.json.write_text(json.dumps(merged, indent=2))


if __name__ == "__main__":
    main()
