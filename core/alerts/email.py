"""Alert emails: render a digest (pure), build the MIME message, send it over SMTP, drain the outbox.

``render_digest`` returns a ``RenderedEmail`` (subject, plain text, HTML) and touches nothing;
``send_email`` is the only function that speaks SMTP; ``deliver_pending`` sends the Notification
rows still pending, with retries and exponential backoff, and commits each outcome as it happens
so that a notification is never sent twice.

Names come from CRM imports and may hold anything: every text put in a header goes through
``header_safe`` (no CR/LF or other control characters) and everything put in HTML is escaped.
"""

from __future__ import annotations

import html
import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

from sqlmodel import Session, select

from core.alerts.fixes import FixPlan, fix_sentence, plan_link
from core.alerts.rules import Breach, condition, describe, resolved_sentence, sentence, value_text
from core.config import Settings
from core.format import moment_label
from core.models import Notification

log = logging.getLogger(__name__)

PRODUCT = "Territory Health"
KINDS = ("new", "reminder", "resolved")
KIND_HEADINGS = {"new": "New", "reminder": "Still open", "resolved": "Resolved"}
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
SUBJECT_HEADLINES = 3
SUBJECT_MAX_CHARS = 250


@dataclass(frozen=True)
class DigestItem:
    """One line of a digest: an episode that opened, is still open (re-notify) or resolved."""

    kind: str  # new | reminder | resolved
    breach: Breach  # for "resolved", the reading that closed the episode
    episode_id: int | None = None
    opened_at: datetime | None = None
    fix: FixPlan | None = None  # the draft plan prepared for a balance episode (core.alerts.fixes)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class DeliveryReport:
    """What one ``deliver_pending`` run did, by Notification id."""

    sent: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()  # rejected for good by the server (5xx on the recipient or the data)
    pending: tuple[int, ...] = ()  # still pending: the server could not be reached; a later run retries
    attempts: int = 0


# --- small pure helpers ---------------------------------------------------------------------


def one_line(text: str) -> str:
    """Collapse every run of whitespace (CR, LF, tabs, Unicode line separators) into one space."""
    return " ".join(text.split())


def header_safe(text: str) -> str:
    """Text that can go into a mail header: one line, no control characters."""
    return "".join(ch for ch in one_line(text) if ch.isprintable())


def territory_link(dashboard_url: str, external_id: str | None) -> str:
    """The dashboard link of a territory, or of the overview for team-level alerts."""
    base = dashboard_url.rstrip("/")
    if external_id is None:
        return f"{base}/"
    return f"{base}/territory?territory={quote(external_id, safe='')}"


def alerts_link(dashboard_url: str) -> str:
    return f"{dashboard_url.rstrip('/')}/alerts"


def headline(item: DigestItem) -> str:
    """What and where, for subjects and item titles: "Coverage below 70% in Phoenix North"."""
    breach = item.breach
    what = describe(breach.rule)
    return what if breach.rule.scope == "team" else f"{what} in {one_line(breach.place)}"


def item_sentence(item: DigestItem) -> str:
    text = resolved_sentence(item.breach) if item.kind == "resolved" else sentence(item.breach)
    return one_line(text)


def _severity_rank(item: DigestItem) -> int:
    return SEVERITY_ORDER.get(item.breach.rule.severity, 3)


def _sorted(items: Iterable[DigestItem]) -> list[DigestItem]:
    """By kind (new, still open, resolved); within a kind by territory, the territory with the most
    severe alert first (then the most alerts of that severity, then by name), and within a territory
    the most severe alert first."""
    items = list(items)
    ranks: dict[tuple[str, str], list[int]] = {}
    for item in items:
        ranks.setdefault((item.kind, item.breach.place), []).append(_severity_rank(item))

    def key(item: DigestItem) -> tuple[int, int, int, str, int, str]:
        breach = item.breach
        group = ranks[(item.kind, breach.place)]
        worst = min(group)
        return (  # the group with the most alerts of its worst severity first, as on the Alerts page
            KINDS.index(item.kind),
            worst,
            -group.count(worst),
            breach.place,
            _severity_rank(item),
            breach.rule.key,
        )

    return sorted(items, key=key)


def by_territory(items: Sequence[DigestItem]) -> list[tuple[str, list[DigestItem]]]:
    """Sorted items (``_sorted``) in runs of one place: [("Tucson (TUC)", [...]), ("team", [...])]."""
    groups: list[tuple[str, list[DigestItem]]] = []
    for item in items:
        breach = item.breach
        place = breach.place if breach.rule.scope != "team" else "Team"
        if breach.territory_external_id and breach.territory_external_id != breach.place:
            place = f"{breach.place} ({breach.territory_external_id})"
        if groups and groups[-1][0] == place:
            groups[-1][1].append(item)
        else:
            groups.append((place, [item]))
    return groups


def _group_heading(place: str, group: Sequence[DigestItem]) -> str:
    """ "Tucson (TUC) — critical, 2 alerts" """
    severity = min((item.breach.rule.severity for item in group), key=lambda s: SEVERITY_ORDER.get(s, 3))
    return f"{one_line(place)} — {severity}, {len(group)} alert{'s' if len(group) != 1 else ''}"


# --- render (pure) --------------------------------------------------------------------------


def render_digest(recipient: str, items: Sequence[DigestItem], *, dashboard_url: str) -> RenderedEmail:
    """The digest email of one run for one recipient: what changed, where, the numbers and links.

    Pure: the same items give the same email. The subject names the counts and the first few
    alerts ("[Territory Health] 2 new alerts: Coverage below 70% in Phoenix North, ...").
    """
    ordered = _sorted(items)
    return RenderedEmail(
        subject=digest_subject(ordered),
        text=_digest_text(recipient, ordered, dashboard_url),
        html=_digest_html(recipient, ordered, dashboard_url),
    )


def digest_subject(items: Sequence[DigestItem]) -> str:
    """The subject: counts, then the first alerts, e.g.
    "[Territory Health] 1 new alert, 1 resolved: Coverage below 70% in Phoenix North, ...".
    """
    titles = [_subject_title(item) for item in items[:SUBJECT_HEADLINES]]
    if len(items) > SUBJECT_HEADLINES:
        titles.append(f"and {len(items) - SUBJECT_HEADLINES} more")
    subject = f"[{PRODUCT}] {_counts(items)}: {', '.join(titles)}"
    subject = header_safe(subject)
    return subject if len(subject) <= SUBJECT_MAX_CHARS else subject[: SUBJECT_MAX_CHARS - 1] + "…"


def _subject_title(item: DigestItem) -> str:
    suffix = {"new": "", "reminder": " (still open)", "resolved": " (resolved)"}[item.kind]
    return headline(item) + suffix


def _counts(items: Sequence[DigestItem]) -> str:
    parts = []
    for kind in KINDS:
        count = sum(item.kind == kind for item in items)
        if count and kind == "new":
            parts.append(f"{count} new alert{'s' if count != 1 else ''}")
        elif count:
            parts.append(f"{count} {KIND_HEADINGS[kind].lower()}")
    return ", ".join(parts) or "no alerts"


def _snapshot_line(items: Sequence[DigestItem]) -> str:
    dates = sorted({item.breach.snapshot_date for item in items if item.breach.snapshot_date})
    return f"KPI snapshot of {dates[-1].isoformat()}" if dates else "latest KPI snapshot"


def _facts(item: DigestItem) -> str:
    breach = item.breach
    facts = [
        f"value {value_text(breach)}",
        f"alert when {condition(breach.rule)}",
    ]
    if item.opened_at is not None:
        since = "open since" if item.kind == "reminder" else "opened"
        facts.append(f"{since} {moment_label(item.opened_at)} UTC")
    return " · ".join(facts)


def _digest_text(recipient: str, items: Sequence[DigestItem], dashboard_url: str) -> str:
    lines = [f"{PRODUCT} alerts — {_snapshot_line(items)}", ""]
    for kind in KINDS:
        group = [item for item in items if item.kind == kind]
        if not group:
            continue
        lines += [f"{KIND_HEADINGS[kind]} ({len(group)})", ""]
        for place, alerts in by_territory(group):  # one block per territory, the most severe first
            lines += [_group_heading(place, alerts), ""]
            for item in alerts:
                lines += _text_item(item, dashboard_url)
    lines += [f"All alerts: {alerts_link(dashboard_url)}", "", "--", _footer(recipient)]
    return "\n".join(lines) + "\n"


def _text_item(item: DigestItem, dashboard_url: str) -> list[str]:
    return [
        f"* [{item.breach.rule.severity.upper()}] {headline(item)}",
        f"  {item_sentence(item)}",
        f"  {_facts(item)}",
        f"  {territory_link(dashboard_url, item.breach.territory_external_id)}",
        *_text_fix(item, dashboard_url),
        "",
    ]


def _shown_fix(item: DigestItem) -> FixPlan | None:
    """The fix an item shows: none once its episode resolved."""
    return None if item.kind == "resolved" else item.fix


def _text_fix(item: DigestItem, dashboard_url: str) -> list[str]:
    fix = _shown_fix(item)
    if fix is None:
        return []
    lines = [f"  {one_line(fix_sentence(fix))}"]
    if fix.plan_id is not None:
        lines.append(f"  Review the fix: {plan_link(dashboard_url, fix.plan_id)}")
    return lines


def _html_fix(item: DigestItem, dashboard_url: str) -> str:
    fix = _shown_fix(item)
    if fix is None:
        return ""
    text = f"<br><small>{html.escape(one_line(fix_sentence(fix)))}</small>"
    if fix.plan_id is None:
        return text
    return (
        text + f'<br><a href="{html.escape(plan_link(dashboard_url, fix.plan_id))}">Review the fix plan</a>'
    )


def _footer(recipient: str) -> str:
    return f"Sent to {one_line(recipient)} because it is on the recipient list of these alert rules."


def _digest_html(recipient: str, items: Sequence[DigestItem], dashboard_url: str) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html><body style="font-family: sans-serif; line-height: 1.4">',
        f"<h2>{esc(PRODUCT)} alerts</h2>",
        f"<p>{esc(_snapshot_line(items))}</p>",
    ]
    for kind in KINDS:
        group = [item for item in items if item.kind == kind]
        if group:
            parts.append(f"<h3>{esc(KIND_HEADINGS[kind])} ({len(group)})</h3>")
            for place, alerts in by_territory(group):  # one block per territory, the most severe first
                parts.append(f"<h4>{esc(_group_heading(place, alerts))}</h4>")
                parts.append("<ul>" + "".join(_html_item(item, dashboard_url) for item in alerts) + "</ul>")
    link = esc(alerts_link(dashboard_url))
    parts.append(f'<p><a href="{link}">All alerts in the dashboard</a></p>')
    parts.append(f'<p style="color: #666; font-size: small">{esc(_footer(recipient))}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_item(item: DigestItem, dashboard_url: str) -> str:
    esc = html.escape
    link = esc(territory_link(dashboard_url, item.breach.territory_external_id))
    return (
        f"<li><strong>[{esc(item.breach.rule.severity.upper())}] {esc(headline(item))}</strong><br>"
        f"{esc(item_sentence(item))}<br>"
        f'<small>{esc(_facts(item))}</small><br><a href="{link}">Open in the dashboard</a>'
        f"{_html_fix(item, dashboard_url)}</li>"
    )


# --- message and SMTP (I/O) -----------------------------------------------------------------


def build_message(rendered: RenderedEmail, *, sender: str, recipient: str) -> EmailMessage:
    """A multipart/alternative message (plain text first, then HTML) with safe headers."""
    message = EmailMessage()
    message["Subject"] = header_safe(rendered.subject)
    message["From"] = header_safe(sender)
    message["To"] = header_safe(recipient)
    message["Date"] = format_datetime(datetime.now().astimezone())
    message["Message-ID"] = make_msgid(domain=header_safe(sender).rpartition("@")[2] or "localhost")
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def send_email(message: EmailMessage, settings: Settings) -> None:
    """Send one message through the configured SMTP server (SMTPS or STARTTLS, login when a user is set).

    Raises ``ValueError`` without an SMTP host and lets smtplib / socket errors through.
    """
    if not settings.smtp_host:
        raise ValueError("no SMTP host configured (TERRITORY_SMTP_HOST)")
    client = _connect(settings)
    try:
        if settings.smtp_starttls and not settings.smtp_ssl:
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password or "")
        client.send_message(message)
    finally:
        _close(client)


def _connect(settings: Settings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host or "", settings.smtp_port, settings.smtp_timeout_s
    if settings.smtp_ssl:
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    return smtplib.SMTP(host, port, timeout=timeout)


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def send_test_email(settings: Settings, to: str) -> RenderedEmail:
    """Send a short test email to ``to`` right away (no outbox, no retry) and return what was sent."""
    rendered = RenderedEmail(
        subject=f"[{PRODUCT}] Test email",
        text=f"This is a test email from {PRODUCT}.\nDashboard: {settings.dashboard_url}\n",
        html=(
            f"<p>This is a test email from {html.escape(PRODUCT)}.</p>"
            f'<p><a href="{html.escape(settings.dashboard_url)}">Open the dashboard</a></p>'
        ),
    )
    send_email(build_message(rendered, sender=settings.alert_from, recipient=to), settings)
    return rendered


def message_for(notification: Notification, settings: Settings) -> EmailMessage:
    """The email a Notification row stores."""
    rendered = RenderedEmail(notification.subject, notification.body_text, notification.body_html)
    return build_message(rendered, sender=settings.alert_from, recipient=notification.recipient)


# --- the outbox -----------------------------------------------------------------------------


def deliver_pending(
    session: Session, settings: Settings, *, sleep: Callable[[float], None] = time.sleep
) -> DeliveryReport:
    """Send every pending notification, oldest first, each with up to ``smtp_retries`` retries.

    Retry ``k`` (1-based) waits ``smtp_backoff_s * 2**(k-1)`` seconds. A notification the server
    cannot take stays pending (``attempts`` and ``last_error`` updated) and the rest of the run is
    skipped, so a later run sends them all once the server is back. A 5xx rejection of the recipient
    or the content marks it ``failed``. Commits after each notification: one sent is never resent.
    """
    if not settings.smtp_host:
        log.info("no SMTP host configured: pending notifications stay in the outbox")
        return DeliveryReport(pending=tuple(_pending_ids(session)))
    query = select(Notification).where(Notification.status == "pending").order_by(Notification.id)  # type: ignore[arg-type]
    notifications = list(session.exec(query).all())
    outcomes: dict[str, list[int]] = {"sent": [], "failed": [], "pending": []}
    attempts = 0
    for position, notification in enumerate(notifications):
        before = notification.attempts
        outcome = _deliver_one(notification, settings, sleep)
        attempts += notification.attempts - before
        session.add(notification)
        session.commit()
        outcomes[outcome].append(_id(notification))
        if outcome == "pending":
            outcomes["pending"] += [_id(n) for n in notifications[position + 1 :]]
            break
    return DeliveryReport(
        tuple(outcomes["sent"]), tuple(outcomes["failed"]), tuple(outcomes["pending"]), attempts
    )


def _deliver_one(notification: Notification, settings: Settings, sleep: Callable[[float], None]) -> str:
    for retry in range(settings.smtp_retries + 1):
        if retry:
            sleep(settings.smtp_backoff_s * 2 ** (retry - 1))
        notification.attempts += 1
        try:
            send_email(message_for(notification, settings), settings)
        except (OSError, smtplib.SMTPException) as exc:  # SMTPException is an OSError; both named for clarity
            notification.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("notification %s to %s: %s", notification.id, notification.recipient, exc)
            if _is_permanent(exc):
                notification.status = "failed"
                return "failed"
            continue
        notification.status, notification.sent_at, notification.last_error = "sent", datetime.now(UTC), None
        return "sent"
    return "pending"


def _is_permanent(exc: Exception) -> bool:
    """A 5xx answer about this recipient or this message: retrying the same email cannot help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


def _pending_ids(session: Session) -> list[int]:
    query = select(Notification.id).where(Notification.status == "pending").order_by(Notification.id)  # type: ignore[arg-type]
    return [int(i) for i in session.exec(query).all() if i is not None]


def _id(notification: Notification) -> int:
    assert notification.id is not None  # rows come from the database
    return notification.id


# --- plan workflow emails (names are data: escaped in HTML, one line in subjects) ----------------


def plans_link(dashboard_url: str) -> str:
    return f"{dashboard_url.rstrip('/')}/optimize"


def render_plan_submitted(
    plan_id: int, plan_name: str, moves: int, submitted_by: str, dashboard_url: str
) -> RenderedEmail:
    """To an approver: a plan waits for approval."""
    link = plans_link(dashboard_url)
    subject = f"[{PRODUCT}] Plan {plan_id} waits for approval: {one_line(plan_name)}"
    text = (
        f"{submitted_by} submitted plan {plan_id} ({one_line(plan_name)}) for approval: "
        f"{moves} accounts move.\n"
        f"Review it, then approve or reject it: {link}\n"
    )
    body = (
        f"<p>{html.escape(submitted_by)} submitted plan {plan_id} (<b>{html.escape(plan_name)}</b>) "
        f"for approval: {moves} accounts move.</p>"
        f'<p><a href="{html.escape(link)}">Review it, then approve or reject it</a></p>'
    )
    return RenderedEmail(subject, text, body)


def render_plan_applied(
    rep_name: str,
    territory_name: str,
    plan_id: int,
    effective: object,
    accounts_in: Sequence[str],
    accounts_out: Sequence[str],
    dashboard_url: str,
    *,
    quota_note: str = "",
) -> RenderedEmail:
    """To a rep whose territory changed: which accounts join it and which leave, from when (and the
    quota that moves with them, ``quota_note``)."""
    subject = f"[{PRODUCT}] Your territory {one_line(territory_name)} changes from {effective}"
    lines = [
        f"Hello {one_line(rep_name)},",
        "",
        f"Plan {plan_id} changes {one_line(territory_name)} from {effective}.",
    ]
    if accounts_in:
        lines += ["", f"Joining ({len(accounts_in)}):", *(f"  + {one_line(a)}" for a in accounts_in)]
    if accounts_out:
        lines += ["", f"Leaving ({len(accounts_out)}):", *(f"  - {one_line(a)}" for a in accounts_out)]
    if quota_note:
        lines += ["", quota_note]
    lines += ["", f"Dashboard: {dashboard_url}"]

    def items(names: Sequence[str]) -> str:
        return "".join(f"<li>{html.escape(n)}</li>" for n in names)

    body = (
        f"<p>Hello {html.escape(rep_name)},</p>"
        f"<p>Plan {plan_id} changes <b>{html.escape(territory_name)}</b> "
        f"from {html.escape(str(effective))}.</p>"
        + (f"<p>Joining ({len(accounts_in)}):</p><ul>{items(accounts_in)}</ul>" if accounts_in else "")
        + (f"<p>Leaving ({len(accounts_out)}):</p><ul>{items(accounts_out)}</ul>" if accounts_out else "")
        + (f"<p>{html.escape(quota_note)}</p>" if quota_note else "")
        + f'<p><a href="{html.escape(dashboard_url)}">Open the dashboard</a></p>'
    )
    return RenderedEmail(subject, "\n".join(lines) + "\n", body)
