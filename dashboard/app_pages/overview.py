"""Overview: the team's balance at a glance, territories ranked by health with the reasons, data freshness."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from core.kpi_registry import HEALTH, KPIS, TEAM_KPIS
from dashboard import components as ui
from dashboard import data

TEAM_CARDS = (
    "cv_potential",
    "max_min_ratio",
    "quartile_ratio",
    "out_of_band",
    "reps_on_pace_share",
    "coverage",
)


def team_metrics(team: pd.DataFrame, day) -> None:  # type: ignore[no-untyped-def]
    """Team KPIs of the snapshot, each with its change over four weeks."""
    now = team[team["snapshot_date"] == day].iloc[-1]
    earlier = team[team["snapshot_date"] <= day - timedelta(days=28)]
    before = earlier.iloc[-1] if not earlier.empty else None

    def delta(key: str) -> str | None:
        if before is None or pd.isna(now[key]) or pd.isna(before[key]):
            return None
        text = TEAM_KPIS[key].change(now[key] - before[key])
        return None if text.lstrip("+-−").replace("pts", "").strip().strip("0.") == "" else text

    shown = {"out_of_band": f"{int(now['out_of_band'])} of {int(now['territories'])}"}
    for cell, key in zip(st.columns(len(TEAM_CARDS)), TEAM_CARDS, strict=True):
        ui.kpi_card(cell, TEAM_KPIS[key], now[key], delta(key), shown=shown.get(key))


TABLE_KPIS = ("potential", "potential_index", "coverage", "attainment_gap", "drift")


def health_table(kpis: pd.DataFrame) -> None:
    """Territories, worst health first, each with the reasons points were deducted."""
    ranked = kpis.sort_values(["health", "external_id"]).reset_index(drop=True)
    shown = {KPIS[key].heading: ranked[key].map(KPIS[key].text) for key in TABLE_KPIS}
    table = pd.DataFrame(
        {
            HEALTH.heading: ranked["health"],
            "Territory": ranked["name"],
            "Rep": ranked["rep_name"].map(ui.owner),
            "Detail": "territory?territory=" + ranked["external_id"],
            **shown,
            "Why points were deducted": ranked["reasons"].replace("", "no deductions"),
        }
    )
    st.caption(ui.SELECT_TO_OPEN)
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=ui.table_height(len(table), max_rows=15),
        on_select="rerun",
        selection_mode="single-row",
        key="overview-health",
        column_config={
            HEALTH.heading: st.column_config.ProgressColumn(
                min_value=0, max_value=100, format="%.0f", width=90
            ),
            "Why points were deducted": st.column_config.TextColumn(width="large"),
            "Detail": None,  # the row's address: selecting the row opens it in this tab
        },
    )
    ui.follow_selection(event, table["Detail"])
    with st.expander("Every deduction, worst territory first"):
        st.markdown(deductions_markdown(ranked))


def deductions_markdown(ranked: pd.DataFrame) -> str:
    lines = []
    for row in ranked[ranked["deduction_list"].map(len) > 0].itertuples():
        reasons = "\n".join(
            f"  - −{float(d['points']):.1f} {ui.as_text(d['reason'])}" for d in row.deduction_list
        )
        name, owner = ui.as_text(row.name), ui.as_text(ui.owner(row.rep_name))  # imported names are text
        score = f"{HEALTH.heading.lower()} {HEALTH.text(row.health)}"
        lines.append(f"- **{name}** ({owner}) — {score}\n{reasons}")
    return "\n".join(lines) or "No territory has a deduction."


def freshness(status: data.DataStatus) -> None:
    runs = data.job_runs(status.url, status.version)
    table = ui.freshness_table(runs)
    if table.empty:
        st.caption("No job has run yet.")
    else:
        st.dataframe(table, hide_index=True, width="stretch")
    ui.refresh_panel()


status = ui.ready_or_onboarding()
ui.page_header("Overview", status)
ui.require_snapshot(status)

st.subheader("Team balance")
st.caption("Small figures under each number: the change over the last four weeks of snapshots.")
team_metrics(data.team_history(status.url, status.version), status.snapshot)

st.subheader("Territories by health")
st.caption("Health starts at 100; each rule a territory breaks deducts points, listed with its numbers.")
health_table(data.snapshot(status.url, status.version, status.snapshot))

st.subheader("Data freshness")
freshness(status)
