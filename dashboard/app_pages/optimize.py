"""Optimize: a rebalance scenario in a form, a solve with progress, the plan on a map, the frontier,
and saved plans to compare, approve, apply and export."""

from __future__ import annotations

import threading
import time
from datetime import date

import streamlit as st

from core.auth import AuthError
from core.format import solver_words, territory_labels
from core.plans import (
    PlanError,
    approve_plan,
    get_plan,
    list_plans,
    plan_export,
    reject_plan,
    submit_plan,
)
from core.rebalance import Scenario
from dashboard import auth, components, data, maps
from dashboard.optimize_view import (
    FormValues,
    arcs_deck,
    before_after_table,
    compare_plans,
    default_scenario,
    frontier_frame,
    hire_table,
    move_arcs,
    moves_table,
    potential_chart_frame,
    saved_plans_table,
    scenario_from_form,
    shipped_scenarios,
    team_summary,
)
from dashboard.plan_apply import render_apply
from dashboard.plan_edits import render_plan_review
from dashboard.plan_handoff import render_handoff_downloads
from dashboard.plan_impact import render_compare, render_impact
from jobs.optimize import churn_frontier, hire, optimize, save_run

status = components.ready_or_onboarding()
components.page_header("Optimize", status, "targeted mid-cycle rebalances under churn limits")
engine = data.engine()
panel = st.segmented_control(
    "Panel",
    ["New plan", "Saved plans"],
    default="Saved plans" if "plan" in st.query_params else "New plan",  # /optimize?plan=<id>
    key="optimize_panel",
)


def scenario_form() -> Scenario | None:
    """The scenario form; returns the scenario when submitted and valid."""
    files = shipped_scenarios()
    territories = data.territories(status.url, status.version)
    ids = territories["external_id"].tolist()
    labels = territory_labels(territories)  # "Phoenix North · Maria Lopez": pickers show names
    names = list(files)
    base_name = st.selectbox(
        "Start from",
        names,
        index=names.index(default_scenario(ids, names)),
        key="base_scenario",
        help="A shipped scenario (scenarios/*.toml); the form overrides its fields. The default is the "
        "field scenario of a sample book, else `targeted` (a band around the team mean, for any book).",
    )
    base = Scenario.from_toml(files[base_name])
    constraints = base.constraints
    with st.form("scenario"):
        st.caption(base.description)
        left, middle, right = st.columns(3)
        scope_kind = left.selectbox(
            "Scope",
            ["all", "auto", "region", "territories"],
            index=["all", "auto", "region", "territories"].index(base.scope.kind),
        )
        scope_region = left.selectbox(
            "Region (scope = region)", sorted(territories["region"].dropna().unique())
        )
        scope_territories = left.multiselect(
            "Territories (scope = territories)", ids, format_func=lambda t: labels.get(t, t)
        )
        band = constraints.potential
        pmin = middle.number_input(
            "Potential min ($M)",
            value=(band.min or 0) / 1e6 if band and band.min else None,
            min_value=0.0,
            step=0.1,
        )
        pmax = middle.number_input(
            "Potential max ($M)",
            value=(band.max or 0) / 1e6 if band and band.max else None,
            min_value=0.0,
            step=0.1,
        )
        accounts = constraints.accounts
        amin = middle.number_input(
            "Accounts min", value=accounts.min if accounts else None, min_value=0, step=1
        )
        amax = middle.number_input(
            "Accounts max", value=accounts.max if accounts else None, min_value=0, step=1
        )
        churn = constraints.churn
        max_moves = right.number_input("Max accounts moved", value=churn.max_moves, min_value=0, step=1)
        share = right.number_input(
            "Max % of any book moved",
            value=churn.max_book_share * 100 if churn.max_book_share else None,
            min_value=0.0,
            max_value=100.0,
            step=5.0,
        )
        revenue = right.number_input(
            "Max revenue moved ($)", value=churn.max_revenue, min_value=0.0, step=50_000.0
        )
        cooldown = right.number_input(
            "Cooldown (days)", value=constraints.cooldown_days, min_value=0, step=30
        )
        strategic = left.number_input(
            "Strategic above revenue ($)", value=constraints.strategic_revenue, min_value=0.0, step=50_000.0
        )
        state_lines = left.checkbox("Respect state lines", value=constraints.state_lines)
        vacated = middle.multiselect(
            "What-if: these reps leave",
            ids,
            default=[t for t in base.what_if.vacated if t in ids],
            format_func=lambda t: labels.get(t, t),
        )
        limit = right.slider("Time limit (s)", 5, 300, int(base.time_limit_s))
        if not st.form_submit_button("Solve", type="primary"):
            return None
    values = FormValues(
        scope_kind,
        tuple(scope_territories),
        scope_region,
        pmin,
        pmax,
        None if amin is None else int(amin),
        None if amax is None else int(amax),
        None if max_moves is None else int(max_moves),
        share,
        revenue,
        None if cooldown is None else int(cooldown),
        strategic,
        state_lines,
        tuple(vacated),
        float(limit),
    )
    try:
        return scenario_from_form(base, values)
    except ValueError as error:
        st.error(f"The scenario is not valid: {error}")
        return None


def solve_with_progress(scenario: Scenario) -> None:
    """Solve in a worker thread; the bar follows the time limit (the solver stops there)."""
    state: dict[str, object] = {}

    def work() -> None:
        try:
            state["run"] = optimize(engine, scenario, time_limit_s=scenario.time_limit_s)
        except Exception as error:  # shown below
            state["error"] = error

    started = time.perf_counter()
    with st.status(
        f"Solving {scenario.name} (time limit {scenario.time_limit_s:g} s)…", expanded=True
    ) as box:
        bar = st.progress(0.0, text="building the model")
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.25)
            elapsed = time.perf_counter() - started
            bar.progress(min(elapsed / scenario.time_limit_s, 0.99), text=f"{elapsed:.0f} s")
        if "error" in state:
            box.update(label="The solve failed", state="error")
            st.error(f"{type(state['error']).__name__}: {state['error']}")
            return
        bar.progress(1.0, text="done")
        box.update(label=f"Solved in {time.perf_counter() - started:.1f} s", state="complete")
    st.session_state["optimize_run"] = state["run"]
    st.session_state.pop("optimize_frontier", None)
    st.session_state.pop("optimize_hire", None)


def show_result() -> None:
    run = st.session_state.get("optimize_run")
    if run is None:
        st.info(
            "Choose a scenario and press Solve. The current book is the starting point: nothing changes "
            "until a plan is saved, approved and applied."
        )
        return
    result = run.result
    if not result.has_plan:
        st.error(f"No plan ({solver_words(result.status)}). " + " ".join(result.explanation))
        if result.relaxation:
            st.info("To get a plan: " + " ".join(result.relaxation))
        return
    if result.relaxation:
        st.warning(" ".join(result.relaxation))
    summary_cards(team_summary(result))
    view = st.segmented_control(
        "Result",
        ["Before / after", "Moves", "Map", "Frontier", "Where to hire"],
        default="Before / after",
        key="optimize_view",
    )
    if view == "Before / after":
        st.bar_chart(potential_chart_frame(result), stack=False, y_label="potential ($M)")
        st.dataframe(before_after_table(result), hide_index=True, width="stretch")
    elif view == "Moves":
        show_moves(run)
    elif view == "Map":
        show_arcs(run)
    elif view == "Frontier":
        show_frontier(run)
    elif view == "Where to hire":
        show_hire(run)
    if not auth.can("plan.create"):
        return
    with st.form("save_plan"):
        name = st.text_input("Plan name", value=f"{run.problem.scenario.name} {date.today():%Y-%m-%d}")
        if st.form_submit_button("Save as draft"):
            save_once(run, name)


def summary_cards(summary: dict[str, str]) -> None:
    """The team figures as cards, three a row: "0.271 → 0.105" fits a third of a 1400 px page, not
    a fifth."""
    items = list(summary.items())
    for start in range(0, len(items), 3):
        for column, (label, value) in zip(st.columns(3), items[start : start + 3], strict=False):
            column.metric(label, value)


def save_once(run, name: str) -> None:  # type: ignore[no-untyped-def]
    """Save the solved run as a draft plan, once: Enter in the name field submits the form too, so a
    second submit of the same run points to the plan already saved instead of saving a copy."""
    saved = st.session_state.get("optimize_saved")
    if saved is not None and saved[0] is run:
        st.info(f"Already saved as draft plan {saved[1]}. Review it under Saved plans.")
        return
    try:
        plan_id = save_run(engine, run, name=name, created_by=auth.acting("plan.create").email)
    except (ValueError, AuthError) as error:
        st.error(str(error))
    else:
        st.session_state["optimize_saved"] = (run, plan_id)  # the run itself: an id() could be reused
        st.success(f"Saved as draft plan {plan_id}. Review it under Saved plans.")


def show_moves(run) -> None:  # type: ignore[no-untyped-def]
    """The moves by name, each with its whole reason (a table cell would cut it): ids in the last
    columns and in the CSV."""
    accounts = data.accounts(status.url, status.version, status.as_of)
    names = accounts.set_index("external_id")["name"] if "name" in accounts else None
    table = moves_table(run.result, run.problem.territories, names)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        row_height=components.WRAPPED_ROW_PX,
        column_config=components.wrapped_text_columns(["reason", "from", "to"]),
    )
    st.download_button(
        "Download moves (CSV)", table.to_csv(index=False), file_name="moves.csv", mime="text/csv"
    )


def show_arcs(run) -> None:  # type: ignore[no-untyped-def]
    arcs = move_arcs(run.result, run.problem.accounts, run.problem.territories)
    if arcs.empty:
        st.info("The plan moves no account.")
        return
    st.pydeck_chart(arcs_deck(arcs, run.problem.accounts, run.problem.territories), height=maps.MAP_HEIGHT_PX)
    st.caption(
        "Today's territories under the moves; each arc runs from a moved account to its new rep's home "
        "(red: where it is, blue: new owner)."
    )


def show_frontier(run) -> None:  # type: ignore[no-untyped-def]
    st.caption(
        "The most balanced plan for each number of accounts moved: the band and account range are what "
        "it reaches for; every other rule of the scenario holds. More moves are never worse."
    )
    budgets_text = st.text_input("Move budgets", "0, 5, 10, 20, 40, 80", key="frontier_budgets")
    if st.button("Compute the frontier"):
        budgets = [int(b) for b in budgets_text.replace(" ", "").split(",") if b]
        with st.spinner(f"Solving {len(budgets)} budgets…"):
            curve = churn_frontier(run, budgets, time_limit_s=min(run.problem.scenario.time_limit_s, 20.0))
        st.session_state["optimize_frontier"] = frontier_frame(curve)
        st.session_state["optimize_frontier_summary"] = curve.describe()
    frame = st.session_state.get("optimize_frontier")
    if frame is not None:
        st.info(st.session_state.get("optimize_frontier_summary", ""))
        solved = frame.dropna(subset=["cv"])
        if len(solved) < len(frame):
            missing = ", ".join(str(b) for b in frame.loc[frame["cv"].isna(), "budget"])
            st.warning(
                f"No plan at budgets {missing} (too few moves, or the time ran out); "
                "the chart leaves them out."
            )
        st.line_chart(solved.set_index("budget")[["cv"]], x_label="move budget", y_label="CV of potential")
        st.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            column_config={"cv": st.column_config.NumberColumn("CV of potential", format="%.3f")},
        )


def show_hire(run) -> None:  # type: ignore[no-untyped-def]
    st.caption(
        "What-if: new reps at the cities of the book's states that most improve balance and coverage "
        "(accounts within a two-hour drive of their rep), with the accounts each would take."
    )
    reps = st.number_input("New reps", min_value=1, max_value=10, value=1, step=1, key="hire_reps")
    if st.button("Find where to hire"):
        scenario = run.problem.scenario
        with st.spinner(f"Placing {int(reps)} rep(s)…"):
            hired = hire(engine, scenario, int(reps), time_limit_s=min(scenario.time_limit_s, 20.0))
        st.session_state["optimize_hire"] = hired
    hired = st.session_state.get("optimize_hire")
    if hired is None:
        return
    st.dataframe(hire_table(hired.plan), hide_index=True, width="stretch")
    summary_cards(team_summary(hired.run.result))
    for note in hired.plan.describe()[len(hired.plan.hires) + 1 :]:
        st.caption(note)
    if hired.run.result.has_plan:
        st.dataframe(before_after_table(hired.run.result), hide_index=True, width="stretch")


def saved_plans() -> None:
    notice = st.session_state.pop("optimize_notice", None)
    if notice:
        st.success(notice)
    plans = list_plans(engine)
    if not plans:
        st.info("No saved plans yet: solve a scenario and save it as a draft.")
        return
    st.dataframe(saved_plans_table(plans), hide_index=True, width="stretch")
    chosen = st.multiselect("Compare side by side", [p.id for p in plans], default=[p.id for p in plans[:2]])
    if chosen:
        st.dataframe(compare_plans([get_plan(engine, i) for i in chosen]), width="stretch")
        render_compare(engine, [get_plan(engine, i) for i in chosen])
    ids = [p.id for p in plans]
    wanted = st.query_params.get("plan", "")
    plan_id = st.selectbox(
        "Plan",
        ids,
        index=ids.index(int(wanted)) if wanted.isdigit() and int(wanted) in ids else 0,
        format_func=lambda i: f"#{i} {next(p.name for p in plans if p.id == i)}",
    )
    st.query_params["plan"] = str(plan_id)  # the address of this plan, to share
    plan = get_plan(engine, plan_id)
    st.text(f"{plan.name} — {plan.status}, {len(plan.moves)} moves")  # a plan name is text, never Markdown
    if plan.review_comment:
        st.text(f"Review comment: {plan.review_comment}")
    render_impact(engine, plan)
    left, middle, right = st.columns(3)
    review_buttons(left, plan)
    render_apply(middle, engine, plan, act)  # dashboard/plan_apply.py: date, quota method, confirm
    right.download_button(
        "Export CRM CSV",
        plan_export(engine, plan_id).to_csv(index=False),
        file_name=f"plan-{plan_id}-moves.csv",
        mime="text/csv",
    )
    render_handoff_downloads(plan, status)
    render_plan_review(engine, plan, status)  # move-by-move review of a draft (dashboard/plan_edits.py)


def review_buttons(column, plan) -> None:  # type: ignore[no-untyped-def]
    """Submit (planner, on a draft), approve or reject with a comment (approver, on a submitted plan)."""
    email = auth.current_actor().email if auth.current_actor() else ""
    if auth.can("plan.submit") and plan.status in ("draft", "rejected"):
        if column.button("Submit for approval"):
            act(
                lambda: submit_plan(engine, plan.id, actor=email, source="page"), f"Plan {plan.id} submitted."
            )
    if auth.can("plan.approve") and plan.status == "submitted":
        comment = column.text_input("Comment", key=f"review-comment-{plan.id}")
        if column.button("Approve"):
            act(
                lambda: approve_plan(engine, plan.id, approver=email, comment=comment or None, source="page"),
                f"Plan {plan.id} approved.",
            )
        if column.button("Reject"):
            act(
                lambda: reject_plan(engine, plan.id, actor=email, comment=comment, source="page"),
                f"Plan {plan.id} rejected.",
            )


def act(action, message: str) -> None:  # type: ignore[no-untyped-def]
    try:
        action()
    except (PlanError, AuthError) as error:
        st.error(str(error))
        return
    data.clear_caches()
    st.session_state["optimize_notice"] = message
    st.rerun()  # redraw the buttons with the plan's new status


if panel == "Saved plans":
    saved_plans()
else:
    st.query_params.pop("plan", None)  # the address of a saved plan belongs to the Saved plans panel
    scenario = scenario_form()
    if scenario is not None:
        solve_with_progress(scenario)
    show_result()
