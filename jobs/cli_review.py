"""`territory plans outcome ID`: the 30/60/90-day review of an applied plan (core.plan_review)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from core.format import count, day_label, hours, money, number, pct, points, signed_pct
from core.plan_review import PlanOutcome, PlanReviewError, RetentionReading, TerritoryActual, plan_outcome
from jobs.cli import AsOfOption, DbOption, _engine, _parse_date, fail, plans_app


@plans_app.command("outcome")
def plans_outcome(
    plan_id: int,
    as_of: AsOfOption = None,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (territories and accounts).")] = False,
) -> None:
    """The 30/60/90-day review of an applied plan: predicted against actual, and the moved accounts."""
    from core.db import upgrade_schema

    engine = _engine(db)
    upgrade_schema(engine)
    try:
        outcome = plan_outcome(engine, plan_id, as_of=_parse_date(as_of))
    except PlanReviewError as error:
        fail(f"refused: {error}")
    if as_json:
        typer.echo(json.dumps(outcome.as_json(), indent=2, default=str))
        return
    typer.echo("\n".join(outcome_lines(outcome)))


def outcome_lines(outcome: PlanOutcome) -> list[str]:
    """The review as text: checkpoints, the territories the plan changed, the moved accounts."""
    lines = [
        f"plan {outcome.plan_id} ({outcome.name}): applied by {outcome.applied_by or '—'}, "
        f"effective {day_label(outcome.effective_date)}; review as of {day_label(outcome.as_of)}",
        *(f"  {c.words()}" for c in outcome.checkpoints),
    ]
    changed = [t for t in outcome.territories if t.changed]
    for i, checkpoint in enumerate(outcome.checkpoints):
        if checkpoint.status != "reviewed":
            continue
        lines += ["", f"territories at {checkpoint.days} days — predicted / actual:"]
        for territory in changed:
            lines.append(f"  {territory.name} (+{territory.gained} / -{territory.lost} accounts)")
            lines.append("    " + _territory_line(territory.predicted, territory.actual[i]))
            lines.append("    " + _unpredicted_line(territory.before_move, territory.actual[i]))
        team, predicted = outcome.team_actual[i], outcome.team_predicted
        if team is not None and predicted is not None:
            lines.append(f"  team CV of potential {number(predicted.cv)} / {number(team.cv)}")
        lines += ["", f"moved accounts at {checkpoint.days} days:"]
        for account in outcome.accounts:
            lines.append(f"  {account.name} ({account.from_name or '—'} -> {account.to_name}): ")
            lines[-1] += _reading_line(account.readings[i])
    others = len(outcome.territories) - len(changed)
    if others:
        lines += ["", f"({others} other territories unchanged by the plan; --json has every territory)"]
    return lines


def _territory_line(predicted, actual: TerritoryActual | None) -> str:  # type: ignore[no-untyped-def]
    def pair(text, mine, theirs) -> str:  # type: ignore[no-untyped-def]
        return f"{text(mine)} / {text(theirs) if actual is not None else '—'}"

    a = actual
    return (
        f"potential {pair(money, predicted.potential, a and a.potential)}, "
        f"index {pair(number, predicted.potential_index, a and a.potential_index)}, "
        f"accounts {pair(count, predicted.accounts, a and a.accounts)}, "
        f"workload {pair(hours, predicted.workload_hours, a and a.workload_hours)}"
    )


def _unpredicted_line(before: TerritoryActual | None, actual: TerritoryActual | None) -> str:
    def pair(text, field: str) -> str:  # type: ignore[no-untyped-def]
        then = getattr(before, field) if before is not None else None
        now = getattr(actual, field) if actual is not None else None
        return f"{text(then)} -> {text(now)}"

    return (
        f"before the move -> now: vs pace {pair(points, 'attainment_gap')}, "
        f"coverage {pair(pct, 'coverage')}, activity change {pair(signed_pct, 'activity_change')}"
    )


def _reading_line(reading: RetentionReading | None) -> str:
    if reading is None:
        return "—"
    silent = "  NO ACTIVITY SINCE THE MOVE" if reading.silent else ""
    return (
        f"revenue {money(reading.revenue)} of {money(reading.forecast)} forecast "
        f"({pct(reading.revenue_ratio)}, {reading.months} month{'' if reading.months == 1 else 's'}); "
        f"{reading.activities} activities ({reading.by_new_owner} by the new owner), "
        f"last {day_label(reading.last_activity)}{silent}"
    )
