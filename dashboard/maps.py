"""The territory map: regions, colour scales and the pydeck layers, drawn offline over US state outlines.

The ground is the states (``dashboard.geography``: Census boundaries shipped inside the plotly-geo
package), so the map needs no tile server. Territory regions are the Voronoi partition of the
accounts clipped to the states they cover: a person reads them as "the area nearest to this rep's
accounts", and neighbours in one metro never overlap. Regions depend only on where accounts are, so
they are computed once per data version (``dashboard.data.map_base``). Past ``CLUSTER_ABOVE`` located
accounts, dots are pooled per territory and cell so a 50,000-account book stays a small payload.

Streamlit draws a CARTO basemap when a deck has no ``mapStyle``; its own sentinel ``NO_BASEMAP``
makes it draw none (checked against the bundled frontend; the end-to-end test fails if the page
ever fetches anything from outside the machine). ``TERRITORY_MAP_STYLE`` turns a basemap on for
deployments with internet.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pydeck as pdk
from pydeck.bindings.json_tools import default_serialize

from core.config import get_settings
from core.format import money
from core.kpi_registry import KPIS, Good, kpi
from dashboard import geography

NO_BASEMAP = "__MAP_STYLE__"
GRID_CELLS = 140  # raster cells across the longer side of the accounts' extent
MIN_CELL_DEG, MAX_CELL_DEG = 0.04, 0.5
GROW_STEPS = 3  # cells an area reaches beyond its accounts
DENSITY_CELLS_PER_AREA_CELL = 3
DENSITY_LOW, DENSITY_HIGH = (253, 224, 178), (127, 39, 4)
MAX_ACCOUNTS_DRAWN = 8_000
CLUSTER_ABOVE = 5_000  # more located accounts than this are drawn as clusters (payload, draw time)
CLUSTER_CELLS = 2  # a cluster pools the accounts of one territory in this many raster cells across
GROUND_MARGIN_DEG = 6.0
LAND, STATE_LINE = (246, 244, 238, 255), (150, 145, 135, 220)
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


def cell_seeds(accounts: pd.DataFrame, grid: Grid) -> pd.DataFrame:
    """One Voronoi seed per raster cell: the owning territory's accounts' mean position in that cell."""
    owner = owner_raster(accounts, grid, grow=0)
    ix = ((accounts["lon"].to_numpy() - grid.lon0) / grid.cell).astype(int)
    iy = ((accounts["lat"].to_numpy() - grid.lat0) / grid.cell).astype(int)
    mine = owner[iy, ix] == accounts["territory_id"].astype(int).to_numpy()
    pooled = (
        accounts[mine]
        .assign(iy=iy[mine], ix=ix[mine], territory_id=accounts["territory_id"][mine].astype(int))
        .groupby(["iy", "ix", "territory_id"], as_index=False)[["lon", "lat"]]
        .mean()
    )
    return pooled.round({"lon": 5, "lat": 5}).drop_duplicates(["lon", "lat"])[["territory_id", "lon", "lat"]]


@dataclass(frozen=True)
class Areas:
    """Territory regions of one data version: their polygons and a point inside each for its label."""

    shapes: pd.DataFrame  # territory_id, polygon ([outer ring, holes...]; one row per part)
    labels: pd.DataFrame  # territory_id, lon, lat
    grid: Grid | None = None  # the raster the seeds were pooled on (None: no located account)


def territory_areas(accounts: pd.DataFrame) -> Areas:
    """Regions from ``accounts`` (territory_id, lat, lon, optionally state): the Voronoi partition of the
    accounts clipped to the states they are in (``dashboard.geography.covered_land``); accounts without
    coordinates or territory are left out."""
    located = accounts.dropna(subset=["territory_id", "lat", "lon"])
    if located.empty:
        return Areas(
            pd.DataFrame(columns=["territory_id", "polygon"]),
            pd.DataFrame(columns=["territory_id", "lon", "lat"]),
        )
    grid = make_grid(located["lon"].to_numpy(), located["lat"].to_numpy())
    land = geography.covered_land(
        located["lon"].to_numpy(),
        located["lat"].to_numpy(),
        pad=(GROW_STEPS + 1) * grid.cell,
        states=sorted(located["state"].dropna().unique()) if "state" in located else None,
    )
    regions = geography.voronoi_regions(cell_seeds(located, grid), land, tolerance=grid.cell / 2)
    shapes = [(t, polygon) for t, region in regions.items() for polygon in geography.polygon_rings(region)]
    labels = [(t, *geography.label_point(region, grid.cell)) for t, region in regions.items()]
    return Areas(
        pd.DataFrame(shapes, columns=["territory_id", "polygon"]),
        pd.DataFrame(labels, columns=["territory_id", "lon", "lat"]),
        grid,
    )


def outlines_of(shapes: pd.DataFrame) -> pd.DataFrame:
    """Every ring of the given region polygons as a path (the territories' outlines)."""
    return pd.DataFrame({"path": [ring for polygon in shapes["polygon"] for ring in polygon]}, dtype=object)


def _rectangle(grid: Grid, y: int, x0: int, x1: int) -> list[list[float]]:
    west, east = grid.lon0 + x0 * grid.cell, grid.lon0 + x1 * grid.cell
    south, north = grid.lat0 + y * grid.cell, grid.lat0 + (y + 1) * grid.cell
    return [
        [round(west, 4), round(south, 4)],
        [round(east, 4), round(south, 4)],
        [round(east, 4), round(north, 4)],
        [round(west, 4), round(north, 4)],
    ]


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
    drawn: int  # dots on the map: accounts, or clusters of accounts when ``clustered``
    located: int
    unlocated: int
    clustered: bool = False


def map_picture(
    base: MapBase, kpis: pd.DataFrame, metric: MapMetric, chosen: MapFilters, layers_shown: set[str]
) -> MapPicture:
    """Filter, colour and serialise the map (the costly part, so callers cache the result)."""
    book, shown = filter_book(base.dots, kpis, chosen)
    located = int(book[["lat", "lon"]].notna().all(axis=1).sum())
    clustered = located > CLUSTER_ABOVE and base.areas.grid is not None
    if clustered:
        dots = account_clusters(book, base.areas.grid, base.territories)  # type: ignore[arg-type]
    else:
        dots, _ = account_frame(book, limit=CLUSTER_ABOVE)
    owners = base.territories[base.territories["territory_id"].isin(shown["territory_id"])]
    areas = area_frames(base.areas, shown, metric)
    view = view_state(book, areas)
    deck = build_deck(
        areas=areas,
        borders=outlines_of(areas),
        dots=dots,
        reps=rep_frame(owners),
        states=state_labels(book),
        layers_shown=layers_shown,
        view=view,
        density=density_cells(book, base.areas.grid) if "Density" in layers_shown else None,
        labels=territory_labels(base.areas.labels, shown, view),
        ground=ground(book),
    )
    return MapPicture(compact_json(deck), len(shown), len(dots), located, len(book) - located, clustered)


def compact_json(deck: pdk.Deck) -> str:
    """The deck's JSON without pydeck's two-space indentation (a third of the bytes on a big book)."""
    return json.dumps(deck, sort_keys=True, default=default_serialize, separators=(",", ":"))


def account_clusters(book: pd.DataFrame, grid: Grid, territories: pd.DataFrame) -> pd.DataFrame:
    """Accounts pooled per territory and cell (``CLUSTER_CELLS`` raster cells wide): one dot each at the
    accounts' mean position, area ∝ their potential, in the territory's colour. Bounds the payload of a
    50,000-account book to a few thousand dots."""
    located = book.dropna(subset=["lat", "lon"])
    if located.empty:
        return pd.DataFrame(columns=[*ACCOUNT_COLUMNS, "potential"])
    cell = grid.cell * CLUSTER_CELLS
    pooled = (
        located.assign(
            ix=((located["lon"] - grid.lon0) // cell).astype(int),
            iy=((located["lat"] - grid.lat0) // cell).astype(int),
            territory_id=located["territory_id"].fillna(-1).astype(int),
        )
        .groupby(["iy", "ix", "territory_id"])
        .agg(lon=("lon", "mean"), lat=("lat", "mean"), potential=("potential", "sum"), n=("lon", "size"))
        .reset_index()
    )
    names = territories.set_index("territory_id")["name"]
    scale = float(np.sqrt(pooled["potential"].clip(lower=0)).max() or 1.0)
    return pd.DataFrame(
        {
            "lon": pooled["lon"].round(4),
            "lat": pooled["lat"].round(4),
            "radius": (np.sqrt(pooled["potential"].clip(lower=0)) / scale * 14000 + 1200).round(0),
            "color": territory_color(pooled["territory_id"].where(pooled["territory_id"] >= 0)),
            "tip": [
                f"{n:,} account{'s' if n != 1 else ''} of {names.get(t, 'no territory')} here\n"
                f"Potential {money(p)}"
                for n, t, p in zip(pooled["n"], pooled["territory_id"], pooled["potential"], strict=True)
            ],
            "potential": pooled["potential"].round(0),
        }
    )


def territory_labels(labels: pd.DataFrame, shown: pd.DataFrame, view: pdk.ViewState) -> pd.DataFrame:
    """Each shown territory's rep (or 'vacant') at the point inside its region, biggest potential first;
    labels that would overlap at the opening zoom are dropped (the region's tooltip still names it)."""
    ranked = shown.sort_values(["potential", "territory_id"], ascending=[False, True])
    frame = ranked[["territory_id", "rep_name", "name"]].merge(labels, on="territory_id")
    frame["label"] = frame["rep_name"].map(
        lambda n: ascii_label(n.split()[-1]) if isinstance(n, str) and n else "vacant"
    )
    placed = geography.place_labels(frame, zoom=float(view.zoom), latitude=float(view.latitude))
    return placed[["lon", "lat", "label"]].reset_index(drop=True)


def ground(book: pd.DataFrame) -> pd.DataFrame:
    """State outlines around the accounts shown (a margin past them, so the view never ends in blank)."""
    located = book.dropna(subset=["lat", "lon"])
    if located.empty:
        return geography.state_outlines(-125.0, 24.0, -66.0, 50.0)
    pad = GROUND_MARGIN_DEG
    return geography.state_outlines(
        float(located["lon"].min()) - pad,
        float(located["lat"].min()) - pad,
        float(located["lon"].max()) + pad,
        float(located["lat"].max()) + pad,
    )


def basemap() -> dict[str, str | None]:
    """Deck arguments for the ground: none (offline) unless ``TERRITORY_MAP_STYLE`` names a style."""
    style = get_settings().map_style
    if not style:
        return {"map_provider": None, "map_style": NO_BASEMAP}
    return {"map_provider": "carto", "map_style": style}


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
            "tip": [f"{r.rep_name} — home of {r.name} ({r.external_id})" for r in reps.itertuples()],
        }
    )


def state_labels(accounts: pd.DataFrame) -> pd.DataFrame:
    """The code of each state holding accounts, at a point well inside the state."""
    codes = sorted(accounts["state"].dropna().unique()) if "state" in accounts else []
    return geography.state_label_points(codes)


def view_state(accounts: pd.DataFrame, areas: pd.DataFrame | None = None) -> pdk.ViewState:
    """Centre and zoom that fit the accounts shown (1st to 99th percentile) and their regions' polygons."""
    located = accounts.dropna(subset=["lat", "lon"])
    if located.empty:
        return pdk.ViewState(latitude=39.5, longitude=-98.35, zoom=3.2)
    lat_lo, lat_hi = located["lat"].quantile([0.01, 0.99])
    lon_lo, lon_hi = located["lon"].quantile([0.01, 0.99])
    west, south, east, north = float(lon_lo), float(lat_lo), float(lon_hi), float(lat_hi)
    if areas is not None and len(areas):
        corners = np.array([point for polygon in areas["polygon"] for point in polygon[0]], dtype=float)
        west, south = min(west, corners[:, 0].min()), min(south, corners[:, 1].min())
        east, north = max(east, corners[:, 0].max()), max(north, corners[:, 1].max())
    return fit_view(west, south, east, north)


def fit_view(west: float, south: float, east: float, north: float) -> pdk.ViewState:
    """The view that shows the box in a ``MAP_WIDTH_PX`` x ``MAP_HEIGHT_PX`` chart, with a margin."""
    # Web Mercator: the world is 512 px wide at zoom 0; latitude stretches by 1 / cos(latitude).
    stretch = 1 / math.cos(math.radians((south + north) / 2))
    fit_width = math.log2(360 * MAP_WIDTH_PX / (512 * max(east - west, 0.2)))
    fit_height = math.log2(360 * MAP_HEIGHT_PX / (512 * max(north - south, 0.2) * stretch))
    zoom = float(np.clip(min(fit_width, fit_height) - 0.35, 2.5, 11))
    return pdk.ViewState(latitude=(south + north) / 2, longitude=(west + east) / 2, zoom=zoom)


def ground_layers(ground: pd.DataFrame, *, filled: bool) -> list[pdk.Layer]:
    """The states: a pale land fill (unless a basemap draws the ground) and their outlines."""
    layers = []
    if filled:
        layers.append(
            pdk.Layer(
                "SolidPolygonLayer",
                id="state-land",
                data=ground[["path"]],
                get_polygon="path",
                get_fill_color=LAND,
                filled=True,
                pickable=False,
            )
        )
    layers.append(
        pdk.Layer(
            "PathLayer",
            id="state-outlines",
            data=ground[["path"]],
            get_path="path",
            get_color=STATE_LINE,
            width_min_pixels=1,
            get_width=1,
            pickable=False,
        )
    )
    return layers


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
    labels: pd.DataFrame | None = None,
    ground: pd.DataFrame | None = None,
) -> pdk.Deck:
    """The map: state outlines, then the chosen layers, one text tooltip for every pickable layer."""
    ground_frame = ground if ground is not None else pd.DataFrame(columns=["state", "path"])
    style = basemap()
    layers = ground_layers(ground_frame, filled=style["map_provider"] is None)
    layers.append(
        pdk.Layer(
            "TextLayer",
            id="states",
            data=states,
            get_position="[lon, lat]",
            get_text="state",
            get_size=18,
            get_color=[120, 115, 105, 120],
        )
    )
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
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                id="rep-homes",
                data=reps,
                get_position="[lon, lat]",
                get_radius=1,
                radius_min_pixels=5,
                get_fill_color=[255, 255, 255, 255],
                get_line_color=[30, 30, 30, 255],
                line_width_min_pixels=2,
                stroked=True,
                pickable=True,
            )
        )
    if labels is not None and ("Territories" in layers_shown or "Rep homes" in layers_shown):
        layers.append(label_layer(labels))
    return pdk.Deck(layers=layers, initial_view_state=view, tooltip=TOOLTIP, **style)


def label_layer(labels: pd.DataFrame, layer_id: str = "rep-names") -> pdk.Layer:
    """Territory labels on a white chip. Default font only: a custom font family or weight renders blank
    on software WebGL."""
    return pdk.Layer(
        "TextLayer",
        id=layer_id,
        data=labels,
        get_position="[lon, lat]",
        get_text="label",
        get_size=12,
        get_color=[25, 25, 25, 255],
        background=True,
        get_background_color=[255, 255, 255, 220],
        background_padding=[3, 1, 3, 1],
    )


def ascii_label(text: str) -> str:
    """The label as deck.gl's default font atlas draws it (ASCII only: "NV · Reno" -> "NV - Reno",
    "Muñoz" -> "Munoz"); a wider character set renders the whole map blank on software WebGL."""
    plain = unicodedata.normalize("NFKD", text.replace("·", "-")).encode("ascii", "ignore").decode()
    return " ".join(plain.split())
