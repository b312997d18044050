"""The `territory` command end to end on a real SQLite file (one southwest book per module)."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.db import get_engine
from core.plans import apply_due_plans
from jobs.cli import app
from tests.databases import BACKENDS, drop_database, new_database

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
ADMIN, PLANNER, APPROVER, VIEWER = (f"{r}@example.com" for r in ("admin", "planner", "approver", "viewer"))


@pytest.fixture(scope="module", params=BACKENDS)
def db(request, tmp_path_factory) -> Iterator[str]:
    url = new_database(request.param, tmp_path_factory.mktemp("cli"), name="cli")
    result = runner.invoke(app, ["init", "--db", url, "--sample", "southwest", "--as-of", "2026-11-23"])
    assert result.exit_code == 0, result.output
    for email, role in ((ADMIN, "admin"), (PLANNER, "planner"), (APPROVER, "approver"), (VIEWER, "viewer")):
        added = runner.invoke(
            app,
            ["users", "add", email, "--role", role, "--password-stdin", "--db", url, "--as", "system"],
            input="a long password\n",
        )
        assert added.exit_code == 0, added.output
    yield url
    drop_database(url)


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    return result


def test_init_is_idempotent_and_keeps_data(db):
    result = invoke("init", "--db", db, "--sample", "southwest")
    assert result.exit_code == 0 and "already holds 450 accounts" in result.output


def test_status_json_counts(db):
    result = invoke("status", "--db", db, "--json")
    status = json.loads(result.output)
    assert {k: status[k] for k in ("reps", "territories", "accounts", "revenue_months")} == {
        "reps": 13,
        "territories": 12,
        "accounts": 450,
        "revenue_months": 450 * 36,
    }
    assert {r["job"] for r in status["last_runs"]} >= {"sample", "kpis"}


def test_accounts_csv(db, tmp_path):
    out = tmp_path / "book.csv"
    assert invoke("accounts", "--db", db, "--csv", str(out), "--as-of", "2026-11-23").exit_code == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 450
    assert {
        "account_id",
        "name",
        "territory_id",
        "owner_rep",
        "state",
        "industry",
        "revenue_ttm",
        "strategic",
        "locked",
        "potential",
    } <= set(rows[0])
    assert {r["state"] for r in rows} == {"AZ", "NM", "NV", "UT"}
    assert all(r["territory_id"].startswith("SW-T") for r in rows)


def test_kpis_json_matches_the_snapshot(db):
    report = json.loads(invoke("kpis", "--db", db, "--json").output)
    assert report["snapshot_date"] == "2026-11-23" and len(report["territories"]) == 12
    assert report["team"]["cv_potential"] == pytest.approx(0.27, abs=0.01)
    assert report["team"]["out_of_band"] == 8


def test_import_refuses_bad_file_and_writes_nothing(db, tmp_path):
    bad = tmp_path / "accounts.csv"
    bad.write_text("account_id,name,lat,lon\nX1,Acme,95,10\n")
    result = invoke("import", "--db", db, "--accounts", str(bad), "--as", ADMIN)
    assert result.exit_code == 1
    assert "accounts.csv" in result.output and "row 2" in result.output and "lat" in result.output
    assert json.loads(invoke("status", "--db", db, "--json").output)["accounts"] == 450


def test_alerts_set_and_list(db):
    assert invoke("refresh", "alerts", "--db", db).exit_code == 0
    result = invoke(
        "alerts",
        "set",
        "coverage_low",
        "--db",
        db,
        "--threshold",
        "0.8",
        "--severity",
        "critical",
        "--as",
        ADMIN,
    )
    assert result.exit_code == 0 and "Coverage below 80%" in result.output
    assert "critical" in invoke("alerts", "list", "--db", db).output
    bad = invoke("alerts", "set", "coverage_low", "--db", db, "--severity", "urgent", "--as", ADMIN)
    assert bad.exit_code == 1 and "severity must be one of" in bad.output
    assert invoke("alerts", "set", "nope", "--db", db, "--as", ADMIN).exit_code == 1


@pytest.mark.slow
def test_optimize_under_a_move_cap_too_small_says_why(db, tmp_path):
    """Before any plan is applied to the module's book (the next test applies one)."""
    capped = tmp_path / "capped.toml"
    text = (ROOT / "scenarios/southwest.toml").read_text()
    capped.write_text(text.replace("[constraints.churn]", "[constraints.churn]\nmax_moves = 20"))
    result = invoke("optimize", "--db", db, "--scenario", str(capped), "--as-of", "2026-11-23")
    assert result.exit_code == 2
    assert "the cap is 20" in result.output and "to get a plan: Raise the move cap to" in result.output
    assert "could not be isolated" not in result.output


@pytest.mark.slow
def test_optimize_save_approve_apply_export(db, tmp_path):
    out = tmp_path / "plan.json"
    result = invoke(
        "optimize",
        "--db",
        db,
        "--scenario",
        str(ROOT / "scenarios/southwest.toml"),
        "--json",
        str(out),
        "--save",
        "--as",
        PLANNER,
        "--as-of",
        "2026-11-23",
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(out.read_text())
    assert {"status", "gap", "wall_time_s", "moves", "territories", "team"} <= set(plan)
    assert plan["status"] in ("OPTIMAL", "FEASIBLE") and 0 <= plan["gap"] < 1
    assert set(plan["moves"][0]) >= {"account", "from", "to", "reason", "risks"}
    assert set(plan["territories"][0]["before"]) >= {"potential", "accounts", "workload_hours"}
    assert set(plan["team"]["before"]) >= {"cv", "max_min_ratio"}
    # moves read in names (account name, "Territory · Rep"), risks in words, never raw codes
    first = plan["moves"][0]
    assert re.search(rf"  [^\n]+ \({first['account']}\): [^\n]+ · [^\n]+ -> ", result.output)
    assert "large_revenue" not in result.output and "open_opportunity" not in result.output
    # the plan this run saved (the sample's balance alerts may have saved a fix plan before it)
    plan_id = re.search(r"saved as draft plan (\d+)", result.output).group(1)  # type: ignore[union-attr]
    assert "draft" in invoke("plans", "list", "--db", db).output
    assert invoke("plans", "apply", plan_id, "--db", db, "--as", APPROVER).exit_code == 1  # not approved yet
    assert invoke("plans", "submit", plan_id, "--db", db, "--as", PLANNER).exit_code == 0
    assert invoke("plans", "approve", plan_id, "--db", db, "--as", APPROVER).exit_code == 0
    later = date.today() + timedelta(days=1)  # a later date schedules the plan; it applies on that date
    applied = invoke("plans", "apply", plan_id, "--db", db, "--as", APPROVER, "--effective", f"{later}")
    assert applied.exit_code == 0 and f"scheduled for {later}" in applied.output
    due = apply_due_plans(get_engine(db), today=later)
    assert due.applied == (int(plan_id),)
    export = tmp_path / "moves.csv"
    assert invoke("plans", "export", plan_id, "--db", db, "--csv", str(export)).exit_code == 0
    rows = list(csv.DictReader(export.open()))
    assert len(rows) == len(plan["moves"]) and rows[0]["effective_date"] == f"{later}"
    book = {
        r["account_id"]: r["territory_id"]
        for r in csv.DictReader(
            (tmp_path / "after.csv").open()
            if invoke("accounts", "--db", db, "--csv", str(tmp_path / "after.csv")).exit_code == 0
            else []
        )
    }
    assert all(book[m["account"]] == m["to"] for m in plan["moves"])


def test_bad_options_say_what_is_wrong(db):
    assert "not a date" in invoke("kpis", "--db", db, "--as-of", "yesterday").output
    result = invoke("refresh", "everything", "--db", db)
    assert result.exit_code == 1 and "unknown refresh target" in result.output


@pytest.mark.slow
def test_optimize_frontier_json_and_hire(db, tmp_path):
    out = tmp_path / "frontier.json"
    scenario = str(ROOT / "scenarios/southwest.toml")
    result = invoke(
        "optimize", "--db", db, "--scenario", scenario, "--frontier", "0,20,80", "--time-limit", "5",
        "--json", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert [p["budget"] for p in document["frontier"]] == [0, 20, 80]
    assert all(
        {"budget", "moves", "cv", "out_of_band", "status", "gap"} <= set(p) for p in document["frontier"]
    )
    assert document["frontier"][0]["moves"] == 0 and document["frontier"][-1]["moves"] > 0
    assert document["frontier"][-1]["cv"] < document["frontier"][0]["cv"]
    assert "first_in_band_budget" in document and "churn-balance frontier" in result.output
    hired = tmp_path / "hire.json"
    result = invoke(
        "optimize", "--db", db, "--scenario", scenario, "--hire", "1", "--time-limit", "5",
        "--json", str(hired),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "where to hire 1 rep(s)" in result.output
    (new_rep,) = json.loads(hired.read_text())["hire"]["hires"]
    assert new_rep["territory"] == "NEW-1" and new_rep["accounts"]


def test_writing_commands_are_refused_without_the_role(db, tmp_path):
    viewer = invoke("alerts", "set", "coverage_low", "--db", db, "--threshold", "0.5", "--as", VIEWER)
    assert viewer.exit_code == 1
    assert viewer.output.strip() == (
        "refused: viewer@example.com (viewer) may not edit alert rules: that needs the admin role"
    )
    nobody = invoke("import", "--db", db, "--accounts", str(tmp_path / "x.csv"))
    assert nobody.exit_code == 1 and "no user given: pass --as EMAIL or set TERRITORY_USER" in nobody.output
    planner = invoke("users", "add", "x@example.com", "--role", "admin", "--db", db, "--as", PLANNER)
    assert planner.exit_code == 1 and "may not manage users" in planner.output


def test_users_and_audit_commands(db, monkeypatch):
    monkeypatch.setenv("TERRITORY_USER", ADMIN)
    assert invoke("users", "add", "new@example.com", "--role", "viewer", "--db", db).exit_code == 0
    assert invoke("users", "set-role", "new@example.com", "--role", "planner", "--db", db).exit_code == 0
    reset = runner.invoke(
        app, ["users", "reset-password", "new@example.com", "--db", db], input="another one!\n"
    )
    assert reset.exit_code == 0, reset.output
    assert invoke("users", "disable", "new@example.com", "--db", db).exit_code == 0
    users = {u["email"]: u for u in json.loads(invoke("users", "list", "--db", db, "--json").output)}
    assert (users["new@example.com"]["role"], users["new@example.com"]["active"]) == ("planner", False)
    assert "another one!" not in invoke("users", "list", "--db", db, "--json").output
    events = json.loads(invoke("audit", "--db", db, "--json").output)
    mine = [(e["actor"], e["action"], e["source"]) for e in events if "new@example.com" in e["what"]]
    assert mine[:4] == [
        (ADMIN, "users.disable", "cli"),
        (ADMIN, "users.reset-password", "cli"),
        (ADMIN, "users.set-role", "cli"),
        (ADMIN, "users.add", "cli"),
    ]
