"""`territory plans show ID --impact [--json]` and `territory plans compare A B [--json]`.

What a plan does to each rep it touches (``core.plan_impact``), as aligned text tables or JSON.
"""

from __future__ import annotations

import json
from typing import Annotated

import pandas as pd
import typer
from sqlalchemy.engine import Engine

from core.plan_impact import (
    PlanImpact,
    compare_json,
    compare_table,
    flows_table,
    impact_table,
    opportunities_table,
    plan_impact,
)
from core.quota import DEFAULT_QUOTA_METHOD, QUOTA_METHODS
from jobs.cli import DbOption, _engine, _parse_date, fail, plans_app

QuotaMethodOption = Annotated[
    str,
    typer.Option("--quota-method", help=f"How quota follows the accounts: {' | '.join(QUOTA_METHODS)}."),
]
EffectiveOption = Annotated[
    str | None,
    typer.Option("--effective", help="Effective date YYYY-MM-DD (default: the plan's own, else today)."),
]


def text_table(frame: pd.DataFrame) -> str:
    """Columns padded to their widest cell (names are printed whole, never cut)."""
    cells = [list(frame.columns)] + frame.astype(str).values.tolist()
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(frame.columns))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def impact_text(impact: PlanImpact) -> str:
    """The impact of one plan in words and tables."""
    quota = "as applied" if impact.quota_from_stored else "if applied"
    lines = [
        f"impact of plan {impact.plan_id} ({impact.plan_name}, {impact.status}) effective {impact.as_of}; "
        f"quota {quota} by method {impact.quota_method}",
    ]
    if not impact.reps:
        lines.append("no rep gains or loses accounts")
        return "\n".join(lines)
    lines += ["", text_table(impact_table(impact)), "", text_table(flows_table(impact))]
    skipped = [m for m in impact.quota_moves if m.skipped]
    for move in skipped:
        lines.append(f"no quota moves from {move.from_rep} to {move.to_rep}: {move.skipped}")
    if impact.opportunities:
        lines += ["", "open opportunities changing hands:", text_table(opportunities_table(impact))]
    else:
        lines += ["", "no open opportunities change hands"]
    return "\n".join(lines)


def _impact(engine: Engine, plan_id: int, quota_method: str, effective: str | None) -> PlanImpact:
    from core.plans import PlanError

    day = _parse_date(effective, "--effective")
    try:
        return plan_impact(engine, plan_id, quota_method=quota_method, effective_date=day)
    except (PlanError, ValueError) as error:
        fail(str(error))


def show_impact(
    engine: Engine,
    plan_id: int,
    *,
    as_json: bool = False,
    quota_method: str = DEFAULT_QUOTA_METHOD,
    effective: str | None = None,
) -> None:
    """Print one plan's impact (``plans show ID --impact``)."""
    impact = _impact(engine, plan_id, quota_method, effective)
    if as_json:
        typer.echo(json.dumps(impact.as_json(), indent=2))
        return
    typer.echo(impact_text(impact))


@plans_app.command("compare")
def plans_compare(
    first: int,
    second: int,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    quota_method: QuotaMethodOption = DEFAULT_QUOTA_METHOD,
    effective: EffectiveOption = None,
) -> None:
    """Two plans' impact on each rep side by side (quota, projected attainment, workload, travel)."""
    engine = _engine(db)
    impacts = [_impact(engine, plan_id, quota_method, effective) for plan_id in (first, second)]
    if as_json:
        typer.echo(json.dumps(compare_json(impacts), indent=2))
        return
    for impact in impacts:
        typer.echo(f"#{impact.plan_id} {impact.plan_name} ({impact.status}), effective {impact.as_of}")
    typer.echo("")
    typer.echo(text_table(compare_table(impacts)) if any(i.reps for i in impacts) else "no rep is touched")
