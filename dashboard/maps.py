"""The territory map: areas, colour scales and the pydeck layers (no basemap, so it draws offline).

Territory areas are drawn from the accounts themselves, with no boundary files: a lon/lat raster
over the book, each cell owned by the territory with most accounts in it, then grown a few cells
into empty neighbours — a nearest-territory partition around where the accounts are. Unlike
convex hulls, areas of territories that share a metro do not overlap, and a territory spread over
two cities gets two blobs instead of a sliver across the desert. Cells merge into horizontal runs
(few shapes), and the edges where the owner changes are the outlines. Areas depend only on where
accounts are, so they are computed once per data version (``dashboard.data.map_areas``).

Streamlit draws a CARTO basemap when a deck has no ``mapStyle``; its own sentinel
``NO_BASEMAP`` makes it draw none (checked against the bundled frontend; the end-to-end test
fails if the page ever fetches anything from outside the machine).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pydeck as pdk

from core.format import money
from core.kpi_registry import KPIS, Good, kpi

NO_BASEMAP = "__MAP_STYLE__"
GRID_CELLS = 140  # raster cells across the longer side of the accounts' extent
MIN_CELL_DEG, MAX_CELL_DEG = 0.04, 0.5
GROW_STEPS = 3  # cells an area reaches beyond its accounts
DENSITY_CELLS_PER_AREA_CELL = 3
DENSITY_LOW, DENSITY_HIGH = (253, 224, 178), (127, 39, 4)
MAX_ACCOUNTS_DRAWN = 8_000
MAP_WIDTH_PX, MAP_HEIGHT_PX = 1000, 620  # the view fits the accounts into about this much chart
ACCOUNT_COLUMNS = ["lon", "lat", "radius", "color", "tip"]
TOOLTIP = {"text": "{tip}"}  # every pickable layer carries its own ready-made ``tip`` line

# Diverging scale: blue, neutral sand, vermilion (colour-blind safe); vermilion marks the problem end.
LOW = (33, 102, 172)
MID = (247, 244, 236)
HIGH = (202, 76, 36)
TERRITORY_PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (57, 59, 121),
    (173, 73, 74),
)


@dataclass(frozen=True)
class MapMetric:
    """How one KPI colours the territories: its column, the neutral value and the spread to either end.

    Its label, format and which end is the problem come from the KPI registry: a KPI that is better
    higher (coverage, drift) draws its low end as the problem (vermilion).
    """

    column: str
    centre: float
    spread: float
    low_means: str
    high_means: str

    @property
    def key(self) -> str:
        return self.column

    @property
    def label(self) -> str:
        return KPIS[self.column].label

    def format(self, value: float | None) -> str:
        return KPIS[self.column].text(value)

    @property
    def low_is_bad(self) -> bool:
        return KPIS[self.column].good == Good.HIGHER


MAP_METRICS: dict[str, MapMetric] = {
    "potential_index": MapMetric("potential_index", 1.0, 0.5, "under-potential", "over-potential"),
    "coverage": MapMetric("coverage", 0.70, 0.30, "under-covered", "well covered"),
    "drift": MapMetric("drift", 0.0, 20.0, "falling behind pace", "pulling ahead"),
    "workload_index": MapMetric("workload_index", 1.0, 0.5, "light book", "heavy book"),
}
TIP_LINES = (
    ("potential", "potential_index", "accounts"),
    ("coverage", "drift", "workload_index"),
    ("health",),
)


def kpi_line(row: Any, keys: tuple[str, ...]) -> str:
    """KPIs of a territory row in words: "Potential $4.2M · Index 1.22 · Accounts 38"."""
    return " · ".join(f"{kpi(k).heading} {kpi(k).text(getattr(row, k))}" for k in keys)


# --------------------------------------------------------------------------- areas


@dataclass(frozen=True)
class Grid:
    """A lon/lat raster over the accounts: origin, cell size in degrees, shape (rows, columns)."""

    lon0: float
    lat0: float
    cell: float
    rows: int
    cols: int


def make_grid(lon: np.ndarray, lat: np.ndarray) -> Grid:
    """About ``GRID_CELLS`` cells across the longer side, padded by the growth radius."""
    span = max(float(np.ptp(lon)), float(np.ptp(lat)), 0.5)
    cell = float(np.clip(span / GRID_CELLS, MIN_CELL_DEG, MAX_CELL_DEG))
    pad = (GROW_STEPS + 1) * cell
    lon0, lat0 = float(lon.min()) - pad, float(lat.min()) - pad
    cols = int(np.ceil((float(lon.max()) + pad - lon0) / cell)) + 1
    rows = int(np.ceil((float(lat.max()) + pad - lat0) / cell)) + 1
    return Grid(lon0, lat0, cell, rows, cols)


def owner_raster(accounts: pd.DataFrame, grid: Grid, grow: int = GROW_STEPS) -> np.ndarray:
    """Territory id per cell: the territory with most accounts in the cell, then grown into empty
    neighbouring cells ``grow`` times (a nearest-territory partition around the accounts); -1 = nobody."""
    ix = ((accounts["lon"].to_numpy() - grid.lon0) / grid.cell).astype(int)
    iy = ((accounts["lat"].to_numpy() - grid.lat0) / grid.cell).astype(int)
    counts = pd.DataFrame(
        {"iy": iy, "ix": ix, "t": accounts["territory_id"].astype(int).to_numpy()}
    ).value_counts()
    majority = counts.reset_index().sort_values(
        ["iy", "ix", "count", "t"], ascending=[True, True, False, True]
    )
    majority = majority.drop_duplicates(["iy", "ix"])
    owner = np.full((grid.rows, grid.cols), -1, dtype=np.int64)
    owner[majority["iy"].to_numpy(), majority["ix"].to_numpy()] = majority["t"].to_numpy()
    for step in range(grow):
        owner = _grow(owner, diagonal=step % 2 == 1)
    return owner


def _grow(owner: np.ndarray, *, diagonal: bool) -> np.ndarray:
    """Empty cells next to an owned cell take its owner (4- and 8-neighbourhoods alternate: round blobs)."""
    shifts = [(0, 1), (0, -1), (1, 0), (-1, 0)] + ([(1, 1), (1, -1), (-1, 1), (-1, -1)] if diagonal else [])
    grown = owner.copy()
    padded = np.pad(owner, 1, constant_values=-1)
    rows, cols = owner.shape
    for dy, dx in shifts:
        neighbour = padded[1 + dy : 1 + dy + rows, 1 + dx : 1 + dx + cols]
        take = (grown == -1) & (neighbour != -1)
        grown[take] = neighbour[take]
    return grown


def area_polygons(owner: np.ndarray, grid: Grid) -> pd.DataFrame:
    """One rectangle per horizontal run of cells with the same owner (far fewer shapes than cells)."""
    rows = []
    for y in range(grid.rows):
        line = owner[y]
        starts = np.flatnonzero(np.diff(np.concatenate([[-2], line])) != 0)
        ends = np.concatenate([starts[1:], [len(line)]])
        for x0, x1 in zip(starts, ends, strict=True):
            if line[x0] != -1:
                rows.append((int(line[x0]), _rectangle(grid, y, int(x0), int(x1))))
    return pd.DataFrame(rows, columns=["territory_id", "polygon"])


def _rectangle(grid: Grid, y: int, x0: int, x1: int) -> list[list[float]]:
    west, east = grid.lon0 + x0 * grid.cell, grid.lon0 + x1 * grid.cell
    south, north = grid.lat0 + y * grid.cell, grid.lat0 + (y + 1) * grid.cell
    return [
        [round(west, 4), round(south, 4)],
        [round(east, 4), round(south, 4)],
        [round(east, 4), round(north, 4)],
        [round(west, 4), round(north, 4)],
    ]


def area_borders(owner: np.ndarray, grid: Grid) -> pd.DataFrame:
    """Cell edges where the owner changes: the outlines of every territory (one segment per edge)."""
    padded = np.pad(owner, 1, constant_values=-1)
    vertical = np.argwhere(
        (padded[:, :-1] != padded[:, 1:]) & ((padded[:, :-1] != -1) | (padded[:, 1:] != -1))
    )
    horizontal = np.argwhere(
        (padded[:-1, :] != padded[1:, :]) & ((padded[:-1, :] != -1) | (padded[1:, :] != -1))
    )
    # A padded index j is the edge on the west (south) side of original cell j.
    lon = lambda j: round(grid.lon0 + j * grid.cell, 4)  # noqa: E731
    lat = lambda i: round(grid.lat0 + i * grid.cell, 4)  # noqa: E731
    segments = [[[lon(x), lat(y - 1)], [lon(x), lat(y)]] for y, x in vertical]
    segments += [[[lon(x - 1), lat(y)], [lon(x), lat(y)]] for y, x in horizontal]
    sides = (
        np.concatenate(
            [
                np.column_stack(
                    [padded[vertical[:, 0], vertical[:, 1]], padded[vertical[:, 0], vertical[:, 1] + 1]]
                ),
                np.column_stack(
                    [
                        padded[horizontal[:, 0], horizontal[:, 1]],
                        padded[horizontal[:, 0] + 1, horizontal[:, 1]],
                    ]
                ),
            ]
        )
        if len(segments)
        else np.empty((0, 2), dtype=np.int64)
    )
    return pd.DataFrame({"path": segments, "a": sides[:, 0], "b": sides[:, 1]})


def borders_of(borders: pd.DataFrame, territory_ids: pd.Series) -> pd.DataFrame:
    """The outline segments touching any of ``territory_ids``."""
    keep = borders["a"].isin(territory_ids) | borders["b"].isin(territory_ids)
    return borders.loc[keep, ["path"]]


@dataclass(frozen=True)
class Areas:
    """Territory areas of one data version: filled shapes per territory and their outlines."""

    shapes: pd.DataFrame  # territory_id, polygon
    borders: pd.DataFrame  # path (two points), a and b: the owners either side (-1 nobody)
    grid: Grid | None = None  # the raster they were drawn on (None: no located account)


def territory_areas(accounts: pd.DataFrame) -> Areas:
    """Areas from ``accounts`` (territory_id, lat, lon); accounts without coordinates or territory skip."""
    located = accounts.dropna(subset=["territory_id", "lat", "lon"])
    if located.empty:
        return Areas(
            pd.DataFrame(columns=["territory_id", "polygon"]), pd.DataFrame(columns=["path", "a", "b"])
        )
    grid = make_grid(located["lon"].to_numpy(), located["lat"].to_numpy())
    owner = owner_raster(located, grid)
    return Areas(area_polygons(owner, grid), area_borders(owner, grid), grid)


def density_cells(dots: pd.DataFrame, grid: Grid | None) -> pd.DataFrame:
    """Potential summed per cell of a raster three times as coarse as the areas', on a sequential scale.

    Aggregated here, not by deck.gl's Hexagon/Heatmap layers: those draw nothing on software WebGL.
    """
    located = dots.dropna(subset=["lat", "lon"])
    if grid is None or located.empty:
        return pd.DataFrame(columns=["polygon", "color", "tip"])
    cell = grid.cell * DENSITY_CELLS_PER_AREA_CELL
    ix = ((located["lon"] - grid.lon0) // cell).astype(int)
    iy = ((located["lat"] - grid.lat0) // cell).astype(int)
    bins = located.groupby([iy, ix])["potential"].agg(["sum", "size"]).reset_index()
    bins.columns = ["iy", "ix", "potential", "accounts"]
    share = bins["potential"].rank(pct=True).to_numpy()
    coarse = Grid(grid.lon0, grid.lat0, cell, 0, 0)
    return pd.DataFrame(
        {
            "polygon": [
                _rectangle(coarse, int(y), int(x), int(x) + 1)
                for y, x in zip(bins["iy"], bins["ix"], strict=True)
            ],
            "color": [[*_blend(DENSITY_LOW, DENSITY_HIGH, t), int(60 + 150 * t)] for t in share],
            "tip": [
                f"Potential density: {money(p)} in {n} account{'s' if n != 1 else ''} here"
                for p, n in zip(bins["potential"], bins["accounts"], strict=True)
            ],
        }
    )


def _blend(low: tuple[int, int, int], high: tuple[int, int, int], t: float) -> list[int]:
    return [int(round(a + (b - a) * t)) for a, b in zip(low, high, strict=True)]


# --------------------------------------------------------------------------- colours


def diverging_color(values: pd.Series, metric: MapMetric, alpha: int = 150) -> list[list[int]]:
    """RGBA per value on the metric's diverging scale; unknown values are grey.

    Vermilion always marks the problem end: high for the indices (over-loaded), low for coverage
    and drift (under-covered, falling behind); blue the other end, sand the neutral value.
    """
    t = ((values.astype(float) - metric.centre) / metric.spread).clip(-1, 1)
    if metric.low_is_bad:
        t = -t
    low, mid, high = (np.array(c, dtype=float) for c in (LOW, MID, HIGH))
    colors = []
    for x in t.to_numpy():
        if np.isnan(x):
            colors.append([190, 190, 190, alpha // 2])
            continue
        end = high if x >= 0 else low
        rgb = mid + (end - mid) * abs(x)
        colors.append([int(round(c)) for c in rgb] + [alpha])
    return colors


def legend_html(metric: MapMetric) -> str:
    """A gradient bar with the scale's ends and middle in the metric's own units."""
    low, high = metric.centre - metric.spread, metric.centre + metric.spread
    ends = (HIGH, LOW) if metric.low_is_bad else (LOW, HIGH)
    gradient = f"rgb{ends[0]}, rgb{MID}, rgb{ends[1]}"
    return (
        '<div class="th-legend" style="font-size:0.85rem;line-height:1.3;max-width:520px">'
        f'<div style="font-weight:600;margin-bottom:4px">{metric.label}</div>'
        f'<div style="height:12px;border-radius:3px;background:linear-gradient(90deg,{gradient});'
        'border:1px solid #d0ccc0"></div>'
        '<div style="display:flex;justify-content:space-between;color:#555">'
        f"<span>≤ {metric.format(low)} · {metric.low_means}</span><span>{metric.format(metric.centre)}</span>"
        f"<span>{metric.high_means} · ≥ {metric.format(high)}</span></div></div>"
    )


def territory_color(territory_ids: pd.Series) -> list[list[int]]:
    return [
        list(TERRITORY_PALETTE[int(t) % len(TERRITORY_PALETTE)]) + [210]
        if pd.notna(t)
        else [120, 120, 120, 160]
        for t in territory_ids
    ]


# --------------------------------------------------------------------------- layers


def area_frames(areas: Areas, kpis: pd.DataFrame, metric: MapMetric) -> pd.DataFrame:
    """Area shapes of the territories in ``kpis``, coloured by the metric, with their tooltips."""
    tips = pd.Series(
        [territory_tip(r, metric) for r in kpis.itertuples()], index=kpis["territory_id"].to_numpy()
    )
    colors = pd.Series(diverging_color(kpis[metric.column], metric), index=kpis["territory_id"].to_numpy())
    shapes = areas.shapes[areas.shapes["territory_id"].isin(kpis["territory_id"])]
    return pd.DataFrame(
        {
            "polygon": shapes["polygon"].to_numpy(),
            "color": shapes["territory_id"].map(colors).to_numpy(),
            "tip": shapes["territory_id"].map(tips).to_numpy(),
        }
    )


def territory_tip(r, metric: MapMetric) -> str:  # type: ignore[no-untyped-def]
    owner = r.rep_name if isinstance(r.rep_name, str) else "vacant"
    lines = [
        f"{r.name} ({r.external_id}) · {owner}",
        f"{metric.label}: {metric.format(getattr(r, metric.column))}",
    ]
    return "\n".join(lines + [kpi_line(r, keys) for keys in TIP_LINES])


def account_dots(accounts: pd.DataFrame) -> pd.DataFrame:
    """Every account as a dot (area ∝ potential, colour = territory, a tooltip), with the filter columns.

    Accounts without coordinates stay in (for the counts) with NaN positions.
    """
    potential = accounts["potential"].clip(lower=0).fillna(0.0)
    scale = float(np.sqrt(potential).max() or 1.0)
    return pd.DataFrame(
        {
            "lon": accounts["lon"].round(4),
            "lat": accounts["lat"].round(4),
            "radius": (np.sqrt(potential) / scale * 9000 + 900).round(0),
            "color": territory_color(accounts["territory_id"]),
            "tip": [
                f"{r.name}\n{r.territory_name} · {r.rep_name if isinstance(r.rep_name, str) else 'vacant'}\n"
                f"{kpi_line(r, ('potential', 'revenue_ttm'))}\n"
                f"{r.industry or '—'} · {r.segment or '—'} · {r.state or '—'}"
                for r in accounts.itertuples()
            ],
            "potential": potential.round(0),
            "territory_id": accounts["territory_id"],
            "state": accounts["state"],
            "segment": accounts["segment"],
            "industry": accounts["industry"],
        },
        index=accounts.index,
    )


def account_frame(dots: pd.DataFrame, *, limit: int = MAX_ACCOUNTS_DRAWN) -> tuple[pd.DataFrame, int]:
    """The located dots to draw (the largest ``limit`` by potential when more) and how many are located."""
    located = dots.dropna(subset=["lat", "lon"])
    total = len(located)
    if total > limit:
        located = located.nlargest(limit, "potential")
    return located[[*ACCOUNT_COLUMNS, "potential"]], total


@dataclass(frozen=True)
class MapBase:
    """What the map needs of one data version, built once: areas, dots for every account, owners."""

    areas: Areas
    dots: pd.DataFrame
    territories: pd.DataFrame


@dataclass(frozen=True)
class MapFilters:
    """The filter choices (empty tuple: everything). Hashable, so it can key a cache."""

    region: tuple[str, ...] = ()
    state: tuple[str, ...] = ()
    segment: tuple[str, ...] = ()
    industry: tuple[str, ...] = ()


def filter_book(
    dots: pd.DataFrame, kpis: pd.DataFrame, chosen: MapFilters
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accounts that pass every filter, and the territories they belong to."""
    if chosen.region:
        kpis = kpis[kpis["region"].isin(chosen.region)]
        dots = dots[dots["territory_id"].isin(kpis["territory_id"])]
    for column in ("state", "segment", "industry"):
        if getattr(chosen, column):
            dots = dots[dots[column].isin(getattr(chosen, column))]
    return dots, kpis[kpis["territory_id"].isin(dots["territory_id"])]


@dataclass(frozen=True)
class MapPicture:
    """A map ready to draw: the deck's JSON and the counts its caption reports."""

    json: str
    territories: int
    drawn: int
    located: int
    unlocated: int


def map_picture(
    base: MapBase, kpis: pd.DataFrame, metric: MapMetric, chosen: MapFilters, layers_shown: set[str]
) -> MapPicture:
    """Filter, colour and serialise the map (the costly part, so callers cache the result)."""
    book, shown = filter_book(base.dots, kpis, chosen)
    dots, located = account_frame(book)
    owners = base.territories[base.territories["territory_id"].isin(shown["territory_id"])]
    deck = build_deck(
        areas=area_frames(base.areas, shown, metric),
        borders=borders_of(base.areas.borders, shown["territory_id"]),
        dots=dots,
        reps=rep_frame(owners),
        states=state_labels(book),
        layers_shown=layers_shown,
        view=view_state(book),
        density=density_cells(book, base.areas.grid) if "Density" in layers_shown else None,
    )
    return MapPicture(deck.to_json(), len(shown), len(dots), located, len(book) - located)


class PrebuiltDeck(pdk.Deck):
    """A deck whose JSON was built (and cached) earlier: ``st.pydeck_chart`` only calls ``to_json``."""

    def __init__(self, spec: str) -> None:
        super().__init__(layers=[], map_provider=None, map_style=NO_BASEMAP, tooltip=TOOLTIP)
        self._spec = spec

    def to_json(self) -> str:  # type: ignore[override]
        return self._spec


def rep_frame(territories: pd.DataFrame) -> pd.DataFrame:
    reps = territories.dropna(subset=["home_lat", "home_lon"])
    return pd.DataFrame(
        {
            "lon": reps["home_lon"].round(4),
            "lat": reps["home_lat"].round(4),
            "label": reps["rep_name"].map(lambda n: n.split()[-1] if isinstance(n, str) else ""),
            "tip": [f"{r.rep_name} — home of {r.name} ({r.external_id})" for r in reps.itertuples()],
        }
    )


def state_labels(accounts: pd.DataFrame) -> pd.DataFrame:
    """Each state's code at the middle of its accounts: the only geography a map without basemap shows."""
    located = accounts.dropna(subset=["lat", "lon", "state"])
    box = located.groupby("state")[["lon", "lat"]].agg(["min", "max"])
    middle = pd.DataFrame(
        {
            "lon": (box["lon"]["min"] + box["lon"]["max"]) / 2,
            "lat": (box["lat"]["min"] + box["lat"]["max"]) / 2,
        }
    ).round(3)
    return middle.reset_index()


def view_state(accounts: pd.DataFrame) -> pdk.ViewState:
    """Centre and zoom that fit the accounts shown."""
    located = accounts.dropna(subset=["lat", "lon"])
    if located.empty:
        return pdk.ViewState(latitude=39.5, longitude=-98.35, zoom=3.2)
    lat_lo, lat_hi = located["lat"].quantile([0.01, 0.99])
    lon_lo, lon_hi = located["lon"].quantile([0.01, 0.99])
    # Web Mercator: the world is 512 px wide at zoom 0; latitude stretches by 1 / cos(latitude).
    stretch = 1 / math.cos(math.radians(float((lat_lo + lat_hi) / 2)))
    fit_width = math.log2(360 * MAP_WIDTH_PX / (512 * max(lon_hi - lon_lo, 0.2)))
    fit_height = math.log2(360 * MAP_HEIGHT_PX / (512 * max(lat_hi - lat_lo, 0.2) * stretch))
    zoom = float(np.clip(min(fit_width, fit_height) - 0.35, 2.5, 11))
    return pdk.ViewState(
        latitude=float((lat_lo + lat_hi) / 2), longitude=float((lon_lo + lon_hi) / 2), zoom=zoom
    )


def build_deck(
    *,
    areas: pd.DataFrame,
    borders: pd.DataFrame,
    dots: pd.DataFrame,
    reps: pd.DataFrame,
    states: pd.DataFrame,
    layers_shown: set[str],
    view: pdk.ViewState,
    density: pd.DataFrame | None = None,
) -> pdk.Deck:
    """The map: chosen layers over no basemap, one text tooltip for every pickable layer."""
    layers = [
        pdk.Layer(
            "TextLayer",
            id="states",
            data=states,
            get_position="[lon, lat]",
            get_text="state",
            get_size=18,
            get_color=[120, 115, 105, 120],
        )
    ]
    if "Territories" in layers_shown:
        layers += [
            pdk.Layer(
                "SolidPolygonLayer",
                id="territories",
                data=areas,
                get_polygon="polygon",
                get_fill_color="color",
                filled=True,
                pickable=True,
            ),
            pdk.Layer(
                "PathLayer",
                id="territory-borders",
                data=borders,
                get_path="path",
                get_color=[60, 60, 60, 190],
                width_min_pixels=1,
                get_width=1,
                pickable=False,
            ),
        ]
    if "Density" in layers_shown and density is not None:
        layers.append(
            pdk.Layer(
                "SolidPolygonLayer",
                id="density",
                data=density,
                get_polygon="polygon",
                get_fill_color="color",
                filled=True,
                pickable=True,
            )
        )
    if "Accounts" in layers_shown:
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                id="accounts",
                data=dots[ACCOUNT_COLUMNS],
                get_position="[lon, lat]",
                get_radius="radius",
                get_fill_color="color",
                radius_min_pixels=1.5,
                radius_max_pixels=14,
                stroked=False,
                pickable=True,
            )
        )
    if "Rep homes" in layers_shown:
        layers += [
            pdk.Layer(
                "ScatterplotLayer",
                id="rep-homes",
                data=reps,
                get_position="[lon, lat]",
                get_radius=1,
                radius_min_pixels=6,
                get_fill_color=[255, 255, 255, 255],
                get_line_color=[30, 30, 30, 255],
                line_width_min_pixels=2.5,
                stroked=True,
                pickable=True,
            ),
            # Default font only: a custom font family or weight renders blank on software WebGL.
            pdk.Layer(
                "TextLayer",
                id="rep-names",
                data=reps,
                get_position="[lon, lat]",
                get_text="label",
                get_size=12,
                get_color=[25, 25, 25, 255],
                get_pixel_offset=[0, -17],
                background=True,
                get_background_color=[255, 255, 255, 210],
                background_padding=[3, 1, 3, 1],
            ),
        ]
    return pdk.Deck(
        layers=layers, initial_view_state=view, map_provider=None, map_style=NO_BASEMAP, tooltip=TOOLTIP
    )
