"""Per-account monthly revenue forecast: Prophet on a log scale with a damped trend, plus fallbacks.

Timing: the history used is every month strictly before ``as_of``'s month (the last complete month
is the month before ``as_of``'s month, as in ``core.accounts``); the forecast covers the ``horizon``
months starting with ``as_of``'s month. With ``as_of = 2024-05-17`` and ``horizon = 12`` the history
ends with April 2024 and the forecast covers May 2024 to April 2025.

Method (docs/forecasting.md has the measurements behind each choice): the active span of an account
runs from its first month with revenue to the last complete month, missing months counting as
zero. Accounts whose span is empty, all zero, churned, shorter than a year or intermittent get a
documented fallback (``method = "fallback:<reason>"``); the rest (``method = "prophet"``) get the
mean, in log space, of two forecasts of ``log(revenue + offset)``: a Prophet fit with yearly
seasonality of Fourier order 2, no weekly/daily terms, one potential changepoint per four months and
the trend beyond the history damped by 0.9 a month; and simple exponential smoothing of the
seasonally adjusted series (the seasonal step of the Theta method). The 80% interval is calibrated:
``center + q(h) * noise``, where ``noise`` is the account's mean absolute month-on-month change of
log revenue and ``q(h)`` are the 10% and 90% quantiles of such scaled errors at forecast month ``h``,
measured on training months only (``calibrate_interval``; docs/forecasting.md). Everything is
clipped at zero.

All functions here are pure and picklable so that they run in a process pool or on Dask workers.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from core.accounts import CHURN_MONTHS
from core.months import add_months, month_start

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

METHOD_PROPHET = "prophet"
METHOD_VERSION = "prophet-ses-log-calibrated-2"


@dataclass(frozen=True)
class AccountHistory:
    """Monthly revenue of one account: first-of-month dates, ascending; a missing month is zero."""

    account_id: int
    months: tuple[date, ...]
    amounts: tuple[float, ...]


@dataclass(frozen=True)
class AccountForecastResult:
    """Forecast of one account; ``method`` is ``"prophet"`` or ``"fallback:<reason>"``."""

    account_id: int
    months: tuple[date, ...]
    yhat: tuple[float, ...]
    yhat_lower: tuple[float, ...]
    yhat_upper: tuple[float, ...]
    method: str
    error: str | None
    history_hash: str


@dataclass(frozen=True)
class IntervalCalibration:
    """Where the interval's bounds sit, in units of an account's noise, at forecast month 1, 2, ...

    ``lower[h - 1]`` and ``upper[h - 1]`` are the ``(1 - width) / 2`` and ``(1 + width) / 2``
    quantiles of the scaled log errors at month ``h`` (see ``calibrate_interval``); months past the
    last calibrated one reuse it.
    """

    width: float
    lower: tuple[float, ...]
    upper: tuple[float, ...]

    def bounds(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper quantiles for forecast months 1..horizon."""
        steps = np.minimum(np.arange(max(horizon, 0)), len(self.lower) - 1)
        return np.asarray(self.lower)[steps], np.asarray(self.upper)[steps]


# Measured by `python bench/backtest_m3.py --calibrate`: 237 M3 micro monthly series, each fitted on
# its training months minus the last 18 and scored on those 18 (no public test month is used).
M3_INNER_CALIBRATION = IntervalCalibration(
    width=0.8,
    lower=(-1.1457, -1.148, -1.2936, -1.4149, -1.385, -1.2664, -1.2146, -1.3385, -1.4463)
    + (-1.4612, -1.3972, -1.6267, -1.5201, -1.6479, -1.4256, -1.3295, -1.0655, -0.9741),
    upper=(1.0609, 1.0443, 0.9002, 0.877, 1.0114, 1.1725, 1.2207, 1.1351, 1.0593)
    + (1.0498, 1.0565, 0.9778, 0.97, 0.9224, 1.212, 1.3292, 1.5031, 1.5958),
)


@dataclass(frozen=True)
class ForecastConfig:
    """Method constants; the defaults are the product method (justified in docs/forecasting.md).

    ``ses_weight`` is the share of the exponential smoothing forecast in the log-space mean (0 is
    Prophet alone); ``calibration=None`` gives Prophet's own ``interval_width`` interval instead of
    the calibrated one.
    """

    min_points: int = 12
    intermittent_zero_share: float = 0.3
    churn_months: int = CHURN_MONTHS
    interval_width: float = 0.8
    yearly_order: int = 2
    changepoint_prior_scale: float = 0.05
    months_per_changepoint: int = 4
    max_changepoints: int = 25
    damping: float = 0.9
    log_offset_share: float = 0.1
    croston_alpha: float = 0.1
    ses_weight: float = 0.5
    season_length: int = 12
    seasonality_test_z: float = 1.645
    calibration: IntervalCalibration | None = M3_INNER_CALIBRATION


DEFAULT_CONFIG = ForecastConfig()


@dataclass(frozen=True)
class _Forecast:
    yhat: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


@dataclass(frozen=True)
class LogScaleForecast:
    """A regular account's forecast before the interval: everything is in ``log(revenue + offset)``.

    ``center`` is the combined forecast, ``prophet_sd`` Prophet's own predictive sd and ``noise`` the
    mean absolute month-on-month change of the history (the unit of the calibrated interval).
    """

    center: np.ndarray
    prophet_sd: np.ndarray
    noise: float
    offset: float

    def scaled_errors(self, actual: Sequence[float]) -> np.ndarray:
        """``(log(actual + offset) - center) / noise``: what ``calibrate_interval`` takes quantiles of."""
        observed = np.log(np.clip(np.asarray(actual, dtype=float), 0.0, None) + self.offset)
        return (observed - self.center[: observed.size]) / self.noise if self.noise > 0 else observed * np.nan


# --- public API --------------------------------------------------------------------------------


def forecast_months(as_of: date, horizon: int) -> tuple[date, ...]:
    """The ``horizon`` first-of-month dates the forecast covers, starting with ``as_of``'s month."""
    start = month_start(as_of)
    return tuple(add_months(start, step) for step in range(horizon))


def history_hash(history: AccountHistory) -> str:
    """Stable SHA-256 of the (month, amount) pairs, independent of their order and of the account id.

    Months are written as ``YYYY-MM``, so ``date`` and ``pandas.Timestamp`` months hash alike.
    """
    pairs = sorted(
        (f"{month.year:04d}-{month.month:02d}", float(amount))
        for month, amount in zip(history.months, history.amounts, strict=True)
    )
    text = ";".join(f"{month}={amount!r}" for month, amount in pairs)
    return hashlib.sha256(text.encode()).hexdigest()


def forecast_account(
    history: AccountHistory, *, as_of: date, horizon: int = 12, config: ForecastConfig = DEFAULT_CONFIG
) -> AccountForecastResult:
    """Forecast one account's monthly revenue for ``horizon`` months from ``as_of``'s month.

    Uses only months before ``as_of``'s month. Never raises: an exception is recorded in ``error``
    and a trailing-mean forecast is returned with ``method = "fallback:error"``. Values are never
    negative and ``yhat_lower <= yhat <= yhat_upper``.
    """
    months = forecast_months(as_of, horizon)
    try:
        digest = history_hash(history)
    except Exception as exc:  # noqa: BLE001 - a malformed history must not stop a refresh
        digest = ""
        logger.warning("account %s: cannot hash history: %r", history.account_id, exc)
    try:
        method, forecast = _forecast_values(history, as_of=as_of, horizon=horizon, config=config)
        error = None
    except Exception as exc:  # noqa: BLE001 - the contract is: never raise
        logger.warning("account %s: forecast failed, using fallback: %r", history.account_id, exc)
        method, forecast, error = "fallback:error", _safe_mean_forecast(history, as_of, horizon), repr(exc)
    return _result(history.account_id, months, forecast, method, error, digest)


def log_scale_forecast(
    history: AccountHistory, *, as_of: date, horizon: int = 12, config: ForecastConfig = DEFAULT_CONFIG
) -> LogScaleForecast | None:
    """The log-scale forecast ``forecast_account`` builds its ``"prophet"`` result from; ``None`` when
    the account gets a fallback instead. Raises on bad input (it is for backtests, not the job)."""
    values, span_start = _active_span(history, as_of)
    if _fallback_reason(values, config) is not None:
        return None
    return _log_scale_forecast(values, span_start, horizon, config)


def calibrate_interval(
    scaled_errors: np.ndarray, *, width: float = 0.8, window: int = 1
) -> IntervalCalibration:
    """Interval bounds from held-out errors: one row per series, one column per forecast month.

    The bounds at month ``h`` are the ``(1 - width) / 2`` and ``(1 + width) / 2`` empirical quantiles
    of the errors of months ``h - window .. h + window`` (pooled for steadier tails; NaN ignored).
    An interval built with them holds ``width`` of those errors, and of new ones from the same
    process (split conformal prediction, per forecast month).
    """
    errors = np.asarray(scaled_errors, dtype=float)
    if errors.ndim != 2 or errors.shape[1] == 0:
        raise ValueError("scaled_errors must be a 2-d array: series x forecast months")
    tail = (1.0 - width) / 2.0
    lower, upper = [], []
    for month in range(errors.shape[1]):
        pooled = errors[:, max(0, month - window) : month + window + 1].ravel()
        low, high = np.nanquantile(pooled, [tail, 1.0 - tail])
        lower.append(round(float(low), 4))
        upper.append(round(float(high), 4))
    return IntervalCalibration(width=width, lower=tuple(lower), upper=tuple(upper))


def forecast_many(
    histories: Iterable[AccountHistory],
    *,
    as_of: date,
    horizon: int = 12,
    workers: int = 0,
    dask_address: str | None = None,
    on_result: Callable[[AccountForecastResult], None] | None = None,
    config: ForecastConfig = DEFAULT_CONFIG,
) -> list[AccountForecastResult]:
    """Forecast many accounts in parallel; results come back in the order of ``histories``.

    ``workers=0`` uses ``os.cpu_count()`` local processes, ``workers=1`` runs in this process. With
    ``dask_address`` the same pure function runs on that Dask cluster instead. ``on_result`` is
    called in this process for each result as it arrives (in completion order).
    """
    function = functools.partial(forecast_account, as_of=as_of, horizon=horizon, config=config)
    return map_chunked(
        function, list(histories), workers=workers, dask_address=dask_address, on_result=on_result
    )


def map_chunked(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    *,
    workers: int = 0,
    dask_address: str | None = None,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """``[function(item) for item in items]`` over local processes or a Dask cluster, in chunks.

    ``function`` must be picklable (a module-level function or a ``functools.partial`` of one).
    Items travel in chunks (about eight per worker, at most 64 items) so that the per-task
    overhead stays small while the load still balances.
    """
    count = _worker_count(workers)
    chunks = _chunks(list(items), _chunk_size(len(items), count))
    task = _ChunkTask(function)
    if not chunks:
        return []
    if dask_address is not None:
        done = _run_on_dask(task, chunks, dask_address, on_result)
    elif count == 1 or len(chunks) == 1:
        done = _run_serial(task, chunks, on_result)
    else:
        done = _run_in_pool(task, chunks, count, on_result)
    return [result for chunk in done for result in chunk]


def fit_prophet(model: Any, frame: pd.DataFrame, **fit_kwargs: Any) -> Any:
    """Fit a Prophet model quietly, with Stan's output files in a directory removed right after.

    cmdstanpy otherwise leaves one directory of CSV/stdout files per fit in its temp folder until
    the process exits, which a long-running scheduler would pile up.
    """
    quiet_stan_logging()
    with tempfile.TemporaryDirectory(prefix="territory-stan-") as output_dir:
        model.fit(frame, output_dir=output_dir, **fit_kwargs)
    return model


def quiet_stan_logging() -> None:
    """Silence cmdstanpy and Prophet's informational chatter (idempotent, cheap)."""
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet.plot").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)


def init_forecast_worker() -> None:
    """Process-pool initializer: quiet logs and import Prophet once, not in the first task.

    Workers are spawned, so they leave through ``sys.exit`` and cmdstanpy's ``atexit`` hook removes
    its per-process temp folder (a forked worker would skip it: ``os._exit``). A worker ends with
    the process that started it, even one killed by ``kill -9``.
    """
    from core.liveness import die_with_parent

    die_with_parent()
    quiet_stan_logging()
    import prophet  # noqa: F401

    quiet_stan_logging()


# --- series preparation and fallbacks ----------------------------------------------------------


def _forecast_values(
    history: AccountHistory, *, as_of: date, horizon: int, config: ForecastConfig
) -> tuple[str, _Forecast]:
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 month, got {horizon}")
    values, span_start = _active_span(history, as_of)
    reason = _fallback_reason(values, config)
    if reason is not None:
        return f"fallback:{reason}", _fallback_forecast(reason, values, horizon, config)
    return METHOD_PROPHET, _prophet_forecast(values, span_start, horizon, config)


def _active_span(history: AccountHistory, as_of: date) -> tuple[np.ndarray, date | None]:
    """Revenue from the first month with revenue to the last complete month (gaps are zero)."""
    if len(history.months) != len(history.amounts):
        raise ValueError("months and amounts differ in length")
    cutoff = _month_number(month_start(as_of))
    numbers = np.array([_month_number(month) for month in history.months], dtype=int)
    amounts = np.nan_to_num(np.asarray(history.amounts, dtype=float), nan=0.0).clip(min=0.0)
    known = (numbers < cutoff) & (amounts > 0)
    if not known.any():
        return np.zeros(0 if not (numbers < cutoff).any() else 1), None
    first = int(numbers[known].min())
    values = np.zeros(cutoff - first)
    np.add.at(values, numbers[known] - first, amounts[known])
    return values, _month_from_number(first)


def _fallback_reason(values: np.ndarray, config: ForecastConfig) -> str | None:
    if values.size == 0:
        return "empty"
    if not values.any():
        return "all_zero"
    if values.size > config.churn_months and not values[-config.churn_months :].any():
        return "churned"
    if values.size < config.min_points:
        return "short"
    if np.mean(values == 0) >= config.intermittent_zero_share:
        return "intermittent"
    return None


def _fallback_forecast(reason: str, values: np.ndarray, horizon: int, config: ForecastConfig) -> _Forecast:
    if reason in ("empty", "all_zero", "churned"):
        return _flat(0.0, 0.0, 0.0, horizon)
    if reason == "short":
        return _mean_forecast(values, horizon, config)
    return _croston_forecast(values, horizon, config)


def _mean_forecast(values: np.ndarray, horizon: int, config: ForecastConfig) -> _Forecast:
    """Flat mean with a normal interval from the spread of the months seen."""
    mean, spread = float(values.mean()), float(values.std()) * _z_score(config.interval_width)
    return _flat(mean, mean - spread, mean + spread, horizon)


def _croston_forecast(values: np.ndarray, horizon: int, config: ForecastConfig) -> _Forecast:
    """Croston with the Syntetos-Boylan correction; interval from the quantiles of recent months."""
    rate = croston_sba(values, alpha=config.croston_alpha)
    tail = (1.0 - config.interval_width) / 2.0
    recent = values[-24:]
    low, high = np.quantile(recent, [tail, 1.0 - tail])
    return _flat(rate, min(low, rate), max(high, rate), horizon)


def croston_sba(values: np.ndarray, *, alpha: float = 0.1) -> float:
    """Expected revenue per month of an intermittent series (Croston, Syntetos-Boylan approximation).

    The sizes of the months with revenue and the intervals between them start at their means and
    are smoothed exponentially with ``alpha`` over the successive demands; the rate is
    ``(1 - alpha / 2) * size / interval``. Zero if there is no revenue.
    """
    positions = np.flatnonzero(values > 0)
    if positions.size == 0:
        return 0.0
    sizes, intervals = values[positions], np.diff(positions)
    size, interval = float(sizes.mean()), values.size / positions.size
    for current_size, current_interval in zip(sizes[1:], intervals, strict=True):
        size += alpha * (float(current_size) - size)
        interval += alpha * (float(current_interval) - interval)
    return (1.0 - alpha / 2.0) * size / interval


def _safe_mean_forecast(history: AccountHistory, as_of: date, horizon: int) -> _Forecast:
    """Last-resort forecast for ``fallback:error``: mean of the last 12 known amounts, else zero."""
    try:
        cutoff = month_start(as_of)
        amounts = [float(a) for m, a in zip(history.months, history.amounts, strict=False) if m < cutoff]
        mean = float(np.nanmean(np.clip(amounts[-12:], 0.0, None))) if amounts else 0.0
        return _flat(mean if math.isfinite(mean) else 0.0, 0.0, 0.0, horizon)
    except Exception:  # noqa: BLE001
        return _flat(0.0, 0.0, 0.0, horizon)


def _flat(value: float, lower: float, upper: float, horizon: int) -> _Forecast:
    steps = max(horizon, 0)
    return _Forecast(np.full(steps, value), np.full(steps, lower), np.full(steps, upper))


# --- the regular-account forecast ---------------------------------------------------------------


def _prophet_forecast(
    values: np.ndarray, span_start: date | None, horizon: int, config: ForecastConfig
) -> _Forecast:
    """The combined log-scale forecast with its interval, back on the revenue scale."""
    forecast = _log_scale_forecast(values, span_start, horizon, config)
    if config.calibration is None:
        spread = _z_score(config.interval_width) * forecast.prophet_sd
        lower, upper = forecast.center - spread, forecast.center + spread
    else:
        low, high = config.calibration.bounds(horizon)
        lower, upper = forecast.center + low * forecast.noise, forecast.center + high * forecast.noise
    return _Forecast(*(np.exp(z) - forecast.offset for z in (forecast.center, lower, upper)))


def _log_scale_forecast(
    values: np.ndarray, span_start: date | None, horizon: int, config: ForecastConfig
) -> LogScaleForecast:
    """Prophet on ``log(values + offset)`` (damped trend, closed-form sd), averaged with SES."""
    assert span_start is not None
    offset = config.log_offset_share * float(np.median(values[values > 0]))
    logged = np.log(values + offset)
    history_ds = pd.Series(pd.date_range(pd.Timestamp(span_start), periods=values.size, freq="MS"))
    future_ds = pd.Series(pd.date_range(history_ds.iloc[-1], periods=horizon + 1, freq="MS")[1:])
    model = _make_prophet(values.size, config)
    fit_prophet(model, pd.DataFrame({"ds": history_ds, "y": logged}), algorithm="LBFGS")
    center, sd = prophet_predictive(model, future_ds, damping=config.damping)
    if config.ses_weight > 0:
        smoothed = seasonal_ses_forecast(
            logged, horizon, period=config.season_length, test_z=config.seasonality_test_z
        )
        center = (1.0 - config.ses_weight) * center + config.ses_weight * smoothed
    noise = float(np.mean(np.abs(np.diff(logged))))
    return LogScaleForecast(center=center, prophet_sd=sd, noise=noise, offset=offset)


# --- simple exponential smoothing of the seasonally adjusted series -----------------------------


def seasonal_ses_forecast(
    values: np.ndarray, horizon: int, *, period: int = 12, test_z: float = 1.645
) -> np.ndarray:
    """Simple exponential smoothing of ``values`` after removing additive seasonal indices.

    The seasonal step of the Theta method (Assimakopoulos & Nikolopoulos; Hyndman & Billah): the
    indices are used only if the autocorrelation at lag ``period`` passes a one-sided 90% test
    (``|r_m| > test_z * sqrt((1 + 2 sum_{k<m} r_k^2) / n)``); they come from a centred moving
    average (classical decomposition). The smoothing weight minimises the one-step squared error
    over a grid of 0.01..0.99, starting from the first value. The forecast is the last level plus
    the seasonal index of each future month.
    """
    series = np.asarray(values, dtype=float)
    indices = seasonal_indices(series, period, test_z=test_z)
    positions = np.arange(series.size + horizon) % period
    season = indices[positions] if indices is not None else np.zeros(series.size + horizon)
    level = _ses_level(series - season[: series.size])
    return level + season[series.size :]


def seasonal_indices(values: np.ndarray, period: int, *, test_z: float = 1.645) -> np.ndarray | None:
    """Additive seasonal indices (mean zero) by position ``t mod period``, or ``None`` when the series
    is shorter than two periods or shows no significant autocorrelation at lag ``period``."""
    n = values.size
    if n < 2 * period:
        return None
    autocorrelation = _acf(values, period)
    bound = test_z * math.sqrt((1.0 + 2.0 * float(np.sum(autocorrelation[:-1] ** 2))) / n)
    if not abs(autocorrelation[-1]) > bound:
        return None
    kernel = np.r_[0.5, np.ones(period - 1), 0.5] / period
    trend = np.convolve(values, kernel, mode="valid")
    inside = np.arange(period // 2, period // 2 + trend.size)
    detrended, position = values[inside] - trend, inside % period
    indices = np.bincount(position, detrended, period) / np.bincount(position, minlength=period)
    return indices - indices.mean()


def _acf(values: np.ndarray, lags: int) -> np.ndarray:
    centred = values - values.mean()
    total = float(np.sum(centred**2))
    if total == 0:
        return np.zeros(lags)
    return np.array([float(centred[lag:] @ centred[:-lag]) / total for lag in range(1, lags + 1)])


_SES_ALPHAS = np.linspace(0.01, 0.99, 50)


def _ses_level(values: np.ndarray) -> float:
    """Last level of simple exponential smoothing, the weight chosen by one-step squared error."""
    level = np.full(_SES_ALPHAS.size, values[0])
    squared_error = np.zeros(_SES_ALPHAS.size)
    for value in values[1:]:
        error = value - level
        squared_error += error * error
        level = level + _SES_ALPHAS * error
    return float(level[int(np.argmin(squared_error))])


# --- Prophet -----------------------------------------------------------------------------------


def _make_prophet(n_points: int, config: ForecastConfig) -> Any:
    changepoints = max(1, min(config.max_changepoints, n_points // config.months_per_changepoint))
    prophet_class = _prophet_class()
    return prophet_class(
        growth="linear",
        yearly_seasonality=config.yearly_order,
        weekly_seasonality=False,
        daily_seasonality=False,
        changepoint_prior_scale=config.changepoint_prior_scale,
        n_changepoints=changepoints,
        uncertainty_samples=0,
    )


@functools.cache
def _prophet_class() -> type:
    """Prophet, subclassed to reuse the seasonal design matrix of an earlier fit on the same dates.

    Building that matrix (pandas crosstabs and Fourier terms) costs about a third of a 36-month fit,
    and most accounts share the same months. The Stan data, and so the fit, are unchanged.
    """
    quiet_stan_logging()  # before the import: prophet.plot complains about plotly when imported
    from prophet import Prophet

    quiet_stan_logging()  # prophet.forecaster resets its logger level when imported

    class FeatureCachingProphet(Prophet):  # type: ignore[misc]
        def make_all_seasonality_features(self, df: pd.DataFrame) -> tuple[Any, Any, Any, Any]:
            if self.holidays is not None or self.extra_regressors or self.train_component_cols is not None:
                return super().make_all_seasonality_features(df)
            key = (df["ds"].to_numpy().tobytes(), repr(self.seasonalities))
            if key not in _FEATURE_CACHE:
                if len(_FEATURE_CACHE) >= _FEATURE_CACHE_SIZE:
                    _FEATURE_CACHE.clear()
                _FEATURE_CACHE[key] = super().make_all_seasonality_features(df)
            features, scales, columns, modes = _FEATURE_CACHE[key]
            modes_copy = {mode: list(names) for mode, names in modes.items()}
            return features.copy(), list(scales), columns.copy(), modes_copy

    return FeatureCachingProphet


_FEATURE_CACHE: dict[tuple[bytes, str], Any] = {}
_FEATURE_CACHE_SIZE = 256


def prophet_predictive(
    model: Any, future_ds: pd.Series, *, damping: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of a fitted linear Prophet model (additive seasonalities only) after its history.

    The mean is Prophet's own ``trend + seasonality`` (``model.predict(...)["yhat"]`` when
    ``damping`` is 1); with ``damping < 1`` the trend's month-on-month steps after the history are
    multiplied by ``damping ** step``. The variance is what Prophet's ``predict_uncertainty``
    simulates, computed exactly: observation noise ``sigma_obs`` plus the future trend changes
    (a slope change with probability ``S * dt`` per step, Laplace size ``mean |delta|``, averaged
    with the previous step, then integrated twice) -- the same damping applies to those changes.
    """
    k, m, deltas = (
        float(model.params["k"][0, 0]),
        float(model.params["m"][0, 0]),
        np.asarray(model.params["delta"][0], dtype=float),
    )
    t = ((future_ds - model.start) / model.t_scale).to_numpy(dtype=float)
    t_all = np.concatenate([[1.0], t])
    trend = model.piecewise_linear(t_all, deltas, k, m, model.changepoints_t)
    weights = damping ** np.arange(1, t.size + 1)
    damped = trend[0] + np.cumsum(np.diff(trend) * weights)
    seasonal = _seasonal_terms(model, future_ds)
    variance = _trend_change_variance(model, t, weights) + float(model.params["sigma_obs"][0, 0]) ** 2
    return (damped + seasonal) * model.y_scale, np.sqrt(variance) * model.y_scale


def _seasonal_terms(model: Any, future_ds: pd.Series) -> np.ndarray:
    """Sum of the additive seasonalities (the columns of beta follow ``model.seasonalities``' order)."""
    blocks = [
        _fourier_series(future_ds, props["period"], props["fourier_order"])
        for props in model.seasonalities.values()
        if props["mode"] == "additive"
    ]
    if len(blocks) != len(model.seasonalities) or model.extra_regressors or model.holidays is not None:
        raise ValueError("prophet_predictive handles additive seasonalities only")
    if not blocks:
        return np.zeros(len(future_ds))
    return np.hstack(blocks) @ np.asarray(model.params["beta"][0], dtype=float)


def _fourier_series(dates: pd.Series, period: float, order: int) -> np.ndarray:
    """``Prophet.fourier_series`` in plain numpy (the pandas version costs more than the fit's predict)."""
    days = dates.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 86_400e9
    angles = 2.0 * np.pi * days[:, None] * np.arange(1, order + 1)[None, :] / period
    return np.stack([np.sin(angles), np.cos(angles)], axis=2).reshape(days.size, 2 * order)


def _trend_change_variance(model: Any, t: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Variance of Prophet's simulated future trend deviation at each future step (scaled units)."""
    steps = t.size
    step_length = float(np.diff(t).mean()) if steps > 1 else float(np.diff(model.history["t"]).mean())
    likelihood = min(1.0, len(model.changepoints_t) * step_length)
    mean_delta = float(np.mean(np.abs(model.params["delta"][0]))) + 1e-8
    shift_variance = likelihood * 2.0 * mean_delta**2
    averaging = (np.eye(steps) + np.eye(steps, k=-1)) / 2.0
    to_values = _damped_integration(weights) @ averaging
    return shift_variance * step_length**2 * np.sum(to_values**2, axis=1)


def _damped_integration(weights: np.ndarray) -> np.ndarray:
    """Matrix from slope changes to trend deviations: the slope is summed, each step damped."""
    cumulative = np.tril(np.ones((weights.size, weights.size)))
    return cumulative @ np.diag(weights) @ cumulative


# --- parallel execution ------------------------------------------------------------------------


@dataclass(frozen=True)
class _ChunkTask(Generic[Item, Result]):
    function: Callable[[Item], Result]

    def __call__(self, chunk: Sequence[Item]) -> list[Result]:
        return [self.function(item) for item in chunk]


def _worker_count(workers: int) -> int:
    return workers if workers > 0 else (os.cpu_count() or 1)


def _chunk_size(n_items: int, workers: int) -> int:
    return max(1, min(64, math.ceil(n_items / (workers * 8))))


def _chunks(items: list[Item], size: int) -> list[list[Item]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _deliver(chunk: list[Result], on_result: Callable[[Result], None] | None) -> None:
    if on_result is not None:
        for result in chunk:
            on_result(result)


def _run_serial(
    task: _ChunkTask[Item, Result], chunks: list[list[Item]], on_result: Callable[[Result], None] | None
) -> list[list[Result]]:
    done = []
    for chunk in chunks:
        done.append(task(chunk))
        _deliver(done[-1], on_result)
    return done


def _run_in_pool(
    task: _ChunkTask[Item, Result],
    chunks: list[list[Item]],
    workers: int,
    on_result: Callable[[Result], None] | None,
) -> list[list[Result]]:
    # spawn, not fork: the caller may be a threaded scheduler or web server.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        min(workers, len(chunks)), mp_context=context, initializer=init_forecast_worker
    ) as pool:
        futures = {pool.submit(task, chunk): index for index, chunk in enumerate(chunks)}
        return _collect(futures, as_completed(futures), on_result)


def _run_on_dask(
    task: _ChunkTask[Item, Result],
    chunks: list[list[Item]],
    address: str,
    on_result: Callable[[Result], None] | None,
) -> list[list[Result]]:
    import distributed

    with distributed.Client(address) as client:
        futures = {client.submit(task, chunk, pure=False): index for index, chunk in enumerate(chunks)}
        return _collect(futures, distributed.as_completed(futures), on_result)


def _collect(
    futures: dict[Any, int], completed: Iterable[Any], on_result: Callable[[Result], None] | None
) -> list[list[Result]]:
    ordered: list[list[Result]] = [[] for _ in futures]
    for future in completed:
        ordered[futures[future]] = future.result()
        _deliver(ordered[futures[future]], on_result)
    return ordered


# --- small helpers -----------------------------------------------------------------------------


def _result(
    account_id: int,
    months: tuple[date, ...],
    forecast: _Forecast,
    method: str,
    error: str | None,
    digest: str,
) -> AccountForecastResult:
    yhat = np.nan_to_num(forecast.yhat, nan=0.0).clip(min=0.0)
    lower = np.minimum(np.nan_to_num(forecast.lower, nan=0.0).clip(min=0.0), yhat)
    upper = np.maximum(np.nan_to_num(forecast.upper, nan=0.0, posinf=0.0).clip(min=0.0), yhat)
    return AccountForecastResult(
        account_id=account_id,
        months=months,
        yhat=_floats(yhat),
        yhat_lower=_floats(lower),
        yhat_upper=_floats(upper),
        method=method,
        error=error,
        history_hash=digest,
    )


def _floats(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(value) for value in values)


def _z_score(width: float) -> float:
    return NormalDist().inv_cdf(0.5 + width / 2.0)


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_from_number(number: int) -> date:
    return date(number // 12, number % 12 + 1, 1)


__all__ = [
    "AccountForecastResult",
    "AccountHistory",
    "DEFAULT_CONFIG",
    "ForecastConfig",
    "IntervalCalibration",
    "LogScaleForecast",
    "M3_INNER_CALIBRATION",
    "calibrate_interval",
    "log_scale_forecast",
    "seasonal_indices",
    "seasonal_ses_forecast",
    "croston_sba",
    "fit_prophet",
    "forecast_account",
    "forecast_many",
    "forecast_months",
    "history_hash",
    "init_forecast_worker",
    "map_chunked",
    "prophet_predictive",
    "quiet_stan_logging",
]
