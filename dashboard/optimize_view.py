"""Pure helpers of the Optimize page: scenario from form values, tables, arcs, plan comparison."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pydeck as pdk

from core.format import (
    count,
    hours,
    moment_label,
    money,
    number,
    pct,
    risk_words,
    solver_words,
    territory_label,
)
from core.plans import SavedPlan
from core.rebalance import Frontier, RebalanceResult, Scenario
from core.rebalance.hire import HirePlan
from dashboard import geography, maps

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def shipped_scenarios() -> dict[str, Path]:
    return {path.stem: path for path in sorted(SCENARIO_DIR.glob("*.toml"))}


# Territory id prefixes of the sample books (core.sample) and the field scenario written for each.
SAMPLE_SCENARIOS = {"SW-": "southwest", "MM-": "midmarket", "NA-": "national"}
GENERIC_SCENARIO = "targeted"  # a band relative to the team mean: fits any book


def default_scenario(territory_ids: list[str], names: list[str]) -> str:
    """The shipped scenario to start from: the field scenario of a sample book, else the generic one."""
    for prefix, name in SAMPLE_SCENARIOS.items():
        if territory_ids and all(t.startswith(prefix) for t in territory_ids) and name in names:
            return name
    return GENERIC_SCENARIO if GENERIC_SCENARIO in names else names[0]


@dataclass(frozen=True)
class FormValues:
    """What the scenario form collects; ``None`` leaves the base scenario's value."""

    scope_kind: str
    scope_territories: tuple[str, ...]
    scope_region: str | None
    potential_min_m: float | None
    potential_max_m: float | None
    accounts_min: int | None
    accounts_max: int | None
    max_moves: int | None
    max_book_share_pct: float | None
    max_revenue: float | None
    cooldown_days: int | None
    strategic_revenue: float | None
    state_lines: bool
    vacated: tuple[str, ...]
    time_limit_s: float


def scenario_from_form(base: Scenario, values: FormValues) -> Scenario:
    """The base scenario with the form's choices applied (validated: errors read as sentences)."""
    changes: dict[str, object] = {
        "scope.kind": values.scope_kind,
        "scope.territories": list(values.scope_territories),
        "scope.region": values.scope_region,
        "constraints.state_lines": values.state_lines,
        "constraints.churn.max_moves": values.max_moves,
        "constraints.churn.max_book_share": None
        if values.max_book_share_pct is None
        else values.max_book_share_pct / 100,
        "constraints.churn.max_revenue": values.max_revenue,
        "constraints.cooldown_days": values.cooldown_days,
        "constraints.strategic_revenue": values.strategic_revenue,
        "what_if.vacated": list(values.vacated),
        "time_limit_s": values.time_limit_s,
    }
    if values.potential_min_m is not None or values.potential_max_m is not None:
        changes["constraints.potential"] = {
            "min": None if values.potential_min_m is None else values.potential_min_m * 1e6,
            "max": None if values.potential_max_m is None else values.potential_max_m * 1e6,
        }
    if values.accounts_min is not None or values.accounts_max is not None:
        changes["constraints.accounts"] = {"min": values.accounts_min, "max": values.accounts_max}
    return base.with_changes(**changes)


def before_after_table(result: RebalanceResult) -> pd.DataFrame:
    """One row per territory, its name first and its id last (for export); figures as text."""
    rows = [
        {
            "territory": c.name,
            "potential before": money(c.before.potential),
            "potential after": money(c.after.potential),
            "index before": number(c.before.potential_index),
            "index after": number(c.after.potential_index),
            "accounts before": count(c.before.accounts),
            "accounts after": count(c.after.accounts),
            "workload before": hours(c.before.workload_hours),
            "workload after": hours(c.after.workload_hours),
            "territory id": c.territory,
        }
        for c in result.territories
    ]
    return pd.DataFrame(rows)


# The chart's series, named so that their alphabetical order (the chart's) is the reading order.
BEFORE, AFTER = "before", "with the plan"


def potential_chart_frame(result: RebalanceResult) -> pd.DataFrame:
    """Potential per territory before and with the plan, in $M, for a grouped bar chart ("before"
    drawn first: the chart orders series by name)."""
    return pd.DataFrame(
        {
            BEFORE: [c.before.potential / 1e6 for c in result.territories],
            AFTER: [c.after.potential / 1e6 for c in result.territories],
        },
        index=[c.name for c in result.territories],
    )


MOVE_COLUMNS = ["account", "from", "to", "risks", "reason", "account id", "from id", "to id"]


def moves_table(
    result: RebalanceResult,
    territories: pd.DataFrame | None = None,
    account_names: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per move in words: the account's name, "territory · rep" before and after, the risks
    in words and the full reason; the ids last, for export. ``account_names``: name by external id."""
    names = {} if account_names is None else account_names.dropna().to_dict()
    return pd.DataFrame(
        [
            {
                "account": names.get(m.account, m.account),
                "from": territory_label(m.from_territory, territories),
                "to": territory_label(m.to_territory, territories),
                "risks": risk_words(m.risks),
                "reason": m.reason,
                "account id": m.account,
                "from id": m.from_territory,
                "to id": m.to_territory,
            }
            for m in result.moves
        ],
        columns=MOVE_COLUMNS,
    )


def move_arcs(result: RebalanceResult, accounts: pd.DataFrame, territories: pd.DataFrame) -> pd.DataFrame:
    """One arc per move: from the account (old territory) to the new owner's home."""
    if not result.moves:
        return pd.DataFrame(columns=["account", "from_lon", "from_lat", "to_lon", "to_lat", "tip"])
    places = accounts.set_index("external_id")[["lon", "lat"]]
    homes = territories.set_index("external_id")[["home_lon", "home_lat", "name"]]
    moves = moves_table(result)[["account id", "to id", "reason"]]
    moves = moves.rename(columns={"account id": "account", "to id": "to"})
    frame = moves.join(places, on="account").join(homes, on="to")
    frame = frame.rename(
        columns={"lon": "from_lon", "lat": "from_lat", "home_lon": "to_lon", "home_lat": "to_lat"}
    )
    frame["tip"] = frame["account"] + " → " + frame["name"].fillna(frame["to"]) + ": " + frame["reason"]
    return frame.dropna(subset=["from_lon", "from_lat", "to_lon", "to_lat"])


def arcs_deck(arcs: pd.DataFrame, accounts: pd.DataFrame, territories: pd.DataFrame) -> pdk.Deck:
    """The moves over the ground: state outlines, today's territories (named), then the arcs; the view
    fits the territories and both ends of every arc. ``accounts`` carries ``territory`` (position)."""
    located = accounts.assign(territory_id=accounts["territory"]).dropna(subset=["lat", "lon"])
    areas = maps.territory_areas(
        located[["territory_id", "lat", "lon", *located.columns.intersection(["state"])]]
    )
    names = territories["name"].reset_index(drop=True)
    shapes = areas.shapes.assign(
        color=[[*c[:3], 70] for c in maps.territory_color(areas.shapes["territory_id"])],
        tip=areas.shapes["territory_id"].map(names).fillna(""),
    )
    corners = [point for polygon in shapes["polygon"] for point in polygon[0]]
    lon = pd.concat([located["lon"], arcs["to_lon"], pd.Series([p[0] for p in corners], dtype=float)])
    lat = pd.concat([located["lat"], arcs["to_lat"], pd.Series([p[1] for p in corners], dtype=float)])
    view = maps.fit_view(float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    labels = areas.labels.assign(
        label=areas.labels["territory_id"].map(names).fillna("").map(maps.ascii_label)
    )
    labels = geography.place_labels(labels, zoom=float(view.zoom), latitude=float(view.latitude))
    layers = [
        *maps.ground_layers(maps.ground(located), filled=maps.basemap()["map_provider"] is None),
        pdk.Layer(
            "SolidPolygonLayer",
            id="territories",
            data=shapes[["polygon", "color", "tip"]],
            get_polygon="polygon",
            get_fill_color="color",
            pickable=True,
        ),
        pdk.Layer(
            "PathLayer",
            id="territory-borders",
            data=maps.outlines_of(shapes),
            get_path="path",
            get_color=[90, 90, 90, 160],
            width_min_pixels=1,
        ),
        maps.label_layer(labels[["lon", "lat", "label"]], "territory-names"),
        pdk.Layer(
            "ArcLayer",
            id="moves",
            data=arcs,
            get_source_position="[from_lon, from_lat]",
            get_target_position="[to_lon, to_lat]",
            get_source_color=[200, 90, 60, 220],
            get_target_color=[40, 110, 160, 230],
            get_width=3,
            pickable=True,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            id="moved-accounts",
            data=arcs,
            get_position="[from_lon, from_lat]",
            get_radius=3000,
            radius_min_pixels=3,
            get_fill_color=[200, 90, 60, 220],
            pickable=True,
        ),
    ]
    return pdk.Deck(layers=layers, initial_view_state=view, tooltip=maps.TOOLTIP, **maps.basemap())


def team_summary(result: RebalanceResult) -> dict[str, str]:
    before, after = result.team_before, result.team_after
    if before is None or after is None:
        return {}
    return {
        "CV of potential": f"{before.cv:.3f} → {after.cv:.3f}",
        "max / min": f"{before.max_min_ratio:.2f} → {after.max_min_ratio:.2f}",
        "out of band": f"{before.out_of_band} → {after.out_of_band}",
        "moves": f"{len(result.moves)} ({sum(1 for m in result.moves if m.risks)} risky)",
        "optimality gap": pct(result.gap, 1),
    }


def _fixed(value: float | None, digits: int) -> str:
    return number(value, digits)


def saved_plans_table(plans: list) -> pd.DataFrame:  # type: ignore[type-arg]
    """The saved plans in words (PlanSummary rows): name, status, moves, solver, gap, created; id last."""
    return pd.DataFrame(
        [
            {
                "plan": p.name,
                "status": p.status_words,  # "scheduled for 2026-12-01"
                "moves": count(p.moves),
                "solver": solver_words(p.solver_status),
                "gap": pct(p.gap, 1),
                "created": moment_label(p.created_at),
                "plan id": p.id,
            }
            for p in plans
        ],
        columns=["plan", "status", "moves", "solver", "gap", "created", "plan id"],
    )


def compare_plans(plans: list[SavedPlan]) -> pd.DataFrame:
    """Saved plans side by side: one column per plan, one row per figure."""
    columns = {}
    for plan in plans:
        before, after = plan.team_before, plan.team_after
        columns[f"#{plan.id} {plan.name}"] = {
            "status": plan.status,
            "solver": solver_words(plan.solver_status),
            "gap": pct(plan.gap, 1),
            "moves": len(plan.moves),
            "risky moves": sum(1 for m in plan.moves if m.risks),
            "CV after": _fixed(None if after is None else after.cv, 3),
            "CV before": _fixed(None if before is None else before.cv, 3),
            "max/min after": _fixed(None if after is None else after.max_min_ratio, 2),
            "out of band after": "—" if after is None else after.out_of_band,
            "created": moment_label(plan.created_at),
        }
    return pd.DataFrame(columns).astype(str)  # one column mixes counts and words: show all as text


def frontier_frame(curve: Frontier) -> pd.DataFrame:
    """One row per budget: moves, CV, territories out of band, status and gap."""
    rows = [
        {
            "budget": p.budget,
            "moves": p.moves,
            "cv": p.cv,
            "out of band": p.out_of_band if p.out_of_band >= 0 else None,
            "max deviation": pct(p.max_deviation, 1),
            "in band": p.out_of_band == 0,
            "status": solver_words(p.status),
            "gap": pct(p.gap, 1),
        }
        for p in curve
    ]
    return pd.DataFrame(rows)


def hire_table(plan: HirePlan) -> pd.DataFrame:
    """One row per new rep: where, and what it would take."""
    return pd.DataFrame(
        [
            {
                "territory": h.territory,
                "city": f"{h.city}, {h.state}",
                "accounts taken": len(h.accounts),
                "potential taken": money(h.potential),
                "accounts": ", ".join(h.accounts[:8]) + (" …" if len(h.accounts) > 8 else ""),
            }
            for h in plan.hires
        ],
        columns=["territory", "city", "accounts taken", "potential taken", "accounts"],
    )
