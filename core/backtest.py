"""Forecast accuracy on held-out months: the product forecaster against baselines and statistical anchors.

The input is a long CSV with columns ``unique_id, t, year, month, y, is_test`` (the layout of
``shared/benchmarks/forecast/m3_micro_monthly.csv``): each series is fitted on its ``is_test = 0``
rows and forecast over its ``is_test = 1`` rows, which must follow the training months directly.
With ``split="inner"`` the test rows are dropped and the last ``INNER_HOLDOUT`` training months are
held out instead: every choice of method is made there, on training data only.

Accuracy is sMAPE (percent) and MASE scaled by the in-sample seasonal naive error (period 12). The
80% intervals are scored by coverage (share of held-out months inside) and the Winkler interval
score ``(u - l) + 2/0.2 * (l - y)+ + 2/0.2 * (y - u)+``, averaged over a series' months and scaled
like MASE (the M4 competition's MSIS).

The anchors (``ANCHORS``) are statsforecast's AutoETS, Dynamic Optimized Theta and the median of
AutoETS, DOT and AutoCES (Nixtla's M3 ensemble takes the median); statsforecast is an optional
dependency (``pip install territory-health[bench]``), imported only when an anchor runs.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from core.forecast import (
    DEFAULT_CONFIG,
    AccountHistory,
    ForecastConfig,
    fit_prophet,
    forecast_account,
    log_scale_forecast,
    map_chunked,
)
from core.months import add_months

MODELS = ("product", "prophet_default", "seasonal_naive")
ANCHORS = ("auto_ets", "dot", "ets_dot_ces_median")
SEASON = 12
INNER_HOLDOUT = 18
INTERVAL_WIDTH = 0.8
METRICS = ("smape_median", "smape_mean", "mase_median", "mase_mean")
SPLITS = ("test", "inner")


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


def winkler_score(
    actual: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    insample: Sequence[float],
    *,
    width: float = INTERVAL_WIDTH,
    period: int = SEASON,
) -> float:
    """Mean Winkler interval score of a ``width`` interval, scaled like ``mase`` (NaN where MASE is).

    Per month: the interval's width, plus ``2 / (1 - width)`` times the distance by which the
    actual value falls outside it. Lower is better; a narrow interval that misses pays for it.
    """
    a, low, high = (np.asarray(v, dtype=float) for v in (actual, lower, upper))
    penalty = 2.0 / (1.0 - width)
    score = (high - low) + penalty * np.clip(low - a, 0.0, None) + penalty * np.clip(a - high, 0.0, None)
    history = np.asarray(insample, dtype=float)
    if history.size <= period:
        return math.nan
    scale = float(np.mean(np.abs(history[period:] - history[:-period])))
    return float(score.mean()) / scale if scale > 0 else math.nan


def load_series(path: Path) -> list[BacktestSeries]:
    """Read the long CSV into series, ordered by ``unique_id``; training rows first, then test rows."""
    frame = pd.read_csv(path).sort_values(["unique_id", "t"])
    return [_series(str(uid), group) for uid, group in frame.groupby("unique_id", sort=True)]


def inner_split(series: Sequence[BacktestSeries], holdout: int = INNER_HOLDOUT) -> list[BacktestSeries]:
    """Each series' training months with the last ``holdout`` of them held out as its test months.

    The real test months are dropped. Series without ``holdout`` months plus a year of training are
    left out.
    """
    return [
        BacktestSeries(s.unique_id, s.months[:-holdout], s.train[:-holdout], s.train[-holdout:])
        for s in series
        if len(s.train) >= holdout + SEASON
    ]


def statsforecast_installed() -> bool:
    """Whether the anchors can run (statsforecast is the optional ``bench`` extra)."""
    return importlib.util.find_spec("statsforecast") is not None


def run_backtest(
    path: Path, *, models: Sequence[str] = MODELS, workers: int = 0, split: str = "test"
) -> dict:
    """Fit every series on its training rows, forecast its held-out rows, and summarise per model.

    Returns ``{"models": {name: {"smape_median", "smape_mean", "mase_median", "mase_mean"}},
    "series": N, "horizon": H, "split": split, "interval_coverage": {name: share of held-out points
    inside the 80% interval}, "interval_score": {name: {"winkler_median", "winkler_mean"}}}``
    (interval entries only for models with an interval). ``split="inner"`` scores the inner split
    (``inner_split``). ``workers`` as in ``forecast_many``.
    """
    unknown = set(models) - set(FORECASTERS)
    if unknown:
        raise ValueError(f"unknown models {sorted(unknown)}; known: {', '.join(FORECASTERS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    series = load_series(path)
    if split == "inner":
        series = inner_split(series)
    summary: dict = {
        "models": {},
        "series": len(series),
        "horizon": max((len(s.test) for s in series), default=0),
        "split": split,
        "interval_coverage": {},
        "interval_score": {},
    }
    for name in models:
        forecasts = map_chunked(FORECASTERS[name], series, workers=1 if name == "seasonal_naive" else workers)
        summary["models"][name] = _accuracy(series, forecasts)
        coverage = _coverage(series, forecasts)
        if coverage is not None:
            summary["interval_coverage"][name] = coverage
            summary["interval_score"][name] = _interval_score(series, forecasts)
    return summary


def format_backtest_table(result: dict) -> str:
    """Plain-text tables of ``run_backtest``'s result: accuracy per model, best median MASE first;
    then the 80% intervals (coverage, scaled Winkler score); then the product against the best anchor."""
    header = f"{'model':<18} {'sMAPE med':>10} {'sMAPE mean':>11} {'MASE med':>9} {'MASE mean':>10}"
    rows = sorted(result["models"].items(), key=lambda item: item[1]["mase_median"])
    lines = [header, "-" * len(header)]
    lines += [
        f"{name:<18} {m['smape_median']:>10.2f} {m['smape_mean']:>11.2f} {m['mase_median']:>9.3f} "
        f"{m['mase_mean']:>10.3f}"
        for name, m in rows
    ]
    held_out = "inner-split" if result.get("split") == "inner" else "test"
    lines.append(
        f"series: {result['series']}  horizon: {result.get('horizon', '?')} months  ({held_out} months)"
    )
    lines += _interval_lines(result, held_out)
    lines += _anchor_lines(result)
    return "\n".join(lines)


def _interval_lines(result: dict, held_out: str) -> list[str]:
    coverage, scores = result.get("interval_coverage", {}), result.get("interval_score", {})
    if not coverage:
        return []
    lines = ["", f"{'80% interval':<18} {'coverage':>9} {'Winkler med':>12} {'Winkler mean':>13}"]
    for name, share in coverage.items():
        score = scores.get(name, {})
        median, mean = score.get("winkler_median", math.nan), score.get("winkler_mean", math.nan)
        lines.append(f"{name:<18} {100 * share:>8.1f}% {median:>12.2f} {mean:>13.2f}")
    lines.append(
        f"coverage: share of {held_out} months inside the interval (nominal 80%); Winkler scaled like MASE"
    )
    return lines


def _anchor_lines(result: dict) -> list[str]:
    models = result["models"]
    anchors = [name for name in ANCHORS if name in models]
    if "product" not in models or not anchors:
        return []
    best = min(anchors, key=lambda name: models[name]["mase_median"])
    product, anchor = models["product"]["mase_median"], models[best]["mase_median"]
    return [
        "",
        f"product median MASE {product:.3f} vs best anchor {best} {anchor:.3f}: "
        f"{100 * (1 - product / anchor):+.1f}% better (target: at least +3.0%)",
    ]


def interval_errors(
    series: Sequence[BacktestSeries], *, config: ForecastConfig = DEFAULT_CONFIG, workers: int = 0
) -> np.ndarray:
    """The product's scaled log errors on held-out months (series x months, NaN where none), the
    input of ``core.forecast.calibrate_interval``. Series that get a fallback are left out."""
    results = map_chunked(_ScaledErrors(config), list(series), workers=workers)
    rows = [row for row in results if row is not None]
    horizon = max((row.size for row in rows), default=0)
    table = np.full((len(rows), horizon), np.nan)
    for index, row in enumerate(rows):
        table[index, : row.size] = row
    return table


@dataclass(frozen=True)
class _ScaledErrors:
    config: ForecastConfig

    def __call__(self, series: BacktestSeries) -> np.ndarray | None:
        history = AccountHistory(account_id=0, months=series.months, amounts=series.train)
        forecast = log_scale_forecast(
            history, as_of=series.test_start, horizon=len(series.test), config=self.config
        )
        return None if forecast is None else forecast.scaled_errors(series.test)


# --- the three forecasters (module-level so that they pickle into worker processes) -------------


def product_forecast(series: BacktestSeries) -> ModelForecast:
    """The product code path: ``forecast_account``, ``as_of`` = first test month, horizon = test length."""
    history = AccountHistory(account_id=0, months=series.months, amounts=series.train)
    result = forecast_account(history, as_of=series.test_start, horizon=len(series.test))
    return ModelForecast(result.yhat, result.yhat_lower, result.yhat_upper)


def prophet_default_forecast(series: BacktestSeries) -> ModelForecast:
    """``Prophet()`` with every default (its 80% interval from 1,000 samples, seeded), clipped at zero
    like the product."""
    from prophet import Prophet

    frame = pd.DataFrame({"ds": pd.to_datetime(list(series.months)), "y": list(series.train)})
    model = fit_prophet(Prophet(), frame)
    future = pd.DataFrame({"ds": pd.date_range(series.test_start, periods=len(series.test), freq="MS")})
    np.random.seed(0)  # Prophet samples its interval with numpy's global generator
    predicted = model.predict(future)
    return ModelForecast(*(_clipped(predicted[column]) for column in ("yhat", "yhat_lower", "yhat_upper")))


def default_prophet_account(history: AccountHistory, *, as_of: date, horizon: int = 12) -> int:
    """The speed reference: plain ``Prophet()`` (every default, 1,000 samples for its interval) fitted
    to one account's months before ``as_of``'s month and predicting ``horizon`` months; returns the
    number of months fitted (an account with fewer than two is not fitted)."""
    from prophet import Prophet

    cutoff = date(as_of.year, as_of.month, 1)
    rows = [
        (month, amount)
        for month, amount in zip(history.months, history.amounts, strict=True)
        if month < cutoff
    ]
    if len(rows) < 2:
        return len(rows)
    frame = pd.DataFrame({"ds": pd.to_datetime([month for month, _ in rows]), "y": [a for _, a in rows]})
    model = fit_prophet(Prophet(), frame)
    model.predict(pd.DataFrame({"ds": pd.date_range(cutoff, periods=horizon, freq="MS")}))
    return len(rows)


def seasonal_naive_forecast(series: BacktestSeries) -> ModelForecast:
    """Seasonal naive with period 12; 80% interval from the in-sample seasonal differences, widening
    with each further year ahead (``sd * sqrt(k + 1)``, ``k`` whole years before the month)."""
    horizon = len(series.test)
    yhat = seasonal_naive(series.train, horizon)
    history = np.asarray(series.train, dtype=float)
    if history.size <= SEASON:
        return ModelForecast(_clipped(yhat))
    sd = float(np.sqrt(np.mean((history[SEASON:] - history[:-SEASON]) ** 2)))
    spread = NormalDist().inv_cdf(0.5 + INTERVAL_WIDTH / 2) * sd * np.sqrt(np.arange(horizon) // SEASON + 1)
    return ModelForecast(_clipped(yhat), _clipped(yhat - spread), _clipped(yhat + spread))


def auto_ets_forecast(series: BacktestSeries) -> ModelForecast:
    """statsforecast's AutoETS (season length 12) with its 80% interval."""
    return _statsforecast("AutoETS", series)


def dot_forecast(series: BacktestSeries) -> ModelForecast:
    """statsforecast's DynamicOptimizedTheta (season length 12) with its 80% interval."""
    return _statsforecast("DynamicOptimizedTheta", series)


def ets_dot_ces_median_forecast(series: BacktestSeries) -> ModelForecast:
    """Month by month median of AutoETS, DOT and AutoCES (Nixtla's ensembles take the median); the
    interval is the median of their lower bounds and of their upper bounds."""
    parts = [_statsforecast(name, series) for name in ("AutoETS", "DynamicOptimizedTheta", "AutoCES")]
    columns = [
        np.median([getattr(part, field) for part in parts], axis=0) for field in ("yhat", "lower", "upper")
    ]
    return ModelForecast(*(_clipped(column) for column in columns))


FORECASTERS: dict[str, Callable[[BacktestSeries], ModelForecast]] = {
    "product": product_forecast,
    "prophet_default": prophet_default_forecast,
    "seasonal_naive": seasonal_naive_forecast,
    "auto_ets": auto_ets_forecast,
    "dot": dot_forecast,
    "ets_dot_ces_median": ets_dot_ces_median_forecast,
}


def _statsforecast(model_name: str, series: BacktestSeries) -> ModelForecast:
    import statsforecast.models

    model = getattr(statsforecast.models, model_name)(season_length=SEASON)
    level = round(100 * INTERVAL_WIDTH)
    result = model.forecast(y=np.asarray(series.train, dtype=float), h=len(series.test), level=[level])
    return ModelForecast(*(_clipped(result[key]) for key in ("mean", f"lo-{level}", f"hi-{level}")))


def _clipped(values: Sequence[float] | np.ndarray | pd.Series) -> tuple[float, ...]:
    return tuple(max(float(v), 0.0) for v in np.asarray(values, dtype=float))


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


def _interval_score(series: Sequence[BacktestSeries], forecasts: Sequence[ModelForecast]) -> dict[str, float]:
    scores = np.array(
        [
            winkler_score(s.test, f.lower, f.upper, s.train)
            for s, f in zip(series, forecasts, strict=True)
            if f.lower is not None and f.upper is not None
        ]
    )
    return {"winkler_median": _stat(np.nanmedian, scores), "winkler_mean": _stat(np.nanmean, scores)}


def _stat(function: Callable[[np.ndarray], float], values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(function(finite)) if finite.size else math.nan


__all__ = [
    "ANCHORS",
    "BacktestSeries",
    "FORECASTERS",
    "INNER_HOLDOUT",
    "MODELS",
    "ModelForecast",
    "auto_ets_forecast",
    "default_prophet_account",
    "dot_forecast",
    "ets_dot_ces_median_forecast",
    "format_backtest_table",
    "inner_split",
    "interval_errors",
    "load_series",
    "mase",
    "product_forecast",
    "prophet_default_forecast",
    "run_backtest",
    "seasonal_naive",
    "seasonal_naive_forecast",
    "smape",
    "statsforecast_installed",
    "winkler_score",
]
