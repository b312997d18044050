"""Alert episodes on a real SQLite file: open once, re-notify after the interval, resolve once,
one digest per recipient, the trend from four weeks earlier, the outbox without SMTP.

``AlertDb`` (a small builder of Rep / Territory / TerritoryKpi / TeamKpi rows) is shared with
test_alerts_email.py.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlmodel import Session, select

from core.alerts.episodes import evaluate_alerts, load_snapshot, nearest_trend_date
from core.config import Settings
from core.db import get_engine, upgrade_schema
from core.models import AlertEpisode, AlertRule, Notification, Rep, TeamKpi, Territory, TerritoryKpi
from tests.factories import seed_worked_rules

DAY = date(2025, 6, 2)
T0 = datetime(2025, 6, 2, 6, 0, tzinfo=UTC)
HEALTHY: dict[str, float | None] = {
    "potential_index": 1.0,
    "workload_index": 1.0,
    "drift": 0.0,
    "coverage": 0.9,
    "activity_change": 0.0,
    "pipeline_coverage": 4.0,
}


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": None,
        "alert_recipients": "revops@example.com",
        "dashboard_url": "http://dash.example",
        "alert_from": "alerts@example.com",
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


class AlertDb:
    """A migrated database with territories (each with its rep) and KPI snapshots."""

    def __init__(self, url: str, territories: dict[str, str]) -> None:
        self.engine = get_engine(url)
        upgrade_schema(self.engine)
        self.ids: dict[str, int] = {}
        with self.session() as session:
            for external_id, name in territories.items():
                rep = Rep(external_id=f"R-{external_id}", name=f"Rep of {external_id}")
                session.add(rep)
                session.flush()
                territory = Territory(external_id=external_id, name=name, owner_rep_id=rep.id)
                session.add(territory)
                session.flush()
                assert territory.id is not None
                self.ids[external_id] = territory.id
            seed_worked_rules(session)  # the thresholds these worked cases use
            session.commit()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def snapshot(
        self, day: date, changes: dict[str, dict[str, float | None]] | None = None, **team: Any
    ) -> None:
        """KPI rows for every territory on ``day``: healthy values unless ``changes`` says otherwise."""
        with self.session() as session:
            for external_id, territory_id in self.ids.items():
                values = HEALTHY | (changes or {}).get(external_id, {})
                session.add(
                    TerritoryKpi(snapshot_date=day, territory_id=territory_id, computed_at=T0, **values)
                )
            team = {"cv_potential": 0.05} | team
            session.add(TeamKpi(snapshot_date=day, territories=len(self.ids), computed_at=T0, **team))
            session.commit()

    def evaluate(self, now: datetime, settings: Settings | None = None, **kw: Any):  # type: ignore[no-untyped-def]
        with self.session() as session:
            report = evaluate_alerts(session, now=now, settings=settings or make_settings(), **kw)
            session.commit()
        return report

    def notifications(self) -> list[Notification]:
        with self.session() as session:
            return list(session.exec(select(Notification).order_by(Notification.id)).all())  # type: ignore[arg-type]

    def episodes(self) -> list[AlertEpisode]:
        with self.session() as session:
            return list(session.exec(select(AlertEpisode).order_by(AlertEpisode.id)).all())  # type: ignore[arg-type]

    def edit_rule(self, key: str, **fields: Any) -> None:
        with self.session() as session:
            row = session.exec(select(AlertRule).where(AlertRule.key == key)).one()
            for name, value in fields.items():
                setattr(row, name, value)
            session.add(row)
            session.commit()


@pytest.fixture
def db(db_url: str) -> AlertDb:
    return AlertDb(db_url, {"PHX-N": "Phoenix North", "TUC": "Tucson", "LV": "Las Vegas"})


# --- opening ----------------------------------------------------------------------------------


def test_first_crossing_opens_an_episode_and_queues_one_digest_in_the_outbox(db: AlertDb) -> None:
    db.snapshot(DAY - timedelta(days=28), {"PHX-N": {"coverage": 0.74}})
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.58}})

    report = db.evaluate(T0)

    assert (report.snapshot_date, report.previous_snapshot_date) == (DAY, DAY - timedelta(days=28))
    assert (report.rules_evaluated, report.breaches, report.opened) == (8, 1, 1)  # 8 default rules
    (note,) = db.notifications()
    assert note.status == "outbox" and note.recipient == "revops@example.com"
    assert note.subject == "[Territory Health] 1 new alert: Coverage below 70% in Phoenix North"
    assert (
        "Coverage in Phoenix North is 58%, below the 70% threshold (was 74% 4 weeks ago)." in note.body_text
    )
    assert "http://dash.example/territory?territory=PHX-N" in note.body_text
    (episode,) = db.episodes()
    assert (episode.status, episode.territory_id, episode.first_value) == ("open", db.ids["PHX-N"], 0.58)
    assert (episode.opened_at, episode.last_notified_at, episode.notify_count) == (T0, T0, 1)
    assert json.loads(note.episode_ids) == [episode.id]


def test_with_an_smtp_host_notifications_are_pending(db: AlertDb) -> None:
    db.snapshot(DAY, {"TUC": {"drift": -20.0}})
    db.evaluate(T0, make_settings(smtp_host="127.0.0.1"))
    assert [n.status for n in db.notifications()] == ["pending"]


def test_a_run_with_nothing_new_creates_no_notification(db: AlertDb) -> None:
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.58}})
    db.evaluate(T0)
    report = db.evaluate(T0 + timedelta(hours=1))
    assert (report.breaches, report.opened, report.renotified, report.notification_ids) == (1, 0, 0, ())
    assert len(db.notifications()) == 1


def test_no_snapshot_no_alerts(db: AlertDb) -> None:
    report = db.evaluate(T0)
    assert report.snapshot_date is None and db.notifications() == []


# --- re-notify and resolve --------------------------------------------------------------------


def test_renotify_only_after_the_interval_counted_from_the_last_notice(db: AlertDb) -> None:
    """Default interval 24 h: nothing at +23 h, a reminder at +24 h, nothing again at +25 h."""
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.58}})
    db.evaluate(T0)
    assert db.evaluate(T0 + timedelta(hours=23)).renotified == 0
    assert db.evaluate(T0 + timedelta(hours=24)).renotified == 1
    assert db.evaluate(T0 + timedelta(hours=25)).renotified == 0

    first, reminder = db.notifications()
    assert (
        reminder.subject
        == "[Territory Health] 1 still open: Coverage below 70% in Phoenix North (still open)"
    )
    (episode,) = db.episodes()
    assert (episode.notify_count, episode.last_notified_at) == (2, T0 + timedelta(hours=24))


def test_renotify_interval_is_the_stored_rule_value(db: AlertDb) -> None:
    db.edit_rule("coverage_low", renotify_hours=2.0)
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.58}})
    db.evaluate(T0)
    assert db.evaluate(T0 + timedelta(hours=2)).renotified == 1


def test_back_inside_resolves_once_and_a_new_crossing_is_a_new_episode(db: AlertDb) -> None:
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.58}})
    db.evaluate(T0)
    db.snapshot(DAY + timedelta(days=1), {"PHX-N": {"coverage": 0.75}})

    report = db.evaluate(T0 + timedelta(days=1))
    assert (report.resolved, report.opened) == (1, 0)
    resolved_note = db.notifications()[-1]
    assert (
        resolved_note.subject
        == "[Territory Health] 1 resolved: Coverage below 70% in Phoenix North (resolved)"
    )
    assert (
        "Coverage in Phoenix North is back to 75%, no longer below the 70% threshold."
        in resolved_note.body_text
    )
    (episode,) = db.episodes()
    assert (episode.status, episode.resolution_notified, episode.last_value) == ("resolved", True, 0.75)

    assert db.evaluate(T0 + timedelta(days=2)).notification_ids == ()
    db.snapshot(DAY + timedelta(days=3), {"PHX-N": {"coverage": 0.6}})
    assert db.evaluate(T0 + timedelta(days=3)).opened == 1
    assert [e.status for e in db.episodes()] == ["resolved", "open"]
    assert len(db.notifications()) == 3


def test_an_unknown_value_keeps_the_episode_open_silently(db: AlertDb) -> None:
    db.snapshot(DAY, {"PHX-N": {"pipeline_coverage": 1.5}})
    db.evaluate(T0)
    db.snapshot(DAY + timedelta(days=1), {"PHX-N": {"pipeline_coverage": None}})
    report = db.evaluate(T0 + timedelta(hours=30))
    assert (report.resolved, report.renotified, report.notification_ids) == (0, 0, ())
    assert [e.status for e in db.episodes()] == ["open"]


def test_new_reminder_and_resolved_share_one_digest(db: AlertDb) -> None:
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.58}, "TUC": {"drift": -15.0}})
    db.evaluate(T0)
    db.snapshot(DAY + timedelta(days=1), {"PHX-N": {"coverage": 0.58}, "LV": {"potential_index": 1.3}})

    report = db.evaluate(T0 + timedelta(days=1))

    assert (report.opened, report.renotified, report.resolved) == (1, 1, 1)
    (_, digest) = db.notifications()
    assert digest.subject.startswith("[Territory Health] 1 new alert, 1 still open, 1 resolved: ")
    assert digest.subject.endswith(
        "Potential index outside ±15% in Las Vegas, Coverage below 70% in Phoenix North (still open), "
        "Drift below -10 points in Tucson (resolved)"
    )
    assert len(json.loads(digest.episode_ids)) == 3


# --- recipients and rules from the database ---------------------------------------------------


def test_one_digest_per_recipient(db: AlertDb) -> None:
    """Coverage goes to the rule's own list; drift to the default list; lead@ gets both in one email
    (addresses compare case-insensitively, the first spelling met is kept: drift's rule comes first)."""
    db.edit_rule("coverage_low", recipients="lead@example.com, cov@example.com")
    db.edit_rule("drift_low", recipients="")
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.5}, "TUC": {"coverage": 0.6, "drift": -20.0}})

    db.evaluate(T0, make_settings(alert_recipients="revops@example.com,LEAD@example.com"))

    by_recipient = {n.recipient: n for n in db.notifications()}
    assert set(by_recipient) == {"LEAD@example.com", "cov@example.com", "revops@example.com"}
    assert by_recipient["LEAD@example.com"].subject.startswith("[Territory Health] 3 new alerts: ")
    assert by_recipient["cov@example.com"].subject.startswith("[Territory Health] 2 new alerts: ")
    assert by_recipient["revops@example.com"].subject == (
        "[Territory Health] 1 new alert: Drift below -10 points in Tucson"
    )


def test_evaluation_uses_the_rules_stored_in_the_database(db: AlertDb) -> None:
    db.edit_rule("coverage_low", threshold=0.5)
    db.edit_rule("drift_low", enabled=False)
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.45}, "TUC": {"coverage": 0.58, "drift": -30.0}})
    report = db.evaluate(T0)
    assert (report.rules_evaluated, report.opened) == (7, 1)  # 8 default rules, one disabled
    assert (
        db.notifications()[0].subject == "[Territory Health] 1 new alert: Coverage below 50% in Phoenix North"
    )


def test_disabling_a_rule_closes_its_episodes_without_a_notice(db: AlertDb) -> None:
    db.snapshot(DAY, {"TUC": {"drift": -30.0}})
    db.evaluate(T0)
    db.edit_rule("drift_low", enabled=False)
    assert db.evaluate(T0 + timedelta(hours=1)).notification_ids == ()
    (episode,) = db.episodes()
    assert (episode.status, episode.resolution_notified) == ("resolved", False)


def test_a_rule_that_cannot_be_evaluated_is_reported_and_the_others_still_run(db: AlertDb) -> None:
    with db.session() as session:
        session.add(AlertRule(key="bad", name="bad", metric="happiness", comparator="below", threshold=1))
        session.commit()
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.5}})
    report = db.evaluate(T0)
    assert report.opened == 1 and len(report.errors) == 1 and "happiness" in report.errors[0]


def test_a_stored_comparator_no_object_has_is_reported_not_fatal(db: AlertDb) -> None:
    """The row's comparator maps to an ``Unknown`` comparator at load: it reads, but refuses to check."""
    with db.session() as session:
        session.add(AlertRule(key="odd", name="odd", metric="coverage", comparator="near", threshold=1))
        session.commit()
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.5}})
    report = db.evaluate(T0)
    assert report.opened == 1 and len(report.errors) == 1 and "unknown comparator 'near'" in report.errors[0]


# --- team rule, snapshot choice, clock ----------------------------------------------------------


def test_team_rule_opens_a_team_episode_linking_to_the_overview(db: AlertDb) -> None:
    db.snapshot(DAY - timedelta(days=27), cv_potential=0.12)
    db.snapshot(DAY, cv_potential=0.22)
    db.evaluate(T0)
    (episode,) = db.episodes()
    assert episode.territory_id is None
    (note,) = db.notifications()
    assert note.subject == "[Territory Health] 1 new alert: Team CV of potential above 0.15"
    assert "Team CV of potential is 0.22, above the 0.15 threshold (was 0.12 4 weeks ago)." in note.body_text
    assert "http://dash.example/\n" in note.body_text


def test_explicit_snapshot_date_and_clock_in_another_zone(db: AlertDb) -> None:
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.5}})
    db.snapshot(DAY + timedelta(days=1))
    phoenix = datetime(2025, 6, 2, 1, 0, tzinfo=timezone(timedelta(hours=-7)))
    report = db.evaluate(phoenix, snapshot_date=DAY)
    assert (report.snapshot_date, report.opened) == (DAY, 1)
    assert db.episodes()[0].opened_at == datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
    assert db.evaluate(T0, snapshot_date=date(2020, 1, 1)).snapshot_date is None


def test_a_naive_clock_is_taken_as_utc(db: AlertDb) -> None:
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.5}})
    db.evaluate(datetime(2025, 6, 2, 8, 0))
    assert db.evaluate(datetime(2025, 6, 3, 7, 59, tzinfo=UTC)).renotified == 0
    assert db.evaluate(datetime(2025, 6, 3, 8, 0)).renotified == 1


def test_trend_is_absent_without_a_snapshot_near_four_weeks_earlier(db: AlertDb) -> None:
    db.snapshot(DAY - timedelta(days=1), {"PHX-N": {"coverage": 0.8}})
    db.snapshot(DAY, {"PHX-N": {"coverage": 0.58}})
    with db.session() as session:
        snapshot = load_snapshot(session)
    assert snapshot is not None and snapshot.previous_date is None
    db.evaluate(T0)
    assert "(was" not in db.notifications()[0].body_text


@pytest.mark.parametrize(
    ("offsets", "expected"),
    [
        ([], None),
        ([-28], -28),
        ([-1, -7, -14], None),  # nothing within a week of four weeks back
        ([-21, -35], -21),  # both a week away: the more recent wins
        ([-27, -30], -27),
        ([-40, -29, -26], -29),
        ([+3, -28], -28),  # later snapshots never count
    ],
)
def test_nearest_trend_date(offsets: list[int], expected: int | None) -> None:
    dates = [DAY + timedelta(days=o) for o in offsets]
    want = None if expected is None else DAY + timedelta(days=expected)
    assert nearest_trend_date(dates, DAY) == want
