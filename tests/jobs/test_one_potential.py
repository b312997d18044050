"""One answer for each number: every screen reads an account's potential from ``core.accounts``.

The book: a small sample with a complete forecast run, then six accounts imported into one territory
with 24 months of revenue and no forecast yet. The KPI snapshot, the optimizer's "before", the Map
page's loader and the accounts export must give that territory (and every other) the same
potential: the new accounts count with their baseline potential everywhere (``core.accounts``).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from core.accounts import baseline_forecast_12m
from core.importing import import_files
from core.months import add_months
from core.queries import accounts_export, load_potentials, load_revenue, load_territories, load_territory_kpis
from core.rebalance import Scenario
from dashboard import data
from jobs.forecasts import refresh_forecasts
from jobs.kpis import refresh_kpis
from jobs.optimize import load_problem
from jobs.setup import initialise

AS_OF = date(2026, 11, 23)
NEW = 6

pytestmark = pytest.mark.slow  # real Prophet fits


@pytest.fixture(autouse=True)
def _fit_in_process(monkeypatch):
    monkeypatch.setenv("TERRITORY_FORECAST_WORKERS", "1")


@pytest.fixture
def book_with_new_accounts(engine, tmp_path):
    initialise(engine, sample="custom", reps=3, accounts=24, states=["AZ"], as_of=AS_OF, backfill=False)
    refresh_forecasts(engine, as_of=AS_OF, full=True)
    territory = load_territories(engine=engine)["external_id"].iloc[0]
    accounts = pd.DataFrame(
        {
            "account_id": [f"NEW-{i}" for i in range(NEW)],
            "name": [f"New account {i}" for i in range(NEW)],
            "territory_id": territory,
            "industry": "Manufacturing",
            "state": "AZ",
            "lat": 33.45 + 0.01 * pd.RangeIndex(NEW),
            "lon": -112.07,
            "wallet_estimate": 400_000.0,
        }
    )
    months = [add_months(AS_OF, -k) for k in range(24, 0, -1)]
    revenue = pd.DataFrame(
        [(f"NEW-{i}", month, 10_000.0 * (i + 1)) for i in range(NEW) for month in months],
        columns=["account_id", "month", "amount"],
    )
    accounts.to_csv(tmp_path / "accounts.csv", index=False)
    revenue.to_csv(tmp_path / "revenue.csv", index=False)
    import_files(
        engine, {"accounts": tmp_path / "accounts.csv", "revenue": tmp_path / "revenue.csv"}, today=AS_OF
    )
    refresh_kpis(engine, as_of=AS_OF)
    return engine, territory


def test_kpis_optimizer_map_and_export_give_one_potential_per_territory(book_with_new_accounts, db_url):
    engine, territory = book_with_new_accounts
    territories = load_territories(engine=engine).set_index("territory_id")["external_id"]

    kpis = load_territory_kpis(engine=engine, snapshot_date=AS_OF)
    from_kpis = kpis.set_index("territory_id")["potential"].rename(index=territories).sort_index()

    problem = load_problem(engine, Scenario(), as_of=AS_OF)
    accounts = problem.accounts.assign(territory_ext=problem.accounts["territory_id"].map(territories))
    from_optimizer = accounts.groupby("territory_ext")["potential"].sum().sort_index()

    book = data.accounts(db_url, "test", AS_OF)  # the Map page's loader, outside a Streamlit session
    from_map = book.groupby("territory")["potential"].sum().sort_index()

    export = accounts_export(engine=engine, as_of=AS_OF)
    from_export = export.groupby("territory_id")["potential"].sum().sort_index()

    assert list(from_kpis.index) == list(from_optimizer.index) == list(from_map.index)
    pd.testing.assert_series_equal(from_optimizer, from_kpis, check_names=False, rtol=1e-9)
    pd.testing.assert_series_equal(from_map, from_kpis, check_names=False, rtol=1e-9)
    pd.testing.assert_series_equal(from_export, from_kpis, check_names=False, atol=0.05 * len(book))

    # The new accounts have no forecast and count with their baseline potential everywhere:
    # 24 months of history, so their trailing year, plus 30% of the wallet above it.
    new = book[book["external_id"].str.startswith("NEW-")].sort_values("external_id")
    assert len(new) == NEW and (new["potential_source"] == "baseline").all()
    assert not new["account_id"].isin(load_potentials(engine=engine)["account_id"]).any()
    trailing_year = 120_000.0 * (1 + pd.RangeIndex(NEW).to_numpy())
    assert new["account_id"].map(
        baseline_forecast_12m(load_revenue(engine=engine), as_of=AS_OF)
    ).to_numpy() == (pytest.approx(trailing_year))
    expected = trailing_year + 0.3 * (400_000.0 - trailing_year).clip(min=0)
    assert new["potential"].to_numpy() == pytest.approx(expected)
    assert (new["territory"] == territory).all()
