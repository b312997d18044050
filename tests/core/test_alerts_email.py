"""Digest emails: rendering (pure), header and HTML safety, and delivery through a real SMTP server
on localhost (aiosmtpd): arrival, retries with backoff while the server is down, exactly-once
sending once it is back, permanent rejections, login, and the whole run from KPI rows to inbox.
"""

from __future__ import annotations

import html as html_module
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from sqlmodel import Session, select

from core.alerts.email import (
    DigestItem,
    RenderedEmail,
    build_message,
    deliver_pending,
    header_safe,
    render_digest,
    send_test_email,
    territory_link,
)
from core.alerts.fixes import FixPlan
from core.alerts.rules import Breach
from core.config import Settings
from core.models import Notification
from tests.core.test_alerts_episodes import DAY, T0, AlertDb, make_settings
from tests.factories import worked_rules
from tests.smtp_server import SmtpServer, free_port

RULES = worked_rules()  # the thresholds the worked cases below use (tests/factories.py)
URL = "http://dash.example"
EVIL_NAME = "Evil\r\nBcc: x@y"
SCRIPT_NAME = "<script>alert(1)</script>"


def item(key: str, value: float, name: str, ext: str, kind: str = "new", **kw: Any) -> DigestItem:
    breach = Breach(
        rule=RULES[key],
        value=value,
        snapshot_date=DAY,
        territory_id=1,
        territory_external_id=ext,
        territory_name=name,
        **kw,
    )
    return DigestItem(kind, breach, 1, T0)


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a multipart/alternative message."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def received_once(server: SmtpServer) -> EmailMessage:
    (received,) = server.messages
    return received.message


class Sleeps:
    """A fake sleep that records the delays asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


# --- render (pure) --------------------------------------------------------------------------


def test_digest_names_what_and_where_with_numbers_threshold_trend_and_link() -> None:
    items = [
        item("coverage_low", 0.58, "Phoenix North", "PHX-N", previous_value=0.74, previous_days=28),
        item("drift_low", -14.0, "Tucson", "TUC"),
    ]
    email = render_digest("revops@example.com", items, dashboard_url=URL + "/")
    assert email.subject == (  # the critical drift alert comes first
        "[Territory Health] 2 new alerts: Drift below -10 points in Tucson, "
        "Coverage below 70% in Phoenix North"
    )
    for body in (email.text, email.html):
        assert "Coverage in Phoenix North is 58%, below the 70% threshold (was 74% 4 weeks ago)." in body
        assert "alert when below 70%" in body
        assert "http://dash.example/territory?territory=PHX-N" in body
        assert "http://dash.example/territory?territory=TUC" in body
        assert "2025-06-02" in body
    assert '<a href="http://dash.example/territory?territory=PHX-N">' in email.html
    assert render_digest("revops@example.com", list(reversed(items)), dashboard_url=URL) == email


def test_subject_counts_kinds_and_lists_at_most_three() -> None:
    items = [
        item("coverage_low", 0.5, f"T{i}", f"T{i}", kind=kind)
        for i, kind in enumerate(["new", "new", "reminder", "resolved", "resolved"])
    ]
    subject = render_digest("a@x", items, dashboard_url=URL).subject
    assert subject == (
        "[Territory Health] 2 new alerts, 1 still open, 2 resolved: Coverage below 70% in T0, "
        "Coverage below 70% in T1, Coverage below 70% in T2 (still open), and 2 more"
    )


def test_resolved_items_read_as_resolved() -> None:
    email = render_digest(
        "a@x", [item("coverage_low", 0.74, "Yuma", "Y", kind="resolved")], dashboard_url=URL
    )
    assert email.subject == "[Territory Health] 1 resolved: Coverage below 70% in Yuma (resolved)"
    assert "Coverage in Yuma is back to 74%, no longer below the 70% threshold." in email.text


def test_names_cannot_inject_headers_or_markup() -> None:
    items = [item("coverage_low", 0.5, EVIL_NAME, "E\r\n1"), item("drift_low", -30.0, SCRIPT_NAME, "<s>")]
    email = render_digest("a@x", items, dashboard_url=URL)
    assert "\r" not in email.subject and "\n" not in email.subject
    assert "Evil Bcc: x@y" in email.subject
    assert "<script>" not in email.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "territory=%3Cs%3E" in email.html and "territory=E%0D%0A1" in email.text

    raw = build_message(email, sender="alerts@example.com", recipient="a@x").as_bytes()
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["Bcc"] is None
    assert sorted(parsed.keys()) == [
        "Content-Type",
        "Date",
        "From",
        "MIME-Version",
        "Message-ID",
        "Subject",
        "To",
    ]


@pytest.mark.parametrize(
    ("text", "safe"),
    [("a\r\nBcc: b", "a Bcc: b"), ("a\nb", "a b"), ("tab\there", "tab here"), ("x\u2028y\x00z", "x yz")],
)
def test_header_safe(text: str, safe: str) -> None:
    assert header_safe(text) == safe


@pytest.mark.parametrize(
    ("external_id", "link"),
    [
        ("PHX-N", f"{URL}/territory?territory=PHX-N"),
        ("T&1 ?", f"{URL}/territory?territory=T%261%20%3F"),
        (None, f"{URL}/"),
    ],
)
def test_territory_link(external_id: str | None, link: str) -> None:
    assert territory_link(URL + "/", external_id) == link


def test_message_is_multipart_alternative_text_then_html() -> None:
    message = build_message(
        RenderedEmail("S", "plain body", "<p>html body</p>"), sender="f@x", recipient="t@x"
    )
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert parts(message) == ("plain body\n", "<p>html body</p>\n")


# --- delivery through a real SMTP server --------------------------------------------------------


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    db = AlertDb(db_url, {})
    with db.session() as s:
        yield s


def smtp_settings(port: int, **overrides: Any) -> Settings:
    values = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_timeout_s": 5.0, "smtp_backoff_s": 0.5}
    return make_settings(**(values | overrides))


def queue(session: Session, recipient: str, subject: str = "S", status: str = "pending") -> Notification:
    rendered = render_digest(recipient, [item("coverage_low", 0.5, "Yuma", "YUMA")], dashboard_url=URL)
    note = Notification(
        created_at=T0,
        recipient=recipient,
        subject=subject,
        body_text=rendered.text,
        body_html=rendered.html,
        status=status,
    )
    session.add(note)
    session.commit()
    return note


def test_pending_notifications_arrive_with_subject_recipient_both_parts_and_link(
    session: Session, smtp_server: SmtpServer
) -> None:
    note = queue(session, "lead@example.com", "[Territory Health] 1 new alert: Coverage below 70% in Yuma")
    report = deliver_pending(session, smtp_settings(smtp_server.port), sleep=Sleeps())

    assert (report.sent, report.pending, report.attempts) == ((note.id,), (), 1)
    (received,) = smtp_server.messages
    assert received.rcpt_tos == ("lead@example.com",) and received.mail_from == "alerts@example.com"
    message = received.message
    assert message["Subject"] == "[Territory Health] 1 new alert: Coverage below 70% in Yuma"
    assert (message["To"], message["From"]) == ("lead@example.com", "alerts@example.com")
    text, html = parts(message)
    assert f"{URL}/territory?territory=YUMA" in text and f'href="{URL}/territory?territory=YUMA"' in html
    session.refresh(note)
    assert (note.status, note.attempts, note.last_error) == ("sent", 1, None)
    assert note.sent_at is not None


def test_server_down_retries_with_backoff_then_sends_exactly_once_when_back(session: Session) -> None:
    """Retries 3, backoff 0.5 s: delays 0.5, 1, 2; both notifications stay pending; the second is
    not even tried while the server is down. Once it is up each is sent once, and only once."""
    port = free_port()
    first, second = queue(session, "a@example.com", "first"), queue(session, "b@example.com", "second")
    sleeps = Sleeps()

    down = deliver_pending(session, smtp_settings(port, smtp_retries=3), sleep=sleeps)

    assert sleeps.delays == [0.5, 1.0, 2.0]
    assert (down.sent, down.pending, down.attempts) == ((), (first.id, second.id), 4)
    session.refresh(first)
    session.refresh(second)
    assert (first.status, first.attempts, second.status, second.attempts) == ("pending", 4, "pending", 0)
    assert first.last_error and "Connection" in first.last_error

    with SmtpServer(port) as server:
        up = deliver_pending(session, smtp_settings(port), sleep=sleeps)
        again = deliver_pending(session, smtp_settings(port), sleep=sleeps)
        subjects = [r.message["Subject"] for r in server.messages]
    assert up.sent == (first.id, second.id) and again.sent == () and again.attempts == 0
    assert subjects == ["first", "second"]
    assert sleeps.delays == [0.5, 1.0, 2.0]  # no retry was needed once the server was back


def test_a_rejected_recipient_fails_for_good_and_the_others_go_out(session: Session) -> None:
    bad, good = queue(session, "gone@example.com"), queue(session, "ok@example.com")
    sleeps = Sleeps()
    with SmtpServer(reject={"gone@example.com"}) as server:
        report = deliver_pending(session, smtp_settings(server.port), sleep=sleeps)
        delivered = [r.rcpt_tos for r in server.messages]
    assert (report.failed, report.sent, sleeps.delays) == ((bad.id,), (good.id,), [])
    assert delivered == [("ok@example.com",)]
    session.refresh(bad)
    assert bad.status == "failed" and "550" in (bad.last_error or "")


def test_login_when_a_user_is_set(session: Session) -> None:
    note = queue(session, "a@example.com")
    with SmtpServer(users={"bot": "s3cret"}) as server:
        wrong = deliver_pending(
            session,
            smtp_settings(server.port, smtp_user="bot", smtp_password="nope", smtp_retries=0),
            sleep=Sleeps(),
        )
        right = deliver_pending(
            session, smtp_settings(server.port, smtp_user="bot", smtp_password="s3cret"), sleep=Sleeps()
        )
        count = len(server.messages)
    assert (wrong.pending, right.sent, count) == ((note.id,), (note.id,), 1)


def test_without_smtp_host_nothing_is_sent_and_the_outbox_is_kept(session: Session) -> None:
    pending, outbox = queue(session, "a@x"), queue(session, "b@x", status="outbox")
    report = deliver_pending(session, make_settings(), sleep=Sleeps())
    assert (report.sent, report.pending) == ((), (pending.id,))
    statuses = session.exec(select(Notification.status).order_by(Notification.id)).all()  # type: ignore[arg-type]
    assert statuses == ["pending", "outbox"] and outbox.id is not None


def test_send_test_email(smtp_server: SmtpServer) -> None:
    send_test_email(smtp_settings(smtp_server.port), "me@example.com")
    message = received_once(smtp_server)
    assert message["Subject"] == "[Territory Health] Test email" and message["To"] == "me@example.com"
    assert URL in parts(message)[0]


# --- the whole run: KPI rows -> episodes -> digest -> SMTP ----------------------------------------


def test_evaluation_to_inbox_once_per_episode_with_hostile_names(
    db_url: str, smtp_server: SmtpServer
) -> None:
    db = AlertDb(db_url, {"EVIL": EVIL_NAME, "XSS": SCRIPT_NAME, "OK": "Flagstaff"})
    settings = smtp_settings(smtp_server.port)
    db.snapshot(DAY - timedelta(days=28), {"EVIL": {"coverage": 0.8}})
    db.snapshot(DAY, {"EVIL": {"coverage": 0.5}, "XSS": {"drift": -25.0}})

    def run(now: datetime) -> None:
        db.evaluate(now, settings)
        with db.session() as session:
            deliver_pending(session, settings, sleep=Sleeps())

    run(T0)
    message = received_once(smtp_server)
    assert smtp_server.messages[0].rcpt_tos == ("revops@example.com",)
    assert message["Bcc"] is None
    assert message["Subject"] == (
        "[Territory Health] 2 new alerts: Drift below -10 points in <script>alert(1)</script>, "
        "Coverage below 70% in Evil Bcc: x@y"
    )
    text, html = parts(message)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Coverage in Evil Bcc: x@y is 50%, below the 70% threshold (was 80% 4 weeks ago)." in text
    assert f"{URL}/territory?territory=EVIL" in text and f"{URL}/territory?territory=XSS" in html

    run(T0 + timedelta(hours=1))  # nothing new: nothing sent
    assert len(smtp_server.messages) == 1
    db.snapshot(DAY + timedelta(days=1), {"XSS": {"drift": -25.0}})
    run(T0 + timedelta(days=1))  # coverage back inside, drift re-notified after 24 h
    assert len(smtp_server.messages) == 2
    assert smtp_server.messages[1].message["Subject"] == (
        "[Territory Health] 1 still open, 1 resolved: Drift below -10 points in <script>alert(1)</script> "
        "(still open), Coverage below 70% in Evil Bcc: x@y (resolved)"
    )
    assert all(n.status == "sent" for n in db.notifications())
    assert [e.status for e in db.episodes()] == ["open", "resolved"]  # drift (rule 3), coverage (rule 4)


def test_sent_at_is_stored_in_utc(session: Session, smtp_server: SmtpServer) -> None:
    note = queue(session, "a@example.com")
    deliver_pending(session, smtp_settings(smtp_server.port), sleep=Sleeps())
    session.refresh(note)
    assert note.sent_at is not None and note.sent_at.utcoffset() == timedelta(0)


# --- the fix an alert brings -----------------------------------------------------------------


def with_fix(fix: FixPlan, kind: str = "new") -> DigestItem:
    base = item("potential_index_band", 1.32, "Phoenix", "T1", kind)
    return replace(base, fix=fix)


def test_a_balance_item_links_to_its_draft_plan():
    rendered = render_digest("a@x.com", [with_fix(FixPlan(7))], dashboard_url=URL + "/")
    assert "Review the fix: http://dash.example/optimize?plan=7" in rendered.text
    assert '<a href="http://dash.example/optimize?plan=7">Review the fix plan</a>' in rendered.html


def test_a_draft_that_cannot_meet_the_band_says_why():
    why = "No plan keeps Phoenix within ±15% of the team mean. Allow ±22% instead."
    rendered = render_digest("a@x.com", [with_fix(FixPlan(None, why))], dashboard_url=URL)
    assert f"No fix plan could be prepared: {why}" in rendered.text
    assert "optimize?plan" not in rendered.text
    relaxed = render_digest("a@x.com", [with_fix(FixPlan(8, "Solved under ±22%."))], dashboard_url=URL)
    assert "Draft fix plan #8 cannot meet the band: Solved under ±22%." in relaxed.text
    assert "optimize?plan=8" in relaxed.text


def test_a_resolved_item_shows_no_fix_and_names_are_escaped():
    rendered = render_digest("a@x.com", [with_fix(FixPlan(7), "resolved")], dashboard_url=URL)
    assert "optimize?plan" not in rendered.text + rendered.html
    evil = render_digest("a@x.com", [with_fix(FixPlan(None, SCRIPT_NAME))], dashboard_url=URL)
    assert SCRIPT_NAME not in evil.html and html_module.escape(SCRIPT_NAME) in evil.html


def test_the_digest_groups_alerts_by_territory_the_critical_territory_first() -> None:
    """Phoenix North has a warning (potential) and Tucson a warning (pipeline) and a critical (drift):
    Tucson's block comes first, its critical alert on top; each alert keeps its one-line reason."""
    items = [
        item("potential_index_band", 1.4, "Phoenix North", "PHX-N"),
        item("pipeline_coverage_low", 1.5, "Tucson", "TUC"),
        item("drift_low", -30.0, "Tucson", "TUC"),
    ]
    email = render_digest("revops@example.com", items, dashboard_url=URL)
    text = email.text
    tucson, phoenix = (
        text.index("Tucson (TUC) — critical, 2 alerts"),
        text.index("Phoenix North (PHX-N) — warning"),
    )
    assert tucson < text.index("Drift below -10 points in Tucson") < text.index("Pipeline coverage below 3×")
    assert text.index("Pipeline coverage below 3×") < phoenix < text.index("Potential index outside ±15%")
    assert "Drift in Tucson is -30 points, below the -10-point threshold." in text  # the reason, one line
    assert email.html.index("<h4>Tucson (TUC) — critical, 2 alerts</h4>") < email.html.index(
        "<h4>Phoenix North"
    )
    assert email.subject.startswith(
        "[Territory Health] 3 new alerts: Drift below -10 points in Tucson, Pipeline"
    )
