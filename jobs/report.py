"""`territory kpis`: the latest KPI snapshot in words and JSON (the same numbers the dashboard shows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from core.format import money, pct, points
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
    "attainment",
    "pace",
    "attainment_gap",
    "drift",
    "pipeline_coverage",
    "activity_change",
    "health",
)


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
        team = self.team
        lines = [
            f"KPI snapshot {self.snapshot_date}",
            f"team: {team['territories']} territories, potential {money(team['potential'])}, "
            f"CV {team['cv_potential']:.2f}, max/min {team['max_min_ratio']:.2f}, "
            f"out of band {team['out_of_band']}, reps on pace {pct(team['reps_on_pace_share'])}, "
            f"coverage {pct(team['coverage'])}",
            "",
            f"{'territory':<28}{'accts':>6}{'potential':>11}{'index':>7}{'cover':>7}{'attain':>8}{'gap':>10}"
            f"{'drift':>10}{'health':>7}",
        ]
        for row in self.territories.sort_values("health").itertuples():
            lines.append(
                f"{row.name[:27]:<28}{row.accounts:>6}{money(row.potential):>11}"
                f"{_num(row.potential_index):>7}{pct(row.coverage):>7}{pct(row.attainment):>8}"
                f"{points(row.attainment_gap):>10}{points(row.drift):>10}{_num(row.health, 0):>7}"
            )
        return "\n".join(lines)


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.{digits}f}"


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
