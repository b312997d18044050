"""Per-account forecaster: hand-worked fallbacks, invariants, real Prophet fits, temp files, pools, Dask."""

from __future__ import annotations

import math
import os
import tempfile
from datetime import date
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import forecast
from core.forecast import (
    DEFAULT_CONFIG,
    M3_INNER_CALIBRATION,
    AccountForecastResult,
    AccountHistory,
    IntervalCalibration,
    calibrate_interval,
    croston_sba,
    fit_prophet,
    forecast_account,
    forecast_many,
    forecast_months,
    history_hash,
    log_scale_forecast,
    prophet_predictive,
    seasonal_indices,
    seasonal_ses_forecast,
)
from core.months import add_months

AS_OF = date(2024, 1, 15)  # history ends with December 2023; the forecast starts January 2024
Z80 = 1.2815515655446004


def monthly(amounts: list[float], *, end: date = date(2023, 12, 1), account_id: int = 1) -> AccountHistory:
    """History whose last amount is for ``end``, one amount per month, zero amounts kept."""
    first = add_months(end, -(len(amounts) - 1))
    months = tuple(add_months(first, step) for step in range(len(amounts)))
    return AccountHistory(account_id, months, tuple(float(a) for a in amounts))


def seasonal_series(n: int = 36, seed: int = 3) -> list[float]:
    rng = np.random.default_rng(seed)
    step = np.arange(n)
    values = 12_000 * np.exp(0.01 * step) * (1 + 0.25 * np.sin(2 * np.pi * step / 12))
    return list(values * np.exp(rng.normal(0, 0.06, n)))


def assert_valid(result: AccountForecastResult, horizon: int) -> None:
    lengths = {len(result.months), len(result.yhat), len(result.yhat_lower), len(result.yhat_upper)}
    assert lengths == {horizon}
    for low, mid, high in zip(result.yhat_lower, result.yhat, result.yhat_upper, strict=True):
        assert 0.0 <= low <= mid <= high
        assert all(math.isfinite(v) for v in (low, mid, high))


# --- timing and hashing ------------------------------------------------------------------------


def test_forecast_months_start_with_the_month_of_as_of_and_cross_the_year():
    assert forecast_months(date(2024, 11, 20), 3) == (date(2024, 11, 1), date(2024, 12, 1), date(2025, 1, 1))


def test_history_hash_is_stable_order_free_and_sensitive_to_amounts():
    history = monthly([100, 200, 300])
    shuffled = AccountHistory(9, history.months[::-1], history.amounts[::-1])
    changed = monthly([100, 200, 300.01])
    assert history_hash(history) == history_hash(shuffled)  # same data, other order and account id
    assert history_hash(history) != history_hash(changed)
    assert len(history_hash(history)) == 64
    as_timestamps = AccountHistory(1, tuple(pd.Timestamp(m) for m in history.months), history.amounts)
    assert history_hash(as_timestamps) == history_hash(history)


# --- fallbacks, worked by hand -----------------------------------------------------------------


def test_empty_history_forecasts_zero():
    result = forecast_account(AccountHistory(7, (), ()), as_of=AS_OF)
    assert result.method == "fallback:empty" and result.error is None
    assert result.months[0] == date(2024, 1, 1) and result.yhat == (0.0,) * 12
    assert result.account_id == 7


def test_history_on_or_after_as_of_month_is_ignored():
    """Only months before January 2024 count: a January amount leaves the account empty."""
    result = forecast_account(AccountHistory(1, (date(2024, 1, 1),), (5_000.0,)), as_of=AS_OF)
    assert result.method == "fallback:empty"


def test_all_zero_history_forecasts_zero():
    result = forecast_account(monthly([0.0] * 20), as_of=AS_OF)
    assert result.method == "fallback:all_zero" and set(result.yhat_upper) == {0.0}


def test_churned_account_forecasts_zero():
    """24 months of revenue, then nothing in Oct-Dec 2023 (months simply absent): churned."""
    active = monthly(seasonal_series(24), end=date(2023, 9, 1))
    result = forecast_account(active, as_of=AS_OF)
    assert result.method == "fallback:churned" and result.yhat == (0.0,) * 12


def test_short_history_forecasts_its_mean_with_a_normal_interval():
    """Oct-Dec 2023 = 100, 200, 300: mean 200, std sqrt(20000/3) = 81.65, 80% spread 1.2816 x 81.65."""
    result = forecast_account(monthly([100, 200, 300]), as_of=AS_OF, horizon=4)
    spread = Z80 * math.sqrt(20_000 / 3)
    assert result.method == "fallback:short"
    assert result.yhat == pytest.approx((200.0,) * 4)
    assert result.yhat_lower == pytest.approx((200 - spread,) * 4)
    assert result.yhat_upper == pytest.approx((200 + spread,) * 4)


def test_missing_month_inside_the_span_counts_as_zero():
    """Oct 300, (Nov missing), Dec 300: the span is 300, 0, 300, so the mean is 200."""
    history = AccountHistory(1, (date(2023, 10, 1), date(2023, 12, 1)), (300.0, 300.0))
    assert forecast_account(history, as_of=AS_OF).yhat[0] == pytest.approx(200.0)


def test_leading_zero_months_before_the_first_revenue_do_not_count():
    """Zeros before the account's first revenue are not history: 3 active months of 90 => mean 90."""
    result = forecast_account(monthly([0.0] * 10 + [90, 90, 90]), as_of=AS_OF)
    assert result.method == "fallback:short" and result.yhat[0] == pytest.approx(90.0)


def test_intermittent_account_uses_croston_sba():
    """300 every third month of Jan 2022-Dec 2023 (8 of 24): size 300, interval 3, SBA 0.95 x 300 / 3 = 95."""
    amounts = [300.0 if step % 3 == 0 else 0.0 for step in range(24)]
    result = forecast_account(monthly(amounts), as_of=AS_OF)
    assert result.method == "fallback:intermittent"
    assert result.yhat == pytest.approx((95.0,) * 12)
    assert result.yhat_lower[0] == 0.0 and result.yhat_upper[0] == pytest.approx(300.0)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 0, 0], 0.0),
        # sizes 10, 10 and one interval of 2: the starting means never move; 0.95 x 10 / 2
        ([10, 0, 10, 0], 4.75),
        # sizes 4, 8 start at 6, intervals start at 5 / 2 = 2.5; one update with size 8 and interval 4:
        # size 6 + 0.1 (8 - 6) = 6.2, interval 2.5 + 0.1 (4 - 2.5) = 2.65; 0.95 x 6.2 / 2.65
        ([4, 0, 0, 0, 8], 0.95 * 6.2 / 2.65),
    ],
)
def test_croston_sba_hand_worked(values, expected):
    assert croston_sba(np.array(values, dtype=float)) == pytest.approx(expected)


def test_a_failure_becomes_an_error_and_a_fallback_not_an_exception():
    broken = AccountHistory(1, (date(2023, 11, 1), date(2023, 12, 1)), (100.0,))  # lengths differ
    result = forecast_account(broken, as_of=AS_OF)
    assert result.method == "fallback:error" and "differ" in (result.error or "")
    assert_valid(result, 12)


# --- exponential smoothing and interval calibration (no Prophet) --------------------------------


def test_seasonal_indices_recover_a_clear_yearly_pattern_and_skip_noise():
    """Four years of a +-1 sine around 10: the indices are the sine (mean zero); white noise has none."""
    step = np.arange(48)
    pattern = np.sin(2 * np.pi * step / 12)
    indices = seasonal_indices(10 + pattern, 12)
    assert indices is not None
    np.testing.assert_allclose(indices, pattern[:12], atol=1e-9)
    noise = np.random.default_rng(4).normal(0, 1, 48)
    assert seasonal_indices(noise, 12) is None
    assert seasonal_indices(10 + pattern[:23], 12) is None  # under two years: no test possible


def test_seasonal_ses_forecast_is_the_level_plus_the_season():
    """A flat level of 5 with a seasonal pattern: the forecast continues the pattern around 5."""
    step = np.arange(60)
    pattern = 0.5 * np.sin(2 * np.pi * step / 12)
    forecast = seasonal_ses_forecast(5 + pattern, 14)
    expected = 5 + 0.5 * np.sin(2 * np.pi * np.arange(60, 74) / 12)
    np.testing.assert_allclose(forecast, expected, atol=1e-6)
    assert seasonal_ses_forecast(np.array([3.0, 3.0, 3.0]), 2) == pytest.approx([3.0, 3.0])


def test_calibrate_interval_takes_per_month_quantiles_of_the_pooled_errors():
    """Errors 1..10 in every month: the 10% and 90% quantiles are 1.9 and 9.1 (linear interpolation)."""
    errors = np.tile(np.arange(1.0, 11.0)[:, None], (1, 3))
    calibration = calibrate_interval(errors, width=0.8)
    assert calibration.lower == pytest.approx((1.9,) * 3) and calibration.upper == pytest.approx((9.1,) * 3)
    lower, upper = calibration.bounds(5)  # months past the last calibrated one reuse it
    assert list(lower) == pytest.approx([1.9] * 5) and list(upper) == pytest.approx([9.1] * 5)


def test_calibrated_interval_covers_new_errors_at_the_nominal_rate():
    """Known noise whose spread grows with the month (Student t, 4 df, scale 1 + h / 6; nothing
    normal): calibrated on 300 series, the interval holds 80% +- 2 points of 2,000 new series'
    months, in every third of the horizon; the uncalibrated normal 80% interval holds far fewer."""
    rng = np.random.default_rng(19)
    spread = 1 + np.arange(1, 19) / 6

    def draw(n: int) -> np.ndarray:
        return rng.standard_t(4, size=(n, 18)) * spread

    calibration = calibrate_interval(draw(300), width=0.8)
    lower, upper = calibration.bounds(18)
    fresh = draw(2000)
    inside = (fresh >= lower) & (fresh <= upper)
    assert inside.mean() == pytest.approx(0.8, abs=0.02)
    for part in np.array_split(np.arange(18), 3):
        assert inside[:, part].mean() == pytest.approx(0.8, abs=0.03)
    assert (np.abs(fresh) <= Z80).mean() < 0.7


def test_product_interval_is_the_m3_inner_split_calibration():
    assert DEFAULT_CONFIG.calibration is M3_INNER_CALIBRATION
    assert M3_INNER_CALIBRATION.width == 0.8 and len(M3_INNER_CALIBRATION.lower) == 18
    assert all(
        low < 0 < high
        for low, high in zip(M3_INNER_CALIBRATION.lower, M3_INNER_CALIBRATION.upper, strict=True)
    )
    assert isinstance(M3_INNER_CALIBRATION, IntervalCalibration)


# --- invariants (hypothesis) -------------------------------------------------------------------


amounts_strategy = st.lists(
    st.one_of(st.just(0.0), st.just(math.nan), st.floats(min_value=-500, max_value=1e6)),
    min_size=0,
    max_size=48,
)


@settings(max_examples=200, deadline=None)
@given(
    amounts=amounts_strategy,
    horizon=st.integers(min_value=1, max_value=18),
    day=st.integers(min_value=1, max_value=28),
)
def test_fallback_forecasts_are_never_negative_and_intervals_are_ordered(amounts, horizon, day):
    """Any history (negative credits, NaN, gaps), with the Prophet fit made to fail: only fallbacks run."""
    history = monthly(amounts) if amounts else AccountHistory(1, (), ())
    with mock.patch.object(forecast, "_prophet_forecast", side_effect=RuntimeError("stan failed")):
        result = forecast_account(history, as_of=date(2024, 1, day), horizon=horizon)
    assert result.method.startswith("fallback:")
    assert_valid(result, horizon)


@settings(max_examples=100, deadline=None)
@given(amounts=st.lists(st.floats(min_value=0, max_value=1e5), min_size=1, max_size=11))
def test_short_histories_never_need_prophet(amounts):
    result = forecast_account(monthly(amounts), as_of=AS_OF)
    assert result.method in {"fallback:short", "fallback:all_zero", "fallback:churned"}
    assert result.error is None
    assert_valid(result, 12)


# --- real Prophet fits -------------------------------------------------------------------------


@pytest.mark.slow
def test_prophet_forecast_has_shape_intervals_and_a_plausible_level():
    values = seasonal_series(36)
    result = forecast_account(monthly(values), as_of=AS_OF, horizon=12)
    assert result.method == "prophet" and result.error is None
    assert result.months == forecast_months(AS_OF, 12)
    assert_valid(result, 12)
    assert all(low < high for low, high in zip(result.yhat_lower, result.yhat_upper, strict=True))
    last_year = np.mean(values[-12:])
    assert 0.8 * last_year < np.mean(result.yhat) < 1.4 * last_year
    # the yearly shape survives: the forecast peaks in the same quarter as the last year of history
    assert abs(int(np.argmax(result.yhat)) - int(np.argmax(values[-12:]))) <= 2


@pytest.mark.slow
def test_product_is_the_log_space_mean_of_prophet_and_ses_with_the_calibrated_interval():
    """yhat = exp((prophet + ses) / 2) - offset; the bounds sit at center + q(h) x noise."""
    values = seasonal_series(36)
    history = monthly(values)
    result = forecast_account(history, as_of=AS_OF, horizon=12)
    parts = log_scale_forecast(history, as_of=AS_OF, horizon=12)
    prophet_only = log_scale_forecast(
        history, as_of=AS_OF, horizon=12, config=forecast.ForecastConfig(ses_weight=0)
    )
    assert parts is not None and prophet_only is not None
    logged = np.log(np.asarray(values) + parts.offset)
    ses = seasonal_ses_forecast(logged, 12)
    np.testing.assert_allclose(parts.center, (prophet_only.center + ses) / 2, rtol=1e-6)
    np.testing.assert_allclose(result.yhat, np.exp(parts.center) - parts.offset, rtol=1e-6)
    assert parts.noise == pytest.approx(np.mean(np.abs(np.diff(logged))))
    low, high = M3_INNER_CALIBRATION.bounds(12)
    np.testing.assert_allclose(
        result.yhat_lower, np.exp(parts.center + low * parts.noise) - parts.offset, rtol=1e-6
    )
    np.testing.assert_allclose(
        result.yhat_upper, np.exp(parts.center + high * parts.noise) - parts.offset, rtol=1e-6
    )
    errors = parts.scaled_errors(values[:3])  # what calibrate_interval is fed in the backtest
    np.testing.assert_allclose(errors, (logged[:3] - parts.center[:3]) / parts.noise)
    assert log_scale_forecast(monthly([100, 200, 300]), as_of=AS_OF) is None  # a fallback account


@pytest.mark.slow
def test_predictive_matches_prophet_predict_and_its_sampled_interval():
    """Same Stan fit: the closed-form mean equals Prophet's yhat; the sd gives Prophet's interval width."""
    from prophet import Prophet

    dates = pd.date_range("2021-01-01", periods=36, freq="MS")
    history = pd.DataFrame({"ds": dates, "y": seasonal_series(36)})
    future = pd.Series(pd.date_range("2024-01-01", periods=12, freq="MS"))
    model = fit_prophet(
        Prophet(
            yearly_seasonality=3, weekly_seasonality=False, daily_seasonality=False, uncertainty_samples=4000
        ),
        history,
        algorithm="LBFGS",
    )
    np.random.seed(11)
    sampled = model.predict(pd.DataFrame({"ds": future}))
    mean, sd = prophet_predictive(model, future)
    np.testing.assert_allclose(mean, sampled["yhat"], rtol=1e-9)
    width = (sampled["yhat_upper"] - sampled["yhat_lower"]).to_numpy()
    np.testing.assert_allclose(2 * Z80 * sd, width, rtol=0.12)


@pytest.mark.slow
def test_feature_cache_does_not_change_the_fit():
    from prophet import Prophet

    frame = pd.DataFrame(
        {"ds": pd.date_range("2021-01-01", periods=36, freq="MS"), "y": np.log(seasonal_series(36, seed=5))}
    )
    options = dict(
        yearly_seasonality=3,
        weekly_seasonality=False,
        daily_seasonality=False,
        n_changepoints=9,
        uncertainty_samples=0,
    )
    plain = fit_prophet(Prophet(**options), frame, algorithm="LBFGS")
    cached_class = forecast._prophet_class()
    fit_prophet(cached_class(**options), frame, algorithm="LBFGS")  # fills the cache
    cached = fit_prophet(cached_class(**options), frame, algorithm="LBFGS")  # uses it
    for name in ("k", "m", "delta", "beta", "sigma_obs"):
        np.testing.assert_allclose(cached.params[name], plain.params[name], rtol=1e-6, atol=1e-9)


def _tree_size(root: str) -> int:
    return sum(len(dirs) + len(files) for _, dirs, files in os.walk(root))


@pytest.mark.slow
def test_stan_temp_files_do_not_grow_over_many_fits(tmp_path, monkeypatch):
    """cmdstanpy writes its inputs/outputs under one per-process folder; ours go to a removed folder."""
    import cmdstanpy

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    history = monthly(seasonal_series(36))
    assert forecast_account(history, as_of=AS_OF).method == "prophet"  # warm up
    before = _tree_size(cmdstanpy._TMPDIR)
    for _ in range(6):
        assert forecast_account(history, as_of=AS_OF).method == "prophet"
    assert _tree_size(cmdstanpy._TMPDIR) == before
    assert list(tmp_path.iterdir()) == []


# --- many accounts: pool, order, callbacks, Dask -----------------------------------------------


def _mixed_histories() -> list[AccountHistory]:
    return [
        monthly([100, 200, 300], account_id=1),
        AccountHistory(2, (), ()),
        monthly(seasonal_series(36, seed=8), account_id=3),
        monthly([0.0] * 5, account_id=4),
    ]


def test_forecast_many_keeps_input_order_and_reports_each_result_once():
    histories = [monthly([float(i)] * 3, account_id=i) for i in range(1, 40)]
    seen: list[int] = []
    results = forecast_many(
        histories, as_of=AS_OF, horizon=3, workers=1, on_result=lambda r: seen.append(r.account_id)
    )
    assert [r.account_id for r in results] == list(range(1, 40))
    assert sorted(seen) == list(range(1, 40))
    assert [r.yhat[0] for r in results] == pytest.approx([float(i) for i in range(1, 40)])


def test_forecast_many_of_nothing_is_empty():
    assert forecast_many([], as_of=AS_OF) == []


@pytest.mark.slow
def test_process_pool_matches_serial_and_leaves_no_temp_files(tmp_path, monkeypatch):
    """Spawned workers put cmdstanpy's folder under TMPDIR; their exit finalizer removes it."""
    histories = _mixed_histories() * 5
    serial = forecast_many(histories, as_of=AS_OF, workers=1)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    pooled = forecast_many(histories, as_of=AS_OF, workers=2)
    assert [r.method for r in pooled] == [r.method for r in serial]
    for left, right in zip(pooled, serial, strict=True):
        np.testing.assert_allclose(left.yhat, right.yhat, rtol=1e-6)
    assert list(Path(tmp_path).iterdir()) == []


@pytest.mark.slow
def test_dask_cluster_runs_the_same_function():
    from distributed import LocalCluster

    histories = _mixed_histories()
    serial = forecast_many(histories, as_of=AS_OF, workers=1)
    seen: list[int] = []
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        remote = forecast_many(
            histories,
            as_of=AS_OF,
            dask_address=cluster.scheduler_address,
            on_result=lambda r: seen.append(r.account_id),
        )
    assert [r.account_id for r in remote] == [1, 2, 3, 4] and sorted(seen) == [1, 2, 3, 4]
    assert [r.method for r in remote] == ["fallback:short", "fallback:empty", "prophet", "fallback:all_zero"]
    for left, right in zip(remote, serial, strict=True):
        np.testing.assert_allclose(left.yhat, right.yhat, rtol=1e-6)
