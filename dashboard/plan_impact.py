"""The impact preview on the Optimize page: what a saved plan does to each rep, before Apply.

``render_impact(engine, plan)`` shows, per rep the plan touches, accounts, potential, revenue and
open pipeline before → after and gained / lost, quota, projected attainment, workload and travel
before → after, and the open opportunities changing hands (``core.plan_impact``).
``render_compare(engine, plans)`` shows the same for several plans side by side. Names are data:
they render as table cells (text), never Markdown; numbers are written by ``core.format``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from core.format import day_label, money
from core.plan_impact import (
    PlanImpact,
    compare_table,
    flows_table,
    impact_table,
    opportunities_table,
    plan_impact,
)
from core.plans import SavedPlan, assignments_fingerprint
from core.quota import DEFAULT_QUOTA_METHOD, QUOTA_METHODS
from dashboard import components

METHOD_WORDS = {
    "potential": "by potential",
    "revenue": "by trailing revenue",
    "none": "quota stays",
}


@st.cache_data(ttl=600, max_entries=16, show_spinner=False)
def cached_impact(url: str, plan_id: int, method: str, fingerprint: str, plan_key: str) -> PlanImpact:
    """The impact of a plan, recomputed when the book's assignments or the plan's moves change."""
    from dashboard.data import engine_for

    return plan_impact(engine_for(url), plan_id, quota_method=method)


def impact_of(engine: Engine, plan: SavedPlan, method: str) -> PlanImpact:
    plan_key = f"{plan.status}:{plan.effective_date}:" + ";".join(
        f"{m.account}>{m.to_territory}" for m in plan.moves
    )
    url = engine.url.render_as_string(hide_password=False)
    return cached_impact(url, plan.id, method, assignments_fingerprint(engine), plan_key)


BOOK = ["Rep", "Territories", "Accounts", "Potential", "Revenue TTM", "Open pipeline"]
OUTLOOK = ["Rep", "Quota", "Projected attainment", "Workload", "Travel"]


def show_table(frame: pd.DataFrame) -> None:
    """Every column as text (names are data, never Markdown), sized to its content: a 1400 px window
    shows each table whole (at most six columns of short cells)."""
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height=components.table_height(len(frame)),
        column_config={c: st.column_config.TextColumn(c) for c in frame.columns},
    )


def quota_method_key(plan_id: int) -> str:
    """The session key of a plan's quota method: chosen once, in the preview, and used by Apply."""
    return f"impact-method-{plan_id}"


def render_impact(engine: Engine, plan: SavedPlan) -> None:
    """The impact preview of one saved plan (shown before the Apply button)."""
    if not plan.moves:
        return
    st.subheader("Impact per rep")
    method = st.segmented_control(
        "Quota follows the accounts",
        list(QUOTA_METHODS),
        default=DEFAULT_QUOTA_METHOD,
        format_func=METHOD_WORDS.get,
        key=quota_method_key(plan.id),
    )
    impact = impact_of(engine, plan, method or DEFAULT_QUOTA_METHOD)
    st.caption(caption(impact))
    if not impact.reps:
        st.text("No rep gains or loses accounts: the moves stay with the same owners.")
        return
    table = impact_table(impact)
    st.text("Book before → after:")
    show_table(table[BOOK])
    st.text("Gained and lost:")
    show_table(flows_table(impact))
    st.text("Quota, projected attainment and load before → after:")
    show_table(table[OUTLOOK])
    for move in impact.quota_moves:
        if move.skipped:
            st.text(f"No quota moves from {move.from_rep} to {move.to_rep}: {move.skipped}.")
    if impact.opportunities:
        st.text(f"Open opportunities changing hands ({len(impact.opportunities)}):")
        show_table(opportunities_table(impact))
    else:
        st.text("No open opportunities change hands.")


def caption(impact: PlanImpact) -> str:
    """One line: the effective date, how quota moves, and the team totals the plan conserves."""
    totals = impact.totals
    how = "as applied" if impact.quota_from_stored else METHOD_WORDS.get(impact.quota_method, "")
    return (
        f"Effective {day_label(impact.as_of)}; quota {how}. Reps shown: potential "
        f"{money(totals.potential.before)} → {money(totals.potential.after)}, quota "
        f"{money(totals.quota.before)} → {money(totals.quota.after)}. Projected attainment = "
        f"(bookings + the accounts' forecast to the period end) / quota; bookings before the "
        "effective date stay with the old rep."
    )


def render_compare(engine: Engine, plans: Sequence[SavedPlan]) -> None:
    """Plans side by side, per rep: accounts, potential, quota, projected attainment, workload, travel."""
    if len(plans) < 2 or not st.toggle("Impact per rep, side by side", key="impact-compare"):
        return
    impacts = [impact_of(engine, p, DEFAULT_QUOTA_METHOD) for p in plans]
    frame = compare_table(impacts)
    if frame.empty:
        st.text("None of these plans moves an account to another rep.")
        return
    show_table(frame)
