"""The cached loaders against oracles computed from the database with core's own functions."""

from __future__ import annotations

import pandas as pd
import pytest

from core.accounts import trailing_revenue
from core.db import get_engine, upgrade_schema
from core.queries import load_revenue
from dashboard import data


def test_revenue_ttm_summed_in_sql_equals_core_trailing_revenue(sample_db, use_db):
    use_db(sample_db)
    status = data.data_status()
    book = data.accounts(status.url, status.version, status.as_of).set_index("account_id")
    oracle = trailing_revenue(load_revenue(engine=get_engine(sample_db)), as_of=status.as_of)
    expected = book.index.to_series().map(oracle).fillna(0.0)
    pd.testing.assert_series_equal(book["revenue_ttm"], expected, check_names=False, rtol=1e-9)


def test_potential_without_a_forecast_run_is_the_baseline_the_kpi_snapshot_sums(sample_db, use_db):
    """Before the first forecast run the territory potentials in the snapshot are sums of these."""
    use_db(sample_db)
    status = data.data_status()
    book = data.accounts(status.url, status.version, status.as_of)
    assert (book["potential_source"] == "baseline").all()
    snapshot = data.snapshot(status.url, status.version, status.snapshot).set_index("territory_id")
    summed = book.groupby("territory_id")["potential"].sum()
    pd.testing.assert_series_equal(
        summed, snapshot.loc[summed.index, "potential"], check_names=False, rtol=1e-6
    )


@pytest.mark.parametrize(("exists", "schema"), [(False, False), (True, False), (True, True)])
def test_status_of_an_empty_database_is_not_ready(tmp_path, use_db, exists, schema):
    path = tmp_path / "t.db"
    url = use_db(f"sqlite:///{path}")
    if exists:
        engine = get_engine(url)
        if schema:
            upgrade_schema(engine)
        else:
            with engine.connect():
                pass
    status = data.data_status()
    assert (status.exists, status.schema, status.ready, status.accounts) == (exists, schema, False, 0)
    assert path.exists() == exists


def test_the_data_version_changes_when_a_job_finishes(writable_db, use_db):
    from jobs.kpis import refresh_kpis

    use_db(writable_db)
    before = data.data_status().version
    refresh_kpis(get_engine(writable_db))
    assert data.data_status().version != before
