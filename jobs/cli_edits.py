"""`territory plans edit` and `territory plans resolve`: move-by-move review of a draft plan.

Thin: parse the options, call ``core.plan_edits`` and print; `plans show` lists the edits with
``edits_text``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.engine import Engine

from core.format import moment_label
from jobs.cli import ActorOption, DbOption, _plan_step, plans_app


def _pins(values: list[str]) -> dict[str, str]:
    """--pin ACC=TERRITORY (repeatable) -> {ACC: TERRITORY}."""
    pins: dict[str, str] = {}
    for value in values:
        account, sep, territory = value.partition("=")
        if not sep or not account.strip() or not territory.strip():
            raise typer.BadParameter(f"{value!r} is not ACCOUNT=TERRITORY", param_hint="--pin")
        pins[account.strip()] = territory.strip()
    return pins


@plans_app.command("edit")
def plans_edit(
    plan_id: int,
    reason: Annotated[str, typer.Option("--reason", help="Why (required; kept with the edit).")] = "",
    reject: Annotated[
        list[str] | None,
        typer.Option("--reject", help="Reject the plan's move of these accounts: ACC[,ACC]."),
    ] = None,
    pin: Annotated[
        list[str] | None,
        typer.Option(
            "--pin", help="ACC=TERRITORY: the account ends there (repeatable; a manual move if elsewhere)."
        ),
    ] = None,
    db: DbOption = None,
    who: ActorOption = None,
) -> None:
    """Reject moves and pin accounts on a draft (planner); the plan's moves and numbers are recomputed."""
    from core.plan_edits import edit_plan

    rejected = [a.strip() for value in reject or [] for a in value.split(",") if a.strip()]
    pins = _pins(pin or [])
    said: list[str] = []
    _plan_step(
        db,
        who,
        "plan.edit",
        lambda e, a: said.append(
            edit_plan(e, plan_id, reject=rejected, pin=pins, reason=reason, actor=a, source="cli").describe()
        ),
    )
    typer.echo(said[0])


@plans_app.command("resolve")
def plans_resolve(
    plan_id: int,
    time_limit: Annotated[
        float | None,
        typer.Option("--time-limit", min=1.0, help="Seconds for the solver (default: the scenario's)."),
    ] = None,
    db: DbOption = None,
    who: ActorOption = None,
) -> None:
    """Re-solve a draft around its edits: pins and manual moves kept, rejected moves forbidden."""
    from core.plan_edits import resolve_plan

    said: list[str] = []
    _plan_step(
        db,
        who,
        "plan.edit",
        lambda e, a: said.append(
            resolve_plan(e, plan_id, actor=a, source="cli", time_limit_s=time_limit).describe()
        ),
    )
    typer.echo(said[0])


def edits_text(engine: Engine, plan_id: int) -> str:
    """The plan's edits for `plans show`: revision, who, when, what, why."""
    from core.plan_edits import plan_edits

    edits = plan_edits(engine, plan_id)
    if not edits:
        return "edits: none"
    lines = [f"edits ({len(edits)}):"]
    for edit in edits:
        why = f" — {edit.reason}" if edit.kind != "resolve" else ""
        lines.append(f"  r{edit.revision}  {moment_label(edit.at)}  {edit.actor}: {edit.describe()}{why}")
    return "\n".join(lines)
