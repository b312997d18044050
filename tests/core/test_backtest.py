"""Backtest metrics and baselines on hand-worked series, and a run on five real M3 series."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.backtest import (
    ANCHORS,
    MODELS,
    BacktestSeries,
    format_backtest_table,
    inner_split,
    load_series,
    mase,
    product_forecast,
    run_backtest,
    seasonal_naive,
    smape,
    statsforecast_installed,
    winkler_score,
)

ROOT = Path(__file__).resolve().parents[2]
# shared/ sits beside the repository; M3_MICRO_MONTHLY_CSV points elsewhere (e.g. from a second checkout)
M3_FILE = Path(
    os.environ.get("M3_MICRO_MONTHLY_CSV", ROOT.parent / "shared/benchmarks/forecast/m3_micro_monthly.csv")
)


def test_smape_hand_worked():
    """|100-110| -> 20/210, |200-180| -> 40/380; mean x 100 = (0.095238 + 0.105263) / 2 x 100 = 10.025."""
    assert smape([100, 200], [110, 180]) == pytest.approx(100 * (20 / 210 + 40 / 380) / 2)


def test_smape_counts_zero_over_zero_as_perfect_and_zero_against_anything_as_200():
    assert smape([0, 0], [0, 0]) == 0.0
    assert smape([0, 50], [10, 50]) == pytest.approx(100.0)  # (200 + 0) / 2


def test_mase_scales_by_in_sample_seasonal_naive_error():
    """In-sample: a year of 1..12 then the same +2, so every seasonal difference is 2 (scale 2).
    Forecast error |5-4|, |7-9| -> MAE 1.5 -> MASE 0.75."""
    insample = list(range(1, 13)) + [v + 2 for v in range(1, 13)]
    assert mase([5, 7], [4, 9], insample) == pytest.approx(0.75)


@pytest.mark.parametrize("insample", [list(range(12)), [5.0] * 30])
def test_mase_is_nan_without_a_seasonal_error_to_scale_by(insample):
    assert math.isnan(mase([1.0], [2.0], insample))


def test_seasonal_naive_repeats_the_last_season():
    forecast = seasonal_naive(list(range(1, 25)), 18)
    assert list(forecast) == list(range(13, 25)) + list(range(13, 19))


def test_seasonal_naive_of_a_short_series_repeats_its_last_value():
    assert list(seasonal_naive([3.0, 4.0, 5.0], 4)) == [5.0] * 4
    assert list(seasonal_naive([], 2)) == [0.0, 0.0]


def write_long_csv(path: Path, series: dict[str, tuple[list[float], list[float]]], start=(2020, 1)) -> Path:
    rows = []
    for uid, (train, test) in series.items():
        for t, (value, is_test) in enumerate([(v, 0) for v in train] + [(v, 1) for v in test], start=1):
            index = start[0] * 12 + start[1] - 1 + t - 1
            rows.append(
                {
                    "unique_id": uid,
                    "t": t,
                    "year": float(index // 12),
                    "month": float(index % 12 + 1),
                    "y": value,
                    "is_test": is_test,
                }
            )
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_load_series_splits_train_and_test_and_knows_the_first_test_month(tmp_path):
    path = write_long_csv(tmp_path / "s.csv", {"B": ([1.0] * 14, [2.0, 3.0]), "A": ([5.0] * 12, [6.0])})
    first, second = load_series(path)
    assert first.unique_id == "A" and second.unique_id == "B"
    assert second.months[0] == date(2020, 1, 1) and len(second.train) == 14
    assert second.test == (2.0, 3.0) and second.test_start == date(2021, 3, 1)


def test_load_series_rejects_test_months_that_do_not_follow_training(tmp_path):
    path = write_long_csv(tmp_path / "s.csv", {"A": ([5.0] * 12, [6.0])})
    frame = pd.read_csv(path)
    frame.loc[frame["is_test"] == 1, "month"] = 6.0
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match="do not follow"):
        load_series(path)


def test_product_forecast_is_the_account_forecaster_with_the_test_horizon():
    """Six training months of 10..60 are a short history: the product falls back to their mean, 35."""
    months = tuple(date(2023, m, 1) for m in range(1, 7))
    series = BacktestSeries("X", months, (10.0, 20.0, 30.0, 40.0, 50.0, 60.0), (1.0, 2.0, 3.0))
    forecast = product_forecast(series)
    assert forecast.yhat == pytest.approx((35.0,) * 3)
    assert forecast.lower is not None and forecast.upper is not None


def test_unknown_model_is_refused(tmp_path):
    path = write_long_csv(tmp_path / "s.csv", {"A": ([5.0] * 12, [6.0])})
    with pytest.raises(ValueError, match="unknown models"):
        run_backtest(path, models=("arima",))


def test_seasonal_naive_backtest_hand_worked(tmp_path):
    """Train: 1..12 then 3..14 (seasonal differences all 2); test = next year's 5..16 (+2 again).
    The seasonal naive forecast 3..14 misses by 2 every month: MASE 1; sMAPE mean of 400 / (2y + 2)."""
    train = [float(v) for v in range(1, 13)] + [float(v) for v in range(3, 15)]
    test = [float(v) for v in range(5, 17)]
    path = write_long_csv(tmp_path / "s.csv", {"A": (train, test)})
    result = run_backtest(path, models=("seasonal_naive",))
    metrics = result["models"]["seasonal_naive"]
    assert result["series"] == 1 and result["horizon"] == 12
    assert metrics["mase_median"] == pytest.approx(1.0) and metrics["mase_mean"] == pytest.approx(1.0)
    expected = np.mean([400 / (2 * y - 2) for y in test])  # |y - (y - 2)| x 200 / (y + y - 2)
    assert metrics["smape_median"] == pytest.approx(expected)


def test_format_backtest_table_lists_models_best_first():
    keys = ("smape_median", "smape_mean", "mase_median", "mase_mean")
    result = {
        "models": {
            "a": dict(zip(keys, (20.0, 21.0, 0.9, 1.0), strict=True)),
            "b": dict(zip(keys, (10.0, 11.0, 0.5, 0.6), strict=True)),
        },
        "series": 3,
        "horizon": 18,
        "interval_coverage": {"b": 0.75},
    }
    table = format_backtest_table(result)
    lines = table.splitlines()
    assert lines[2].split() == ["b", "10.00", "11.00", "0.500", "0.600"]
    assert lines[3].split()[0] == "a"
    assert "series: 3" in table and "75.0%" in table


@pytest.mark.slow
@pytest.mark.skipif(not M3_FILE.exists(), reason="shared benchmark data not present")
def test_run_backtest_on_five_m3_series(tmp_path):
    frame = pd.read_csv(M3_FILE)
    subset = frame[frame["unique_id"].isin(sorted(frame["unique_id"].unique())[:5])]
    path = tmp_path / "m3_five.csv"
    subset.to_csv(path, index=False)
    result = run_backtest(path, workers=1)
    assert result["series"] == 5 and result["horizon"] == 18
    assert set(result["models"]) == {"product", "prophet_default", "seasonal_naive"}
    for metrics in result["models"].values():
        assert set(metrics) == {"smape_median", "smape_mean", "mase_median", "mase_mean"}
        assert all(math.isfinite(v) and v >= 0 for v in metrics.values())
        assert metrics["smape_median"] <= 200
    assert 0.0 <= result["interval_coverage"]["product"] <= 1.0
    assert "product" in format_backtest_table(result)


def test_winkler_score_hand_worked():
    """Interval 8..12 (width 4) on two months, insample scale 2 (every seasonal difference is 2).
    Month 1: y = 10 inside -> 4. Month 2: y = 14, 2 above -> 4 + 2 / 0.2 x 2 = 24. Mean 14 / 2 = 7."""
    insample = list(range(1, 13)) + [v + 2 for v in range(1, 13)]
    assert winkler_score([10, 14], [8, 8], [12, 12], insample) == pytest.approx(7.0)
    assert math.isnan(winkler_score([1.0], [0.0], [2.0], [5.0] * 30))


def test_inner_split_holds_out_the_last_training_months_and_drops_the_test_months():
    months = tuple(date(2020 + m // 12, m % 12 + 1, 1) for m in range(36))
    long = BacktestSeries("L", months, tuple(float(v) for v in range(36)), (99.0,))
    short = BacktestSeries("S", months[:29], tuple(float(v) for v in range(29)), (99.0,))
    (inner,) = inner_split([long, short], holdout=18)  # S has 29 < 18 + 12 months: left out
    assert inner.train == tuple(float(v) for v in range(18)) and inner.test == tuple(
        float(v) for v in range(18, 36)
    )
    assert inner.test_start == date(2021, 7, 1)


def test_backtest_table_prints_coverage_winkler_and_the_product_against_the_best_anchor():
    keys = ("smape_median", "smape_mean", "mase_median", "mase_mean")
    result = {
        "models": {
            "product": dict(zip(keys, (18.0, 20.0, 0.600, 0.65), strict=True)),
            "dot": dict(zip(keys, (19.0, 21.0, 0.640, 0.70), strict=True)),
            "auto_ets": dict(zip(keys, (19.5, 21.5, 0.660, 0.72), strict=True)),
        },
        "series": 3,
        "horizon": 18,
        "split": "inner",
        "interval_coverage": {"product": 0.801, "dot": 0.7},
        "interval_score": {"product": {"winkler_median": 2.5, "winkler_mean": 3.0}},
    }
    table = format_backtest_table(result)
    assert "80.1%" in table and "Winkler" in table and "inner-split months" in table
    product_row = next(line for line in table.splitlines() if line.startswith("product") and "%" in line)
    assert product_row.split() == ["product", "80.1%", "2.50", "3.00"]
    assert "best anchor dot 0.640: +6.2% better" in table  # 1 - 0.600 / 0.640 = 6.25%


def test_product_run_path_does_not_import_statsforecast():
    """The anchors' library is a benchmark extra: the forecast job's imports and a forecast leave it out."""
    code = (
        "import sys; from datetime import date; import jobs.forecasts, core.backtest;"
        "from core.forecast import AccountHistory, forecast_account;"
        "forecast_account(AccountHistory(1, (date(2023, 12, 1),), (5.0,)), as_of=date(2024, 1, 1));"
        "assert 'statsforecast' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.skipif(not M3_FILE.exists(), reason="shared benchmark data not present")
@pytest.mark.skipif(
    not statsforecast_installed(), reason="statsforecast not installed: pip install territory-health[bench]"
)
@pytest.mark.parametrize("split", ["test", "inner"])
def test_backtest_with_anchors_reports_intervals_on_three_m3_series(tmp_path, split):
    frame = pd.read_csv(M3_FILE)
    subset = frame[frame["unique_id"].isin(sorted(frame["unique_id"].unique())[:3])]
    path = tmp_path / "m3_three.csv"
    subset.to_csv(path, index=False)
    result = run_backtest(path, models=MODELS + ANCHORS, workers=1, split=split)
    assert result["series"] == 3 and result["horizon"] == 18 and result["split"] == split
    assert set(result["models"]) == set(MODELS + ANCHORS)
    assert set(result["interval_coverage"]) == set(MODELS + ANCHORS)  # every model gives an 80% interval
    for name, score in result["interval_score"].items():
        assert 0.0 <= result["interval_coverage"][name] <= 1.0
        assert math.isfinite(score["winkler_median"]) and score["winkler_median"] > 0
    table = format_backtest_table(result)
    assert "Winkler" in table and "best anchor" in table
    for name in ANCHORS:
        assert name in table
