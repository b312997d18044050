"""A scenario checked against the book it will be solved on: names that exist, numbers in range.

Scenario fields validate their own shape (types, signs); what only the book can say (does
territory ``PHX-9`` exist?) and what no sane plan needs (a weight of 1e12, a $1e300 potential cap,
which would overflow the solver's integer model) is checked here, before a model is built, so
the user gets one sentence naming the field instead of a solver error.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd

from core.rebalance.scenario import Scenario

MAX_WEIGHT = 10_000.0
MAX_DOLLARS = 1e12
MAX_COUNT = 1_000_000
MAX_TIME_LIMIT_S = 7 * 24 * 3600.0
# field path (dotted, list items as [i]) prefix -> largest value allowed
LIMITS: tuple[tuple[str, float], ...] = (
    ("objective.", MAX_WEIGHT),
    ("constraints.potential.", MAX_DOLLARS),
    ("constraints.strategic_revenue", MAX_DOLLARS),
    ("constraints.churn.max_revenue", MAX_DOLLARS),
    ("constraints.churn.max_moves", MAX_COUNT),
    ("constraints.accounts.", MAX_COUNT),
    ("constraints.cooldown_days", 36_500),
    ("constraints.industry_focus.industries", 1_000),
    ("risk.large_revenue", MAX_DOLLARS),
    ("risk.long_tenure_years", 200),
    ("scope.neighbours", 10_000),
    ("candidates", 10_000),
    ("time_limit_s", MAX_TIME_LIMIT_S),
    ("workers", 512),
    ("what_if.added", 1e4),  # capacity hours of an added rep
)


class ScenarioError(ValueError):
    """A scenario that cannot be solved on this book, in one sentence naming the field."""


def check_scenario(scenario: Scenario, territories: pd.DataFrame) -> None:
    """Raise ScenarioError for the first number out of range or name not in ``territories``
    (columns ``external_id`` and ``region``)."""
    check_numbers(scenario)
    known = set(territories["external_id"].astype(str))
    _names_exist("scope.territories", scenario.scope.territories, known, "territory")
    _names_exist("what_if.vacated", scenario.what_if.vacated, known, "territory")
    if scenario.scope.kind == "region":
        regions = set(territories["region"].dropna().astype(str))
        _names_exist("scope.region", [str(scenario.scope.region)], regions, "region")
    added = [rep.territory for rep in scenario.what_if.added]
    taken = sorted(set(added) & known)
    if taken:
        raise ScenarioError(f"what_if.added: territory {', '.join(taken)} already exists in the book")
    if len(set(added)) < len(added):
        raise ScenarioError("what_if.added: two added reps share a territory id")


def check_edits(scenario: Scenario, accounts: pd.DataFrame, territories: pd.DataFrame) -> None:
    """Raise ScenarioError for an edit naming an account or territory the book does not have, a pin
    to a territory whose rep leaves, or a rejected move into the account's own territory.

    ``accounts``: columns ``external_id`` and ``territory_id``; ``territories``: ``territory_id``
    and ``external_id`` (the frames ``build_problem`` reads)."""
    edits = scenario.edits
    if edits is None or edits.empty:
        return
    known_accounts = set(accounts["external_id"].astype(str))
    known_territories = set(territories["external_id"].astype(str))
    _names_exist("edits.pins", list(edits.pins), known_accounts, "account")
    _names_exist("edits.pins", list(edits.pins.values()), known_territories, "territory")
    _names_exist("edits.forbidden", [a for a, _ in edits.forbidden], known_accounts, "account")
    _names_exist("edits.forbidden", [t for _, t in edits.forbidden], known_territories, "territory")
    leaving = sorted(f"{a} -> {t}" for a, t in edits.pins.items() if t in scenario.what_if.vacated)
    if leaving:
        raise ScenarioError(
            f"edits.pins: {', '.join(leaving)} pins to a territory whose rep leaves (what-if)"
        )
    label = territories.set_index("territory_id")["external_id"].astype(str)
    today = dict(zip(accounts["external_id"].astype(str), accounts["territory_id"].map(label), strict=True))
    home = sorted(f"{a} -> {t}" for a, t in edits.forbidden if today.get(a) == t)
    if home:
        raise ScenarioError(
            f"edits.forbidden: {', '.join(home)} forbids the territory the account is in "
            "(pin it elsewhere instead)"
        )


def check_numbers(scenario: Scenario) -> None:
    """Every number finite and within the limits above."""
    for path, value in _numbers(scenario.model_dump(), ""):
        if not math.isfinite(value):
            raise ScenarioError(f"{path}: {value} is not a finite number")
        limit = next((limit for prefix, limit in LIMITS if path.startswith(prefix)), None)
        if limit is not None and abs(value) > limit and not path.endswith(("home_lat", "home_lon")):
            raise ScenarioError(f"{path}: {value:g} is out of range (at most {limit:g})")


def _numbers(node: object, path: str) -> Iterator[tuple[str, float]]:
    if isinstance(node, bool):
        return
    if isinstance(node, int | float):
        yield path, float(node)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _numbers(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _numbers(value, f"{path}[{i}]")


def _names_exist(field: str, names: list[str], known: set[str], kind: str) -> None:
    unknown = sorted(set(names) - known)
    if unknown:
        sample = ", ".join(sorted(known)[:8]) + (" ..." if len(known) > 8 else "")
        raise ScenarioError(f"{field}: unknown {kind} {', '.join(unknown)} (the book has {sample})")
