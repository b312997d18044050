"""Territory: one territory's health, KPI history, its owner's quota changes, accounts, an account's
forecast, and its whitespace.

Its address is ``/territory?id=<external id>`` (alert emails' older ``?territory=`` works too); picking
another territory updates the URL so it can be shared.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.format import MONEY, MONTH_AXIS, day_label
from core.kpi_registry import HEALTH, KPIS, kpi
from core.kpis import DRIFT_DAYS
from core.queries import load_quota_adjustments
from dashboard import components as ui
from dashboard import data

HISTORY_VIEWS = {  # the KPIs of one view share a unit
    "Attainment vs pace": ["attainment", "pace"],
    "Drift": ["drift", "attainment_gap"],
    "Coverage": ["coverage", "accounts_touched_share"],
    "Potential": ["potential", "revenue_ttm"],
    "Health": ["health"],
}
WHITESPACE_QUANTILE = 0.75
ACCENT = "#0F766E"
ACCOUNT_COLUMNS = {
    "external_id": "Account",
    "name": "Name",
    "industry": "Industry",
    "segment": "Segment",
    "state": "State",
    "revenue_ttm": ui.number_column(KPIS["revenue_ttm"].unit, KPIS["revenue_ttm"].label),
    "potential": ui.number_column(KPIS["potential"].unit, KPIS["potential"].label),
}


def pick_territory(kpis: pd.DataFrame) -> pd.Series:
    """The territory from ?id= (or ?territory=), else the least healthy; the choice is written back."""
    ids = kpis.sort_values(["health", "external_id"])["external_id"].tolist()
    labels = kpis.set_index("external_id")
    wanted = st.query_params.get("id") or st.query_params.get("territory")
    if wanted and wanted not in ids:
        st.warning(
            f"There is no territory {ui.as_text(wanted)} in the latest snapshot; "
            "showing the least healthy one."
        )
    chosen = st.selectbox(
        "Territory",
        ids,
        index=ids.index(wanted) if wanted in ids else 0,
        format_func=lambda t: f"{labels.at[t, 'name']} · {ui.owner(labels.at[t, 'rep_name'])} ({t})",
        key="territory-pick",
    )
    st.query_params.pop("territory", None)  # the older form of the address becomes ?id=
    st.query_params["id"] = chosen
    return labels.loc[chosen]


def headline(row: pd.Series) -> None:
    """The territory's KPIs as cards, each with its companion figure, then why points were deducted."""
    cells = st.columns(6)
    ui.kpi_card(cells[0], HEALTH, row["health"])
    index = companion(row, "potential_index")
    ui.kpi_card(cells[1], KPIS["potential"], row["potential"], index, delta_color="off")
    touched = f"{text(row, 'accounts_touched_share')} of accounts"
    ui.kpi_card(cells[2], KPIS["coverage"], row["coverage"], touched, delta_color="off")
    gap = f"{text(row, 'attainment_gap')} vs pace"
    ui.kpi_card(cells[3], KPIS["attainment"], row["attainment"], gap, delta_color="normal")
    drift = KPIS["drift"]
    ui.kpi_card(cells[4], drift, row["drift"], heading=f"{drift.heading} ({DRIFT_DAYS} days)")
    capacity = f"{text(row, 'utilization')} of capacity"
    ui.kpi_card(cells[5], KPIS["workload_hours"], row["workload_hours"], capacity, delta_color="off")
    if row["deduction_list"]:
        st.markdown(
            "**Why points were deducted**\n"
            + "\n".join(
                f"- {ui.as_text(d['reason'])} — **−{float(d['points']):.1f}**" for d in row["deduction_list"]
            )
        )
    else:
        st.success("No deductions: every rule is within its limit.")


def text(row: pd.Series, key: str) -> str:
    """One KPI of the row in its unit ("58%", "+3.1 pts")."""
    return KPIS[key].text(row[key])


def companion(row: pd.Series, key: str) -> str:
    """A second KPI under a card's value, named: "Index 1.22"."""
    return f"{KPIS[key].heading} {text(row, key)}"


def history_chart(history: pd.DataFrame) -> None:
    """The chosen KPI over the snapshots (one chart at a time: heavy panels are computed only when shown)."""
    view = (
        st.segmented_control(
            "History", list(HISTORY_VIEWS), default="Attainment vs pace", key="territory-history"
        )
        or "Attainment vs pace"
    )
    columns = HISTORY_VIEWS[view]
    unit = kpi(columns[0]).unit
    long = history.melt("snapshot_date", columns, var_name="measure", value_name="value").dropna()
    long["value"] = long["value"] * unit.scale
    long["measure"] = long["measure"].map(lambda key: kpi(key).label)
    title = unit.typed_in
    st.vega_lite_chart(
        long,
        {
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "snapshot_date", "type": "temporal", "title": None},
                "y": {"field": "value", "type": "quantitative", "title": title},
                "color": {"field": "measure", "type": "nominal", "title": None, "legend": {"orient": "top"}},
                "tooltip": [
                    {"field": "snapshot_date", "type": "temporal", "title": "snapshot"},
                    {"field": "measure", "type": "nominal"},
                    {"field": "value", "type": "quantitative", "format": ",.1f"},
                ],
            },
        },
        width="stretch",
    )


@st.cache_data(ttl=data.TTL, max_entries=16, show_spinner=False)
def quota_changes(url: str, version: str, rep_id: int) -> pd.DataFrame:
    """The rep's quota adjustments (``core.queries.load_quota_adjustments``), oldest first."""
    return load_quota_adjustments(engine=data.engine_for(url), rep_id=rep_id)


def quota_changes_table(changes: pd.DataFrame, owner_name: str) -> None:
    """Each change of the owner's quota: when, how much, for which period, by which plan and why."""
    if changes.empty:
        st.caption(f"No quota changes for {ui.as_text(owner_name)}: each period's quota is its base quota.")
        return
    plan = changes["plan_id"].astype("Int64").astype(str).radd("#").where(changes["plan_id"].notna(), "")
    named = changes["plan_name"].fillna("").astype(str)
    table = pd.DataFrame(
        {
            "effective": changes["effective_date"].map(day_label),
            "amount": changes["amount"].map(MONEY.change),
            "period": changes["period_start"].map(day_label) + " – " + changes["period_end"].map(day_label),
            "plan": (plan + " " + named).str.strip(),
            "reason": changes["reason"].fillna(""),
            "method": changes["method"].fillna(""),
        }
    )
    st.caption(
        f"{ui.as_text(owner_name)}'s quota for a period is its base quota plus the changes effective "
        "on or before the day; a change is expected evenly from its effective date to the period's end."
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=ui.table_height(len(table), max_rows=8),
        column_config={
            "effective": "Effective",
            "amount": "Amount",
            "period": "Quota period",
            "plan": "Plan",
            "reason": "Reason",
            "method": "Method",
        },
    )


def accounts_table(book: pd.DataFrame) -> None:
    table = book.sort_values("potential", ascending=False)[
        [
            "external_id",
            "name",
            "industry",
            "segment",
            "state",
            "revenue_ttm",
            "potential",
            "last_touch",
            "strategic",
            "locked",
        ]
    ]
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=ui.table_height(len(table), max_rows=10),
        column_config={
            **ACCOUNT_COLUMNS,
            "last_touch": st.column_config.DateColumn("Last touch (90 days)"),
            "strategic": "Strategic",
            "locked": "Locked",
        },
    )


def forecast_panel(book: pd.DataFrame, status: data.DataStatus) -> None:
    """A chosen account's monthly revenue, with the current forecast run's forecast and interval."""
    ranked = book.sort_values("potential", ascending=False)
    names = ranked.set_index("account_id")["name"]
    account_id = st.selectbox(
        "Account", names.index.tolist(), format_func=lambda a: names[a], key="territory-account"
    )
    series = data.account_series(status.url, status.version, int(account_id), status.forecast_run)
    if status.forecast_run is None or series["yhat"].isna().all():
        st.info(
            "No forecast yet for this account: showing its revenue history only. Forecasts come from "
            "`territory refresh forecasts` (or Refresh now with forecasts on the Overview)."
        )
    revenue_chart(series)


def revenue_chart(series: pd.DataFrame) -> None:
    """Actual months as a solid line; the forecast dashed, inside its shaded interval."""
    money_tip = [{"field": "month", "type": "temporal", "timeUnit": "yearmonth", "format": MONTH_AXIS}]
    x = {"field": "month", "type": "temporal", "title": None, "axis": {"format": MONTH_AXIS}}
    st.vega_lite_chart(
        series.assign(month=pd.to_datetime(series["month"])),
        {
            "layer": [
                {
                    "mark": {"type": "area", "opacity": 0.25, "color": ACCENT},
                    "encoding": {
                        "x": x,
                        "y": {"field": "yhat_lower", "type": "quantitative", "title": "$ per month"},
                        "y2": {"field": "yhat_upper"},
                    },
                },
                {
                    "mark": {"type": "line", "strokeDash": [5, 4], "color": ACCENT},
                    "encoding": {
                        "x": x,
                        "y": {"field": "yhat", "type": "quantitative"},
                        "tooltip": money_tip
                        + [
                            {"field": f, "type": "quantitative", "title": t, "format": "$,.0f"}
                            for f, t in (("yhat", "forecast"), ("yhat_lower", "low"), ("yhat_upper", "high"))
                        ],
                    },
                },
                {
                    "mark": {"type": "line", "point": True, "color": "#1F2933"},
                    "encoding": {
                        "x": x,
                        "y": {"field": "actual", "type": "quantitative"},
                        "tooltip": money_tip
                        + [{"field": "actual", "type": "quantitative", "title": "actual", "format": "$,.0f"}],
                    },
                },
            ]
        },
        width="stretch",
    )


def whitespace(book: pd.DataFrame) -> None:
    """High-potential accounts nobody touched in the coverage window."""
    floor = book["potential"].quantile(WHITESPACE_QUANTILE) if len(book) else 0.0
    idle = book[(book["potential"] >= floor) & ~book["touched"]].sort_values("potential", ascending=False)
    st.caption(
        f"Accounts in the top quarter by potential (≥ {ui.money(floor)}) with no activity in the last "
        f"90 days: {len(idle)} holding {ui.money(idle['potential'].sum())} of potential."
    )
    if not idle.empty:
        st.dataframe(
            idle[["external_id", "name", "industry", "segment", "state", "potential", "revenue_ttm"]],
            hide_index=True,
            width="stretch",
            column_config=ACCOUNT_COLUMNS,
        )


status = ui.ready_or_onboarding()
ui.link("overview", "Back to the overview", icon=":material/arrow_back:")
ui.page_header("Territory", status)
ui.require_snapshot(status)

kpis = data.snapshot(status.url, status.version, status.snapshot)
row = pick_territory(kpis)
headline(row)

history = data.territory_history(status.url, status.version)
st.subheader("KPI history")
history_chart(history[history["territory_id"] == row["territory_id"]])

st.subheader("Quota changes")
owner_id = data.territories(status.url, status.version).set_index("territory_id")["owner_rep_id"]
owner_rep = owner_id.get(row["territory_id"])
if owner_rep is None or pd.isna(owner_rep):
    st.caption("Vacant: no owner, so no quota.")
else:
    quota_changes_table(quota_changes(status.url, status.version, int(owner_rep)), ui.owner(row["rep_name"]))

book = data.accounts(status.url, status.version, status.as_of)
mine = book[book["territory_id"] == row["territory_id"]]
st.subheader(f"Accounts ({len(mine)})")
accounts_table(mine)

st.subheader("Revenue and forecast")
if mine.empty:
    st.info("This territory has no accounts.")
else:
    forecast_panel(mine, status)

st.subheader("Whitespace")
whitespace(mine)
