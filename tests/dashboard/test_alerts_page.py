"""The Alerts page through Streamlit's AppTest, against a real southwest database evaluated at a fixed clock.

The database is built once for the module on SQLite and on PostgreSQL (seed 7, as of 2026-11-23,
rules evaluated at 09:00 UTC: 13 open episodes, one digest in the outbox, see
tests/jobs/test_alert_detection.py). Tests that write work on a private copy. The oracle for every
number is the alert tables, read here with SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import delete, func, select

from core.alerts import DEFAULT_RULES
from core.alerts.rules import Rule
from core.config import get_settings
from core.db import get_engine
from core.models import AlertEpisode, AlertRule, JobRun, Notification, Territory
from dashboard import alerts_data as ad
from jobs.alerts import edit_rule, refresh_alerts
from jobs.setup import initialise
from tests.databases import BACKENDS, clone_database, drop_database, new_database
from tests.smtp_server import SmtpServer

AS_OF = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
slow = pytest.mark.slow


@pytest.fixture(scope="module", params=BACKENDS)
def alerts_db(request, tmp_path_factory) -> Iterator[str]:
    """The evaluated southwest book on each backend (PostgreSQL skipped where no server is configured)."""
    get_settings.cache_clear()  # default settings: no SMTP host, so the digest lands in the outbox
    url = new_database(request.param, tmp_path_factory.mktemp("alerts"), name="alerts")
    engine = get_engine(url)
    initialise(engine, sample="southwest", as_of=AS_OF)
    refresh_alerts(engine, now=NOW)
    engine.dispose()
    get_settings.cache_clear()
    yield url
    drop_database(url)


@pytest.fixture
def copy_db(alerts_db, tmp_path) -> Iterator[str]:
    """A private copy of the module database, on the same backend."""
    url = clone_database(alerts_db, tmp_path)
    yield url
    drop_database(url)


# --------------------------------------------------------------------------- helpers


def scalar(url: str, statement) -> int:  # type: ignore[no-untyped-def]
    with get_engine(url).connect() as connection:
        return int(connection.execute(statement).scalar() or 0)


def open_count(url: str) -> int:
    return scalar(url, select(func.count()).select_from(AlertEpisode).where(AlertEpisode.status == "open"))


def alert_runs(url: str) -> int:
    return scalar(url, select(func.count()).select_from(JobRun).where(JobRun.job == "alerts"))


def rule_row(url: str, key: str) -> dict:
    with get_engine(url).connect() as connection:
        return dict(connection.execute(select(AlertRule).where(AlertRule.key == key)).mappings().one())


def metric(at, label: str) -> str:  # type: ignore[no-untyped-def]
    return next(m.value for m in at.metric if m.label == label)


def texts(at, kind: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(e.value) for e in at.get(kind)]


def no_exception(at) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception, [e.message for e in at.exception]


def show(at, panel: str):  # type: ignore[no-untyped-def]
    at.segmented_control(key="alerts-panel").set_value(panel).run()
    no_exception(at)
    return at


# --------------------------------------------------------------------------- the page


@slow
def test_every_panel_runs_through_the_app_without_an_exception(app, alerts_db):
    at = app(alerts_db, "alerts")
    no_exception(at)
    for panel in ("History", "Rules", "Outbox", "Open episodes"):
        show(at, panel)
        assert not at.error, texts(at, "error")


@slow
def test_open_episode_counts_are_the_database_counts(page, alerts_db):
    """The open count and each severity count equal the alert tables; the table lists every open episode."""
    at = page(alerts_db, "alerts")
    no_exception(at)
    total = open_count(alerts_db)
    assert total == 13  # the documented southwest list (tests/jobs/test_alert_detection.py)
    assert metric(at, "Open episodes") == str(total)
    for severity in ("critical", "warning", "info"):
        expected = scalar(
            alerts_db,
            select(func.count())
            .select_from(AlertEpisode)
            .join(AlertRule, AlertRule.id == AlertEpisode.rule_id)
            .where(AlertEpisode.status == "open", AlertRule.severity == severity),
        )
        assert metric(at, severity.capitalize()) == str(expected)
    table = at.dataframe[0].value
    assert len(table) == total


@slow
def test_open_episodes_are_most_severe_first_and_link_to_their_territory(page, alerts_db):
    at = page(alerts_db, "alerts")
    table = at.dataframe[0].value
    assert table["Severity"].iloc[0] == "critical"
    # Grouped by territory: Hobbs (the cliff and the stall: two critical alerts) first, its
    # critical alerts on top, each with its one-line reason.
    hobbs = table[table["Territory"] == "NM · Hobbs"]
    assert hobbs.index.tolist() == list(range(len(hobbs)))
    drift = hobbs[hobbs["Rule"] == "Drift below -15 points"].iloc[0]
    assert (drift["Severity"], drift["Current"]) == ("critical", "-30 points")
    assert drift["Reason"] == "Drift in NM · Hobbs is -30 points, below the -15-point threshold."
    places = table["Territory"].tolist()
    assert all(places.index(p) == i or places[i - 1] == p for i, p in enumerate(places))  # contiguous
    with get_engine(alerts_db).connect() as connection:
        ids = set(
            connection.execute(
                select(Territory.external_id)
                .join(AlertEpisode, AlertEpisode.territory_id == Territory.id)
                .where(AlertEpisode.status == "open")
            ).scalars()
        )
    links = set(table["Detail"])
    assert links == {f"territory?territory={ext}" for ext in ids} | {"overview"}  # team rule: the Overview
    assert table.loc[table["Detail"] == "overview", "Territory"].tolist() == ["the team"]


@slow
def test_editing_a_threshold_through_the_form_changes_the_stored_rule(page, copy_db):
    at = show(page(copy_db, "alerts"), "Rules")
    assert at.number_input(key="rule-coverage_low-threshold").value == 70  # typed in percent, stored as 0.70
    at.number_input(key="rule-coverage_low-threshold").set_value(60.0)
    at.button(key="rule-coverage_low-save").click().run()
    no_exception(at)
    assert rule_row(copy_db, "coverage_low")["threshold"] == pytest.approx(0.60)
    assert any("Coverage below 60%" in text for text in texts(at, "success"))
    assert "Coverage below 60%" in at.dataframe[0].value["Rule"].tolist()  # the rules table reads the new row


@slow
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("renotify", 0.0, "re-notify interval must be a positive number of hours"),  # refused by edit_rule
        ("recipients", "lead@example.com, not-an-address", "“not-an-address” is not an email address"),
    ],
)
def test_an_invalid_edit_shows_an_error_and_changes_nothing(page, copy_db, field, value, message):
    before = rule_row(copy_db, "coverage_low")
    at = show(page(copy_db, "alerts"), "Rules")
    at.number_input(key="rule-coverage_low-threshold").set_value(50.0)  # a valid change in the same save
    widget = at.number_input if field == "renotify" else at.text_input
    widget(key=f"rule-coverage_low-{field}").set_value(value)
    at.button(key="rule-coverage_low-save").click().run()
    no_exception(at)
    assert any(message in text for text in texts(at, "error")), texts(at, "error")
    assert rule_row(copy_db, "coverage_low") == before


@slow
def test_the_outbox_lists_the_digest_of_the_evaluation_and_previews_it(page, alerts_db):
    with get_engine(alerts_db).connect() as connection:
        digest = connection.execute(select(Notification)).mappings().one()
    at = show(page(alerts_db, "alerts"), "Outbox")
    table = at.dataframe[0].value
    assert table[["#", "Recipient", "Subject", "Status"]].values.tolist() == [
        [digest["id"], "revops@localhost", digest["subject"], "outbox"]
    ]
    assert digest["subject"].startswith("[Territory Health] 13 new alerts")  # the documented count
    assert at.code[0].value == digest["body_text"].rstrip("\n")  # st.code drops the final newline
    at.segmented_control(key="alerts-preview-part").set_value("HTML").run()
    no_exception(at)
    assert at.get("html")[0].proto.body.strip() == digest["body_html"].strip()


@slow
def test_evaluate_now_a_second_time_creates_nothing_new(page, copy_db):
    """The first click may only remind (the real clock); a second click right after has nothing new to say."""
    at = page(copy_db, "alerts")
    runs_before = alert_runs(copy_db)
    at.button(key="alerts-evaluate").click().run()
    no_exception(at)
    counts = (
        scalar(copy_db, select(func.count()).select_from(Notification)),
        scalar(copy_db, select(func.count()).select_from(AlertEpisode)),
        open_count(copy_db),
    )
    at.button(key="alerts-evaluate").click().run()
    no_exception(at)
    assert (
        scalar(copy_db, select(func.count()).select_from(Notification)),
        scalar(copy_db, select(func.count()).select_from(AlertEpisode)),
        open_count(copy_db),
    ) == counts
    assert alert_runs(copy_db) == runs_before + 2
    assert any("nothing new" in text for text in texts(at, "success"))
    assert metric(at, "Open episodes") == str(counts[2])


@slow
def test_a_resolved_episode_is_in_the_history_with_its_duration(page, copy_db):
    engine = get_engine(copy_db)
    edit_rule(engine, "coverage_low", threshold=0.5)  # SW-T001's 66% coverage is now inside
    refresh_alerts(engine, now=NOW + timedelta(hours=5))
    at = show(page(copy_db, "alerts"), "History")
    table = at.dataframe[0].value
    assert table[["Rule", "Territory", "Lasted"]].values.tolist() == [
        ["Coverage below 50%", "AZ · Phoenix", "5 h"]
    ]
    drift_rule = rule_row(copy_db, "drift_low")["id"]
    at.selectbox(key="alerts-history-rule").set_value(drift_rule).run()  # a rule with nothing resolved
    assert at.dataframe[0].value.empty
    assert "0 resolved episodes." in texts(at, "caption")
    assert metric(at, "Open episodes") == str(open_count(copy_db)) == "12"  # 13 less the resolved one


@slow
def test_no_rules_are_seeded_on_first_open_and_no_episodes_read_all_clear(page, copy_db):
    with get_engine(copy_db).begin() as connection:
        for table in (Notification, AlertEpisode, AlertRule):
            connection.execute(delete(table))
    at = page(copy_db, "alerts")
    no_exception(at)
    assert any("default rules were added" in text for text in texts(at, "info"))
    assert scalar(copy_db, select(func.count()).select_from(AlertRule)) == len(DEFAULT_RULES)
    assert any("All clear" in text for text in texts(at, "success"))
    assert metric(at, "Open episodes") == "0"
    at.run()  # a second open seeds nothing more
    assert not any("default rules were added" in text for text in texts(at, "info"))


@slow
def test_send_test_email_without_an_smtp_host_says_emails_go_to_the_outbox(page, alerts_db):
    at = show(page(alerts_db, "alerts"), "Outbox")
    at.button(key="alerts-test-send").click().run()
    no_exception(at)
    assert any("TERRITORY_SMTP_HOST" in text and "outbox" in text for text in texts(at, "info"))
    assert not at.error


@slow
def test_send_test_email_goes_through_a_real_smtp_server(page, alerts_db, monkeypatch):
    with SmtpServer() as server:
        monkeypatch.setenv("TERRITORY_SMTP_HOST", server.host)
        monkeypatch.setenv("TERRITORY_SMTP_PORT", str(server.port))
        at = show(page(alerts_db, "alerts"), "Outbox")  # `page` clears the settings cache
        at.text_input(key="alerts-test-to").set_value("lead@example.com")
        at.button(key="alerts-test-send").click().run()
        no_exception(at)
        assert [m.rcpt_tos for m in server.messages] == [("lead@example.com",)]
        assert server.messages[0].message["Subject"] == "[Territory Health] Test email"
    assert any("Test email sent to lead@example.com" in text for text in texts(at, "success"))


# --------------------------------------------------------------------------- pure helpers


from tests.factories import worked_rules  # noqa: E402

RULES = worked_rules()  # the thresholds of the worked cases (tests/factories.py)


@pytest.mark.parametrize(
    ("key", "shown", "unit"),
    [
        ("coverage_low", 70.0, "%"),  # a share, typed in percent
        ("activity_drop", -30.0, "%"),
        ("potential_index_band", 15.0, "± % around the mean"),  # a band around the index 1.0
        ("drift_low", -10.0, "points"),
        ("pipeline_coverage_low", 3.0, "×"),
        ("team_potential_cv", 0.15, "value"),
    ],
)
def test_thresholds_are_typed_as_they_read_and_stored_as_before(key, shown, unit):
    rule = RULES[key]
    field = ad.threshold_field(rule)
    assert (field.shown(rule.threshold), field.unit) == (shown, unit)
    assert field.stored(field.shown(rule.threshold)) == pytest.approx(rule.threshold, abs=1e-15)


def test_rule_changes_holds_only_what_the_form_changed():
    rule = Rule("k", "n", "coverage", "below", 0.7, recipients=("a@x.io",))
    same = dict(
        threshold=0.7000000000000001,
        severity="warning",
        scope="territory",
        recipients=" a@x.io ",
        renotify_hours=24.0,
        enabled=True,
    )
    assert ad.rule_changes(rule, **same) == {}
    assert ad.rule_changes(rule, **(same | {"threshold": 0.6, "recipients": "", "enabled": False})) == {
        "threshold": 0.6,
        "recipients": "",
        "enabled": False,
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", None),
        ("a@x.io, b@y.org", None),
        ("a@x.io, bob", "“bob” is not an email address"),
        ("bob, a b@x.io", "“bob”, “a b@x.io” are not email addresses"),
    ],
)
def test_recipients_problem(text, problem):
    assert ad.recipients_problem(text) == problem


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(minutes=20), "20 min"),
        (timedelta(hours=5), "5 h"),
        (timedelta(hours=47), "47 h"),
        (timedelta(days=3), "3 days"),
        (None, "—"),
        (pd.NaT, "—"),
    ],
)
def test_duration_text(span, text):
    assert ad.duration_text(span) == text


def test_history_filters_by_rule_and_place():
    rule = Rule("coverage_low", "n", "coverage", "below", 0.7, id=1)
    frame = pd.DataFrame(
        {
            "episode_id": [1, 2, 3],
            "rule_id": [1, 1, 2],
            "territory_id": [10, None, 11],
            "external_id": ["T1", None, "T2"],
            "territory_name": ["North", None, "South"],
            "status": "resolved",
            "opened_at": pd.to_datetime(["2026-01-01 09:00", "2026-01-02 09:00", "2026-01-03 09:00"]),
            "resolved_at": pd.to_datetime(["2026-01-01 10:00", "2026-01-05 09:00", "2026-01-03 09:30"]),
            "first_value": [0.6, 0.5, 0.4],
            "last_value": [0.75, 0.8, 0.9],
            "notify_count": [2, 1, 1],
        }
    )
    by_id = {1: rule}
    whole = ad.history_table(frame, by_id)
    assert whole["Territory"].tolist() == ["the team", "South", "North"]
    assert whole["Lasted"].tolist() == ["3 days", "30 min", "1 h"]  # newest resolution first
    assert whole["Rule"].tolist() == ["Coverage below 70%", "rule #2 (deleted)", "Coverage below 70%"]
    assert ad.history_table(frame, by_id, rule_id=1, external_id="")["Territory"].tolist() == ["the team"]
    assert ad.places(frame) == {"": "the team", "T1": "North (T1)", "T2": "South (T2)"}
    assert whole["First"].tolist() == ["50%", "—", "60%"]


def test_an_open_balance_episode_links_to_its_fix_plan():
    rule = Rule("potential_index_band", "n", "potential_index", "outside", 0.15, id=1)
    frame = pd.DataFrame(
        {
            "episode_id": [1, 2],
            "rule_id": [1, 1],
            "territory_id": [10, 11],
            "external_id": ["T1", "T2"],
            "territory_name": ["North", "South"],
            "status": "open",
            "opened_at": pd.to_datetime(["2026-01-01 09:00", "2026-01-02 09:00"]),
            "resolved_at": pd.NaT,
            "first_value": [1.3, 0.7],
            "last_value": [1.3, 0.7],
            "last_notified_at": pd.to_datetime(["2026-01-01 09:00", "2026-01-02 09:00"]),
            "notify_count": [1, 1],
            "fix_plan_id": [7, None],
        }
    )
    table = ad.open_table(frame, {1: rule})
    assert table.set_index("Territory")["Fix plan"].to_dict() == {"North": "Plan 7", "South": None}
    assert ad.fix_plan_targets(table) == {7: "North"}


def test_fix_plan_links_open_the_optimize_page_in_the_same_tab(app, copy_db):
    """The page links each prepared fix plan with a page link (same tab), not a new-tab link column."""
    with get_engine(copy_db).connect() as connection:
        plans = (
            connection.execute(
                select(AlertEpisode.fix_plan_id).where(
                    AlertEpisode.status == "open", AlertEpisode.fix_plan_id.is_not(None)
                )
            )
            .scalars()
            .all()
        )
    get_engine(copy_db).dispose()
    assert plans, "the southwest book's balance alerts prepare fix plans"
    at = show(app(copy_db, "alerts"), "Open episodes")
    no_exception(at)
    links = [link for link in at.get("page_link") if link.proto.label.startswith("Plan ")]
    assert all(link.proto.page.endswith("optimize") for link in links)
    assert {link.proto.label.split(":")[0] for link in links} == {f"Plan {p}" for p in set(plans)}
