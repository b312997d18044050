"""The field scenarios' facts (DESIGN.md) hold in the generated sample books, on several dates."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from core.accounts import account_potential, baseline_forecast_12m, trailing_revenue
from core.config import get_settings
from core.sample import generate_book

DATES = [date(2026, 11, 23), date(2026, 10, 1), date(2027, 3, 31)]


def potentials(book) -> pd.DataFrame:
    forecast = baseline_forecast_12m(book.revenue, as_of=book.as_of)
    accounts = book.accounts.assign(forecast=book.accounts["account_id"].map(forecast).fillna(0.0))
    accounts["potential"] = account_potential(
        accounts["forecast"], accounts["wallet_estimate"], get_settings().whitespace_weight
    )
    return accounts


def by_territory(book) -> pd.DataFrame:
    return (
        potentials(book)
        .groupby("territory_id")
        .agg(accounts=("account_id", "size"), potential=("potential", "sum"))
    )


@pytest.fixture(scope="module", params=DATES, ids=str)
def southwest(request):
    return generate_book("southwest", seed=7, as_of=request.param)


def test_southwest_size_and_states(southwest):
    reps = southwest.reps[southwest.reps["active"]]
    assert len(reps) == 12 and len(southwest.accounts) == 450
    assert reps["state"].value_counts().to_dict() == {"AZ": 5, "NV": 3, "NM": 2, "UT": 2}
    assert southwest.accounts["state"].value_counts().to_dict() == {"AZ": 188, "NV": 112, "NM": 75, "UT": 75}
    assert set(southwest.accounts["state"]) == {"AZ", "NM", "NV", "UT"}


def test_southwest_potential_spread_and_sizes(southwest):
    territories = by_territory(southwest)
    assert territories["potential"].min() == pytest.approx(2.3e6, rel=0.05)
    assert territories["potential"].max() == pytest.approx(6.8e6, rel=0.05)
    assert (territories["accounts"] >= 50).sum() == 3
    assert (territories["accounts"] < 25).sum() == 2


def test_southwest_industries_and_specialists(southwest):
    shares = southwest.accounts["industry"].value_counts(normalize=True)
    assert shares["Manufacturing"] == pytest.approx(0.40, abs=0.01)
    assert shares["Healthcare"] == pytest.approx(0.35, abs=0.01)
    assert shares["Technology"] == pytest.approx(0.25, abs=0.01)
    specialists = southwest.reps[
        southwest.reps["specialties"].str.contains("Healthcare") & southwest.reps["active"]
    ]
    assert len(specialists) == 3
    for territory in specialists["territory_id"]:
        book = southwest.accounts[southwest.accounts["territory_id"] == territory]
        assert (book["industry"] == "Healthcare").mean() >= 0.45  # they keep a healthcare book


def test_southwest_revenue_range_and_strategic_flags(southwest):
    ttm = trailing_revenue(southwest.revenue, as_of=southwest.as_of)
    months = (
        southwest.revenue[southwest.revenue["amount"] > 0].groupby("account_id")["month"].agg(["min", "max"])
    )
    established = months.index[
        months["min"]
        <= pd.Timestamp(southwest.as_of).date().replace(day=1).replace(year=southwest.as_of.year - 1)
    ]
    churned = {s.account_id for s in southwest.stories if s.kind == "churned_top_account"}
    steady = ttm.reindex(established).drop(index=list(churned), errors="ignore")
    steady = steady[steady > 0]
    assert steady.max() <= 500_000 + 1 and np.percentile(steady, 5) >= 10_000 * 0.5
    strategic = southwest.accounts.set_index("account_id")["strategic"]
    assert strategic.sum() > 0
    assert (ttm.reindex(strategic[strategic].index) > 200_000).all()


def test_southwest_history_is_36_months(southwest):
    per_account = southwest.revenue.groupby("account_id")["month"].nunique()
    assert (per_account == 36).all() and len(per_account) == 450
    assert max(southwest.revenue["month"]) < southwest.as_of.replace(day=1)


def test_southwest_stories_are_planted(southwest):
    kinds = {s.kind for s in southwest.stories}
    assert kinds == {
        "churned_top_account",
        "activity_cliff",
        "stalled_bookings",
        "overloaded_after_departure",
    }
    churn = next(s for s in southwest.stories if s.kind == "churned_top_account")
    revenue = southwest.revenue[southwest.revenue["account_id"] == churn.account_id].sort_values("month")
    assert revenue["amount"].iloc[-3:].sum() == 0 and revenue["amount"].iloc[:-3].sum() > 0
    cliff = next(s for s in southwest.stories if s.kind == "activity_cliff")
    recent = southwest.activities[
        (southwest.activities["rep_id"] == cliff.rep_id)
        & (
            pd.to_datetime(southwest.activities["occurred_on"])
            > pd.Timestamp(southwest.as_of) - pd.Timedelta(days=30)
        )
    ]
    assert recent.empty
    departed = southwest.reps[~southwest.reps["active"]]
    assert len(departed) == 1 and departed["territory_id"].isna().all() and departed["left_at"].notna().all()


def test_generation_is_deterministic():
    a = generate_book("southwest", seed=3, as_of=date(2026, 11, 23))
    b = generate_book("southwest", seed=3, as_of=date(2026, 11, 23))
    c = generate_book("southwest", seed=4, as_of=date(2026, 11, 23))
    for kind in ("reps", "accounts", "revenue", "activities", "opportunities", "quotas"):
        pd.testing.assert_frame_equal(getattr(a, kind), getattr(b, kind))
    assert not a.revenue["amount"].equals(c.revenue["amount"])


def test_midmarket_facts():
    book = generate_book("midmarket", seed=7, as_of=date(2026, 11, 23))
    territories = by_territory(book)
    assert len(book.reps[book.reps["active"]]) == 8 and len(book.accounts) == 450
    assert book.accounts["territory_id"].notna().all() and book.accounts["owner_rep_id"].notna().all()
    assert territories["potential"].sum() == pytest.approx(18.0e6, rel=0.01)
    assert territories["potential"].min() == pytest.approx(1.5e6, rel=0.05)
    assert territories["potential"].max() == pytest.approx(3.1e6, rel=0.05)
    states = book.accounts.groupby("territory_id")["state"].nunique()
    assert (states > 1).sum() == 6  # six of eight territories span state lines today
    top3 = book.accounts.groupby("territory_id")["industry"].apply(
        lambda s: s.value_counts(normalize=True).iloc[:3].sum()
    )
    assert (top3 < 0.6).sum() >= 4  # most reps are spread over many industries today


def test_national_facts():
    book = generate_book("national", seed=7, as_of=date(2026, 11, 23))
    reps = book.reps[book.reps["active"]]
    assert len(reps) == 50 and reps["region"].nunique() == 5
    assert (reps["region"].value_counts() == 10).all()
    assert len(book.accounts) == 7_500
    assert book.accounts.groupby("territory_id").size().mean() == pytest.approx(150, abs=0.5)
    year = book.quotas[pd.to_datetime(book.quotas["period_start"]).dt.year == 2026]
    assert (year.groupby("rep_id")["amount"].sum() == 2_500_000).all()
    ratio = attainment_to_pace(book).sort_values()
    quarter = len(ratio) // 4
    assert ratio.iloc[-quarter:].mean() == pytest.approx(1.18, abs=0.02)
    assert ratio.iloc[:quarter].mean() == pytest.approx(0.67, abs=0.02)


def attainment_to_pace(book) -> pd.Series:
    """Bookings this quarter / quarterly quota / elapsed share of the quarter, per rep."""
    as_of = book.as_of
    quotas = book.quotas[(book.quotas["period_start"] <= as_of) & (book.quotas["period_end"] >= as_of)]
    quotas = quotas.set_index("rep_id")
    won = book.opportunities[book.opportunities["status"] == "won"].merge(
        quotas[["period_start"]], left_on="rep_id", right_index=True
    )
    won = won[(won["close_date"] >= won["period_start"]) & (won["close_date"] <= as_of)]
    bookings = won.groupby("rep_id")["amount"].sum().reindex(quotas.index).fillna(0.0)
    pace = quotas.apply(
        lambda q: ((as_of - q.period_start).days + 1) / ((q.period_end - q.period_start).days + 1), axis=1
    )
    return bookings / quotas["amount"] / pace


def test_custom_book_parameters():
    book = generate_book(
        "custom", seed=1, as_of=date(2026, 11, 23), reps=30, accounts=3_000, states=["AZ", "NV"]
    )
    assert len(book.reps) == 30 and len(book.accounts) == 3_000
    assert set(book.accounts["state"]) <= {"AZ", "NV"} and set(book.reps["state"]) == {"AZ", "NV"}
    assert book.accounts["lat"].between(31, 42.1).all() and book.accounts["lon"].between(-120.1, -109).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "atlantis"}, "unknown sample"),
        ({"name": "custom", "states": ["ZZ"]}, "unknown state"),
        ({"name": "custom", "reps": 10, "accounts": 5}, "at least as many accounts"),
    ],
)
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_book(**kwargs)


@pytest.mark.slow
def test_largest_custom_book():
    book = generate_book("custom", seed=7, as_of=date(2026, 11, 23), reps=200, accounts=50_000)
    assert len(book.accounts) == 50_000 and book.accounts["territory_id"].nunique() == 200
    assert len(book.revenue) == 50_000 * 36
    assert book.accounts[["lat", "lon"]].notna().all().all()
