"""Where to hire: the chosen city lies where the overloaded, out-of-reach accounts are."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from core.rebalance import Scenario, build_problem
from core.rebalance.hire import candidate_cities, where_to_hire
from tests.rebalance_factories import frames

AS_OF = date(2025, 6, 15)
PHOENIX, FLAGSTAFF, YUMA, TUCSON = (33.45, -112.07), (35.20, -111.65), (32.69, -114.62), (32.22, -110.97)
CITIES = pd.DataFrame(
    [
        {"name": "Tucson", "state": "AZ", "lat": TUCSON[0], "lon": TUCSON[1], "population": 540_000},
        {"name": "Kingman", "state": "AZ", "lat": 35.19, "lon": -114.05, "population": 30_000},
        {"name": "Prescott", "state": "AZ", "lat": 34.54, "lon": -112.47, "population": 45_000},
        {"name": "Mesa", "state": "AZ", "lat": 33.42, "lon": -111.82, "population": 500_000},  # next to T1
        {"name": "Albuquerque", "state": "NM", "lat": 35.08, "lon": -106.65, "population": 560_000},
    ]
)


def book() -> tuple[pd.DataFrame, pd.DataFrame]:
    """T1 (Phoenix) holds 10 accounts at home and 12 around Tucson, 160 km away; T2 (Flagstaff)
    and T3 (Yuma) hold 6 each. Every account has potential 10: T1 is far above the mean."""
    rng = np.random.default_rng(4)

    def around(place: tuple[float, float], n: int, territory: int) -> list[dict[str, object]]:
        return [
            {
                "potential": 10.0,
                "territory_id": territory,
                "lat": place[0] + rng.normal(0, 0.05),
                "lon": place[1] + rng.normal(0, 0.05),
            }
            for _ in range(n)
        ]

    rows = around(PHOENIX, 10, 1) + around(TUCSON, 12, 1) + around(FLAGSTAFF, 6, 2) + around(YUMA, 6, 3)
    homes = [{"home_lat": lat, "home_lon": lon, "states": "AZ"} for lat, lon in (PHOENIX, FLAGSTAFF, YUMA)]
    return frames(accounts=rows, territories=homes)


SCENARIO = Scenario.model_validate({"time_limit_s": 5.0, "workers": 2, "constraints": {"state_lines": True}})


def test_candidates_are_cities_of_the_books_states_away_from_reps() -> None:
    accounts, territories = book()
    problem = build_problem(accounts, territories, SCENARIO, as_of=AS_OF)
    names = candidate_cities(problem, CITIES)["name"].tolist()
    assert names == ["Tucson", "Prescott", "Kingman"]  # not Mesa (next to Phoenix), not NM


def test_one_hire_goes_to_tucson_and_takes_the_tucson_accounts() -> None:
    accounts, territories = book()
    plan = where_to_hire(accounts, territories, SCENARIO, 1, as_of=AS_OF, cities=CITIES)
    (hire,) = plan.hires
    assert (hire.city, hire.state, hire.territory) == ("Tucson", "AZ", "NEW-1")
    assert plan.result.has_plan
    tucson = set(accounts["external_id"].iloc[10:22])
    assert len(hire.accounts) >= 6 and set(hire.accounts) <= tucson
    assert hire.potential == 10.0 * len(hire.accounts)
    before, after = plan.result.team_before, plan.result.team_after
    assert after.cv < before.cv
    assert plan.out_of_reach[1] < plan.out_of_reach[0]
    data = plan.to_json_dict()
    assert data["hires"][0]["city"] == "Tucson" and data["hires"][0]["accounts"] == list(hire.accounts)
    assert any("Tucson" in line for line in plan.describe())
