"""The "moved account without activity" alert: a territory-scope count read beside the KPI snapshot.

The rule ``moved_account_silent`` watches ``silent_moved_accounts``: per territory, the accounts a plan
moved into it 30 or more days before the snapshot date that nobody has touched since the move
(``core.moved_accounts``, the definition the plan review shows). It is not a KPI column: alerts read
it next to the snapshot (``with_moved_accounts``), so it fires, re-notifies and resolves like any
territory rule, and the digest and the Alerts page name the territory. ``ALERT_METRICS`` gives it its
label and unit, as the KPI registry does for snapshot columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd
from sqlmodel import Session

from core.format import COUNT
from core.kpi_registry import Good, Kpi
from core.moved_accounts import SILENT_AFTER_DAYS, silent_moved_counts

SILENT_MOVED_ACCOUNTS = "silent_moved_accounts"

ALERT_METRICS: Mapping[str, Kpi[Any]] = {
    SILENT_MOVED_ACCOUNTS: Kpi(
        SILENT_MOVED_ACCOUNTS,
        None,
        "Moved accounts without activity",
        COUNT,
        Good.LOWER,
        f"Accounts a plan moved into the territory {SILENT_AFTER_DAYS} or more days ago that nobody has "
        "touched since the move.",
        short="Silent moved accounts",
    )
}


def with_moved_accounts(session: Session, territories: pd.DataFrame, snapshot_date: date) -> pd.DataFrame:
    """The snapshot's territory frame with ``silent_moved_accounts`` as of the snapshot date (0 for none)."""
    if "territory_id" not in territories:
        return territories
    counts = silent_moved_counts(session.connection(), as_of=snapshot_date)
    silent = territories["territory_id"].map(counts).fillna(0.0).astype(float)
    return territories.assign(**{SILENT_MOVED_ACCOUNTS: silent})
