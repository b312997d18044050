"""`territory plans apply` words, `plans unschedule`, and the scheduled plans `refresh all` applies.

Registered on ``jobs.cli.plans_app`` by the import at the bottom of jobs/cli.py.
"""

from __future__ import annotations

from datetime import date

import typer
from sqlalchemy.engine import Engine

from core.format import count, day_label, money
from core.plans import PlanError, apply_plan, get_plan, unschedule_plan
from jobs.cli import ActorOption, CommentOption, DbOption, _plan_step, plans_app


def apply_words(engine: Engine, plan_id: int, actor: str, effective: str | None, quota_method: str) -> str:
    """Apply (or schedule) a plan and say what happened in one line; PlanError for a bad option."""
    day = _effective_date(effective)
    moved = apply_plan(engine, plan_id, actor=actor, effective_date=day, quota_method=quota_method)
    plan = get_plan(engine, plan_id)
    if plan.status == "scheduled":
        return (
            f"plan {plan_id} scheduled for {day_label(plan.effective_date)} (quota method {quota_method}): "
            "the scheduler applies it on that date if the book has not changed by then"
        )
    return (
        f"plan {plan_id} applied: {moved} accounts moved, effective {day_label(plan.effective_date)}; "
        f"{_quota_words(engine, plan_id, quota_method)}; the audit log has one row per move"
    )


def _effective_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PlanError(f"--effective-date {value!r} is not a date like 2026-12-01") from None


def _quota_words(engine: Engine, plan_id: int, method: str) -> str:
    from sqlalchemy import select
    from sqlmodel import Session, col

    from core.models import QuotaAdjustment

    if method == "none":
        return "no quota moved (quota method none)"
    with Session(engine) as session:
        amounts = session.execute(
            select(col(QuotaAdjustment.amount)).where(col(QuotaAdjustment.plan_id) == plan_id)
        ).scalars()
        moved = sum(a for a in amounts if a > 0)
    return f"quota moved by {method}: {money(moved)} (team total unchanged)"


def apply_due_words(engine: Engine) -> str:
    """Apply the scheduled plans due today (recorded as the ``plans`` job) and say what happened."""
    from jobs.scheduler import apply_due

    due = apply_due(engine, trigger="cli")
    if not due.applied and not due.refused:
        return "scheduled plans: none due today"
    parts = [f"{count(len(due.applied))} applied {list(due.applied)}"] if due.applied else []
    if due.refused:
        parts.append(
            f"{count(len(due.refused))} refused {list(due.refused)} (the book changed: see the plan)"
        )
    return "scheduled plans: " + "; ".join(parts)


@plans_app.command("unschedule")
def plans_unschedule(
    plan_id: int, db: DbOption = None, who: ActorOption = None, comment: CommentOption = None
) -> None:
    """Cancel a scheduled plan (approver): it is approved again, to apply on another date or discard."""
    _plan_step(db, who, "plan.apply", lambda e, a: unschedule_plan(e, plan_id, actor=a, comment=comment))
    typer.echo(f"plan {plan_id} is no longer scheduled; it is approved again")
