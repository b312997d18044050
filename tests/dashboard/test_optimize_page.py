"""The Optimize page through AppTest: solve a shipped scenario, save, approve, apply, export."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from core.db import get_engine, session_scope
from core.models import AssignmentHistory, RebalancePlan
from core.plans import assignments_fingerprint, get_plan, save_plan
from core.rebalance import Scenario
from dashboard.optimize_view import (
    FormValues,
    compare_plans,
    default_scenario,
    scenario_from_form,
    shipped_scenarios,
)


def test_form_values_override_the_base_scenario():
    base = Scenario.from_toml(shipped_scenarios()["southwest"])
    values = FormValues(
        "territories",
        ("SW-T001", "SW-T005"),
        None,
        4.0,
        5.0,
        35,
        40,
        12,
        20.0,
        None,
        90,
        200_000.0,
        True,
        ("SW-T002",),
        15.0,
    )
    scenario = scenario_from_form(base, values)
    assert scenario.scope.territories == ["SW-T001", "SW-T005"] and scenario.constraints.churn.max_moves == 12
    assert scenario.constraints.churn.max_book_share == pytest.approx(0.2)
    assert scenario.constraints.potential.min == 4e6 and scenario.what_if.vacated == ["SW-T002"]
    with pytest.raises(ValueError, match="accounts.min is above"):
        scenario_from_form(
            base,
            FormValues("all", (), None, None, None, 50, 40, None, None, None, None, None, False, (), 10.0),
        )


def test_default_scenario_follows_the_book() -> None:
    names = list(shipped_scenarios())
    assert default_scenario(["SW-T001", "SW-T002"], names) == "southwest"
    assert default_scenario(["NA-T001"], names) == "national"
    assert default_scenario(["SW-T001", "T9"], names) == "targeted"  # an imported book
    assert default_scenario([], names) == "targeted"


@pytest.mark.slow
def test_solve_save_approve_apply_from_the_page(app, writable_db):
    at = app(writable_db, "optimize", role="planner")
    assert not at.exception
    at.selectbox(key="base_scenario").set_value("southwest").run()
    at.button[0].click().run()  # the form's Solve button
    assert not at.exception, at.exception
    run = at.session_state["optimize_run"]
    assert run.result.status in ("OPTIMAL", "FEASIBLE") and run.result.moves
    labels = {m.label: m.value for m in at.metric}
    assert labels["moves"].startswith(str(len(run.result.moves)))
    assert labels["CV of potential"] == f"{run.result.team_before.cv:.3f} → {run.result.team_after.cv:.3f}"
    at.segmented_control(key="optimize_view").set_value("Map").run()
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    arcs = next(layer for layer in deck["layers"] if layer["@@type"] == "ArcLayer")
    assert len(arcs["data"]) == len(run.result.moves)  # one arc per moved account
    at.segmented_control(key="optimize_view").set_value("Frontier").run()
    at.text_input(key="frontier_budgets").set_value("0, 10, 40").run()
    next(b for b in at.button if b.label == "Compute the frontier").click().run()
    assert not at.exception, at.exception
    frontier = at.session_state["optimize_frontier"]
    assert frontier["budget"].tolist() == [0, 10, 40] and frontier["cv"].is_monotonic_decreasing
    save = next(b for b in at.button if b.label == "Save as draft")
    save.click().run()
    assert any("Saved as draft plan" in s.value for s in at.success)
    at.segmented_control(key="optimize_panel").set_value("Saved plans").run()
    assert not at.exception
    assert not any(b.label in ("Approve", "Apply…") for b in at.button)  # a planner submits
    next(b for b in at.button if b.label == "Submit for approval").click().run()
    at = app(writable_db, "optimize", role="approver")  # another person reviews and applies
    at.segmented_control(key="optimize_panel").set_value("Saved plans").run()
    next(b for b in at.button if b.label == "Approve").click().run()
    next(b for b in at.button if b.label == "Apply…").click().run()  # asks for confirmation first
    assert any("accounts change territory" in t.value for t in at.text)
    next(b for b in at.button if b.label == "Apply now").click().run()
    assert any("applied" in s.value for s in at.success), [e.value for e in at.error]
    engine = get_engine(writable_db)
    with session_scope(engine) as session:
        plan = session.execute(select(RebalancePlan).order_by(RebalancePlan.id.desc())).scalars().first()
        assert plan is not None and plan.created_by == "planner@example.com"  # the plan saved above
        history = session.execute(select(AssignmentHistory).where(AssignmentHistory.plan_id == plan.id)).all()
    assert plan.status == "applied" and len(history) == len(run.result.moves)
    assert "CV after" in compare_plans([get_plan(engine, plan.id)]).index


def test_frontier_frame_and_hire_table_read_as_tables() -> None:
    from core.rebalance.frontier import Frontier, FrontierPoint
    from core.rebalance.hire import Hire, HirePlan
    from dashboard.optimize_view import frontier_frame, hire_table

    points = tuple(
        FrontierPoint(b, "OPTIMAL", b, cv, None, out, None, 0.0, 0.1)
        for b, cv, out in [(0, 0.3, 4), (10, 0.1, 0)]
    )
    curve = Frontier(points, "potential within ±15% of the team mean")
    frame = frontier_frame(curve)
    assert frame["budget"].tolist() == [0, 10] and frame["in band"].tolist() == [False, True]
    assert curve.first_in_band == 10 and "from 10 moves" in curve.describe()
    hire = Hire("Tucson", "AZ", 32.2, -111.0, "NEW-1", 1.0, ("A1", "A2"), 20.0)
    table = hire_table(HirePlan((hire,), None, None, 3))  # type: ignore[arg-type]
    assert table.iloc[0]["city"] == "Tucson, AZ" and table.iloc[0]["accounts taken"] == 2


@pytest.mark.slow
def test_frontier_and_where_to_hire_from_the_page(app, writable_db):
    at = app(writable_db, "optimize")
    at.selectbox(key="base_scenario").set_value("southwest").run()
    next(s for s in at.slider if s.label == "Time limit (s)").set_value(5)
    at.button[0].click().run()  # the form's Solve button
    assert not at.exception, at.exception
    at.segmented_control(key="optimize_view").set_value("Frontier").run()
    at.text_input(key="frontier_budgets").set_value("0, 20, 80").run()
    next(b for b in at.button if b.label == "Compute the frontier").click().run()
    assert not at.exception, at.exception
    frontier = at.session_state["optimize_frontier"]
    assert frontier["moves"].iloc[0] == 0 and frontier["moves"].iloc[-1] > 0
    assert frontier["cv"].iloc[-1] < frontier["cv"].iloc[0]
    assert any("in band" in i.value for i in at.info)
    at.segmented_control(key="optimize_view").set_value("Where to hire").run()
    next(b for b in at.button if b.label == "Find where to hire").click().run()
    assert not at.exception, at.exception
    hired = at.session_state["optimize_hire"]
    assert len(hired.plan.hires) == 1 and hired.plan.hires[0].state in {"AZ", "NM", "NV", "UT"}


def test_review_buttons_follow_the_role(page, writable_db):
    """A planner submits a draft; only an approver sees Approve and Reject on a submitted plan."""
    from core.plans import assignments_fingerprint, save_plan, submit_plan
    from tests.dashboard.conftest import add_role_users, role_email

    add_role_users(writable_db)
    engine = get_engine(writable_db)
    plan_id = save_plan(
        engine,
        name="**[x](http://evil.example)**",
        scenario_toml="",
        result={"status": "OPTIMAL", "moves": []},
        fingerprint=assignments_fingerprint(engine),
        created_by=role_email("planner"),
    )

    def buttons(role: str) -> set[str]:
        at = page(writable_db, "optimize", role=role)
        at.segmented_control(key="optimize_panel").set_value("Saved plans").run()
        assert not at.exception
        assert "**[x](http://evil.example)** — " in " ".join(t.value for t in at.text)  # a name is text
        return {b.label for b in at.button}

    assert "Submit for approval" in buttons("planner") and "Approve" not in buttons("planner")
    submit_plan(engine, plan_id, actor=role_email("planner"))
    assert {"Approve", "Reject"} <= buttons("approver")
    assert not {"Approve", "Reject", "Submit for approval"} & buttons("planner")


@pytest.mark.slow
def test_a_plan_link_opens_that_saved_plan(page, writable_db):
    """/optimize?plan=ID (the link of an alert's fix plan) opens Saved plans on that plan."""
    engine = get_engine(writable_db)
    fingerprint = assignments_fingerprint(engine)
    first, _second = (
        save_plan(engine, name=name, scenario_toml="", result={"status": "FEASIBLE"}, fingerprint=fingerprint)
        for name in ("linked", "newest")
    )
    at = page(writable_db, "optimize", plan=str(first))
    assert not at.exception, at.exception
    assert at.segmented_control(key="optimize_panel").value == "Saved plans"
    assert at.selectbox[0].value == first
    assert any(t.value.startswith("linked — ") for t in at.text)  # the plan's name, as text


def test_the_moves_table_names_accounts_territories_and_reps_and_keeps_the_ids() -> None:
    import pandas as pd

    from core.format import territory_labels
    from core.rebalance.result import Move, RebalanceResult
    from dashboard.optimize_view import moves_table

    reason = "balances potential: " + "Phoenix North is 22% above the team mean, Tucson 18% below " * 3
    result = RebalanceResult(
        "OPTIMAL", 1.0, 1.0, 0.0, 0.5, moves=(Move("A1", "T1", "T2", reason, ("large_revenue",)),)
    )
    territories = pd.DataFrame(
        {"external_id": ["T1", "T2"], "name": ["Phoenix North", "Tucson"], "rep_name": ["Maria Lopez", None]}
    )
    table = moves_table(result, territories, pd.Series({"A1": "Acme Foods"}))
    row = table.iloc[0]
    assert (row["account"], row["from"], row["to"]) == (
        "Acme Foods",
        "Phoenix North · Maria Lopez",
        "Tucson · vacant",
    )
    assert row["reason"] == reason and row["risks"] == "large revenue"  # the whole reason, risks in words
    assert (row["account id"], row["from id"], row["to id"]) == ("A1", "T1", "T2")
    assert territory_labels(territories)["T1"] == "Phoenix North · Maria Lopez"
    assert moves_table(result)["from"].iloc[0] == "T1"  # no names known: the ids


def test_before_after_chart_draws_before_first() -> None:
    from core.rebalance.result import RebalanceResult
    from dashboard.optimize_view import AFTER, BEFORE, potential_chart_frame

    frame = potential_chart_frame(RebalanceResult("OPTIMAL", 1.0, 1.0, 0.0, 0.5))
    assert list(frame.columns) == [BEFORE, AFTER] and sorted(frame.columns) == [BEFORE, AFTER]


RAW_NAME = re.compile(r"\b[a-z]+_[a-z_]+\b")  # wall_time_s, solver_status, large_revenue


def rendered_text(at) -> str:  # type: ignore[no-untyped-def]
    """Everything a person reads on the page: text, labels, cards, options and table cells."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "header", "title"):
        parts += [str(e.value) for e in at.get(kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    for widget in (*at.selectbox, *at.multiselect):
        parts.append(widget.label)
        parts += [str(o) for o in widget.options]
    for frame in at.dataframe:
        value = frame.value
        parts += [str(c) for c in value.columns] + [str(c) for c in value.index]
        parts += [str(v) for v in value.astype(str).to_numpy().ravel()]
    return "\n".join(parts)


@pytest.mark.slow
def test_the_page_shows_names_and_whole_reasons_and_no_raw_field_names(app, writable_db):
    at = app(writable_db, "optimize")
    at.selectbox(key="base_scenario").set_value("southwest").run()
    vacated = next(m for m in at.multiselect if m.label == "What-if: these reps leave")
    assert all(" · " in o for o in vacated.options)  # "territory · rep", not codes
    next(s for s in at.slider if s.label == "Time limit (s)").set_value(5)
    at.button[0].click().run()
    assert not at.exception, at.exception
    run = at.session_state["optimize_run"]
    at.segmented_control(key="optimize_view").set_value("Moves").run()
    table = at.dataframe[0].value
    move = run.result.moves[0]
    row = table[table["account id"] == move.account].iloc[0]
    assert row["account"] != move.account and row["from"].startswith(
        run.problem.territories.set_index("external_id").at[move.from_territory, "name"]
    )
    assert row["reason"] == move.reason  # whole, not cut
    assert not RAW_NAME.findall(rendered_text(at))
    next(b for b in at.button if b.label == "Save as draft").click().run()
    at.segmented_control(key="optimize_panel").set_value("Saved plans").run()
    assert not at.exception, at.exception
    text = rendered_text(at)
    assert not RAW_NAME.findall(text), RAW_NAME.findall(text)
    assert "best possible plan" in text or "good plan" in text
