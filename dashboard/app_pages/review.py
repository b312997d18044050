"""Plan review: the 30/60/90-day review of an applied plan, predicted against actual (core.plan_review).

Its address is ``/review?plan=<id>``; picking another plan updates it. Viewers may read it. Every
figure is written by ``core.format``; names from the data are table cells (text, never Markdown).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.format import count, day_label, hours, money, number, pct, points, signed_pct
from core.plan_review import PlanOutcome, PlanReviewError, RetentionReading, applied_plans, plan_outcome
from dashboard import components as ui
from dashboard import data

status = ui.ready_or_onboarding()
ui.page_header(
    "Plan review", status, "what an applied plan predicted, and what happened at 30, 60 and 90 days"
)


@st.cache_data(ttl=data.TTL, max_entries=16, show_spinner=False)
def outcome_of(url: str, version: str, plan_id: int, as_of: date) -> PlanOutcome:
    return plan_outcome(data.engine_for(url), plan_id, as_of=as_of)


def pick_plan() -> int | None:
    """The plan from ?plan=, else the latest applied; the choice is written back to the address."""
    plans = applied_plans(data.engine())
    if not plans:
        st.info(
            "No plan has been applied yet. Once an approver applies a plan (Optimize page, or "
            "`territory plans apply ID`), its review appears here 30, 60 and 90 days later."
        )
        return None
    ids = [plan_id for plan_id, _, _ in plans]
    wanted = st.query_params.get("plan", "")
    labels = {plan_id: f"#{plan_id} {name} (effective {day_label(day)})" for plan_id, name, day in plans}
    chosen = st.selectbox(
        "Applied plan",
        ids,
        index=ids.index(int(wanted)) if wanted.isdigit() and int(wanted) in ids else 0,
        format_func=labels.__getitem__,
    )
    st.query_params["plan"] = str(chosen)
    return int(chosen)


def checkpoints_table(outcome: PlanOutcome) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "checkpoint": [f"{c.days} days" for c in outcome.checkpoints],
            "date": [day_label(c.day) for c in outcome.checkpoints],
            "status": [
                {"due": f"due on {day_label(c.day)}", "no snapshot": "no KPI snapshot within a week"}.get(
                    c.status, "reviewed"
                )
                for c in outcome.checkpoints
            ],
            "KPI snapshot": [day_label(c.snapshot_date) for c in outcome.checkpoints],
        }
    )


def _arrow(before: str, after: str) -> str:
    return f"{before} → {after}"


def territory_table(outcome: PlanOutcome, i: int, *, changed_only: bool) -> pd.DataFrame:
    """Predicted (the plan's "after") → actual at checkpoint ``i``, one row per territory name."""
    rows = []
    for t in outcome.territories:
        if changed_only and not t.changed:
            continue
        now = t.actual[i]
        rows.append(
            {
                "territory": t.name,
                "moves": f"+{t.gained} / -{t.lost}",
                "potential": _arrow(money(t.predicted.potential), money(now.potential if now else None)),
                "index": _arrow(
                    number(t.predicted.potential_index), number(now.potential_index if now else None)
                ),
                "accounts": _arrow(count(t.predicted.accounts), count(now.accounts if now else None)),
                "workload": _arrow(
                    hours(t.predicted.workload_hours), hours(now.workload_hours if now else None)
                ),
            }
        )
    return pd.DataFrame(rows)


def since_table(outcome: PlanOutcome, i: int, *, changed_only: bool) -> pd.DataFrame:
    """What the plan did not predict, before the move → at checkpoint ``i``: pace, coverage, activity."""
    rows = []
    for t in outcome.territories:
        if changed_only and not t.changed:
            continue
        now, then = t.actual[i], t.before_move
        rows.append(
            {
                "territory": t.name,
                "vs pace": _arrow(
                    points(then.attainment_gap if then else None), points(now.attainment_gap if now else None)
                ),
                "coverage": _arrow(pct(then.coverage if then else None), pct(now.coverage if now else None)),
                "activity change, now": signed_pct(now.activity_change if now else None),
            }
        )
    return pd.DataFrame(rows)


def team_table(outcome: PlanOutcome, i: int) -> pd.DataFrame:
    before, predicted, actual = outcome.team_before, outcome.team_predicted, outcome.team_actual[i]
    return pd.DataFrame(
        {
            "": ["before the plan", "predicted", "actual"],
            "CV of potential": [number(x.cv if x else None) for x in (before, predicted, actual)],
            "max / min": [number(x.max_min_ratio if x else None) for x in (before, predicted, actual)],
            "territories out of band": [
                count(x.out_of_band if x else None) for x in (before, predicted, actual)
            ],
        }
    )


def retention_table(outcome: PlanOutcome, i: int) -> pd.DataFrame:
    """The moved accounts at checkpoint ``i``, one row per account name."""

    def reading(r: RetentionReading | None, field: str) -> object:
        return None if r is None else getattr(r, field)

    rows = []
    for a in outcome.accounts:
        r = a.readings[i]
        rows.append(
            {
                "account": a.name,
                "moved": f"{a.from_name or '—'} → {a.to_name}",
                "revenue / forecast since the move": (
                    f"{money(reading(r, 'revenue'))} / {money(reading(r, 'forecast'))} "
                    f"({pct(r.revenue_ratio if r else None)}, {count(reading(r, 'months'))} months)"
                ),
                "activities (new owner)": (
                    f"{count(reading(r, 'activities'))} ({count(reading(r, 'by_new_owner'))})"
                ),
                "last activity": day_label(reading(r, "last_activity")),
                "silent 30+ days": "yes" if r is not None and r.silent else "",
                "forecast": a.forecast_source,
            }
        )
    return pd.DataFrame(rows)


def show(outcome: PlanOutcome) -> None:
    st.text(
        f"{outcome.name}: {len(outcome.accounts)} accounts moved, "
        f"effective {day_label(outcome.effective_date)}, applied by {outcome.applied_by or '—'}"
    )
    st.dataframe(checkpoints_table(outcome), hide_index=True, width="stretch")
    reviewed = [i for i, c in enumerate(outcome.checkpoints) if c.status == "reviewed"]
    if not reviewed:
        st.info("No checkpoint has been reached yet (or no KPI snapshot lies within a week of one).")
        return
    names = {f"{outcome.checkpoints[i].days} days": i for i in reviewed}
    picked = st.segmented_control("Checkpoint", list(names), default=list(names)[-1], key="review-checkpoint")
    i = names[picked or list(names)[-1]]
    st.subheader("Territories: predicted against actual")
    changed_only = st.toggle("Only the territories the plan changed", value=True)
    table = territory_table(outcome, i, changed_only=changed_only)
    st.caption("Balance, predicted → actual:")
    st.dataframe(table, hide_index=True, width="stretch", height=ui.table_height(len(table)))
    st.caption("What the plan did not predict, before the move → now:")
    since = since_table(outcome, i, changed_only=changed_only)
    st.dataframe(since, hide_index=True, width="stretch", height=ui.table_height(len(since)))
    st.dataframe(team_table(outcome, i), hide_index=True, width="stretch")
    st.subheader("Moved accounts: retention")
    accounts = retention_table(outcome, i)
    st.dataframe(accounts, hide_index=True, width="stretch", height=ui.table_height(len(accounts)))
    st.caption(
        "Revenue counts whole months from the effective month to the last complete one; the forecast is "
        "the one at the move (the forecast run current then, else the baseline). Activity since the "
        "move is by anyone; silent means none in the 30 days or more since. docs/review.md explains."
    )


plan_id = pick_plan()
if plan_id is not None:
    as_of = st.date_input("Review as of", value=date.today(), key="review-as-of")
    try:
        show(outcome_of(status.url, status.version, plan_id, as_of))
    except PlanReviewError as error:
        st.error(str(error))
