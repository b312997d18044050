"""Alerts: open episodes by severity, resolved history, the rule editor, and the email outbox.

Episodes come from the alerts job (``jobs.alerts.refresh_alerts``, after each KPI refresh); this
page reads them, edits rules through ``jobs.alerts.edit_rule`` and can run an evaluation now. One
panel is computed per run (a segmented control, not tabs). Times are UTC, as stored.
"""

from __future__ import annotations

import smtplib

import pandas as pd
import streamlit as st

from core.alerts.rules import SCOPES, SEVERITIES, Rule, describe
from core.config import Settings, get_settings
from core.format import moment_label
from dashboard import alerts_data as ad
from dashboard import auth, data
from dashboard import components as ui

PANELS = ("Open episodes", "History", "Rules", "Outbox")
FLASH = "alerts-flash"
DATETIME = "YYYY-MM-DD HH:mm"
PREVIEW_HEIGHT = 520  # pixels; a long digest scrolls inside
SEVERITY_LABELS = {"critical": "Critical", "warning": "Warning", "info": "Info"}
LINK = None  # the row's address: selecting a row opens its territory (team-level rows: the Overview)
FIX_COLUMN = st.column_config.TextColumn(
    "Fix plan",
    width="small",
    help="The targeted draft plan prepared when a balance alert opened (links below the table).",
)


# --------------------------------------------------------------------------- top of the page


def flash() -> None:
    """The outcome of the last action (kept across the rerun that refreshes the page)."""
    kind, text = st.session_state.pop(FLASH, (None, None))
    if kind == "success":
        st.success(text, icon=":material/check_circle:")
    elif kind == "info":
        st.info(text, icon=":material/info:")


def severity_metrics(open_episodes: pd.DataFrame, by_id: dict[int, Rule]) -> None:
    counts = ad.severity_counts(open_episodes, by_id)
    cells = st.columns(1 + len(counts))
    cells[0].metric(
        "Open episodes",
        len(open_episodes),
        border=True,
        help="One episode per rule and territory (or team rule) while the rule stays crossed.",
    )
    for cell, (severity, count) in zip(cells[1:], counts.items(), strict=True):
        cell.metric(SEVERITY_LABELS.get(severity, severity.capitalize()), count, border=True)


def evaluate_panel(status: data.DataStatus) -> None:
    """'Evaluate now' and when the alerts job last ran."""
    left, right = st.columns([1, 3], vertical_alignment="center")
    clicked = auth.can("jobs.run") and left.button(
        "Evaluate now",
        icon=":material/notifications_active:",
        key="alerts-evaluate",
        disabled=status.snapshot is None,
    )
    right.caption(
        last_run_text(status)
        if status.snapshot is not None
        else "No KPI snapshot yet: the rules have nothing to evaluate. Refresh KPIs on the Overview."
    )
    if clicked:
        evaluate_now()


def last_run_text(status: data.DataStatus) -> str:
    runs = data.job_runs(status.url, status.version)
    mine = runs[runs["job"] == "alerts"]
    if mine.empty:
        return f"The rules have not been evaluated yet. Snapshot {status.snapshot}."
    latest = mine.iloc[0]
    when = latest["finished_at"] if pd.notna(latest["finished_at"]) else latest["started_at"]
    return (
        f"Last evaluation {ui.ago(when)} ({latest['status']}), "
        f"on the KPI snapshot of {status.snapshot}. The alerts job also runs after every KPI refresh."
    )


def evaluate_now() -> None:
    from jobs.alerts import refresh_alerts

    engine = data.engine()
    result: dict[str, int] = {}
    ok = ui.run_with_progress(
        "Evaluating the alert rules",
        "alerts",
        lambda _tick: result.setdefault("created", refresh_alerts(engine, trigger="dashboard")),
    )
    data.clear_caches()
    if ok:
        created = result["created"]
        st.session_state[FLASH] = (
            "success",
            "Rules evaluated: "
            + (
                f"{created} digest email{'s' if created != 1 else ''} written (see the Outbox)."
                if created
                else "nothing new since the last notice, so no email was written."
            ),
        )
        st.rerun()


# --------------------------------------------------------------------------- panels


def open_panel(open_episodes: pd.DataFrame, by_id: dict[int, Rule]) -> None:
    if open_episodes.empty:
        st.success("All clear: no alert episode is open.", icon=":material/check_circle:")
        return
    table = ad.open_table(open_episodes, by_id)
    st.caption(
        "Select a row to open its territory. Grouped by territory, the most severe first; each row "
        "says why it fired. "
        "*Current* is the value at the latest evaluation, *First* "
        "the value that opened the episode; an episode notifies again after its rule's re-notify "
        "interval."
    )
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=ui.table_height(len(table), row_height=ui.WRAPPED_ROW_PX, max_rows=12),
        row_height=ui.WRAPPED_ROW_PX,  # the reason wraps instead of being cut
        column_config={
            "Rule": st.column_config.TextColumn(width="medium"),
            "Reason": st.column_config.TextColumn(width="large"),
            "Detail": LINK,
            "Opened": st.column_config.DatetimeColumn("Opened (UTC)", format=DATETIME),
            "Last notified": st.column_config.DatetimeColumn("Last notified (UTC)", format=DATETIME),
            "Notices": st.column_config.NumberColumn(help="Emails sent about this episode so far."),
            "Fix plan": FIX_COLUMN,
        },
        on_select="rerun",
        selection_mode="single-row",
        key="alerts-open-table",
    )
    ui.follow_selection(event, table["Detail"])
    fix_plan_links(table)


def fix_plan_links(table: pd.DataFrame) -> None:
    """One link per prepared fix plan, opening the Optimize page on it in this tab."""
    plans = ad.fix_plan_targets(table)
    if not plans:
        return
    st.caption(
        "Draft plans prepared to fix balance alerts (review, edit and submit them on the Optimize page):"
    )
    for plan_id, places in plans.items():
        ui.link(
            "optimize", f"Plan {plan_id}: fixes {places}", icon=":material/build:", query=f"plan={plan_id}"
        )


def history_panel(status: data.DataStatus, version: str, by_id: dict[int, Rule]) -> None:
    resolved = ad.episodes(status.url, version, "resolved")
    if resolved.empty:
        st.info(
            "No episode has resolved yet: resolved episodes (back inside the threshold, or their rule "
            "turned off) are listed here."
        )
        return
    left, right = st.columns(2)
    rule_ids = sorted(set(by_id) | set(resolved["rule_id"].astype(int)))
    rule_id = left.selectbox(
        "Rule",
        [None, *rule_ids],
        key="alerts-history-rule",
        format_func=lambda r: "All rules" if r is None else ad.rule_text(by_id.get(r), r),
    )
    where = ad.places(resolved)
    place = right.selectbox(
        "Territory",
        [None, *where],
        key="alerts-history-place",
        format_func=lambda p: "All territories" if p is None else where[p],
    )
    table = ad.history_table(resolved, by_id, rule_id=rule_id, external_id=place)
    shown = f"{len(table)} resolved episode{'s' if len(table) != 1 else ''}"
    st.caption(
        shown
        + (f" (the newest {ad.HISTORY_SHOWN:,} are loaded)." if len(resolved) >= ad.HISTORY_SHOWN else ".")
    )
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=ui.table_height(len(table), max_rows=20),
        column_config={
            "Detail": LINK,
            "Opened": st.column_config.DatetimeColumn("Opened (UTC)", format=DATETIME),
            "Resolved": st.column_config.DatetimeColumn("Resolved (UTC)", format=DATETIME),
        },
        on_select="rerun",
        selection_mode="single-row",
        key="alerts-history-table",
    )
    ui.follow_selection(event, table["Detail"])


def rules_panel(rules: list[Rule], open_episodes: pd.DataFrame, settings: Settings) -> None:
    st.dataframe(
        ad.rules_table(rules, open_episodes, settings.recipients),
        hide_index=True,
        width="stretch",
        column_config={
            "On": st.column_config.CheckboxColumn(width=50),
            "Open": st.column_config.NumberColumn(help="Episodes open now.", width=60),
        },
    )
    st.caption(
        "Edit a rule below; it takes effect at the next evaluation. Empty recipients mean the default "
        f"list ({', '.join(settings.recipients) or 'none set'}, TERRITORY_ALERT_RECIPIENTS)."
    )
    if not auth.can("alerts.edit"):
        return
    for rule in rules:
        label = f"{ui.as_text(describe(rule))} · {rule.severity} · {'on' if rule.enabled else 'off'}"
        with st.expander(label, icon=":material/edit:"):
            rule_form(rule)


def rule_form(rule: Rule) -> None:
    """One rule's settings; saved through ``jobs.alerts.edit_rule``, whose refusals are shown in words."""
    field = ad.threshold_field(rule)
    prefix = f"rule-{rule.key}"
    with st.form(f"{prefix}-form", border=False):
        st.caption(f"`{rule.key}`: metric `{rule.metric}`, alert when {rule.comparator.name} the threshold.")
        cells = st.columns(3)
        threshold = cells[0].number_input(
            f"Threshold ({field.unit})",
            value=field.shown(rule.threshold),
            step=1.0 if field.scale > 1 else 0.05,
            format="%g",
            key=f"{prefix}-threshold",
        )
        severity = cells[1].selectbox(
            "Severity", SEVERITIES, index=position(SEVERITIES, rule.severity), key=f"{prefix}-severity"
        )
        scope = cells[2].selectbox("Scope", SCOPES, index=position(SCOPES, rule.scope), key=f"{prefix}-scope")
        cells = st.columns([2, 1, 1], vertical_alignment="bottom")
        recipients = cells[0].text_input(
            "Recipients (comma separated)",
            value=", ".join(rule.recipients),
            placeholder="empty: the default list",
            key=f"{prefix}-recipients",
        )
        renotify = cells[1].number_input(
            "Re-notify after (hours)",
            value=float(rule.renotify_hours),
            step=1.0,
            format="%g",
            key=f"{prefix}-renotify",
        )
        enabled = cells[2].toggle("On", value=rule.enabled, key=f"{prefix}-enabled")
        saved = st.form_submit_button("Save", type="primary", key=f"{prefix}-save")
    if saved:
        save_rule(
            rule,
            threshold=field.stored(float(threshold)),
            severity=str(severity),
            scope=str(scope),
            recipients=recipients,
            renotify_hours=float(renotify),
            enabled=bool(enabled),
        )


def position(options: tuple[str, ...], value: str) -> int:
    return options.index(value) if value in options else 0


def save_rule(rule: Rule, **form: object) -> None:
    from jobs.alerts import RuleEditError, edit_rule

    changes = ad.rule_changes(rule, **form)  # type: ignore[arg-type]
    if not changes:
        st.info("Nothing changed.")
        return
    problem = ad.recipients_problem(str(form["recipients"]))
    if problem:
        st.error(f"Not saved: {problem}.", icon=":material/error:")
        return

    try:
        actor = auth.acting("alerts.edit")
        text = edit_rule(data.engine(), rule.key, **changes, actor=actor, source="page")
    except (RuleEditError, PermissionError) as error:
        st.error(f"Not saved: {error}.", icon=":material/error:")
        return
    st.session_state[FLASH] = ("success", f"Saved {text}. It takes effect at the next evaluation.")
    st.rerun()


def outbox_panel(status: data.DataStatus, version: str, settings: Settings) -> None:
    if settings.smtp_host:
        st.caption(
            f"Digests are sent through {settings.smtp_host}:{settings.smtp_port}; *pending* ones go "
            "out at the next evaluation."
        )
    else:
        st.caption(
            "No SMTP server is set (TERRITORY_SMTP_HOST), so digests are kept here with status "
            "*outbox* instead of being sent."
        )
    sent = ad.notifications(status.url, version)
    if sent.empty:
        st.info("No email yet: each evaluation with something new writes one digest per recipient here.")
    else:
        notification_table(sent)
        preview(status, version, sent)
    test_email_form(settings)


def notification_table(sent: pd.DataFrame) -> None:
    table = sent.rename(
        columns={
            "id": "#",
            "created_at": "Created",
            "recipient": "Recipient",
            "subject": "Subject",
            "status": "Status",
            "attempts": "Attempts",
            "last_error": "Last error",
            "sent_at": "Sent",
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=ui.table_height(len(table), max_rows=10),
        column_config={
            "Created": st.column_config.DatetimeColumn("Created (UTC)", format=DATETIME),
            "Sent": st.column_config.DatetimeColumn("Sent (UTC)", format=DATETIME),
            "Subject": st.column_config.TextColumn(width="large"),
        },
    )


def preview(status: data.DataStatus, version: str, sent: pd.DataFrame) -> None:
    """A chosen notification as its recipient reads it: the plain text, or the HTML (sanitised by st.html)."""
    rows = sent.set_index("id")
    chosen = st.selectbox(
        "Preview",
        rows.index.tolist(),
        key="alerts-preview",
        format_func=lambda n: (
            f"#{n} · {moment_label(rows.at[n, 'created_at'])} · "
            f"{rows.at[n, 'recipient']} · {rows.at[n, 'status']}"
        ),
    )
    part = st.segmented_control("Part", ["Text", "HTML"], default="Text", key="alerts-preview-part") or "Text"
    text, html = ad.notification_body(status.url, version, int(chosen))
    st.text(f"To: {rows.at[chosen, 'recipient']}\nSubject: {rows.at[chosen, 'subject']}")
    with st.container(border=True, height=PREVIEW_HEIGHT):
        if part == "HTML":
            st.html(html)  # escaped by the renderer; st.html sanitises again and runs no script
        else:
            st.code(text, language=None, wrap_lines=True)


def test_email_form(settings: Settings) -> None:
    if not auth.can("email.test"):
        return
    with st.form("alerts-test-email"):
        to = st.text_input(
            "Send a test email to", value=(settings.recipients or [""])[0], key="alerts-test-to"
        )
        clicked = st.form_submit_button("Send test email", icon=":material/send:", key="alerts-test-send")
    if clicked:
        send_test(settings, to.strip())


def send_test(settings: Settings, to: str) -> None:
    from core.alerts import send_test_email

    if not settings.smtp_host:
        st.info(
            "No SMTP server is set (TERRITORY_SMTP_HOST), so nothing can be sent from here: alert emails "
            "go to the outbox above instead. Set TERRITORY_SMTP_HOST (and port, TLS, user) to send them.",
            icon=":material/outbox:",
        )
        return
    problem = "enter an address" if not to else ad.recipients_problem(to)
    if problem:
        st.error(f"Not sent: {problem}.", icon=":material/error:")
        return
    from core.audit import record_event

    try:
        actor = auth.acting("email.test")
        send_test_email(settings, to)
        record_event(data.engine(), actor.email, "email.test", f"test email to {to}", "page")
    except (OSError, smtplib.SMTPException, ValueError) as error:
        st.error(
            f"The test email to {to} could not be sent through {settings.smtp_host}:"
            f"{settings.smtp_port}: {type(error).__name__}: {error}",
            icon=":material/error:",
        )
        return
    st.success(
        f"Test email sent to {to} through {settings.smtp_host}:{settings.smtp_port}.",
        icon=":material/mark_email_read:",
    )


# --------------------------------------------------------------------------- the page


status = ui.ready_or_onboarding()
ui.page_header("Alerts", status, caption="times in UTC")
settings = get_settings()
rules, seeded = ad.rules(data.engine())
if seeded:
    st.info(
        f"There were no alert rules yet, so the {len(seeded)} default rules were added. Tune them under "
        "**Rules**.",
        icon=":material/playlist_add:",
    )
flash()

version = ad.alerts_version(status)
by_id = {rule.id: rule for rule in rules if rule.id is not None}
open_episodes = ad.episodes(status.url, version, "open")
severity_metrics(open_episodes, by_id)
evaluate_panel(status)

panel = (
    st.segmented_control("Show", PANELS, default=PANELS[0], key="alerts-panel", label_visibility="collapsed")
    or PANELS[0]
)
if panel == "Open episodes":
    open_panel(open_episodes, by_id)
elif panel == "History":
    history_panel(status, version, by_id)
elif panel == "Rules":
    rules_panel(rules, open_episodes, settings)
else:
    outbox_panel(status, version, settings)
