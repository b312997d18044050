"""`territory plans edit / resolve / show`: move-by-move review from the command line."""

from __future__ import annotations

from typer.testing import CliRunner

from core.plans import get_plan
from jobs.cli import app
from tests.core.test_plan_edits import PLANNER, VIEWER, draft, left_alone  # noqa: F401 (fixture)

runner = CliRunner()


def invoke(engine, *args: str):  # type: ignore[no-untyped-def]
    url = engine.url.render_as_string(hide_password=False)
    return runner.invoke(app, [*args, "--db", url])


def test_edit_resolve_and_show(engine, draft):  # noqa: F811
    plan = get_plan(engine, draft)
    first, second = plan.moves[0], plan.moves[1]
    account, target = left_alone(engine, {m.account for m in plan.moves})
    rejected = invoke(
        engine, "plans", "edit", str(draft), "--reject", f"{first.account},{second.account}",
        "--reason", "keep these relationships", "--as", PLANNER,
    )  # fmt: skip
    assert rejected.exit_code == 0, rejected.output
    assert f"plan {draft} revision 2: {len(plan.moves) - 2} moves; CV" in rejected.output
    assert "against the unedited solve; 2 fewer moves" in rejected.output
    pinned = invoke(
        engine, "plans", "edit", str(draft), "--pin", f"{account}={target}", "--reason", "rep asked",
        "--as", PLANNER,
    )  # fmt: skip
    assert pinned.exit_code == 0 and "revision 3" in pinned.output, pinned.output
    resolved = invoke(engine, "plans", "resolve", str(draft), "--as", PLANNER, "--time-limit", "5")
    assert resolved.exit_code == 0 and "revision 4" in resolved.output, resolved.output
    assert "against the unedited solve" in resolved.output
    moves = {m.account: m.to_territory for m in get_plan(engine, draft).moves}
    assert moves[account] == target and moves.get(first.account) != first.to_territory
    shown = invoke(engine, "plans", "show", str(draft))
    assert shown.exit_code == 0
    assert "edits (4):" in shown.output
    assert (
        "r2  " in shown.output
        and f"{PLANNER}: reject {first.account} -> {first.to_territory}" in shown.output
    )
    assert "— keep these relationships" in shown.output
    assert f"{PLANNER}: pin {account} to {target} — rep asked" in shown.output
    assert "r4" in shown.output and "re-solve: CV" in shown.output


def test_refusals_are_one_line(engine, draft):  # noqa: F811
    move = get_plan(engine, draft).moves[0]
    cases = [
        (("--reject", move.account, "--as", PLANNER), "refused: an edit needs a reason"),
        (("--reject", move.account, "--reason", "x", "--as", VIEWER), "may not edit draft plans"),
        (("--pin", "NOPE-1=X", "--reason", "x", "--as", PLANNER), "unknown account NOPE-1"),
        (("--pin", "justtext", "--reason", "x", "--as", PLANNER), "is not ACCOUNT=TERRITORY"),
    ]
    for args, message in cases:
        result = invoke(engine, "plans", "edit", str(draft), *args)
        assert result.exit_code != 0 and message in result.output, result.output
    assert "edits: none" in invoke(engine, "plans", "show", str(draft)).output
    result = invoke(engine, "plans", "resolve", str(draft), "--as", PLANNER)
    assert result.exit_code == 1 and "no edits to re-solve around" in result.output
