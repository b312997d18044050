"""`territory plans apply` with an effective date and a quota method, `plans unschedule`, and what
`plans list` / `plans show` say about scheduled plans; bad values refused in one line, nothing written."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel
from typer.testing import CliRunner

from core.db import session_scope
from core.models import QuotaAdjustment
from core.plans import get_plan
from jobs.cli import app
from tests.core.test_plan_apply import APPROVER, approved_plan, book  # noqa: F401 - the fixture

runner = CliRunner()
LATER = date.today() + timedelta(days=5)


def cli(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def counts(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return {
            name: int(session.execute(select(func.count()).select_from(table)).scalar() or 0)
            for name, table in SQLModel.metadata.tables.items()
            if name != "auditevent"
        }


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (("--effective-date", "2020-01-01"), "the effective date must be today"),
        (("--effective-date", "someday"), "--effective-date 'someday' is not a date like 2026-12-01"),
        (("--quota-method", "foo"), "the quota method must be one of none, potential, revenue, not 'foo'"),
    ],
)
def test_bad_values_are_refused_in_one_line_and_nothing_is_written(book, options, says):  # noqa: F811
    plan_id = approved_plan(book)
    url = book.url.render_as_string(hide_password=False)
    before = counts(book)
    result = cli("plans", "apply", str(plan_id), "--db", url, "--as", APPROVER, *options)
    assert result.exit_code == 1
    assert says in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert counts(book) == before and get_plan(book, plan_id).status == "approved"


def test_schedule_list_show_unschedule_then_apply_today(book):  # noqa: F811
    plan_id = approved_plan(book)
    url = book.url.render_as_string(hide_password=False)
    scheduled = cli(
        "plans", "apply", str(plan_id), "--db", url, "--as", APPROVER, "--effective-date", f"{LATER}",
        "--quota-method", "revenue",
    )  # fmt: skip
    assert scheduled.exit_code == 0, scheduled.output
    assert f"plan {plan_id} scheduled for {LATER} (quota method revenue)" in scheduled.output
    assert f"scheduled for {LATER}" in cli("plans", "list", "--db", url).output
    shown = cli("plans", "show", str(plan_id), "--db", url).output
    assert f"scheduled by {APPROVER}" in shown and f"effective {LATER}, quota method revenue" in shown
    unscheduled = cli("plans", "unschedule", str(plan_id), "--db", url, "--as", APPROVER)
    assert unscheduled.exit_code == 0 and "approved again" in unscheduled.output
    assert cli("plans", "unschedule", str(plan_id), "--db", url, "--as", APPROVER).exit_code == 1
    applied = cli("plans", "apply", str(plan_id), "--db", url, "--as", APPROVER)
    assert applied.exit_code == 0, applied.output
    assert f"plan {plan_id} applied: 2 accounts moved, effective {date.today()}" in applied.output
    assert "quota moved by potential: $4.7K (team total unchanged)" in applied.output
    with session_scope(book) as session:
        assert session.execute(select(func.count()).select_from(QuotaAdjustment)).scalar() == 4


def test_the_scheduler_job_applies_due_plans_and_is_recorded(book):  # noqa: F811
    from sqlalchemy import update

    from core.models import JobRun, RebalancePlan
    from jobs.cli_apply import apply_due_words

    plan_id = approved_plan(book)
    url = book.url.render_as_string(hide_password=False)
    cli("plans", "apply", str(plan_id), "--db", url, "--as", APPROVER, "--effective-date", f"{LATER}")
    assert apply_due_words(book) == "scheduled plans: none due today"
    with session_scope(book) as session:  # the day has come
        session.execute(update(RebalancePlan).values(effective_date=date.today()))
    assert apply_due_words(book) == f"scheduled plans: 1 applied [{plan_id}]"
    with session_scope(book) as session:
        runs = (
            session.execute(select(JobRun).where(JobRun.job == "plans").order_by(JobRun.id)).scalars().all()
        )
    assert [(r.status, r.trigger, r.rows_written) for r in runs] == [
        ("success", "cli", 0),
        ("success", "cli", 1),
    ]
    assert get_plan(book, plan_id).status == "applied"
