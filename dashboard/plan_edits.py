"""Optimize page, Saved plans: review a draft move by move before it is submitted.

The moves by name (ids in their own columns), a form to reject chosen moves with a reason, a form
to pin an account to a territory (a manual move when it is not its own) with a reason, and
"Re-solve around my edits", which says what the edits cost in balance. The edits so far are listed
with their revision, who and why. Names from data render as text (tables, option labels, escaped
notices), never as Markdown.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from core.auth import AuthError
from core.format import moment_label, territory_labels
from core.plan_edits import EDITABLE, EditOutcome, edit_plan, plan_edits, resolve_plan
from core.plans import PlanError, SavedPlan
from dashboard import auth, components, data
from dashboard.optimize_view import moves_table

NOTICE = "plan_review_notice"
MOVE_COLUMNS = ["account", "from", "to", "risks", "account id", "from id", "to id"]


def render_plan_review(engine: Engine, plan: SavedPlan, status: data.DataStatus) -> None:
    """The review section of a saved plan (editable by a planner while it is a draft or rejected)."""
    edits = plan_edits(engine, plan.id)
    editable = plan.status in EDITABLE and auth.can("plan.edit")
    if not editable and not edits:
        return
    st.subheader("Review move by move")
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.success(components.as_text(notice))
    accounts = data.accounts(status.url, status.version, status.as_of)
    territories = data.territories(status.url, status.version)
    names = accounts.set_index("external_id")["name"]
    table = moves_table(plan, territories, names)  # type: ignore[arg-type]  # reads .moves only
    st.dataframe(table[MOVE_COLUMNS], hide_index=True, width="stretch", key=f"plan-review-moves-{plan.id}")
    if editable:
        reject_form(engine, plan, table)
        pin_form(engine, plan, accounts, territories)
        if st.button("Re-solve around my edits", disabled=not edits, key=f"plan-review-resolve-{plan.id}"):
            with st.spinner("Re-solving around your edits…"):
                _act(lambda actor: resolve_plan(engine, plan.id, actor=actor, source="page"))
    if edits:
        st.caption("Edits of this plan")
        st.dataframe(edits_table(edits), hide_index=True, width="stretch")


def reject_form(engine: Engine, plan: SavedPlan, table: pd.DataFrame) -> None:
    """Reject chosen moves: the accounts stay, and a re-solve may not send them there."""
    labels = {
        row["account id"]: f"{row['account']} ({row['account id']}): {row['from']} → {row['to']}"
        for _, row in table.iterrows()
    }
    with st.form(f"plan-review-reject-{plan.id}", clear_on_submit=True):
        chosen = st.multiselect(
            "Moves to reject",
            list(labels),
            format_func=labels.__getitem__,
            key=f"plan-review-chosen-{plan.id}",
        )
        reason = st.text_input("Why (required)", key=f"plan-review-reject-reason-{plan.id}")
        if st.form_submit_button("Reject selected moves"):
            _act(
                lambda actor: edit_plan(
                    engine, plan.id, reject=chosen, reason=reason, actor=actor, source="page"
                )
            )


def pin_form(engine: Engine, plan: SavedPlan, accounts: pd.DataFrame, territories: pd.DataFrame) -> None:
    """Pin an account to a territory: it stays there, or moves there (a manual move)."""
    book = accounts[accounts["territory"].notna()].sort_values(["name", "external_id"])
    account_labels = dict(
        zip(
            book["external_id"],
            [
                f"{name} ({ext}) · now {where}"
                for name, ext, where in zip(
                    book["name"],
                    book["external_id"],
                    book["territory_name"].fillna(book["territory"]),
                    strict=True,
                )
            ],
            strict=True,
        )
    )
    places = territory_labels(territories)
    with st.form(f"plan-review-pin-{plan.id}", clear_on_submit=True):
        account = st.selectbox(
            "Account",
            list(account_labels),
            format_func=account_labels.__getitem__,
            key=f"plan-review-account-{plan.id}",
        )
        territory = st.selectbox(
            "Pin to territory",
            sorted(places, key=places.__getitem__),
            format_func=lambda t: f"{places[t]} ({t})",
            key=f"plan-review-territory-{plan.id}",
        )
        reason = st.text_input("Why (required)", key=f"plan-review-pin-reason-{plan.id}")
        if st.form_submit_button("Pin account to territory"):
            _act(
                lambda actor: edit_plan(
                    engine, plan.id, pin={account: territory}, reason=reason, actor=actor, source="page"
                )
            )


def edits_table(edits) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """One row per edit: revision, who, when, what, why."""
    return pd.DataFrame(
        [
            {
                "revision": e.revision,
                "who": e.actor,
                "when": moment_label(e.at),
                "what": e.describe(),
                "why": e.reason if e.kind != "resolve" else "",
            }
            for e in edits
        ],
        columns=["revision", "who", "when", "what", "why"],
    )


def _act(change: Callable[[str], EditOutcome]) -> None:
    """Run an edit as the signed-in planner; the outcome (with its cost line) shows after the rerun."""
    try:
        outcome = change(auth.acting("plan.edit").email)
    except (PlanError, AuthError) as error:
        st.error(components.as_text(str(error)))
        return
    data.clear_caches()
    st.session_state[NOTICE] = outcome.describe()
    st.rerun()
