"""Hard constraint families: a CP-SAT half (``add``), a plan half (``broken``), a human half.

Each family reads its settings from ``scenario.constraints`` (or ``what_if``) and its sentence from
the scenario section's ``describe*()``. ``add`` posts the rule on a ``Build`` behind the family's
guard (an assumption literal when explaining, nothing otherwise); ``broken`` lists, in words,
where a ``Plan`` breaks the rule. ``FAMILIES`` is the registry, in the order rules are posted.

Rules that forbid pairs (locks, cooldown, state lines, specialists only, vacated books) are
normally enforced by candidate pruning, so their ``add`` only finds pairs to forbid when
explaining (widened pairs).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from core.rebalance.build import Build
from core.rebalance.plan import Plan, workload_units
from core.rebalance.problem import Problem, eligibility, forbidden_pairs
from core.rebalance.scenario import HardRules

SHARE_SCALE = 1000  # shares are compared as integers: 1000 x part >= round(1000 x share) x whole


def _forbid(build: Build, rows: np.ndarray, family: str, label: str, sentence: str) -> None:
    """Constraint: none of the given pairs is chosen (guarded)."""
    if len(rows):
        guard = build.guard(family, label, sentence)
        build.model.add_bool_and([build.x[r].Not() for r in rows]).only_enforce_if(guard)


def _territory_label(problem: Problem, t: int) -> str:
    row = problem.territories.iloc[t]
    name, external = row["name"], row["external_id"]
    return f"{external} ({name})" if name and name != external else str(external)


def _targets(problem: Problem) -> np.ndarray:
    t = problem.territories
    return np.flatnonzero((t["active"] & t["in_scope"]).to_numpy())


# --- rules on accounts and pairs --------------------------------------------------------------


class Stay:
    """Accounts flagged by a rule (locked, strategic, top revenue, cooldown) keep their territory."""

    def __init__(self, key: str, describe: Callable[[HardRules], str]) -> None:
        self.key, self.describe = key, describe

    def applies(self, problem: Problem) -> bool:
        return bool(problem.accounts[f"stay_{self.key}"].any())

    def sentence(self, problem: Problem) -> str:
        count = int((problem.accounts[f"stay_{self.key}"] & problem.accounts["in_scope"]).sum())
        return f"{self.describe(problem.scenario.constraints)} ({count} accounts in scope)"

    def add(self, build: Build) -> None:
        flagged = build.problem.accounts[f"stay_{self.key}"].to_numpy()[build.pairs["account"].to_numpy()]
        rows = np.flatnonzero(flagged & ~build.pairs["current"].to_numpy())
        _forbid(build, rows, self.key, self.key, self.sentence(build.problem))

    def broken(self, plan: Plan) -> list[str]:
        moved = int((plan.moved & plan.problem.accounts[f"stay_{self.key}"].to_numpy()).sum())
        return [f"{self.sentence(plan.problem)}: {moved} would move"] if moved else []


class PairRule:
    """A rule on where an account may go (state lines, specialty accounts to specialists only)."""

    def __init__(self, key: str, describe: Callable[[HardRules], str]) -> None:
        self.key, self.describe = key, describe

    def applies(self, problem: Problem) -> bool:
        rules = problem.scenario.constraints
        if self.key == "state_lines":
            return rules.state_lines
        return rules.specialists is not None and rules.specialists.exclusive

    def add(self, build: Build) -> None:
        pairs = build.pairs
        forbidden = eligibility(build.problem, pairs["account"].to_numpy(), pairs["territory"].to_numpy())
        rows = np.flatnonzero(forbidden[self.key] & ~pairs["current"].to_numpy())
        _forbid(build, rows, self.key, self.key, self.describe(build.problem.scenario.constraints))

    def broken(self, plan: Plan) -> list[str]:
        accounts = np.flatnonzero(plan.moved)
        bad = eligibility(plan.problem, accounts, plan.owner[accounts])[self.key]
        text = self.describe(plan.problem.scenario.constraints)
        return [f"{text}: {int(bad.sum())} moves break it"] if bad.any() else []


class Vacated:
    """What-if: every account of a territory whose rep leaves moves (locks do not hold it)."""

    key = "vacated"

    def applies(self, problem: Problem) -> bool:
        return bool(problem.territories["vacated"].any())

    def sentence(self, problem: Problem, t: int) -> str:
        count = int((problem.accounts["territory"] == t).sum())
        return problem.scenario.what_if.describe_vacated(_territory_label(problem, t), count)

    def add(self, build: Build) -> None:
        for t in map(int, np.flatnonzero(build.problem.territories["vacated"].to_numpy())):
            rows = build.rows(t)
            _forbid(
                build, rows, self.key, f"vacated:{build.problem.label(t)}", self.sentence(build.problem, t)
            )

    def broken(self, plan: Plan) -> list[str]:
        vacated = map(int, np.flatnonzero(plan.problem.territories["vacated"].to_numpy()))
        return [f"{self.sentence(plan.problem, t)}: {plan.counts[t]} stay" for t in vacated if plan.counts[t]]


class Edits:
    """A planner's edits of a plan under review: pinned accounts end in their pin, rejected moves
    are not made. Enforced by candidate pruning; ``add`` forbids widened pairs (explanations)."""

    key = "edits"

    def applies(self, problem: Problem) -> bool:
        return problem.scenario.edits is not None and not problem.scenario.edits.empty

    def pin_sentence(self, problem: Problem, a: int) -> str:
        accounts = problem.accounts
        pin, today = int(accounts["pin"].iat[a]), int(accounts["territory"].iat[a])
        return problem.scenario.edits.describe_pin(  # type: ignore[union-attr]
            str(accounts["external_id"].iat[a]), _territory_label(problem, pin), moves=pin != today
        )

    def forbidden_sentence(self, problem: Problem, a: int, t: int) -> str:
        account = str(problem.accounts["external_id"].iat[a])
        return problem.scenario.edits.describe_forbidden(account, _territory_label(problem, t))  # type: ignore[union-attr]

    def add(self, build: Build) -> None:
        problem, pairs = build.problem, build.pairs
        accounts, territories = pairs["account"].to_numpy(), pairs["territory"].to_numpy()
        pin = problem.accounts["pin"].to_numpy()[accounts]
        elsewhere = (pin >= 0) & (territories != pin)
        for a in map(int, np.unique(accounts[elsewhere])):
            rows = np.flatnonzero(elsewhere & (accounts == a))
            label = f"pin:{problem.accounts['external_id'].iat[a]}"
            _forbid(build, rows, self.key, label, self.pin_sentence(problem, a))
        for a, t in sorted(forbidden_pairs(problem)):
            rows = np.flatnonzero((accounts == a) & (territories == t))
            label = f"forbidden:{problem.accounts['external_id'].iat[a]}:{problem.label(t)}"
            _forbid(build, rows, self.key, label, self.forbidden_sentence(problem, a, t))

    def broken(self, plan: Plan) -> list[str]:
        problem = plan.problem
        pin = problem.accounts["pin"].to_numpy()
        off = np.flatnonzero((pin >= 0) & (plan.owner != pin))
        found = [
            f"{self.pin_sentence(problem, int(a))}: it ends in {problem.label(plan.owner[a])}" for a in off
        ]
        return found + [
            f"{self.forbidden_sentence(problem, a, t)}: it goes there"
            for a, t in sorted(forbidden_pairs(problem))
            if plan.owner[a] == t
        ]


# --- rules on each territory ------------------------------------------------------------------


class TerritoryRule:
    """A linear rule on each receiving territory: low <= sum(coefficient x chosen pair) <= high.

    In a repair build (``build.soft``) the rule may be broken by named slack variables
    (``potential_band_short[SW-T005]``) whose sum, ``slack_weight`` each, is what is minimised.
    """

    key = ""
    slack_weight = 1  # objective units per unit of the rule's value (about 1,000 for one account)
    repairable = True  # today's plan may break it, so a repair build makes it soft

    def applies(self, problem: Problem) -> bool:
        raise NotImplementedError

    def territories(self, problem: Problem) -> np.ndarray:
        return _targets(problem)

    def describe(self, problem: Problem, t: int) -> str:
        raise NotImplementedError

    def bounds(self, problem: Problem, t: int) -> tuple[int | None, int | None]:
        raise NotImplementedError

    def coefficients(self, build: Build, t: int) -> np.ndarray | int:
        """Per pair row coefficient (array over all pairs) or a scalar."""
        return 1

    def value(self, plan: Plan, t: int) -> int:
        raise NotImplementedError

    def add(self, build: Build) -> None:
        for t in self.territories(build.problem):
            low, high = self.bounds(build.problem, t)
            expr = build.total(build.rows(t), self.coefficients(build, t))
            if build.soft and self.repairable:
                self._add_soft(build, t, expr, low, high)
                continue
            guard = build.guard(
                self.key, f"{self.key}:{build.problem.label(t)}", self.describe(build.problem, t)
            )
            if low is not None:
                build.model.add(expr >= low).only_enforce_if(guard)
            if high is not None:
                build.model.add(expr <= high).only_enforce_if(guard)

    def _add_soft(self, build: Build, t: int, expr: object, low: int | None, high: int | None) -> None:
        """Repair: low <= expr + short and expr - excess <= high, short and excess minimised."""
        coefficients = np.broadcast_to(np.asarray(self.coefficients(build, t)), (len(build.pairs),))
        reach = int(np.abs(coefficients[build.rows(t)]).sum()) + abs(low or 0) + abs(high or 0)
        value = self.value(build.hint_plan, t)
        label = build.problem.label(t)
        if low is not None:
            short = build.model.new_int_var(0, reach, f"{self.key}_short[{label}]")
            build.model.add(expr + short >= low)  # type: ignore[operator]
            build.hint(short, min(max(low - value, 0), reach))
            build.minimize([short], [self.slack_weight])
        if high is not None:
            excess = build.model.new_int_var(0, reach, f"{self.key}_excess[{label}]")
            build.model.add(expr - excess <= high)  # type: ignore[operator]
            build.hint(excess, min(max(value - high, 0), reach))
            build.minimize([excess], [self.slack_weight])

    def broken(self, plan: Plan) -> list[str]:
        found = []
        for t in self.territories(plan.problem):
            low, high = self.bounds(plan.problem, t)
            value = self.value(plan, t)
            if (low is not None and value < low) or (high is not None and value > high):
                found.append(self.describe(plan.problem, t))
        return found


class MinAccounts(TerritoryRule):
    key = "min_accounts"
    slack_weight = 1000

    def applies(self, problem: Problem) -> bool:
        rng = problem.scenario.constraints.accounts
        return rng is not None and rng.min is not None

    def describe(self, problem: Problem, t: int) -> str:
        rng = problem.scenario.constraints.accounts
        return f"{_territory_label(problem, t)}: {rng.describe_min()}"  # type: ignore[union-attr]

    def bounds(self, problem: Problem, t: int) -> tuple[int | None, int | None]:
        return problem.scenario.constraints.accounts.min, None  # type: ignore[union-attr]

    def value(self, plan: Plan, t: int) -> int:
        return int(plan.counts[t])


class MaxAccounts(MinAccounts):
    key = "max_accounts"

    def applies(self, problem: Problem) -> bool:
        rng = problem.scenario.constraints.accounts
        return rng is not None and rng.max is not None

    def describe(self, problem: Problem, t: int) -> str:
        rng = problem.scenario.constraints.accounts
        return f"{_territory_label(problem, t)}: {rng.describe_max()}"  # type: ignore[union-attr]

    def bounds(self, problem: Problem, t: int) -> tuple[int | None, int | None]:
        return None, problem.scenario.constraints.accounts.max  # type: ignore[union-attr]


# Each account's potential is rounded to whole model units (1/100,000 of the team mean), so a
# territory's total in units can differ from its total in dollars by a few units (about 0.3 x
# sqrt(accounts) typically). The band is pulled in by 50 units (0.05% of the mean) so that a plan
# in band by units is in band by dollars too, as the KPI pages and alerts measure it.
BAND_ROUNDING_MARGIN = 50


def potential_band_units(problem: Problem) -> tuple[int, int | None]:
    """The hard potential band in model units (pulled in by the rounding margin)."""
    low, high = problem.potential_bounds()  # type: ignore[misc]
    unit = problem.potential_unit
    low_units = math.ceil(low / unit - 1e-9)
    high_units = None if math.isinf(high) else math.floor(high / unit + 1e-9)
    margin = BAND_ROUNDING_MARGIN
    if high_units is not None and high_units - low_units <= 4 * margin:  # a band too narrow to pull in
        return low_units, high_units
    return low_units + (margin if low > 0 else 0), None if high_units is None else high_units - margin


class PotentialBand(TerritoryRule):
    key = "potential_band"

    def applies(self, problem: Problem) -> bool:
        return problem.scenario.constraints.potential is not None

    def describe(self, problem: Problem, t: int) -> str:
        band = problem.scenario.constraints.potential
        return f"{_territory_label(problem, t)}: {band.describe()}"  # type: ignore[union-attr]

    def bounds(self, problem: Problem, t: int) -> tuple[int | None, int | None]:
        return potential_band_units(problem)

    def coefficients(self, build: Build, t: int) -> np.ndarray:
        return build.problem.accounts["potential_units"].to_numpy()[build.pairs["account"].to_numpy()]

    def value(self, plan: Plan, t: int) -> int:
        return int(plan.potential_units[t])


class Capacity(TerritoryRule):
    key = "capacity"

    def applies(self, problem: Problem) -> bool:
        return problem.scenario.constraints.capacity

    def describe(self, problem: Problem, t: int) -> str:
        hours = problem.territories["capacity_hours"].iat[t]
        return f"{_territory_label(problem, t)}: workload within the rep's {hours:.0f} capacity hours"

    def bounds(self, problem: Problem, t: int) -> tuple[int | None, int | None]:
        return None, math.floor(problem.territories["capacity_hours"].iat[t] / problem.workload_unit + 1e-9)

    def coefficients(self, build: Build, t: int) -> np.ndarray:
        return workload_units(build.problem, build.pairs["workload_hours"].to_numpy())

    def value(self, plan: Plan, t: int) -> int:
        return int(plan.workload_units[t])


class ShareOfBook(TerritoryRule):
    """At least a share of a book in a set of industries the territory has (a frozenset column):
    1000 x accounts in the set - round(1000 x share) x accounts >= 0."""

    set_column = ""

    def share(self, problem: Problem) -> float:
        raise NotImplementedError

    def bounds(self, problem: Problem, t: int) -> tuple[int | None, int | None]:
        return 0, None

    def _weights(self, problem: Problem, t: int) -> np.ndarray:
        """Per account: 1000 - share if its industry is in the set, else -share (share in thousandths)."""
        share = round(SHARE_SCALE * self.share(problem))
        inside = problem.accounts["industry"].isin(problem.territories[self.set_column].iat[t]).to_numpy()
        return np.where(inside, SHARE_SCALE - share, -share)

    def coefficients(self, build: Build, t: int) -> np.ndarray:
        return self._weights(build.problem, t)[build.pairs["account"].to_numpy()]

    def value(self, plan: Plan, t: int) -> int:
        return int(self._weights(plan.problem, t)[plan.owner == t].sum())

    def industries(self, problem: Problem, t: int) -> str:
        return ", ".join(sorted(problem.territories[self.set_column].iat[t])) or "none"


class SpecialistShare(ShareOfBook):
    key = "specialist_share"
    set_column = "specialties"

    def applies(self, problem: Problem) -> bool:
        return problem.scenario.constraints.specialists is not None

    def share(self, problem: Problem) -> float:
        return problem.scenario.constraints.specialists.min_share  # type: ignore[union-attr]

    def territories(self, problem: Problem) -> np.ndarray:
        specialties = problem.territories["specialties"].to_numpy()
        return np.array([t for t in _targets(problem) if specialties[t]], dtype=int)

    def describe(self, problem: Problem, t: int) -> str:
        rule = problem.scenario.constraints.specialists
        return f"{_territory_label(problem, t)}: {rule.describe()} ({self.industries(problem, t)})"  # type: ignore[union-attr]


class IndustryFocus(ShareOfBook):
    """The main industries are the rep's specialties, else the k largest industries of today's book."""

    key = "industry_focus"
    set_column = "focus_industries"

    def applies(self, problem: Problem) -> bool:
        return problem.scenario.constraints.industry_focus is not None

    def share(self, problem: Problem) -> float:
        return problem.scenario.constraints.industry_focus.min_share  # type: ignore[union-attr]

    def describe(self, problem: Problem, t: int) -> str:
        rule = problem.scenario.constraints.industry_focus
        return f"{_territory_label(problem, t)}: {rule.describe()} ({self.industries(problem, t)})"  # type: ignore[union-attr]


class BookShare(TerritoryRule):
    """At most a share of each book moves out: accounts kept >= book - floor(share x book)."""

    key = "max_book_share"
    repairable = False  # today's plan moves nothing

    def applies(self, problem: Problem) -> bool:
        return problem.scenario.constraints.churn.max_book_share is not None

    def territories(self, problem: Problem) -> np.ndarray:
        t = problem.territories
        return np.flatnonzero((t["in_scope"] & t["active"] & ~t["added"]).to_numpy())

    def _book(self, problem: Problem, t: int) -> int:
        return int((problem.accounts["territory"].to_numpy() == t).sum())

    def _limit(self, problem: Problem, t: int) -> int:
        share = problem.scenario.constraints.churn.max_book_share
        return math.floor(share * self._book(problem, t) + 1e-9)  # type: ignore[operator]

    def describe(self, problem: Problem, t: int) -> str:
        churn = problem.scenario.constraints.churn
        return (
            f"{_territory_label(problem, t)}: {churn.describe_book_share()} "
            f"({self._limit(problem, t)} of {self._book(problem, t)} accounts)"
        )

    def bounds(self, problem: Problem, t: int) -> tuple[int | None, int | None]:
        return self._book(problem, t) - self._limit(problem, t), None

    def coefficients(self, build: Build, t: int) -> np.ndarray:
        return build.pairs["current"].to_numpy().astype(np.int64)  # kept accounts of t

    def value(self, plan: Plan, t: int) -> int:
        return self._book(plan.problem, t) - int(plan.moved_out()[t])


# --- rules on the whole plan ------------------------------------------------------------------


class MaxMoves:
    """Moves = accounts in scope - accounts kept; kept >= in scope - max_moves."""

    key = "max_moves"

    def applies(self, problem: Problem) -> bool:
        return problem.scenario.constraints.churn.max_moves is not None

    def add(self, build: Build) -> None:
        churn = build.problem.scenario.constraints.churn
        in_scope = int(build.problem.accounts["in_scope"].sum())
        guard = build.guard(self.key, self.key, churn.describe_moves())
        kept = build.total(build.current_rows)
        build.model.add(kept >= in_scope - churn.max_moves).only_enforce_if(guard)  # type: ignore[operator]

    def broken(self, plan: Plan) -> list[str]:
        churn = plan.problem.scenario.constraints.churn
        moves = int(plan.moved.sum())
        return [f"{churn.describe_moves()}: {moves} move"] if moves > churn.max_moves else []  # type: ignore[operator]


class MaxRevenue:
    """Revenue moved = revenue in scope - revenue kept (whole dollars)."""

    key = "max_revenue"

    def applies(self, problem: Problem) -> bool:
        return problem.scenario.constraints.churn.max_revenue is not None

    def add(self, build: Build) -> None:
        churn = build.problem.scenario.constraints.churn
        accounts = build.problem.accounts
        dollars = np.rint(accounts["revenue_ttm"].to_numpy()).astype(np.int64)
        in_scope = int(dollars[accounts["in_scope"].to_numpy()].sum())
        guard = build.guard(self.key, self.key, churn.describe_revenue())
        kept = build.total(build.current_rows, dollars[build.pairs["account"].to_numpy()])
        build.model.add(in_scope - kept <= math.floor(churn.max_revenue)).only_enforce_if(guard)  # type: ignore[arg-type]

    def broken(self, plan: Plan) -> list[str]:
        churn = plan.problem.scenario.constraints.churn
        dollars = np.rint(plan.problem.accounts["revenue_ttm"].to_numpy()).astype(np.int64)
        moved = int(dollars[plan.moved].sum())
        return [f"{churn.describe_revenue()}: {moved:,} moves"] if moved > churn.max_revenue else []  # type: ignore[operator]


FAMILIES = (
    Stay("locked", HardRules.describe_locked),
    Stay("strategic", HardRules.describe_strategic),
    Stay("top_revenue", HardRules.describe_top_revenue),
    Stay("cooldown", HardRules.describe_cooldown),
    Vacated(),
    PairRule("state_lines", HardRules.describe_state_lines),
    PairRule("specialist_only", lambda c: c.specialists.describe_exclusive()),  # type: ignore[union-attr]
    Edits(),
    MinAccounts(),
    MaxAccounts(),
    PotentialBand(),
    Capacity(),
    SpecialistShare(),
    IndustryFocus(),
    BookShare(),
    MaxMoves(),
    MaxRevenue(),
)


def broken_rules(plan: Plan) -> list[str]:
    """Every hard rule the plan breaks, in words (empty for a valid plan)."""
    return [text for family in FAMILIES if family.applies(plan.problem) for text in family.broken(plan)]
