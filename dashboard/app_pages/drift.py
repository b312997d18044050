"""Drift: who moved most over 4 and 13 weeks, the attainment gap over time, quota against potential."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from core.format import MONTH_AXIS
from core.kpi_registry import KPIS, kpi
from dashboard import components as ui
from dashboard import data

MEASURES = (
    "attainment_gap",
    "potential_index",
    "coverage",
    "health",
)  # KPIs: label and units from the registry
WINDOWS = {"4 weeks": 28, "13 weeks": 91}
HIGHLIGHTED = 6
MISALIGNED = 0.25  # a quota/potential ratio this far from the median stands out


def value_at(wide: pd.DataFrame, day: date) -> pd.Series:
    """Each territory's value at the latest snapshot on or before ``day`` (NaN before the history)."""
    earlier = wide[wide.index <= day]
    return earlier.iloc[-1] if not earlier.empty else pd.Series(float("nan"), index=wide.columns)


def movers(history: pd.DataFrame, measure: str, latest: date) -> pd.DataFrame:
    """Now, and the change over each window, per territory."""
    wide = history.pivot_table(index="snapshot_date", columns="territory_id", values=measure, aggfunc="last")
    now = value_at(wide, latest)
    frame = pd.DataFrame({"now": now})
    for label, days in WINDOWS.items():
        frame[label] = now - value_at(wide, latest - timedelta(days=days))
    names = history.drop_duplicates("territory_id").set_index("territory_id")[["external_id", "name"]]
    return frame.join(names).reset_index()


def movers_table(moved: pd.DataFrame, measure: str, window: str) -> pd.DataFrame:
    entry = kpi(measure)
    ranked = moved.reindex(moved[window].abs().sort_values(ascending=False, na_position="last").index)
    table = pd.DataFrame({"territory": ranked["name"], entry.label: ranked["now"].map(entry.text)})
    for name in WINDOWS:
        table[f"change, {name}"] = ranked[name].map(entry.change)
    table["open"] = "territory?territory=" + ranked["external_id"]
    st.caption(ui.SELECT_TO_OPEN)
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=ui.table_height(len(table), max_rows=12),
        column_config={"open": None},  # the row's address: selecting the row opens it in this tab
        on_select="rerun",
        selection_mode="single-row",
        key="drift-movers",
    )
    ui.follow_selection(event, table["open"])
    return ranked


def gap_chart(history: pd.DataFrame, highlighted: list[int]) -> None:
    """Attainment gap per territory over the snapshots; the biggest movers in colour, the rest grey."""
    frame = history[["snapshot_date", "territory_id", "name", "attainment_gap"]].dropna()
    frame = frame.assign(
        snapshot_date=pd.to_datetime(frame["snapshot_date"]), mover=frame["territory_id"].isin(highlighted)
    )
    x = {"field": "snapshot_date", "type": "temporal", "title": None, "axis": {"format": MONTH_AXIS}}
    gap = KPIS["attainment_gap"]
    y = {"field": "attainment_gap", "type": "quantitative", "title": f"{gap.label} ({gap.unit.typed_in})"}
    tooltip = [
        {"field": "name", "type": "nominal"},
        {"field": "snapshot_date", "type": "temporal", "title": "snapshot"},
        {"field": "attainment_gap", "type": "quantitative", "title": gap.label, "format": "+.1f"},
    ]
    st.vega_lite_chart(
        frame,
        {
            "layer": [
                {
                    "transform": [{"filter": "!datum.mover"}],
                    "mark": {"type": "line", "color": "#c9c4b8", "strokeWidth": 1},
                    "encoding": {"x": x, "y": y, "detail": {"field": "name"}, "tooltip": tooltip},
                },
                {
                    "mark": {"type": "rule", "color": "#555", "strokeDash": [3, 3]},
                    "encoding": {"y": {"datum": 0}},
                },
                {
                    "transform": [{"filter": "datum.mover"}],
                    "mark": {"type": "line", "strokeWidth": 2.5},
                    "encoding": {
                        "x": x,
                        "y": y,
                        "tooltip": tooltip,
                        "color": {
                            "field": "name",
                            "type": "nominal",
                            "title": "biggest movers",
                            "legend": {"orient": "right"},
                        },
                    },
                },
            ]
        },
        width="stretch",
    )


ALIGNMENT = ["quota low for potential", "in line", "quota high for potential"]


def quota_alignment(kpis: pd.DataFrame) -> None:
    """Quota against potential: a quota far from the team's usual quota/potential ratio stands out."""
    frame = kpis.dropna(subset=["quota"]).query("potential > 0").copy()
    if frame.empty:
        st.info("No territory has a quota for the current period.")
        return
    frame["ratio"] = frame["quota"] / frame["potential"]
    median = float(frame["ratio"].median())
    off = frame["ratio"] / median - 1
    frame["alignment"] = pd.cut(
        off, [-float("inf"), -MISALIGNED, MISALIGNED, float("inf")], labels=ALIGNMENT
    ).astype(str)
    scatter(frame[["name", "potential", "quota", "ratio", "alignment"]], median)
    outliers = (
        frame[frame["alignment"] != "in line"].assign(dist=off.abs()).sort_values("dist", ascending=False)
    )
    st.caption(
        f"Dashed line: the median quota/potential ratio ({median:.2f}). {len(outliers)} of {len(frame)} "
        f"quotas are more than {MISALIGNED:.0%} away from it."
    )
    if not outliers.empty:
        st.dataframe(
            pd.DataFrame(
                {
                    "territory": outliers["name"],
                    **{KPIS[k].label: outliers[k].map(KPIS[k].text) for k in ("quota", "potential")},
                    "quota / potential": outliers["ratio"].map(ui.number),
                    "vs median": (outliers["ratio"] / median - 1).map(lambda v: f"{v:+.0%}"),
                    KPIS["attainment"].label: outliers["attainment"].map(KPIS["attainment"].text),
                }
            ),
            hide_index=True,
            width="stretch",
        )


def scatter(frame: pd.DataFrame, median: float) -> None:
    money_axis = {"format": "$~s"}
    top = float(frame["potential"].max()) * 1.05
    st.vega_lite_chart(
        frame,
        {
            "layer": [
                {
                    "mark": {"type": "circle", "size": 90, "opacity": 0.85},
                    "encoding": {
                        "x": {
                            "field": "potential",
                            "type": "quantitative",
                            "title": "potential ($)",
                            "axis": money_axis,
                        },
                        "y": {
                            "field": "quota",
                            "type": "quantitative",
                            "title": "quota this period ($)",
                            "axis": money_axis,
                        },
                        "color": {
                            "field": "alignment",
                            "type": "nominal",
                            "legend": {"orient": "top", "title": None},
                            "scale": {"domain": ALIGNMENT, "range": ["#2166ac", "#9a9588", "#ca4c24"]},
                        },
                        "tooltip": [
                            {"field": "name", "type": "nominal"},
                            {"field": "potential", "type": "quantitative", "format": "$,.0f"},
                            {"field": "quota", "type": "quantitative", "format": "$,.0f"},
                            {
                                "field": "ratio",
                                "type": "quantitative",
                                "format": ".2f",
                                "title": "quota / potential",
                            },
                        ],
                    },
                },
                {
                    "data": {
                        "values": [
                            {"potential": 0.0, "quota": 0.0},
                            {"potential": top, "quota": top * median},
                        ]
                    },
                    "mark": {"type": "line", "color": "#555", "strokeDash": [4, 4]},
                    "encoding": {
                        "x": {"field": "potential", "type": "quantitative"},
                        "y": {"field": "quota", "type": "quantitative"},
                    },
                },
            ]
        },
        width="stretch",
    )


status = ui.ready_or_onboarding()
ui.page_header("Drift", status)
ui.require_snapshot(status)

history = data.territory_history(status.url, status.version)
left, right = st.columns([2, 1])
measure = (
    left.segmented_control(
        "Measure",
        list(MEASURES),
        default="attainment_gap",
        format_func=lambda m: kpi(m).label,
        key="drift-measure",
    )
    or "attainment_gap"
)
window = (
    right.segmented_control("Rank by change over", list(WINDOWS), default="13 weeks", key="drift-window")
    or "13 weeks"
)

st.subheader("Who moved most")
movers_table(movers(history, measure, status.snapshot), measure, window)

st.subheader("Attainment gap over time")
gap_moved = movers(history, "attainment_gap", status.snapshot)
top = gap_moved.reindex(gap_moved[window].abs().sort_values(ascending=False).index).head(HIGHLIGHTED)
gap_chart(history, top["territory_id"].tolist())

st.subheader("Quota against potential")
quota_alignment(data.snapshot(status.url, status.version, status.snapshot))
