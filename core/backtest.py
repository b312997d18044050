"""Forecast accuracy on held-out months: the product forecaster against default Prophet and seasonal naive.

The input is a long CSV with columns ``unique_id, t, year, month, y, is_test`` (the layout of
``shared/benchmarks/forecast/m3_micro_monthly.csv``): each series is fitted on its ``is_test = 0``
rows and forecast over its ``is_test = 1`` rows, which must follow the training months directly.
Accuracy is sMAPE (percent) and MASE scaled by the in-sample seasonal naive error (period 12).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from core.forecast import AccountHistory, fit_prophet, forecast_account, map_chunked
from core.months import add_months

MODELS = ("product", "prophet_default", "seasonal_naive")
SEASON = 12
METRICS = ("smape_median", "smape_mean", "mase_median", "mase_mean")


@dataclass(frozen=True)
class BacktestSeries:
    """One series: training months and values, and the actual values of the months that follow."""

    unique_id: str
    months: tuple[date, ...]
    train: tuple[float, ...]
    test: tuple[float, ...]

    @property
    def test_start(self) -> date:
        return add_months(self.months[-1], 1)


@dataclass(frozen=True)
class ModelForecast:
    """Point forecasts of one model for one series, with the 80% interval when the model gives one."""

    yhat: tuple[float, ...]
    lower: tuple[float, ...] | None = None
    upper: tuple[float, ...] | None = None


def smape(actual: Sequence[float], forecast: Sequence[float]) -> float:
    """Symmetric MAPE in percent: ``mean(200 |a - f| / (|a| + |f|))``; a month with a = f = 0 counts 0."""
    a, f = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    denominator = np.abs(a) + np.abs(f)
    ratio = np.divide(2.0 * np.abs(a - f), denominator, out=np.zeros_like(a), where=denominator > 0)
    return float(100.0 * ratio.mean())


def mase(
    actual: Sequence[float], forecast: Sequence[float], insample: Sequence[float], period: int = SEASON
) -> float:
    """Mean absolute error scaled by the in-sample MAE of the seasonal naive forecast (``y[t - period]``).

    NaN when the training part has no full season to compare with, or is exactly periodic.
    """
    history = np.asarray(insample, dtype=float)
    if history.size <= period:
        return math.nan
    scale = float(np.mean(np.abs(history[period:] - history[:-period])))
    error = float(np.mean(np.abs(np.asarray(actual, dtype=float) - np.asarray(forecast, dtype=float))))
    return error / scale if scale > 0 else math.nan


def seasonal_naive(train: Sequence[float], horizon: int, period: int = SEASON) -> np.ndarray:
    """Repeat the last full season: ``f[h] = y[n - period + (h mod period)]`` (last value if shorter)."""
    values = np.asarray(train, dtype=float)
    if values.size == 0:
        return np.zeros(horizon)
    season = values[-period:] if values.size >= period else values[-1:]
    return np.resize(season, horizon)


def load_series(path: Path) -> list[BacktestSeries]:
    """Read the long CSV into series, ordered by ``unique_id``; training rows first, then test rows."""
    frame = pd.read_csv(path).sort_values(["unique_id", "t"])
    return [_series(str(uid), group) for uid, group in frame.groupby("unique_id", sort=True)]


def run_backtest(path: Path, *, models: Sequence[str] = MODELS, workers: int = 0) -> dict:
    """Fit every series on its training rows, forecast its test rows, and summarise accuracy per model.

    Returns ``{"models": {name: {"smape_median", "smape_mean", "mase_median", "mase_mean"}},
    "series": N, "horizon": H, "interval_coverage": {name: share of test points inside the 80%
    interval}}`` (coverage only for models with an interval). ``workers`` as in ``forecast_many``.
    """
    unknown = set(models) - set(MODELS)
    if unknown:
        raise ValueError(f"unknown models {sorted(unknown)}; known: {', '.join(MODELS)}")
    series = load_series(path)
    summary: dict = {
        "models": {},
        "series": len(series),
        "horizon": max((len(s.test) for s in series), default=0),
        "interval_coverage": {},
    }
    for name in models:
        forecasts = map_chunked(FORECASTERS[name], series, workers=1 if name == "seasonal_naive" else workers)
        summary["models"][name] = _accuracy(series, forecasts)
        coverage = _coverage(series, forecasts)
        if coverage is not None:
            summary["interval_coverage"][name] = coverage
    return summary


def format_backtest_table(result: dict) -> str:
    """Plain-text table of ``run_backtest``'s result, one row per model, best median MASE first."""
    header = f"{'model':<16} {'sMAPE med':>10} {'sMAPE mean':>11} {'MASE med':>9} {'MASE mean':>10}"
    rows = sorted(result["models"].items(), key=lambda item: item[1]["mase_median"])
    lines = [header, "-" * len(header)]
    lines += [
        f"{name:<16} {m['smape_median']:>10.2f} {m['smape_mean']:>11.2f} {m['mase_median']:>9.3f} "
        f"{m['mase_mean']:>10.3f}"
        for name, m in rows
    ]
    lines.append(f"series: {result['series']}  horizon: {result.get('horizon', '?')} months")
    for name, share in result.get("interval_coverage", {}).items():
        lines.append(f"{name}: {100 * share:.1f}% of test months inside the 80% interval")
    return "\n".join(lines)


# --- the three forecasters (module-level so that they pickle into worker processes) -------------


def product_forecast(series: BacktestSeries) -> ModelForecast:
    """The product code path: ``forecast_account``, ``as_of`` = first test month, horizon = test length."""
    history = AccountHistory(account_id=0, months=series.months, amounts=series.train)
    result = forecast_account(history, as_of=series.test_start, horizon=len(series.test))
    return ModelForecast(result.yhat, result.yhat_lower, result.yhat_upper)


def prophet_default_forecast(series: BacktestSeries) -> ModelForecast:
    """``Prophet()`` with every default, clipped at zero like the product (``uncertainty_samples=0``
    changes only the interval, which is not scored)."""
    from prophet import Prophet

    frame = pd.DataFrame({"ds": pd.to_datetime(list(series.months)), "y": list(series.train)})
    model = fit_prophet(Prophet(uncertainty_samples=0), frame)
    future = pd.DataFrame({"ds": pd.date_range(series.test_start, periods=len(series.test), freq="MS")})
    return ModelForecast(tuple(max(float(v), 0.0) for v in model.predict(future)["yhat"]))


def seasonal_naive_forecast(series: BacktestSeries) -> ModelForecast:
    """Seasonal naive with period 12."""
    return ModelForecast(tuple(float(v) for v in seasonal_naive(series.train, len(series.test))))


FORECASTERS: dict[str, Callable[[BacktestSeries], ModelForecast]] = {
    "product": product_forecast,
    "prophet_default": prophet_default_forecast,
    "seasonal_naive": seasonal_naive_forecast,
}


# --- helpers -----------------------------------------------------------------------------------


def _series(uid: str, group: pd.DataFrame) -> BacktestSeries:
    train, test = group[group["is_test"] == 0], group[group["is_test"] == 1]
    months = tuple(date(int(y), int(m), 1) for y, m in zip(train["year"], train["month"], strict=True))
    if len(test) and (int(test["year"].iloc[0]), int(test["month"].iloc[0])) != _next(months[-1]):
        raise ValueError(f"series {uid}: test months do not follow the training months")
    return BacktestSeries(uid, months, tuple(train["y"].astype(float)), tuple(test["y"].astype(float)))


def _next(month: date) -> tuple[int, int]:
    following = add_months(month, 1)
    return following.year, following.month


def _accuracy(series: Sequence[BacktestSeries], forecasts: Sequence[ModelForecast]) -> dict[str, float]:
    smapes = np.array([smape(s.test, f.yhat) for s, f in zip(series, forecasts, strict=True)])
    mases = np.array([mase(s.test, f.yhat, s.train) for s, f in zip(series, forecasts, strict=True)])
    return {
        "smape_median": _stat(np.nanmedian, smapes),
        "smape_mean": _stat(np.nanmean, smapes),
        "mase_median": _stat(np.nanmedian, mases),
        "mase_mean": _stat(np.nanmean, mases),
    }


def _coverage(series: Sequence[BacktestSeries], forecasts: Sequence[ModelForecast]) -> float | None:
    pairs = [(s, f) for s, f in zip(series, forecasts, strict=True) if f.lower is not None]
    if not pairs:
        return None
    inside = [(np.asarray(f.lower) <= s.test) & (np.asarray(s.test) <= np.asarray(f.upper)) for s, f in pairs]
    return float(np.concatenate(inside).mean())


def _stat(function: Callable[[np.ndarray], float], values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(function(finite)) if finite.size else math.nan


__all__ = [
    "BacktestSeries",
    "FORECASTERS",
    "MODELS",
    "ModelForecast",
    "format_backtest_table",
    "load_series",
    "mase",
    "product_forecast",
    "prophet_default_forecast",
    "run_backtest",
    "seasonal_naive",
    "seasonal_naive_forecast",
    "smape",
]
