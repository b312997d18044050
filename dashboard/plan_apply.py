"""Applying a saved plan on the Optimize page: the effective date, the quota method, the confirmation,
and cancelling a schedule. Writes go through core.plans (role check, audit, conditional update)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from core.format import day_label
from core.plans import SavedPlan, apply_plan, unschedule_plan
from core.quota import DEFAULT_QUOTA_METHOD
from dashboard import auth
from dashboard.plan_impact import quota_method_key

CONFIRM_KEY = "optimize-confirm-apply"
QUOTA_HELP = {
    "potential": "The quota not yet expected this period moves with the accounts, by their share of the "
    "losing rep's potential.",
    "revenue": "The quota not yet expected this period moves with the accounts, by their share of the "
    "losing rep's trailing-12-month revenue.",
    "none": "Quota stays with each rep as it is; only the accounts move.",
}
DATE_HELP = "Today applies the plan now; a later date schedules it, and the scheduler applies it that day."

Act = Callable[[Callable[[], object], str], None]


def render_apply(column, engine: Engine, plan: SavedPlan, act: Act) -> None:  # type: ignore[no-untyped-def]
    """Apply or schedule an approved plan; cancel the schedule of a scheduled one (approvers)."""
    if not auth.can("plan.apply"):
        return
    if plan.status == "scheduled":
        column.text(f"Scheduled for {day_label(plan.effective_date)} by {plan.scheduled_by}")
        if column.button("Cancel the schedule"):
            actor = auth.acting("plan.apply")
            act(
                lambda: unschedule_plan(engine, plan.id, actor=actor.email, source="page"),
                f"Plan {plan.id} is no longer scheduled; it is approved again.",
            )
        return
    if plan.status != "approved":
        return
    today = date.today()
    effective = column.date_input("Effective date", value=today, min_value=today, help=DATE_HELP)
    # one choice of quota method: the impact preview's (what was previewed is what is applied)
    method = st.session_state.get(quota_method_key(plan.id)) or DEFAULT_QUOTA_METHOD
    column.text(f"Quota method: {method} (chosen in the impact preview)")
    column.caption(QUOTA_HELP[method])
    confirm_apply(column, engine, plan, effective, method, act)


def confirm_apply(column, engine: Engine, plan: SavedPlan, effective: date, method: str, act: Act) -> None:  # type: ignore[no-untyped-def]
    """Apply after a confirmation that shows what will change (kept across reruns until answered)."""
    if column.button("Apply…", type="primary"):
        st.session_state[CONFIRM_KEY] = plan.id
    if st.session_state.get(CONFIRM_KEY) != plan.id:
        return
    later = effective > date.today()
    with st.container(border=True):
        when = f"on {day_label(effective)} (scheduled)" if later else "today"
        st.text(
            f"Apply plan {plan.id}? {len(plan.moves)} accounts change territory {when}; quota method "
            f"{method}. The affected reps get an email when it takes effect."
        )
        moves = [{"account": m.account, "from": m.from_territory, "to": m.to_territory} for m in plan.moves]
        st.dataframe(pd.DataFrame(moves), hide_index=True)
        yes, no = st.columns(2)
        if no.button("Cancel"):
            st.session_state.pop(CONFIRM_KEY, None)
            st.rerun()
        if yes.button("Schedule" if later else "Apply now", type="primary"):
            st.session_state.pop(CONFIRM_KEY, None)
            actor = auth.acting("plan.apply")
            done = (
                f"Plan {plan.id} scheduled for {day_label(effective)}."
                if later
                else f"Plan {plan.id} applied: accounts and quota moved, audit log written, cooldown started."
            )
            act(
                lambda: apply_plan(
                    engine,
                    plan.id,
                    actor=actor.email,
                    effective_date=effective,
                    quota_method=method,
                    source="page",
                ),
                done,
            )
