"""Overview: the team's balance at a glance, territories ranked by health with the reasons, data freshness."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import components as ui
from dashboard import data


def team_metrics(team: pd.DataFrame, day) -> None:  # type: ignore[no-untyped-def]
    """Team KPIs of the snapshot, each with its change over four weeks."""
    now = team[team["snapshot_date"] == day].iloc[-1]
    earlier = team[team["snapshot_date"] <= day - timedelta(days=28)]
    before = earlier.iloc[-1] if not earlier.empty else None

    def delta(column: str, fmt) -> str | None:  # type: ignore[no-untyped-def]
        if before is None or pd.isna(now[column]) or pd.isna(before[column]):
            return None
        text = fmt(now[column] - before[column])
        return None if text.lstrip("+-−").replace("pts", "").strip().strip("0.") == "" else text

    cells = st.columns(6)
    cells[0].metric(
        "CV of potential",
        ui.number(now["cv_potential"]),
        delta("cv_potential", lambda v: f"{v:+.2f}"),
        delta_color="inverse",
        help="Standard deviation / mean of territory potential. Above 0.15 is out of balance.",
        border=True,
    )
    cells[1].metric(
        "Max / min",
        ui.ratio(now["max_min_ratio"]),
        delta("max_min_ratio", lambda v: f"{v:+.2f}"),
        delta_color="inverse",
        help="Largest territory potential over the smallest.",
        border=True,
    )
    cells[2].metric(
        "Quartile ratio",
        ui.ratio(now["quartile_ratio"]),
        delta("quartile_ratio", lambda v: f"{v:+.2f}"),
        delta_color="inverse",
        help="Mean potential of the top quartile over the bottom quartile. "
        "Above 2× is a classic imbalance signal.",
        border=True,
    )
    cells[3].metric(
        "Out of band",
        f"{int(now['out_of_band'])} of {int(now['territories'])}",
        delta("out_of_band", lambda v: f"{v:+.0f}"),
        delta_color="inverse",
        help="Territories whose potential index is outside 1 ± band.",
        border=True,
    )
    cells[4].metric(
        "Reps on pace",
        ui.pct(now["reps_on_pace_share"]),
        delta("reps_on_pace_share", lambda v: ui.points(v * 100)),
        help="Share of reps at or above pace. 60–70% is healthy; below 50% points at territory design.",
        border=True,
    )
    cells[5].metric(
        "Coverage",
        ui.pct(now["coverage"]),
        delta("coverage", lambda v: ui.points(v * 100)),
        help="Share of potential held by accounts touched in the last 90 days.",
        border=True,
    )


def health_table(kpis: pd.DataFrame) -> None:
    """Territories, worst health first, each with the reasons points were deducted."""
    ranked = kpis.sort_values(["health", "external_id"]).reset_index(drop=True)
    table = pd.DataFrame(
        {
            "Health": ranked["health"],
            "Territory": ranked["name"],
            "Rep": ranked["rep_name"].map(ui.owner),
            "Detail": "territory?territory=" + ranked["external_id"],
            "Potential": ranked["potential"].map(ui.money),
            "Index": ranked["potential_index"].map(ui.number),
            "Coverage": ranked["coverage"].map(ui.pct),
            "Vs pace": ranked["attainment_gap"].map(ui.points),
            "Drift": ranked["drift"].map(ui.points),
            "Why points were deducted": ranked["reasons"].replace("", "no deductions"),
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=ui.table_height(len(table), max_rows=15),
        column_config={
            "Health": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f", width=90),
            "Why points were deducted": st.column_config.TextColumn(width="large"),
            "Detail": st.column_config.LinkColumn(display_text=r"territory=(.*)$", width=80),
        },
    )
    with st.expander("Every deduction, worst territory first"):
        st.markdown(deductions_markdown(ranked))


def deductions_markdown(ranked: pd.DataFrame) -> str:
    lines = []
    for row in ranked[ranked["deduction_list"].map(len) > 0].itertuples():
        reasons = "\n".join(
            f"  - −{float(d['points']):.1f} {ui.as_text(d['reason'])}" for d in row.deduction_list
        )
        name, owner = ui.as_text(row.name), ui.as_text(ui.owner(row.rep_name))  # imported names are text
        lines.append(f"- **{name}** ({owner}) — health {ui.number(row.health, 0)}\n{reasons}")
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
