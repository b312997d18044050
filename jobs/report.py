"""`territory kpis`: the latest KPI snapshot in words and JSON (the same numbers the dashboard shows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from core.kpi_registry import TEAM_KPIS, kpi
from core.queries import latest_snapshot_date, load_team_kpis, load_territory_kpis

TERRITORY_COLUMNS = (
    "external_id",
    "name",
    "accounts",
    "potential",
    "potential_index",
    "workload_hours",
    "workload_index",
    "coverage",
    "quota",
    "bookings",
    "attainment",
    "pace",
    "attainment_gap",
    "drift",
    "pipeline_coverage",
    "activity_change",
    "health",
)


TEXT_COLUMNS = (  # the text report: a column per KPI, least healthy territory first
    "accounts",
    "potential",
    "potential_index",
    "coverage",
    "attainment",
    "attainment_gap",
    "drift",
    "health",
)
TEAM_LINE = (
    "territories",
    "potential",
    "cv_potential",
    "max_min_ratio",
    "out_of_band",
    "reps_on_pace_share",
    "coverage",
)
NAME_WIDTH = 27


@dataclass(frozen=True)
class KpiReport:
    snapshot_date: date
    territories: pd.DataFrame
    team: dict

    def as_dict(self) -> dict:
        rows = self.territories[list(TERRITORY_COLUMNS)].rename(columns={"external_id": "territory"})
        rows = rows.astype(object).where(rows.notna(), None)
        return {
            "snapshot_date": self.snapshot_date.isoformat(),
            "team": self.team,
            "territories": rows.to_dict("records"),
        }

    def as_text(self) -> str:
        """The team line, then a row per territory, least healthy first (labels and units: the registry)."""
        team = ", ".join(f"{TEAM_KPIS[k].heading} {TEAM_KPIS[k].text(self.team.get(k))}" for k in TEAM_LINE)
        ranked = self.territories.sort_values("health")
        cells = [[str(name)[:NAME_WIDTH] for name in ranked["name"]]]
        cells += [[kpi(key).text(value) for value in ranked[key]] for key in TEXT_COLUMNS]
        headings = ["Territory", *(kpi(key).heading for key in TEXT_COLUMNS)]
        widths = [max(len(h), *(len(c) for c in column)) for h, column in zip(headings, cells, strict=True)]
        lines = [f"KPI snapshot {self.snapshot_date}", f"Team: {team}", "", _row(headings, widths)]
        lines += [_row(list(row), widths) for row in zip(*cells, strict=True)]
        return "\n".join(lines)


def _row(cells: list[str], widths: list[int]) -> str:
    """The name left-aligned, the figures right-aligned, two spaces apart."""
    first, *rest = cells
    return "  ".join([first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))])


def kpi_report(engine: Engine, *, snapshot_date: date | None = None) -> KpiReport | None:
    day = snapshot_date or latest_snapshot_date(engine=engine)
    if day is None:
        return None
    territories = load_territory_kpis(engine=engine, snapshot_date=day)
    team = load_team_kpis(engine=engine, since=day)
    team = team[team["snapshot_date"] == day]
    if territories.empty or team.empty:
        return None
    team_row = team.iloc[0].drop(labels=["id"]).to_dict()
    team_row = {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in team_row.items()}
    return KpiReport(snapshot_date=day, territories=territories, team=team_row)
