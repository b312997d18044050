"""The map's pure parts: territory areas from accounts, outlines, colour scales, the view."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import maps
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


def test_horizontal_runs_of_one_owner_merge_into_one_rectangle():
    owner = np.array([[1, 1, 2, -1, 1]])
    grid = Grid(lon0=10.0, lat0=20.0, cell=0.5, rows=1, cols=5)
    shapes = maps.area_polygons(owner, grid)
    assert shapes["territory_id"].tolist() == [1, 2, 1]
    assert shapes["polygon"].iloc[0] == [[10.0, 20.0], [11.0, 20.0], [11.0, 20.5], [10.0, 20.5]]
    assert shapes["polygon"].iloc[2][0] == [12.0, 20.0]


@pytest.mark.parametrize(
    ("owner", "segments"),
    [
        ([[1]], 4),  # a lone cell: its four sides
        ([[1, 2]], 7),  # two cells: six outer sides and the shared one
        ([[1, 1]], 6),  # one territory of two cells: no edge between them
        ([[1, -1, 2]], 8),  # two lone cells apart
    ],
)
def test_outlines_are_the_edges_where_the_owner_changes(owner, segments):
    grid = Grid(lon0=0.0, lat0=0.0, cell=1.0, rows=len(owner), cols=len(owner[0]))
    borders = maps.area_borders(np.array(owner), grid)
    assert len(borders) == segments
    assert (borders["a"] != borders["b"]).all()


def test_the_outline_of_a_lone_cell_is_its_square():
    borders = maps.area_borders(np.array([[5]]), Grid(lon0=-110.0, lat0=33.0, cell=0.5, rows=1, cols=1))
    corners = {tuple(point) for path in borders["path"] for point in path}
    assert corners == {(-110.0, 33.0), (-109.5, 33.0), (-110.0, 33.5), (-109.5, 33.5)}
    assert maps.borders_of(borders, pd.Series([5])).shape[0] == 4
    assert maps.borders_of(borders, pd.Series([6])).empty


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
    assert areas.shapes.empty and areas.borders.empty


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
