"""Every page of the real app through Streamlit's AppTest, against a real southwest database.

The oracle for each number is the KPI table in the database, read here without the dashboard's
code: what the page shows must be that number, formatted for people.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import insert, select, update
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

from core.db import get_engine, upgrade_schema
from core.format import money, pct, points, ratio
from core.kpi_registry import KPIS, TEAM_KPIS
from core.models import Account, AccountForecast, Activity, ForecastRun, JobRun, TeamKpi, TerritoryKpi
from core.queries import load_accounts, load_territory_kpis, read_frame
from dashboard.maps import HIGH, MAP_METRICS
from tests.dashboard.conftest import PAGES

# --------------------------------------------------------------------------- oracles


def team_row(url: str) -> pd.Series:
    return read_frame(get_engine(url), select(TeamKpi).order_by(TeamKpi.snapshot_date)).iloc[-1]


def territory_rows(url: str) -> pd.DataFrame:
    return load_territory_kpis(engine=get_engine(url))


def metric(at, label: str):  # type: ignore[no-untyped-def]
    return next(m for m in at.metric if m.label == label)


def deck(at) -> dict:  # type: ignore[no-untyped-def]
    charts = at.get("deck_gl_json_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.json)


def layer(spec: dict, layer_id: str) -> dict:
    return next(item for item in spec["layers"] if item["id"] == layer_id)


def texts(at) -> str:  # type: ignore[no-untyped-def]
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "warning", "error", "success")
        for e in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts)


def no_exception(at) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception, [e.message for e in at.exception]


# --------------------------------------------------------------------------- every page


@pytest.mark.parametrize("name", PAGES)
def test_every_page_runs_through_the_app_without_an_exception(app, sample_db, name):
    at = app(sample_db, name)
    no_exception(at)
    assert not at.error  # no failed job in a fresh sample database


# --------------------------------------------------------------------------- overview


def test_overview_team_metrics_are_the_team_kpi_row(app, sample_db):
    at = app(sample_db)
    team = team_row(sample_db)
    assert metric(at, "CV of potential").value == f"{team['cv_potential']:.2f}"
    assert metric(at, "Max / min").value == ratio(team["max_min_ratio"])
    assert metric(at, "Quartile ratio").value == ratio(team["quartile_ratio"])
    assert metric(at, "Out of band").value == f"{team['out_of_band']} of {team['territories']}"
    assert metric(at, "Reps on pace").value == pct(team["reps_on_pace_share"])
    assert metric(at, "Coverage").value == pct(team["coverage"])


def test_cards_tables_and_the_map_legend_take_the_registry_label(app, sample_db, monkeypatch):
    """One rename in the KPI registry: the team card, the health table column, the territory card and
    the map's control and legend all follow."""
    for table in (KPIS, TEAM_KPIS):
        monkeypatch.setitem(table, "coverage", replace(table["coverage"], label="Touched potential"))
    at = app(sample_db)
    assert metric(at, "Touched potential").value == pct(team_row(sample_db)["coverage"])
    assert "Touched potential" in at.dataframe[0].value.columns
    assert metric(app(sample_db, "territory"), "Touched potential")
    at = app(sample_db, "map")
    at.segmented_control(key="map-metric").set_value("coverage").run()
    assert "Touched potential" in at.get("html")[0].value


def test_overview_ranks_territories_by_their_snapshot_health_with_every_reason(app, sample_db):
    at = app(sample_db)
    table = at.dataframe[0].value
    kpis = territory_rows(sample_db).set_index("external_id")
    shown_ids = table["Detail"].str.removeprefix("territory?territory=")
    assert sorted(shown_ids) == sorted(kpis.index)
    assert table["Health"].tolist() == kpis.loc[shown_ids, "health"].tolist()
    assert table["Health"].is_monotonic_increasing
    for territory, why in zip(shown_ids, table["Why points were deducted"], strict=True):
        for deduction in json.loads(kpis.at[territory, "deductions"]):
            assert deduction["reason"] in why
    worst = table.iloc[0]
    assert worst["Potential"] == money(kpis.at[shown_ids.iloc[0], "potential"])
    assert worst["Drift"] == points(kpis.at[shown_ids.iloc[0], "drift"])


def test_overview_lists_job_freshness(app, sample_db):
    at = app(sample_db)
    freshness = at.dataframe[1].value
    assert "kpis" in freshness["job"].tolist()
    assert (freshness.loc[freshness["job"] == "kpis", "flag"] == "").all()


def test_refresh_now_runs_the_kpi_job_then_the_alerts_from_the_dashboard(app, writable_db):
    """The Alerts page says alerts follow every KPI refresh: the button does what the scheduler does."""
    at = app(writable_db)
    at.button(key="refresh-button").click().run()
    no_exception(at)
    runs = read_frame(
        get_engine(writable_db), select(JobRun).where(JobRun.trigger == "dashboard").order_by(JobRun.id)
    )
    assert runs["job"].tolist() == ["kpis", "alerts"] and runs["status"].tolist() == ["success"] * 2


# --------------------------------------------------------------------------- notices


def test_a_failed_job_shows_an_error_at_the_top_of_every_page(app, writable_db):
    with get_engine(writable_db).begin() as connection:
        connection.execute(
            insert(JobRun).values(
                job="forecasts",
                status="failed",
                started_at=datetime.now(UTC),
                finished_at=datetime.now(UTC),
                error="RuntimeError: cmdstan crashed\ntraceback ...",
            )
        )
    for name in ("overview", "map", "data_page"):
        at = app(writable_db, name)
        assert any("forecasts" in e.value and "cmdstan crashed" in e.value for e in at.error), name


def test_stale_kpis_are_flagged(app, writable_db):
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    with get_engine(writable_db).begin() as connection:
        connection.execute(update(JobRun).values(started_at=three_days_ago, finished_at=three_days_ago))
    at = app(writable_db)
    assert any("stale" in w.value for w in at.warning)
    assert "stale" in at.dataframe[1].value["flag"].tolist()


# --------------------------------------------------------------------------- empty database


def test_no_database_file_shows_only_the_sign_in_and_creates_nothing(app, tmp_path):
    missing = tmp_path / "nowhere" / "territory.db"
    at = app(f"sqlite:///{missing}", role=None)
    no_exception(at)
    assert at.subheader[0].value == "Sign in" and "No one can sign in yet" in at.info[0].value
    assert not missing.exists()


def test_an_admin_on_a_new_database_sees_onboarding(app, tmp_path):
    at = app(f"sqlite:///{tmp_path / 'new.db'}")
    no_exception(at)
    assert at.title[0].value == "Welcome to Territory Health"
    assert at.button(key="load-sample").label == "Load the southwest sample"


@pytest.mark.parametrize("name", ["overview", "map", "territory", "drift"])
def test_a_schema_without_accounts_shows_onboarding_on_every_data_page(app, tmp_path, name):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade_schema(get_engine(url))
    at = app(url, name)
    no_exception(at)
    assert at.title[0].value == "Welcome to Territory Health"


def test_the_data_page_offers_import_on_an_empty_database(app, tmp_path):
    at = app(f"sqlite:///{tmp_path / 'none.db'}", "data_page")
    no_exception(at)
    assert len(at.get("file_uploader")) == 6


@pytest.mark.slow
def test_onboarding_loads_the_southwest_sample(app, tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    at = app(url)
    at.button(key="load-sample").click().run()
    no_exception(at)
    assert at.title[0].value == "Overview"
    assert len(load_accounts(engine=get_engine(url))) == 450


# --------------------------------------------------------------------------- map


def test_map_draws_every_layer_without_a_basemap(app, sample_db):
    spec = deck(app(sample_db, "map"))
    assert spec["mapStyle"] == "__MAP_STYLE__" and "mapProvider" not in spec
    ids = {item["id"] for item in spec["layers"]}
    assert {"territories", "territory-borders", "accounts", "rep-homes", "rep-names", "states"} <= ids
    located = load_accounts(engine=get_engine(sample_db)).dropna(subset=["lat", "lon"])
    assert len(layer(spec, "accounts")["data"]) == len(located)


def test_the_map_stands_on_state_outlines_with_one_label_per_area_at_most(app, sample_db):
    spec = deck(app(sample_db, "map"))
    ids = [item["id"] for item in spec["layers"]]
    assert ids.index("state-outlines") < ids.index("territories")  # the ground is drawn first
    assert len(layer(spec, "state-outlines")["data"]) >= 4  # AZ, NM, NV, UT and their neighbours
    labels = layer(spec, "rep-names")["data"]
    assert 0 < len(labels) <= len(territory_rows(sample_db))


def territory_colours(spec: dict) -> dict[str, list[int]]:
    """Territory external id -> its fill colour, read from the area tooltips."""
    colours: dict[str, list[int]] = {}
    for shape in layer(spec, "territories")["data"]:
        external_id = shape["tip"].split("(", 1)[1].split(")", 1)[0]
        assert colours.setdefault(external_id, shape["color"]) == shape["color"]  # one colour per territory
    return colours


def test_map_colours_follow_the_chosen_metric(app, sample_db):
    at = app(sample_db, "map")
    kpis = territory_rows(sample_db).set_index("external_id")
    by_index = territory_colours(deck(at))
    assert sorted(by_index) == sorted(kpis.index)
    for territory, colour in by_index.items():
        index = kpis.at[territory, "potential_index"]
        if index >= 1.5:
            assert colour[:3] == list(HIGH)
        elif abs(index - 1) > 0.05:  # over-loaded reads vermilion (red > blue), under-loaded blue
            assert (colour[0] > colour[2]) == (index > 1), territory
    at.segmented_control(key="map-metric").set_value("drift").run()
    by_drift = territory_colours(deck(at))
    assert by_drift != by_index
    for territory, colour in by_drift.items():
        drift = kpis.at[territory, "drift"]
        if abs(drift) > 2:  # falling behind reads vermilion
            assert (colour[0] > colour[2]) == (drift < 0), territory
    assert MAP_METRICS["drift"].label in at.get("html")[0].value  # the legend follows too


def test_map_filters_narrow_accounts_and_territories(app, sample_db):
    at = app(sample_db, "map")
    at.multiselect(key="map-state").set_value(["NV"]).run()
    spec = deck(at)
    accounts = load_accounts(engine=get_engine(sample_db))
    nevada = accounts[(accounts["state"] == "NV") & accounts["lat"].notna()]
    assert len(layer(spec, "accounts")["data"]) == len(nevada)
    kpis = territory_rows(sample_db).set_index("territory_id")
    expected = set(kpis.loc[nevada["territory_id"].unique(), "external_id"])
    assert set(territory_colours(spec)) == expected


# --------------------------------------------------------------------------- territory


def test_territory_deep_link_selects_it_and_shows_its_snapshot(page, sample_db):
    kpis = territory_rows(sample_db).set_index("external_id")
    chosen = kpis.index[2]
    at = page(sample_db, "territory", territory=chosen)
    no_exception(at)
    assert at.selectbox(key="territory-pick").value == chosen
    assert metric(at, "Health").value == f"{kpis.at[chosen, 'health']:.0f}"
    assert metric(at, "Potential").value == money(kpis.at[chosen, "potential"])
    assert metric(at, "Drift (28 days)").value == points(kpis.at[chosen, "drift"])
    for deduction in json.loads(kpis.at[chosen, "deductions"]):
        assert deduction["reason"] in texts(at)


def test_picking_a_territory_updates_the_link(page, sample_db):
    kpis = territory_rows(sample_db)
    at = page(sample_db, "territory")
    other = kpis["external_id"].iloc[-1]
    at.selectbox(key="territory-pick").set_value(other).run()
    assert at.query_params["id"] in (other, [other])  # the page's address is /territory?id=<id>
    assert "territory" not in at.query_params


def test_the_older_territory_address_still_opens_it(page, sample_db):
    chosen = territory_rows(sample_db)["external_id"].iloc[1]
    at = page(sample_db, "territory", territory=chosen)
    assert at.selectbox(key="territory-pick").value == chosen
    assert at.query_params["id"] in (chosen, [chosen])


def test_an_unknown_territory_in_the_link_warns_and_falls_back(page, sample_db):
    at = page(sample_db, "territory", territory="NOPE-1")
    no_exception(at)
    assert any("NOPE-1" in w.value for w in at.warning)


def test_whitespace_accounts_have_no_activity_in_90_days(page, sample_db):
    """Checked on the territories that have idle accounts at all (found here with plain SQL)."""
    kpis = territory_rows(sample_db)
    engine = get_engine(sample_db)
    snapshot = kpis["snapshot_date"].iloc[0]
    recent = read_frame(
        engine,
        select(Activity.account_id).where(
            Activity.occurred_on >= snapshot - timedelta(days=90), Activity.occurred_on <= snapshot
        ),
    )
    accounts = read_frame(engine, select(Account.id, Account.external_id, Account.territory_id))
    idle = accounts[~accounts["id"].isin(recent["account_id"])]
    with_idle = kpis.loc[kpis["territory_id"].isin(idle["territory_id"]), "external_id"].head(3)
    assert len(with_idle) > 0  # the southwest book plants idle accounts
    listed = 0
    for territory in with_idle:
        at = page(sample_db, "territory", territory=territory)
        whitespace = [d.value for d in at.dataframe if "last_touch" not in d.value.columns]
        for table in whitespace:
            listed += len(table)
            assert set(table["external_id"]) <= set(idle["external_id"])
    assert listed > 0


def test_without_a_forecast_the_account_chart_says_so(page, sample_db):
    at = page(sample_db, "territory")
    assert any("No forecast yet" in i.value for i in at.info)


def test_with_a_current_forecast_run_the_chart_shows_forecast_and_interval(page, writable_db):
    engine = get_engine(writable_db)
    kpis = territory_rows(writable_db)
    first = kpis.sort_values(["health", "external_id"])["territory_id"].iloc[0]
    accounts = load_accounts(engine=engine)
    with engine.begin() as connection:
        run_id = connection.execute(
            insert(ForecastRun).values(
                as_of=kpis["snapshot_date"].iloc[0], status="complete", is_current=True
            )
        ).inserted_primary_key[0]
        connection.execute(
            insert(AccountForecast),
            [
                {
                    "run_id": run_id,
                    "account_id": int(a),
                    "month": pd.Timestamp("2030-01-01").date(),
                    "yhat": 1234.5,
                    "yhat_lower": 1000.0,
                    "yhat_upper": 1500.0,
                }
                for a in accounts.loc[accounts["territory_id"] == first, "account_id"]
            ],
        )
    at = page(writable_db, "territory")
    no_exception(at)
    assert not any("No forecast yet" in i.value for i in at.info)
    chart = at.get("vega_lite_chart")[-1].proto
    plotted = convert_arrow_bytes_to_pandas_df(chart.data.data)
    future = plotted[plotted["yhat"].notna()]
    assert future[["yhat", "yhat_lower", "yhat_upper"]].values.tolist() == [[1234.5, 1000.0, 1500.0]]
    assert plotted["actual"].notna().sum() > 0  # the history is drawn under the forecast


# --------------------------------------------------------------------------- drift


def test_drift_changes_are_differences_of_stored_snapshots(app, sample_db):
    at = app(sample_db, "drift")
    no_exception(at)
    history = load_territory_kpis(engine=get_engine(sample_db), since=pd.Timestamp("2000-01-01").date())
    latest = history["snapshot_date"].max()
    table = at.dataframe[0].value
    for row in table.head(5).itertuples():
        external_id = row.open.removeprefix("territory?territory=")
        mine = history[history["external_id"] == external_id].set_index("snapshot_date")["attainment_gap"]
        assert row._3 == points(mine[latest] - mine[latest - timedelta(days=28)])
        assert row._4 == points(mine[latest] - mine[latest - timedelta(days=91)])


def test_misaligned_quotas_are_the_ones_far_from_the_median_ratio(app, sample_db):
    at = app(sample_db, "drift")
    kpis = territory_rows(sample_db).dropna(subset=["quota"])
    ratio_ = kpis["quota"] / kpis["potential"]
    expected = set(kpis.loc[(ratio_ / ratio_.median() - 1).abs() > 0.25, "name"])
    shown = set(at.dataframe[-1].value["territory"]) if expected else set()
    assert shown == expected


# --------------------------------------------------------------------------- data


def test_data_quality_counts_what_is_missing(app, writable_db):
    with get_engine(writable_db).begin() as connection:
        connection.execute(update(Account).where(Account.id.in_([1, 2, 3])).values(lat=None, lon=None))
        connection.execute(update(Account).where(Account.id == 4).values(industry=None))
    at = app(writable_db, "data_page")
    quality = at.dataframe[0].value.set_index("check")
    assert quality.at["accounts without coordinates", "affected"] == "3 of 450"
    assert quality.at["accounts without industry", "affected"] == "1 of 450"
    assert quality.at["vacant territories", "status"] == "ok"


def test_job_history_lists_every_run(app, sample_db):
    at = app(sample_db, "data_page")
    runs = read_frame(get_engine(sample_db), select(JobRun))
    assert len(at.dataframe[-1].value) == len(runs)


def upload(at, kind: str, name: str, text: str) -> None:  # type: ignore[no-untyped-def]
    at.file_uploader(key=f"upload-{kind}").upload(name, text.encode(), "text/csv")


def test_a_refused_import_lists_every_problem_and_writes_nothing(app, writable_db):
    pytest.importorskip("core.importing")
    before = len(load_accounts(engine=get_engine(writable_db)))
    at = app(writable_db, "data_page")
    upload(at, "accounts", "bad_accounts.csv", "account_id,name,lat\nX-1,,91.5\nX-2,Beta,not-a-number\n")
    at.button[0].click().run()
    no_exception(at)
    assert any("nothing was written" in e.value for e in at.error)
    report = "\n".join(c.value for c in at.get("code"))
    assert "bad_accounts.csv" in report
    assert len(load_accounts(engine=get_engine(writable_db))) == before


def test_no_exception_on_any_page_when_kpis_were_never_computed(app, tmp_path):
    """Accounts but no snapshot: each KPI page explains and offers the refresh instead of failing."""
    source = Path(tmp_path / "nokpi.db")
    url = f"sqlite:///{source}"
    engine = get_engine(url)
    upgrade_schema(engine)
    with engine.begin() as connection:
        connection.execute(insert(Account).values(external_id="A-1", name="Solo"))
    for name in ("overview", "map", "territory", "drift"):
        at = app(url, name)
        no_exception(at)
        assert any("no KPI snapshot" in i.value for i in at.info), name
    assert read_frame(engine, select(TerritoryKpi)).empty
