"""`territory plans handoff ID --out DIR`: one handoff pack (HTML) per affected rep of a plan.

Registered on ``plans_app`` by the import at the bottom of jobs/cli.py. See docs/handoff.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jobs.cli import AsOfOption, DbOption, _engine, _parse_date, fail, plans_app


@plans_app.command("handoff")
def plans_handoff(
    plan_id: int,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the packs to (created if missing).")],
    db: DbOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Handoff packs of an approved, scheduled or applied plan: one printable HTML file per affected rep."""
    from core.alerts.email import header_safe
    from core.handoff import file_names, handoff_packs, render_handoff_html
    from core.plans import PlanError

    try:
        packs = handoff_packs(_engine(db), plan_id, as_of=_parse_date(as_of))
    except PlanError as error:
        fail(f"refused: {error}")
    if not packs:
        typer.echo(f"plan {plan_id} moves no account of a territory with a rep: no handoff pack to write")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, pack in zip(file_names(packs), packs, strict=True):
        path = out / name
        path.write_text(render_handoff_html(pack), encoding="utf-8")
        who = header_safe(f"{pack.rep.name} ({pack.territory.name})")  # data: one printable line
        typer.echo(f"wrote {path}: {who}, {len(pack.gains)} joining, {len(pack.losses)} leaving")
