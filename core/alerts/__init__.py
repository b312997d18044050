"""Alerts: rules over the latest KPI snapshot, episodes, and digest emails over SMTP.

``rules`` holds the rules (machine and human halves), ``episodes`` turns a snapshot into episodes and
queued digests, ``email`` renders digests and delivers the outbox, ``fixes`` holds the targeted draft plan
a balance episode links to. See docs/alerts.md.
"""

from core.alerts.email import (
    DeliveryReport,
    DigestItem,
    RenderedEmail,
    build_message,
    deliver_pending,
    render_digest,
    send_email,
    send_test_email,
)
from core.alerts.episodes import AlertRunReport, Snapshot, evaluate_alerts, load_snapshot
from core.alerts.rules import (
    DEFAULT_RULES,
    Breach,
    Rule,
    describe,
    evaluate,
    load_rules,
    resolved_sentence,
    seed_default_rules,
    sentence,
)

__all__ = [
    "DEFAULT_RULES",
    "AlertRunReport",
    "Breach",
    "DeliveryReport",
    "DigestItem",
    "RenderedEmail",
    "Rule",
    "Snapshot",
    "build_message",
    "deliver_pending",
    "describe",
    "evaluate",
    "evaluate_alerts",
    "load_rules",
    "load_snapshot",
    "render_digest",
    "resolved_sentence",
    "seed_default_rules",
    "send_email",
    "send_test_email",
    "sentence",
]
