"""The ground under the maps and the territory regions drawn on it, all offline.

State outlines come from the US Census Bureau's 2016 cartographic boundary file (1:500k) that the
``plotly-geo`` package ships as a shapefile; nothing is fetched at run time. The shapes are read
with a few lines of ``struct`` (a shapefile is a 100-byte header and length-prefixed records),
islands smaller than ``MIN_RING_EXTENT_DEG`` are dropped and the rings simplified to
``STATE_TOLERANCE_DEG`` (about 2 km): 294,000 points become about 11,000, read once per process in
a quarter of a second.

A territory's region is the Voronoi partition of its accounts, clipped to the states the book
covers: every place in those states belongs to the territory whose accounts are nearest. Accounts
are first pooled per raster cell (``dashboard.maps.owner_raster``: the territory with most accounts
in a cell takes it, the seed is its accounts' mean position), which bounds the number of Voronoi
seeds whatever the book's size and keeps a lone account inside another territory's cluster from
cutting an enclave. Labels sit at the pole of inaccessibility of a region's largest part and are
placed greedily, biggest potential first, dropping those that would overlap at the default zoom.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
import shapely
from shapely.ops import polylabel

STATE_FILE = "cb_2016_us_state_500k"  # inside the plotly-geo package (_plotly_geo/package_data)
STATE_TOLERANCE_DEG = 0.02
MIN_RING_EXTENT_DEG = 0.1  # width + height of an island below which it is left out
MIN_STATE_SHARE, MIN_STATE_ACCOUNTS = 0.02, 5  # without recorded states: below both, only near its points
COORD_DIGITS = 3  # about 100 m: plenty at state zoom, and a third less JSON than 4 digits
LABEL_CHAR_PX, LABEL_HEIGHT_PX, LABEL_PAD_PX = 7.0, 16.0, 6.0  # 12 px default font, with its background


# --------------------------------------------------------------------------- state outlines


@dataclass(frozen=True)
class States:
    """US states: postal code, simplified (multi)polygon and its outline rings as lon/lat lists."""

    codes: tuple[str, ...]
    shapes: np.ndarray  # shapely geometries, one per code
    rings: tuple[tuple[str, list[list[float]]], ...]  # (code, ring) for every outline ring


def _read_bytes(name: str) -> bytes:
    return (resources.files("_plotly_geo") / "package_data" / name).read_bytes()


def _shp_rings(raw: bytes) -> list[list[np.ndarray]]:
    """Per polygon record, its rings as (n, 2) lon/lat arrays (shapefile spec: parts then points)."""
    records, position = [], 100
    while position < len(raw):
        _number, words = struct.unpack(">2i", raw[position : position + 8])
        body = raw[position + 8 : position + 8 + 2 * words]
        position += 8 + 2 * words
        parts_count, points_count = struct.unpack("<2i", body[36:44])
        parts = np.frombuffer(body, "<i4", parts_count, 44).tolist() + [points_count]
        points = np.frombuffer(body, "<f8", 2 * points_count, 44 + 4 * parts_count).reshape(-1, 2)
        records.append([points[a:b] for a, b in zip(parts[:-1], parts[1:], strict=True)])
    return records


def _dbf_column(raw: bytes, column: str) -> list[str]:
    """One text column of a dBase III table (the shapefile's attributes)."""
    count, header, length = struct.unpack("<IHH", raw[4:12])
    offset, fields = 1, {}  # every record starts with a deletion flag byte
    for start in range(32, header - 1, 32):
        name = raw[start : start + 11].split(b"\0")[0].decode()
        size = raw[start + 16]
        fields[name] = (offset, size)
        offset += size
    at, size = fields[column]
    return [
        raw[header + i * length + at : header + i * length + at + size].decode().strip() for i in range(count)
    ]


@lru_cache(maxsize=1)
def us_states() -> States:
    """Every state's simplified shape and outline, from the boundary file inside plotly-geo."""
    codes = _dbf_column(_read_bytes(f"{STATE_FILE}.dbf"), "STUSPS")
    shapes, rings = [], []
    for code, parts in zip(codes, _shp_rings(_read_bytes(f"{STATE_FILE}.shp")), strict=True):
        kept = [p for p in parts if np.ptp(p[:, 0]) + np.ptp(p[:, 1]) > MIN_RING_EXTENT_DEG] or parts[:1]
        lines = shapely.simplify(
            shapely.linestrings(
                np.concatenate(kept), indices=np.repeat(np.arange(len(kept)), list(map(len, kept)))
            ),
            STATE_TOLERANCE_DEG,
            preserve_topology=False,
        )
        coords = [shapely.get_coordinates(line) for line in lines]
        coords = [c for c in coords if len(c) >= 4]
        polygons = [shapely.Polygon(c) for c in coords]
        shapes.append(shapely.make_valid(shapely.MultiPolygon(polygons)) if polygons else shapely.Polygon())
        rings += [(code, np.round(c, COORD_DIGITS).tolist()) for c in coords]
    return States(tuple(codes), np.array(shapes, dtype=object), tuple(rings))


def state_outlines(west: float, south: float, east: float, north: float) -> pd.DataFrame:
    """Outline rings (``path``) and codes of the states that reach into the box."""
    states = us_states()
    box = shapely.box(west, south, east, north)
    near = {states.codes[i] for i in np.flatnonzero(shapely.intersects(states.shapes, box))}
    return pd.DataFrame(
        [{"state": code, "path": ring} for code, ring in states.rings if code in near],
        columns=["state", "path"],
    )


def state_label_points(codes: Sequence[str]) -> pd.DataFrame:
    """A point well inside each state (its pole of inaccessibility), for the state codes."""
    states = us_states()
    index = {code: i for i, code in enumerate(states.codes)}
    rows = []
    for code in codes:
        if code in index and not states.shapes[index[code]].is_empty:
            point = polylabel(_largest_part(states.shapes[index[code]]), tolerance=0.05)
            rows.append({"state": code, "lon": round(point.x, 3), "lat": round(point.y, 3)})
    return pd.DataFrame(rows, columns=["state", "lon", "lat"])


def _largest_part(geometry: shapely.Geometry) -> shapely.Polygon:
    parts = list(getattr(geometry, "geoms", [geometry]))
    polygons = [p for p in parts if isinstance(p, shapely.Polygon) and not p.is_empty]
    return max(polygons, key=lambda p: p.area)


# --------------------------------------------------------------------------- territory regions


def covered_land(
    lon: np.ndarray, lat: np.ndarray, pad: float, states: Sequence[str] | None = None
) -> shapely.Geometry:
    """Where the regions may reach: the whole of each state the book's accounts are in (``states``, the
    accounts' recorded states; without them, the states holding at least ``MIN_STATE_SHARE`` of the
    points), plus the land within ``pad`` of any point outside those states (an account just over a
    state line does not bring in all of California); away from any state, the points' padded hull."""
    shapes = us_states()
    points = shapely.points(lon, lat)
    point_index, state_index = shapely.STRtree(shapes.shapes).query(points, predicate="intersects")
    if not len(state_index):
        return shapely.convex_hull(shapely.multipoints(np.column_stack([lon, lat]))).buffer(pad)
    if states is not None:
        whole = np.isin(np.array(shapes.codes), list(states))
    else:
        counts = np.bincount(state_index, minlength=len(shapes.codes))
        whole = counts >= max(MIN_STATE_ACCOUNTS, MIN_STATE_SHARE * len(lon))
    inside = np.zeros(len(lon), dtype=bool)
    inside[point_index[whole[state_index]]] = True
    parts = list(shapes.shapes[whole])
    if (~inside).any():
        near = shapely.union_all(shapely.buffer(points[~inside], pad))
        parts.append(shapely.intersection(near, shapely.union_all(shapes.shapes)))
    return shapely.union_all(parts)


def voronoi_regions(
    seeds: pd.DataFrame, land: shapely.Geometry, *, tolerance: float
) -> dict[int, shapely.Geometry]:
    """Territory id -> the union of its seeds' Voronoi cells, clipped to ``land`` and simplified.

    ``seeds`` holds ``territory_id``, ``lon``, ``lat`` (distinct positions).
    """
    points = shapely.multipoints(seeds[["lon", "lat"]].to_numpy())
    if len(seeds) == 1:
        return {int(seeds["territory_id"].iloc[0]): land.simplify(tolerance)}
    cells = np.array(
        shapely.get_parts(shapely.voronoi_polygons(points, extend_to=land.envelope, ordered=True)),
        dtype=object,
    )
    owners = seeds["territory_id"].astype(int).to_numpy()
    shapely.prepare(land)
    regions = {}
    for territory in np.unique(owners):
        merged = shapely.coverage_union_all(cells[owners == territory])
        clipped = shapely.intersection(shapely.make_valid(merged), land).simplify(tolerance)
        if not clipped.is_empty:
            regions[int(territory)] = clipped
    return regions


def polygon_rings(geometry: shapely.Geometry) -> list[list[list[list[float]]]]:
    """Each polygon of a (multi)polygon as [outer ring, holes...] of rounded lon/lat pairs (deck.gl)."""
    polygons = [p for p in shapely.get_parts(geometry) if isinstance(p, shapely.Polygon) and not p.is_empty]
    return [
        [np.round(np.asarray(ring.coords), COORD_DIGITS).tolist() for ring in (p.exterior, *p.interiors)]
        for p in polygons
    ]


def label_point(geometry: shapely.Geometry, tolerance: float) -> tuple[float, float]:
    """The point of the region's largest part farthest from its edges: where a label reads as 'here'."""
    point = polylabel(_largest_part(geometry), tolerance=tolerance)
    return round(point.x, 4), round(point.y, 4)


# --------------------------------------------------------------------------- label placement


def place_labels(labels: pd.DataFrame, *, zoom: float, latitude: float) -> pd.DataFrame:
    """Keep the labels that fit: greedy in the frame's order (most important first), a label is kept
    when its box at ``zoom`` overlaps no kept label's box; otherwise it is dropped (its area's tooltip
    still names it). ``labels`` has lon, lat and label columns."""
    px_per_deg = 512 * 2**zoom / 360
    x = labels["lon"].to_numpy(dtype=float) * px_per_deg
    # Web Mercator y in pixels (north up).
    y = np.degrees(np.log(np.tan(np.pi / 4 + np.radians(labels["lat"].to_numpy(dtype=float)) / 2)))
    y = y * px_per_deg
    half_w = labels["label"].str.len().to_numpy(dtype=float) * LABEL_CHAR_PX / 2 + LABEL_PAD_PX
    half_h = LABEL_HEIGHT_PX / 2 + LABEL_PAD_PX / 2
    kept: list[int] = []
    for i in range(len(labels)):
        clear = all(abs(x[i] - x[j]) >= half_w[i] + half_w[j] or abs(y[i] - y[j]) >= 2 * half_h for j in kept)
        if clear:
            kept.append(i)
    return labels.iloc[kept]
