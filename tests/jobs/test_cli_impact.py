"""`territory plans show ID --impact [--json]` and `territory plans compare A B [--json]` on the tiny
book of tests/plan_impact_book.py (numbers worked out in tests/core/test_plan_impact.py)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jobs.cli import app
from tests.plan_impact_book import EFFECTIVE, save_moves, seed_impact_book

runner = CliRunner()


@pytest.fixture
def plans(engine, db_url):
    seed_impact_book(engine)
    first = save_moves(engine, "A1 to Bo", ("A1", "T1", "T2"))
    second = save_moves(engine, "A4 to Ana", ("A4", "T2", "T1"))
    return db_url, first, second


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_show_impact_json_has_reps_with_before_and_after_and_opportunities(plans):
    url, first, _ = plans
    day = EFFECTIVE.isoformat()
    document = json.loads(
        invoke("plans", "show", str(first), "--impact", "--json", "--db", url, "--effective", day)
    )
    assert document["as_of"] == day and document["quota_method"] == "potential"
    assert document["reps"][0]["quota"] == {"before": 100_000.0, "after": 87_500.0}
    assert {"reps", "opportunities", "totals", "quota_method", "as_of"} <= set(document)
    rep = document["reps"][0]
    assert {"rep", "rep_id", "territories", "accounts", "potential", "revenue_ttm", "pipeline"} <= set(rep)
    assert {"quota", "projected_attainment", "workload_hours", "travel_hours"} <= set(rep)
    assert set(rep["potential"]) == {"before", "gained", "lost", "after"}
    assert set(rep["quota"]) == {"before", "after"}
    assert [r["rep"] for r in document["reps"]] == ["Ana Alvarez", "Bo Li"]
    [deal] = document["opportunities"]
    assert {k: deal[k] for k in ("name", "stage", "amount", "account", "from_rep", "to_rep")} == {
        "name": "Big deal",
        "stage": "Proposal",
        "amount": 5000.0,
        "account": "Acme A1",
        "from_rep": "Ana Alvarez",
        "to_rep": "Bo Li",
    }


def test_show_impact_prints_a_table_with_names(plans):
    url, first, _ = plans
    text = invoke("plans", "show", str(first), "--impact", "--db", url)
    assert "Ana Alvarez" in text and "North · Ana" in text and "Big deal" in text
    assert "Projected attainment" in text and "−1" in text  # Ana loses one account
    plain = invoke("plans", "show", str(first), "--db", url)
    assert "Projected attainment" not in plain  # without --impact: the plan as before


def test_compare_two_plans(plans):
    url, first, second = plans
    day = EFFECTIVE.isoformat()
    document = json.loads(
        invoke("plans", "compare", str(first), str(second), "--json", "--db", url, "--effective", day)
    )
    assert [p["plan"]["id"] for p in document["plans"]] == [first, second]
    ana = next(r for r in document["reps"] if r["rep"] == "Ana Alvarez")
    assert ana["plans"][str(first)]["quota"] == {"before": 100_000.0, "after": 87_500.0}
    assert ana["plans"][str(second)]["quota"]["after"] == pytest.approx(122_857.14)
    text = invoke("plans", "compare", str(first), str(second), "--db", url, "--effective", day)
    assert f"#{first} after" in text and f"#{second} after" in text and "Bo Li" in text


def test_unknown_plan_method_or_date_fail_with_a_sentence(plans):
    url, first, _ = plans
    result = runner.invoke(app, ["plans", "show", "99", "--impact", "--db", url])
    assert result.exit_code == 1 and "no plan 99" in result.output
    result = runner.invoke(app, ["plans", "show", str(first), "--impact", "--quota-method", "x", "--db", url])
    assert result.exit_code == 1 and "quota method must be one of none, potential, revenue" in result.output
    result = runner.invoke(app, ["plans", "compare", str(first), "99", "--db", url, "--effective", "13/1"])
    assert result.exit_code != 0 and "--effective" in result.output
