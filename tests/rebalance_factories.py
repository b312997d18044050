"""Small seeded account/territory frames in the shape ``build_problem`` reads (rebalance tests, benchmarks).

``frames(accounts=[...], territories=[...])`` fills every optional column of hand-written rows;
``synthetic_frames(n_accounts, n_territories, seed=...)`` draws a random book with numpy only:
territory homes on a grid of states, accounts scattered around the homes, lognormal potentials.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

ACCOUNT_DEFAULTS: dict[str, object] = {
    "segment": "SMB",
    "industry": "Manufacturing",
    "state": "AZ",
    "lat": 33.45,
    "lon": -112.07,
    "revenue_ttm": 0.0,
    "workload_hours": 1.5,
    "strategic": False,
    "locked": False,
    "owned_since": pd.NaT,
    "last_moved_at": pd.NaT,
    "open_opportunity": False,
}
TERRITORY_DEFAULTS: dict[str, object] = {
    "region": "Southwest",
    "owner_rep_id": None,
    "rep_name": None,
    "home_lat": None,
    "home_lon": None,
    "specialties": "",
    "capacity_hours": 140.0,
    "states": None,
}
STATES = ("AZ", "NM", "NV", "UT", "CO", "TX")
INDUSTRIES = ("Manufacturing", "Healthcare", "Technology", "Retail")


def frames(
    *, accounts: Sequence[Mapping[str, object]], territories: Sequence[Mapping[str, object]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Frames from row dicts; ids default to positions (accounts A1.., territories T1..)."""
    account_rows = [
        {**ACCOUNT_DEFAULTS, "account_id": i + 1, "external_id": f"A{i + 1}", **row}
        for i, row in enumerate(accounts)
    ]
    territory_rows = [
        {
            **TERRITORY_DEFAULTS,
            "territory_id": i + 1,
            "external_id": f"T{i + 1}",
            "name": f"Territory {i + 1}",
            **row,
        }
        for i, row in enumerate(territories)
    ]
    account_frame = pd.DataFrame(account_rows)
    if "potential" not in account_frame:
        account_frame["potential"] = account_frame["revenue_ttm"]
    return account_frame, pd.DataFrame(territory_rows)


def synthetic_frames(
    n_accounts: int,
    n_territories: int,
    *,
    seed: int = 0,
    as_of: date = date(2025, 6, 15),
    states: Sequence[str] = STATES,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A random book: one state per territory (cycling ``states``), accounts near their home."""
    rng = np.random.default_rng(seed)
    home_state = np.array([states[i % len(states)] for i in range(n_territories)])
    home_lat = 32 + 8 * rng.random(n_territories)
    home_lon = -115 + 12 * rng.random(n_territories)
    owner = np.sort(rng.integers(0, n_territories, n_accounts))
    owner[: min(n_territories, n_accounts)] = np.arange(min(n_territories, n_accounts))  # no empty book
    revenue = np.round(np.exp(rng.normal(10.3, 1.0, n_accounts)), 2)
    wallet = revenue * rng.uniform(1.2, 2.5, n_accounts)
    accounts = pd.DataFrame(
        {
            "account_id": np.arange(1, n_accounts + 1),
            "external_id": [f"A{i + 1:05d}" for i in range(n_accounts)],
            "territory_id": owner + 1,
            "lat": home_lat[owner] + rng.normal(0, 0.6, n_accounts),
            "lon": home_lon[owner] + rng.normal(0, 0.6, n_accounts),
            "state": home_state[owner],
            "industry": rng.choice(INDUSTRIES, n_accounts),
            "segment": "SMB",
            "potential": np.round(revenue + 0.3 * (wallet - revenue), 2),
            "revenue_ttm": revenue,
            "workload_hours": np.where(revenue >= 100_000, 4.0, np.where(revenue < 20_000, 0.5, 1.5)),
            "strategic": revenue > 200_000,
            "locked": rng.random(n_accounts) < 0.03,
            "owned_since": [as_of - timedelta(days=int(d)) for d in rng.integers(30, 2500, n_accounts)],
            "last_moved_at": [
                as_of - timedelta(days=int(d)) if d < 60 else pd.NaT
                for d in rng.integers(0, 2000, n_accounts)
            ],
            "open_opportunity": rng.random(n_accounts) < 0.2,
        }
    )
    territories = pd.DataFrame(
        {
            "territory_id": np.arange(1, n_territories + 1),
            "external_id": [f"T{i + 1:03d}" for i in range(n_territories)],
            "name": [f"{s} {i + 1}" for i, s in enumerate(home_state)],
            "region": "Southwest",
            "owner_rep_id": np.arange(1, n_territories + 1),
            "rep_name": [f"Rep {i + 1}" for i in range(n_territories)],
            "home_lat": home_lat,
            "home_lon": home_lon,
            "specialties": ["Healthcare" if i % 5 == 2 else "" for i in range(n_territories)],
            "capacity_hours": 140.0,
            "states": home_state,
        }
    )
    return accounts, territories
