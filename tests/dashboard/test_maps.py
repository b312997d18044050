"""The map's pure parts: territory areas from accounts, outlines, colour scales, the view."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import geography, maps
from dashboard.maps import HIGH, LOW, MAP_METRICS, MID, Grid


def accounts(rows: list[tuple[int, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["territory_id", "lon", "lat"])


UNIT = Grid(lon0=0.0, lat0=0.0, cell=1.0, rows=5, cols=5)


def test_a_cell_belongs_to_the_territory_with_most_accounts_in_it():
    """Cell (1, 1) holds two accounts of territory 7 and one of 9: it is 7's; (3, 3) holds one of 9."""
    book = accounts([(7, 1.2, 1.2), (7, 1.8, 1.5), (9, 1.5, 1.1), (9, 3.5, 3.5)])
    owner = maps.owner_raster(book, UNIT, grow=0)
    assert owner[1, 1] == 7
    assert owner[3, 3] == 9
    assert (owner == -1).sum() == 23


def test_ties_go_to_the_lower_territory_id_so_areas_are_deterministic():
    book = accounts([(9, 2.5, 2.5), (4, 2.4, 2.6)])
    assert maps.owner_raster(book, UNIT, grow=0)[2, 2] == 4


def test_areas_grow_into_empty_neighbours_but_never_over_owned_cells():
    """One growth step (4-neighbourhood) around a seed at (2, 2): a plus sign of five cells."""
    owner = maps.owner_raster(accounts([(1, 2.5, 2.5)]), UNIT, grow=1)
    assert sorted(map(tuple, np.argwhere(owner == 1))) == [(1, 2), (2, 1), (2, 2), (2, 3), (3, 2)]
    two = maps.owner_raster(accounts([(1, 1.5, 2.5), (2, 3.5, 2.5)]), UNIT, grow=1)
    assert two[2, 1] == 1 and two[2, 3] == 2  # each seed keeps its own cell
    assert two[2, 2] in (1, 2)  # the cell between them goes to one of them, not both


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 4), st.floats(-120, -100), st.floats(30, 45)), min_size=1, max_size=60)
)
def test_every_located_account_sits_in_a_cell_that_is_owned(rows):
    """Whatever the book, each account's own cell is owned (by its territory or a co-located one)."""
    book = accounts(rows)
    grid = maps.make_grid(book["lon"].to_numpy(), book["lat"].to_numpy())
    owner = maps.owner_raster(book, grid)
    ix = ((book["lon"] - grid.lon0) / grid.cell).astype(int)
    iy = ((book["lat"] - grid.lat0) / grid.cell).astype(int)
    cell_owner = owner[iy, ix]
    assert (cell_owner != -1).all()
    assert set(cell_owner) <= set(book["territory_id"])


def test_no_located_account_means_no_area():
    areas = maps.territory_areas(pd.DataFrame({"territory_id": [1.0], "lon": [None], "lat": [None]}))
    assert areas.shapes.empty and areas.labels.empty


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        ("potential_index", 1.0, MID),
        ("potential_index", 1.5, HIGH),  # over-potential: the problem end
        ("potential_index", 2.7, HIGH),  # clipped
        ("potential_index", 0.5, LOW),
        ("coverage", 0.70, MID),
        ("coverage", 0.40, HIGH),  # under-covered is the problem: vermilion
        ("coverage", 1.00, LOW),
        ("drift", -20.0, HIGH),
        ("drift", 25.0, LOW),
        ("workload_index", 1.5, HIGH),
    ],
)
def test_diverging_scale_ends_and_middle(metric, value, expected):
    assert maps.diverging_color(pd.Series([value]), MAP_METRICS[metric])[0][:3] == list(expected)


def test_half_way_is_half_way_between_neutral_and_the_end():
    colour = maps.diverging_color(pd.Series([1.25]), MAP_METRICS["potential_index"])[0]
    assert colour[:3] == [round((m + h) / 2) for m, h in zip(MID, HIGH, strict=True)]


def test_unknown_values_are_grey():
    assert maps.diverging_color(pd.Series([float("nan")]), MAP_METRICS["drift"])[0][:3] == [190, 190, 190]


def test_legend_names_both_ends_in_the_metrics_units():
    html = maps.legend_html(MAP_METRICS["coverage"])
    assert "≤ 40% · under-covered" in html and "well covered · ≥ 100%" in html


def test_only_the_largest_accounts_are_drawn_past_the_limit():
    book = pd.DataFrame(
        {
            "lat": [35.0] * 10,
            "lon": [-110.0] * 10,
            "potential": np.arange(10) * 1000.0,
            "territory_id": [1] * 10,
            "name": list("abcdefghij"),
            "territory_name": "T",
            "rep_name": "R",
            "revenue_ttm": 0.0,
            "industry": "x",
            "segment": "y",
            "state": "AZ",
        }
    )
    book.loc[0, ["lat", "lon"]] = None  # not located: neither drawn nor counted as located
    dots, located = maps.account_frame(maps.account_dots(book), limit=3)
    assert located == 9
    assert sorted(dots["potential"]) == [7000.0, 8000.0, 9000.0]
    assert dots["tip"].iloc[0].startswith("j\nT · R\nPotential $9.0K")


def test_the_view_fits_the_accounts():
    book = pd.DataFrame({"lat": [31.0, 42.0], "lon": [-120.0, -103.0]})
    view = maps.view_state(book)
    visible_lon = 360 * maps.MAP_WIDTH_PX / (512 * 2**view.zoom)
    visible_lat = 360 * maps.MAP_HEIGHT_PX / (512 * 2**view.zoom) * math.cos(math.radians(view.latitude))
    assert visible_lon >= 17 * 0.98 and visible_lat >= 11 * 0.98
    assert -120 < view.longitude < -103 and 31 < view.latitude < 42


def test_the_deck_has_no_basemap():
    deck = maps.build_deck(
        areas=pd.DataFrame(columns=["polygon", "color", "tip"]),
        borders=pd.DataFrame(columns=["path"]),
        dots=pd.DataFrame(columns=[*maps.ACCOUNT_COLUMNS, "potential"]),
        reps=pd.DataFrame(columns=["lon", "lat", "label", "tip"]),
        states=pd.DataFrame(columns=["state", "lon", "lat"]),
        layers_shown={"Territories"},
        view=maps.view_state(pd.DataFrame(columns=["lat", "lon"])),
    )
    spec = deck.to_json()
    assert '"mapStyle": "__MAP_STYLE__"' in spec and "mapProvider" not in spec


def test_density_cells_sum_the_potential_of_their_accounts():
    """Cells are three area cells wide: (0.5, 0.5) and (1.5, 1.5) share one, (3.5, 0.5) is in the next."""
    dots = pd.DataFrame(
        {"lon": [0.5, 1.5, 3.5, None], "lat": [0.5, 1.5, 0.5, 0.0], "potential": [100.0, 50.0, 10.0, 999.0]}
    )
    cells = maps.density_cells(dots, Grid(lon0=0.0, lat0=0.0, cell=1.0, rows=4, cols=4))
    assert len(cells) == 2
    assert cells["polygon"].iloc[0] == [[0.0, 0.0], [3.0, 0.0], [3.0, 3.0], [0.0, 3.0]]
    assert cells["tip"].tolist() == [
        "Potential density: $150 in 2 accounts here",
        "Potential density: $10 in 1 account here",
    ]
    assert cells["color"].iloc[0][:3] == list(maps.DENSITY_HIGH)  # the densest cell is the darkest


# --------------------------------------------------------------------------- ground and regions

PHOENIX, TUCSON, ALBUQUERQUE = (-112.07, 33.45), (-110.97, 32.22), (-106.65, 35.08)


def test_state_outlines_ship_with_a_package_and_are_simplified():
    states = geography.us_states()
    assert {"AZ", "NM", "CA", "HI", "DC"} <= set(states.codes)
    arizona = states.shapes[states.codes.index("AZ")]
    assert arizona.contains(shapely.Point(*PHOENIX)) and not arizona.contains(shapely.Point(*ALBUQUERQUE))
    assert 5_000 < sum(len(ring) for _, ring in states.rings) < 20_000  # 294,000 points in the file


def test_the_ground_is_the_states_around_the_box():
    outlines = geography.state_outlines(-112.5, 33.0, -111.5, 34.0)  # around Phoenix
    assert set(outlines["state"]) == {"AZ"}
    assert all(ring[0] == ring[-1] for ring in outlines["path"])  # closed rings


def test_regions_cover_the_states_of_the_book_and_hold_their_accounts():
    """Two clusters in Arizona, one in New Mexico: three regions that tile AZ + NM without overlap."""
    rng = np.random.default_rng(7)
    rows = [
        (t, lon + rng.normal(0, 0.2), lat + rng.normal(0, 0.2))
        for t, (lon, lat) in enumerate([PHOENIX, TUCSON, ALBUQUERQUE], start=1)
        for _ in range(30)
    ]
    book = accounts(rows)
    areas = maps.territory_areas(book)
    regions = {
        t: shapely.union_all([shapely.Polygon(p[0], p[1:]) for p in group["polygon"]])
        for t, group in areas.shapes.groupby("territory_id")
    }
    assert sorted(regions) == [1, 2, 3]
    states = geography.us_states()
    land = shapely.union_all([states.shapes[states.codes.index(c)] for c in ("AZ", "NM")])
    covered = shapely.union_all(list(regions.values()))
    assert covered.symmetric_difference(land).area < 0.02 * land.area  # tiles the two states
    assert all(regions[a].intersection(regions[b]).area < 0.01 for a, b in [(1, 2), (1, 3), (2, 3)])
    inside = [regions[t].buffer(0.05).contains(shapely.Point(x, y)) for t, x, y in rows]
    assert np.mean(inside) > 0.95
    for label in areas.labels.itertuples():
        assert regions[label.territory_id].contains(shapely.Point(label.lon, label.lat))


def test_labels_that_would_overlap_are_dropped_in_order():
    """At zoom 6 a degree is about 1,456 px: labels 0.01 degree apart collide, 1 degree apart do not."""
    labels = pd.DataFrame(
        {"label": ["Alvarez", "Brooks", "Chen"], "lon": [-112.0, -112.01, -111.0], "lat": [33.5, 33.5, 33.5]}
    )
    kept = geography.place_labels(labels, zoom=6.0, latitude=33.5)
    assert kept["label"].tolist() == ["Alvarez", "Chen"]


def test_a_book_too_big_to_draw_dot_by_dot_is_drawn_as_clusters():
    """Accounts pool per territory and cell: the potential is conserved and every cluster is one colour."""
    rng = np.random.default_rng(3)
    n = 3_000
    book = pd.DataFrame(
        {
            "lon": -112 + rng.random(n),
            "lat": 33 + rng.random(n),
            "territory_id": rng.integers(1, 4, n).astype(float),
            "potential": rng.random(n) * 1000,
        }
    )
    grid = maps.make_grid(book["lon"].to_numpy(), book["lat"].to_numpy())
    names = pd.DataFrame({"territory_id": [1, 2, 3], "name": ["A", "B", "C"]})
    clusters = maps.account_clusters(book, grid, names)
    assert len(clusters) < n / 3
    assert clusters["potential"].sum() == pytest.approx(book["potential"].sum(), rel=1e-3)
    assert clusters["tip"].str.contains(" of (?:A|B|C) here").all()


def test_an_account_just_over_a_state_line_does_not_bring_in_the_whole_state():
    """Arizona's book with one account plotted in California (near Blythe): only land near it joins."""
    lon = np.array([PHOENIX[0], TUCSON[0], -114.65])
    lat = np.array([PHOENIX[1], TUCSON[1], 33.6])
    land = geography.covered_land(lon, lat, pad=0.3, states=["AZ"])
    states = geography.us_states()
    california = states.shapes[states.codes.index("CA")]
    assert 0 < land.intersection(california).area < 0.01 * california.area
    assert land.contains(shapely.Point(*PHOENIX))


def empty_deck() -> dict:
    import json

    deck = maps.build_deck(
        areas=pd.DataFrame(columns=["polygon", "color", "tip"]),
        borders=pd.DataFrame(columns=["path"]),
        dots=pd.DataFrame(columns=[*maps.ACCOUNT_COLUMNS, "potential"]),
        reps=pd.DataFrame(columns=["lon", "lat", "tip"]),
        states=pd.DataFrame(columns=["state", "lon", "lat"]),
        layers_shown={"Territories"},
        view=maps.view_state(pd.DataFrame(columns=["lat", "lon"])),
        ground=geography.state_outlines(-115.0, 31.0, -109.0, 37.0),
    )
    return json.loads(maps.compact_json(deck))


def test_a_basemap_is_drawn_only_when_a_map_style_is_set(monkeypatch):
    from core.config import get_settings

    monkeypatch.delenv("TERRITORY_MAP_STYLE", raising=False)
    get_settings.cache_clear()
    offline = empty_deck()
    assert offline["mapStyle"] == maps.NO_BASEMAP and "mapProvider" not in offline
    assert [layer["id"] for layer in offline["layers"]][:2] == ["state-land", "state-outlines"]
    monkeypatch.setenv("TERRITORY_MAP_STYLE", "light")
    get_settings.cache_clear()
    online = empty_deck()
    assert online["mapProvider"] == "carto" and "positron" in online["mapStyle"]  # CARTO light
    assert [layer["id"] for layer in online["layers"]][0] == "state-outlines"  # no land fill over it
    get_settings.cache_clear()
