"""The rebalance problem: pure frames in, a solver-ready ``Problem`` out (no database here).

``build_problem(accounts, territories, scenario)`` normalises the two frames, applies the
what-ifs (vacated and added reps), picks the scope, marks the accounts that must stay (and why),
prices every move (continuity) and flags its risks, and builds the candidate pairs: each account
in scope considers its current territory plus its ``scenario.candidates`` nearest eligible
territories (by distance to the rep's home, or the territory's centroid when it has none). That
pruning keeps 50,000 accounts x 200 territories at a few hundred thousand pairs.

Amounts are scaled to integers for CP-SAT: one potential unit is 1/100,000 of the team's mean
territory potential (likewise workload), so 1% of the mean is 1,000 units whatever the currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from core.accounts import account_tier, haversine_km, territory_homes, visits_per_month
from core.config import Settings, get_settings
from core.rebalance.scenario import Scenario
from core.rebalance.validate import check_edits

UNITS_PER_MEAN = 100_000
WIDE_PAIRS = 300_000  # explanations consider every territory up to this many (account, territory) pairs
STAY_FAMILIES = ("locked", "strategic", "top_revenue", "cooldown")
TERRITORY_COLUMNS = (
    "territory_id",
    "external_id",
    "name",
    "region",
    "owner_rep_id",
    "rep_name",
    "home_lat",
    "home_lon",
    "specialties",
    "capacity_hours",
    "states",
)


@dataclass(frozen=True)
class Problem:
    """Frames ready for the model. Rows are positional (index 0..n-1) in every frame.

    accounts: the input columns plus ``territory`` (position of today's territory), ``in_scope``,
    ``vacating``, one ``stay_<family>`` flag per rule that keeps it home, ``move_cost``,
    ``visits_per_month``, ``potential_units`` and the risk flags ``risk_<name>``.
    territories: the input columns plus ``active`` (not vacated), ``vacated``, ``added``,
    ``in_scope``; ``specialties`` and ``states`` are frozensets.
    pairs: candidate (account, territory) pairs with ``current``, ``km``, ``workload_hours``.
    """

    scenario: Scenario
    accounts: pd.DataFrame
    territories: pd.DataFrame
    pairs: pd.DataFrame
    as_of: date
    potential_unit: float
    workload_unit: float
    speed_kmh: float
    band: float = 0.15  # |potential index - 1| above this is out of band (reporting)

    @property
    def active(self) -> np.ndarray:
        """Positions of the territories that have a rep after the what-ifs."""
        return np.flatnonzero(self.territories["active"].to_numpy())

    @property
    def scope_territories(self) -> np.ndarray:
        return np.flatnonzero(self.territories["in_scope"].to_numpy())

    @property
    def mean_potential(self) -> float:
        """Team mean potential per active territory (the reference of the potential index)."""
        return float(self.accounts["potential"].sum()) / max(len(self.active), 1)

    @property
    def mean_workload(self) -> float:
        return float(self.accounts["workload_hours"].sum()) / max(len(self.active), 1)

    def potential_bounds(self) -> tuple[float, float] | None:
        """(low, high) potential dollars of the hard band, or None without one."""
        band = self.scenario.constraints.potential
        return None if band is None else band.bounds(self.mean_potential)

    def label(self, territory: int) -> str:
        """External id of a territory position."""
        return str(self.territories["external_id"].iat[territory])


def build_problem(
    accounts: pd.DataFrame,
    territories: pd.DataFrame,
    scenario: Scenario,
    *,
    as_of: date | None = None,
    settings: Settings | None = None,
) -> Problem:
    """A solver-ready problem from the accounts and territories frames (see module docstring)."""
    settings = settings or get_settings()
    as_of = as_of or date.today()
    check_edits(scenario, accounts, territories)
    territories = _territory_frame(territories, accounts, scenario)
    accounts = _account_frame(accounts, territories, scenario, settings)
    territories["in_scope"] = _scope_mask(territories, accounts, scenario)
    accounts["in_scope"] = territories["in_scope"].to_numpy()[accounts["territory"].to_numpy()]
    _mark_pins(accounts, territories, scenario)
    _mark_stays(accounts, scenario, as_of)
    _price_moves(accounts, scenario, as_of)
    mean_potential = accounts["potential"].sum() / max(int(territories["active"].sum()), 1)
    mean_workload = accounts["workload_hours"].sum() / max(int(territories["active"].sum()), 1)
    potential_unit = mean_potential / UNITS_PER_MEAN if mean_potential > 0 else 1.0
    accounts["potential_units"] = np.rint(accounts["potential"] / potential_unit).astype(np.int64)
    problem = Problem(
        scenario=scenario,
        accounts=accounts,
        territories=territories,
        pairs=pd.DataFrame(),
        as_of=as_of,
        potential_unit=float(potential_unit),
        workload_unit=float(mean_workload / UNITS_PER_MEAN if mean_workload > 0 else 1.0),
        speed_kmh=settings.travel_speed_kmh,
        band=settings.potential_band,
    )
    return Problem(**{**problem.__dict__, "pairs": candidate_pairs(problem)})


# --- territories -----------------------------------------------------------------------------


def _territory_frame(territories: pd.DataFrame, accounts: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    frame = territories.reset_index(drop=True).copy()
    for column in TERRITORY_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["name"] = frame["name"].fillna(frame["external_id"])
    frame["specialties"] = [_split(v) for v in frame["specialties"]]
    derived = accounts.groupby("territory_id")["state"].agg(lambda s: frozenset(s.dropna()))
    frame["states"] = [
        _split(v) or derived.get(tid, frozenset())
        for v, tid in zip(frame["states"], frame["territory_id"], strict=True)
    ]
    frame["vacated"] = frame["external_id"].isin(scenario.what_if.vacated)
    unknown = set(scenario.what_if.vacated) - set(frame["external_id"])
    if unknown:
        raise ValueError(f"vacated territory not found: {', '.join(sorted(unknown))}")
    frame["added"] = False
    if scenario.what_if.added:
        frame = pd.concat([frame, _added_territories(frame, accounts, scenario)], ignore_index=True)
    frame["active"] = ~frame["vacated"]
    _main_sets(frame, accounts, scenario)
    frame["capacity_hours"] = (
        frame["capacity_hours"].astype(float).fillna(get_settings().default_capacity_hours)
    )
    _fill_homes(frame, accounts)
    return frame


def _main_sets(frame: pd.DataFrame, accounts: pd.DataFrame, scenario: Scenario) -> None:
    """``home_states``: the state most of today's book is in (an added rep: its own state).
    ``focus_industries``: the rep's specialties, topped up to k with the book's largest industries
    (k from the industry-focus rule, else 3; an added rep's book is the whole book's)."""
    k = scenario.constraints.industry_focus.industries if scenario.constraints.industry_focus else 3
    books = {tid: book for tid, book in accounts.groupby("territory_id")}
    homes, focus = [], []
    for tid, states, specialties, added in zip(
        frame["territory_id"], frame["states"], frame["specialties"], frame["added"], strict=True
    ):
        book = accounts if added else books.get(tid, accounts.iloc[:0])
        homes.append(states if added else frozenset(_largest(book["state"], 1)) or states)
        extra = [i for i in _largest(book["industry"], k + len(specialties)) if i not in specialties]
        focus.append(frozenset(specialties) | frozenset(extra[: max(k - len(specialties), 0)]))
    frame["home_states"], frame["focus_industries"] = homes, focus


def _largest(values: pd.Series, k: int) -> list[str]:
    """The k most frequent values (ties by name)."""
    counts = values.dropna().astype(str).value_counts()
    return sorted(counts.index, key=lambda v: (-counts[v], v))[:k]


def _split(value: object) -> frozenset[str]:
    """A set of names from "a|b", a list or a set; empty for None/NaN."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return frozenset()
    if isinstance(value, str):
        return frozenset(v.strip() for v in value.split("|") if v.strip())
    return frozenset(str(v) for v in value)  # type: ignore[attr-defined]


def _added_territories(frame: pd.DataFrame, accounts: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    next_id = int(pd.to_numeric(frame["territory_id"]).max() if len(frame) else 0) + 1
    rows = []
    for i, rep in enumerate(scenario.what_if.added):
        if rep.territory in set(frame["external_id"]):
            raise ValueError(f"added territory id {rep.territory} already exists")
        state = rep.state or _nearest_state(accounts, rep.home_lat, rep.home_lon)
        rows.append(
            {
                "territory_id": next_id + i,
                "external_id": rep.territory,
                "name": rep.name,
                "region": rep.region,
                "owner_rep_id": None,
                "rep_name": rep.name,
                "home_lat": rep.home_lat,
                "home_lon": rep.home_lon,
                "specialties": frozenset(rep.specialties),
                "capacity_hours": rep.capacity_hours,
                "states": frozenset({state}) if state else frozenset(),
                "vacated": False,
                "added": True,
            }
        )
    return pd.DataFrame(rows, columns=[*frame.columns])


def _nearest_state(accounts: pd.DataFrame, lat: float, lon: float) -> str | None:
    if accounts.empty:
        return None
    km = haversine_km(accounts["lat"].to_numpy(float), accounts["lon"].to_numpy(float), lat, lon)
    return str(accounts["state"].iat[int(np.nanargmin(km))])


def _fill_homes(frame: pd.DataFrame, accounts: pd.DataFrame) -> None:
    """A territory without a home is measured from its accounts' centroid (``core.accounts``); one
    with no located accounts either is placed at the book's centroid, for distances only."""
    homes = territory_homes(frame, accounts)
    for axis in ("lat", "lon"):
        column = f"home_{axis}"
        located = frame["territory_id"].map(homes[column])
        frame[column] = located.fillna(accounts[axis].mean()).to_numpy(dtype=float)


# --- accounts --------------------------------------------------------------------------------


def _account_frame(
    accounts: pd.DataFrame, territories: pd.DataFrame, scenario: Scenario, settings: Settings
) -> pd.DataFrame:
    frame = accounts.reset_index(drop=True).copy()
    position = pd.Series(np.arange(len(territories)), index=territories["territory_id"].to_numpy())
    missing = ~frame["territory_id"].isin(position.index)
    if missing.any():
        raise ValueError(f"{int(missing.sum())} accounts belong to no known territory")
    frame["territory"] = frame["territory_id"].map(position).astype(int)
    for column in ("strategic", "locked", "open_opportunity"):
        frame[column] = (
            frame[column].astype("boolean").fillna(False).astype(bool) if column in frame else False
        )
    for column in ("potential", "revenue_ttm", "workload_hours"):
        frame[column] = pd.to_numeric(frame[column]).astype(float).fillna(0.0)
    for column in ("owned_since", "last_moved_at"):
        frame[column] = pd.to_datetime(frame[column]) if column in frame else pd.NaT
    tier = account_tier(frame["revenue_ttm"], frame["strategic"], settings)
    frame["visits_per_month"] = visits_per_month(tier, settings)
    frame["vacating"] = territories["vacated"].to_numpy()[frame["territory"].to_numpy()]
    return frame


def _mark_pins(accounts: pd.DataFrame, territories: pd.DataFrame, scenario: Scenario) -> None:
    """``pin``: the territory position a planner's edit pins the account to (-1: none). A pinned
    account is in scope, so a manual move out of a territory the scope leaves alone still happens."""
    pins = scenario.edits.pins if scenario.edits is not None else {}
    position = pd.Series(np.arange(len(territories)), index=territories["external_id"].to_numpy())
    pinned = accounts["external_id"].astype(str).map(pins).map(position)
    accounts["pin"] = pinned.fillna(-1).astype(np.int64).to_numpy()
    accounts["in_scope"] = accounts["in_scope"] | (accounts["pin"] >= 0)


def forbidden_pairs(problem: Problem) -> set[tuple[int, int]]:
    """(account, territory) positions of the rejected moves (``scenario.edits.forbidden``)."""
    edits = problem.scenario.edits
    if edits is None or not edits.forbidden:
        return set()
    accounts = dict(
        zip(problem.accounts["external_id"].astype(str), range(len(problem.accounts)), strict=True)
    )
    territories = dict(
        zip(problem.territories["external_id"].astype(str), range(len(problem.territories)), strict=True)
    )
    return {(accounts[a], territories[t]) for a, t in edits.forbidden if a in accounts and t in territories}


def _mark_stays(accounts: pd.DataFrame, scenario: Scenario, as_of: date) -> None:
    """One ``stay_<family>`` flag per rule that keeps an account home; a vacated book must go anyway."""
    rules = scenario.constraints
    revenue = accounts["revenue_ttm"]
    flags = {
        "locked": accounts["locked"] if rules.locked else False,
        "strategic": revenue > rules.strategic_revenue if rules.strategic_revenue is not None else False,
        "top_revenue": _top_share(revenue, rules.top_revenue_share) if rules.top_revenue_share else False,
        "cooldown": (accounts["last_moved_at"] > pd.Timestamp(as_of) - pd.Timedelta(days=rules.cooldown_days))
        if rules.cooldown_days
        else False,
    }
    for family, flag in flags.items():
        accounts[f"stay_{family}"] = (
            pd.Series(flag, index=accounts.index).astype(bool) & ~accounts["vacating"]
        )
    accounts["stays"] = accounts[[f"stay_{f}" for f in STAY_FAMILIES]].any(axis=1)


def _top_share(revenue: pd.Series, share: float) -> pd.Series:
    """The ceil(share x n) accounts with the most revenue (ties broken by position)."""
    count = int(np.ceil(share * len(revenue)))
    top = np.argsort(-revenue.to_numpy(), kind="stable")[:count]
    flags = np.zeros(len(revenue), dtype=bool)
    flags[top] = True
    return pd.Series(flags, index=revenue.index)


def _price_moves(accounts: pd.DataFrame, scenario: Scenario, as_of: date) -> None:
    """Risk flags, and the continuity cost of moving each account: 1, plus up to 0.75 for risk.

    Staying below 2 means no risk discount ever makes two moves cheaper than one.
    """
    risk = scenario.risk
    tenure_days = (pd.Timestamp(as_of) - accounts["owned_since"]).dt.days
    accounts["risk_large_revenue"] = accounts["revenue_ttm"] >= risk.large_revenue
    accounts["risk_open_opportunity"] = accounts["open_opportunity"]
    accounts["risk_long_tenure"] = (tenure_days >= 365.25 * risk.long_tenure_years).fillna(False).astype(bool)
    revenue_share = (accounts["revenue_ttm"] / risk.large_revenue).clip(0, 1) if risk.large_revenue else 0.0
    accounts["move_cost"] = (
        1.0
        + 0.25 * revenue_share
        + 0.25 * accounts["risk_long_tenure"]
        + 0.25 * accounts["risk_open_opportunity"]
    )


# --- scope -----------------------------------------------------------------------------------


def _scope_mask(territories: pd.DataFrame, accounts: pd.DataFrame, scenario: Scenario) -> np.ndarray:
    scope = scenario.scope
    n = len(territories)
    if scope.kind == "all":
        return np.ones(n, dtype=bool)
    if scope.kind == "territories":
        unknown = set(scope.territories) - set(territories["external_id"])
        if unknown:
            raise ValueError(f"scope territory not found: {', '.join(sorted(unknown))}")
        chosen = territories["external_id"].isin(scope.territories).to_numpy()
    elif scope.kind == "region":
        chosen = (territories["region"] == scope.region).to_numpy()
    else:
        chosen = _out_of_band(territories, accounts, scope.band)
        chosen = chosen | _neighbours(territories, chosen, scope.neighbours)
    what_if = (territories["vacated"] | territories["added"]).to_numpy()
    chosen = chosen | what_if | _neighbours(territories, what_if, max(scope.neighbours, 1))
    return chosen & (territories["active"] | territories["vacated"]).to_numpy()


def _out_of_band(territories: pd.DataFrame, accounts: pd.DataFrame, band: float) -> np.ndarray:
    potential = np.bincount(accounts["territory"], weights=accounts["potential"], minlength=len(territories))
    active = territories["active"].to_numpy()
    mean = potential.sum() / max(active.sum(), 1)
    index = potential / mean if mean > 0 else np.ones(len(territories))
    return active & (np.abs(index - 1) > band + 1e-9)


def _neighbours(territories: pd.DataFrame, chosen: np.ndarray, k: int) -> np.ndarray:
    """The k nearest active territories (by home) of each chosen one."""
    result = np.zeros(len(territories), dtype=bool)
    if k == 0 or not chosen.any():
        return result
    lat, lon = territories["home_lat"].to_numpy(float), territories["home_lon"].to_numpy(float)
    active = territories["active"].to_numpy()
    for t in np.flatnonzero(chosen):
        km = haversine_km(lat, lon, lat[t], lon[t])
        km[~active | (np.arange(len(km)) == t)] = np.inf
        nearest = np.argsort(km, kind="stable")[:k]
        result[nearest[np.isfinite(km[nearest])]] = True
    return result


# --- candidate pairs -------------------------------------------------------------------------


def eligibility(
    problem: Problem, account_pos: np.ndarray, territory_pos: np.ndarray
) -> dict[str, np.ndarray]:
    """Per pair-level rule, True where the rule forbids moving the account into the territory."""
    accounts, territories = problem.accounts, problem.territories
    rules = problem.scenario.constraints
    forbid: dict[str, np.ndarray] = {}
    if rules.state_lines:
        codes, names = pd.factorize(accounts["state"].fillna(""))
        covers = _membership(territories["states"], names)
        forbid["state_lines"] = ~covers[territory_pos, codes[account_pos]]
    if rules.specialists is not None and rules.specialists.exclusive:
        codes, names = pd.factorize(accounts["industry"].fillna(""))
        serves = _membership(territories["specialties"], names)
        offered = np.asarray(serves.any(axis=0))
        forbid["specialist_only"] = offered[codes[account_pos]] & ~serves[territory_pos, codes[account_pos]]
    return forbid


def _membership(sets: pd.Series, names: pd.Index) -> np.ndarray:
    """Boolean matrix: row i, column j is True when names[j] is in sets[i]."""
    return np.array([[name in members for name in names] for members in sets], dtype=bool).reshape(
        len(sets), len(names)
    )


def candidate_pairs(problem: Problem, *, widen: bool = False) -> pd.DataFrame:
    """Candidate pairs of the in-scope accounts.

    Each account keeps its current territory (unless vacated) and gets the ``scenario.candidates``
    nearest in-scope territories it may move to; an account that must stay gets no other. With
    ``widen`` (explanations), accounts also get territories the rules forbid, so the rules can be
    switched off one by one: every in-scope territory on small problems (then a feasible widened
    model means the pruning, not the rules, is what fails), else the 2k nearest.
    """
    accounts, territories = problem.accounts, problem.territories
    account_pos = np.flatnonzero(accounts["in_scope"].to_numpy())
    targets = np.flatnonzero((territories["in_scope"] & territories["active"]).to_numpy())
    if len(account_pos) == 0 or len(targets) == 0:
        return pair_frame(problem, np.array([], int), np.array([], int))
    k = min(problem.scenario.candidates, len(targets))
    wide = len(targets) if len(account_pos) * len(targets) <= WIDE_PAIRS else min(2 * k, len(targets))
    chunks = [
        _nearest(problem, chunk, targets, k, wide if widen else 0)
        for chunk in np.array_split(account_pos, max(1, len(account_pos) * len(targets) // 2_000_000))
    ]
    pair_accounts = np.concatenate([c[0] for c in chunks])
    pair_territories = np.concatenate([c[1] for c in chunks])
    if widen:  # a vacated book may stay in the widened model, so the what-if is a rule like the others
        vacating = account_pos[accounts["vacating"].to_numpy()[account_pos]]
        pair_accounts = np.concatenate([pair_accounts, vacating])
        pair_territories = np.concatenate([pair_territories, accounts["territory"].to_numpy()[vacating]])
    pair_accounts, pair_territories = _with_edits(problem, pair_accounts, pair_territories, widen=widen)
    return pair_frame(problem, pair_accounts, pair_territories)


def _with_edits(
    problem: Problem, pair_accounts: np.ndarray, pair_territories: np.ndarray, *, widen: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A pinned account's pin is always a candidate, and its only one; a rejected move is no
    candidate. Widened (explanations), both stay and the ``Edits`` family forbids them instead."""
    pin = problem.accounts["pin"].to_numpy()
    pinned = np.flatnonzero(pin >= 0)
    forbidden = forbidden_pairs(problem)
    if not len(pinned) and not forbidden:
        return pair_accounts, pair_territories
    keep = np.ones(len(pair_accounts), dtype=bool)
    if not widen:
        keep &= pin[pair_accounts] < 0
        width = len(problem.territories)
        rejected = np.array([a * width + t for a, t in forbidden], dtype=np.int64)
        keep &= ~np.isin(pair_accounts * width + pair_territories, rejected)
    pairs = pd.DataFrame(
        {
            "account": np.concatenate([pair_accounts[keep], pinned]),
            "territory": np.concatenate([pair_territories[keep], pin[pinned]]),
        }
    ).drop_duplicates()
    return pairs["account"].to_numpy(dtype=np.int64), pairs["territory"].to_numpy(dtype=np.int64)


def _nearest(
    problem: Problem, account_pos: np.ndarray, targets: np.ndarray, k: int, wide: int
) -> tuple[np.ndarray, np.ndarray]:
    """(account, territory) positions: current + k nearest eligible (+ the ``wide`` nearest at all)."""
    accounts, territories = problem.accounts, problem.territories
    km = haversine_km(
        accounts["lat"].to_numpy(float)[account_pos, None],
        accounts["lon"].to_numpy(float)[account_pos, None],
        territories["home_lat"].to_numpy(float)[None, targets],
        territories["home_lon"].to_numpy(float)[None, targets],
    )
    km = np.nan_to_num(km, nan=1e6)
    current = accounts["territory"].to_numpy()[account_pos]
    is_current = targets[None, :] == current[:, None]
    rows = np.repeat(account_pos, len(targets))
    cols = np.tile(targets, len(account_pos))
    forbidden = np.zeros(km.shape, dtype=bool)
    for flags in eligibility(problem, rows, cols).values():
        forbidden |= flags.reshape(km.shape)
    forbidden |= accounts["stays"].to_numpy()[account_pos, None]
    chosen = _k_smallest(np.where(forbidden | is_current, np.inf, km), k)
    if wide:
        chosen |= _k_smallest(np.where(is_current, np.inf, km), wide)
    chosen |= is_current
    r, c = np.nonzero(chosen)
    return account_pos[r], targets[c]


def _k_smallest(values: np.ndarray, k: int) -> np.ndarray:
    """Mask of the k smallest finite values per row."""
    mask = np.zeros(values.shape, dtype=bool)
    if values.shape[1] == 0 or k == 0:
        return mask
    k = min(k, values.shape[1])
    index = np.argpartition(values, k - 1, axis=1)[:, :k]
    np.put_along_axis(mask, index, True, axis=1)
    return mask & np.isfinite(values)


def pair_frame(problem: Problem, account_pos: np.ndarray, territory_pos: np.ndarray) -> pd.DataFrame:
    """Pairs with distance and the workload the account would bring (touch hours + travel from that home)."""
    accounts, territories = problem.accounts, problem.territories
    lat, lon = accounts["lat"].to_numpy(float), accounts["lon"].to_numpy(float)
    home_lat, home_lon = territories["home_lat"].to_numpy(float), territories["home_lon"].to_numpy(float)
    current = accounts["territory"].to_numpy()
    km = np.nan_to_num(
        haversine_km(lat[account_pos], lon[account_pos], home_lat[territory_pos], home_lon[territory_pos]),
        nan=0.0,
    )
    km_now = np.nan_to_num(
        haversine_km(
            lat[account_pos], lon[account_pos], home_lat[current[account_pos]], home_lon[current[account_pos]]
        ),
        nan=0.0,
    )
    visits = accounts["visits_per_month"].to_numpy()[account_pos]
    workload = (
        accounts["workload_hours"].to_numpy()[account_pos] + visits * 2 * (km - km_now) / problem.speed_kmh
    )
    return pd.DataFrame(
        {
            "account": account_pos.astype(int),
            "territory": territory_pos.astype(int),
            "current": current[account_pos] == territory_pos,
            "km": km,
            "workload_hours": np.maximum(workload, 0.0),
        }
    )
