"""The impact preview on the Optimize page through AppTest: per rep, names as text, before Apply."""

from __future__ import annotations

from core.db import get_engine
from core.queries import load_accounts, load_territories
from tests.plan_impact_book import save_moves


def southwest_moves(url: str) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """Two accounts of SW-T001 to SW-T002, and the owners' names by territory."""
    engine = get_engine(url)
    territories = load_territories(engine=engine)
    ids = dict(zip(territories["external_id"], territories["territory_id"], strict=True))
    accounts = load_accounts(engine=engine)
    mine = accounts[accounts["territory_id"] == ids["SW-T001"]]["external_id"].head(2)
    owners = dict(zip(territories["external_id"], territories["rep_name"], strict=True))
    return [(a, "SW-T001", "SW-T002") for a in mine], owners


def frames_with(at, column: str):  # type: ignore[no-untyped-def]
    return [d.value for d in at.dataframe if column in d.value.columns]


def test_the_saved_plan_shows_each_reps_impact_before_apply(page, writable_db):
    moves, owners = southwest_moves(writable_db)
    engine = get_engine(writable_db)
    plan_id = save_moves(engine, "two to Yuma", *moves)
    at = page(writable_db, "optimize", plan=str(plan_id))
    assert not at.exception, at.exception
    assert "Impact per rep" in [s.value for s in at.subheader]
    [book] = frames_with(at, "Open pipeline")
    assert list(book["Rep"]) == sorted([owners["SW-T001"], owners["SW-T002"]])
    assert book["Accounts"].str.contains("→").all() and "Territories" in book.columns
    [outlook] = frames_with(at, "Projected attainment")
    assert outlook["Quota"].str.contains("→").all() and list(outlook["Rep"]) == list(book["Rep"])
    [flows] = frames_with(at, "Potential in / out")
    losing = flows.set_index("Rep").loc[owners["SW-T001"], "Accounts in / out"]
    assert losing == "−2"


def test_compare_shows_the_impact_per_rep_side_by_side(page, writable_db):
    moves, owners = southwest_moves(writable_db)
    engine = get_engine(writable_db)
    first = save_moves(engine, "one", moves[0])
    second = save_moves(engine, "two", *moves)
    at = page(writable_db, "optimize", plan=str(second))
    at.toggle(key="impact-compare").set_value(True).run()
    assert not at.exception, at.exception
    [side] = frames_with(at, f"#{first} after")
    assert list(side.columns) == ["Rep", "Figure", "Before", f"#{second} after", f"#{first} after"]
    assert set(side["Rep"]) == {owners["SW-T001"], owners["SW-T002"]}
