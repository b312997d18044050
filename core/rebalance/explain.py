"""Why a scenario has no plan, in words, and the smallest relaxation that would give it one.

``diagnose(problem, time_limit_s=...)`` runs checks from the cheapest to the dearest, each with
its share of the time left, and stops at the first that answers:

1. arithmetic, instantly: every rep leaves; a leaving rep's accounts have nowhere they may go;
   the leaving books alone exceed the move cap; the territories in scope hold too little (or too
   much) potential or too few (or many) accounts for the band or account range; a territory
   keeps more than its maximum in accounts that must stay.
2. a churn cap: the fewest moves (or least revenue moved) that keep every other rule, solved
   without the cap — "in band needs at least 41 moves; the cap is 20".
3. the potential band: the tightest band that a plan keeping every other rule meets (the
   smallest widening of both ends), solved without the band; with it comes that plan, so a
   what-if (a rep leaves) can go on under the tightest band instead of stopping.
4. the rules that conflict: every rule behind an assumption literal over widened candidate pairs;
   CP-SAT returns a set of assumptions that is infeasible on its own
   (``sufficient_assumptions_for_infeasibility``), which a deletion pass shrinks.
5. failing all that within the time, the rules the closest plan found still breaks.

``out_of_range`` is the check before any model is built: a weight or amount whose products would
overflow the solver's 64-bit integers is named, with the largest value that fits.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from ortools.sat.python import cp_model

from core.format import money, pct
from core.rebalance.build import Build, weighted_sum
from core.rebalance.constraints import (
    BAND_ROUNDING_MARGIN,
    FAMILIES,
    MaxAccounts,
    PotentialBand,
    Stay,
    Vacated,
    broken_rules,
)
from core.rebalance.greedy import greedy_plan
from core.rebalance.model import build_model
from core.rebalance.objective import POINT
from core.rebalance.plan import Plan
from core.rebalance.problem import STAY_FAMILIES, UNITS_PER_MEAN, Problem, eligibility
from core.rebalance.scenario import Scenario

log = logging.getLogger(__name__)
MAX_DELETION_STEPS = 40
CONFLICT = "These rules cannot all hold together:"
# CP-SAT checks that no sum of |coefficient| x |variable bound| can overflow int64 (2^63); the
# objective is kept well inside that, so the presolve's own sums fit too.
SAFE_MAGNITUDE = 2**60
# Building a model costs about 0.3 s plus 90 us per candidate pair on this 2-core machine under
# load (national, 48,000 pairs: 4.3 s); a check whose model cannot be built and searched by its
# deadline is skipped rather than overrun the solve's time limit.
BUILD_SECONDS, BUILD_SECONDS_PER_PAIR = 0.3, 1e-4
STAY_FAMILY = {family.key: family for family in FAMILIES if isinstance(family, Stay)}


@dataclass(frozen=True)
class Diagnosis:
    """Why there is no plan (``explanation``) and what would give one (``relaxation``)."""

    explanation: tuple[str, ...]
    relaxation: tuple[str, ...] = ()
    proven: bool = True  # the scenario is proven infeasible (else: no plan found in the time)
    relaxed: Scenario | None = None  # the scenario with the relaxation applied (the band widened)
    plan: Plan | None = None  # a plan that keeps the relaxed scenario
    rule: str = ""  # the family at fault when one is ("potential_band")


def diagnose(problem: Problem, *, time_limit_s: float, closest: Plan | None = None) -> Diagnosis:
    """Why the scenario has no plan and its smallest relaxation (see module docstring)."""
    deadline = time.perf_counter() + max(time_limit_s, 0.5)
    found = arithmetic(problem)
    if found is not None:
        return found
    for check in (_fewest_moves, _least_revenue, _tightest_band):
        part = _share_of(deadline, 0.6)
        found = check(problem, part) if _affordable(part, len(problem.pairs)) else None
        if found is not None:
            return found
    in_scope = int(problem.accounts["in_scope"].sum())
    wide = min(in_scope * len(_receivers(problem)), 2 * len(problem.pairs) + in_scope)
    found = _conflict(problem, deadline) if _affordable(deadline, wide) else None
    if found is not None:
        return found
    broken = broken_rules(closest) if closest is not None else []
    if broken:
        return Diagnosis(
            (
                "No plan keeping every rule was found in the time; the closest plan found still breaks:",
                *broken[:10],
            ),
            ("Loosen one of the rules it breaks, or raise the time limit.",),
            proven=False,
        )
    return Diagnosis(
        ("No plan keeping every rule was found in the time, and no single rule was shown to be the cause.",),
        ("Raise the time limit, or narrow the scope.",),
        proven=False,
    )


def explain_infeasibility(problem: Problem, *, time_limit_s: float = 20.0) -> tuple[str, ...]:
    """Sentences naming why the scenario has no plan (``diagnose``'s explanation)."""
    return diagnose(problem, time_limit_s=time_limit_s).explanation


def conflicting_families(problem: Problem, *, time_limit_s: float = 20.0) -> set[str]:
    """The machine half of the conflict: family keys of the conflicting rules."""
    build = build_model(problem, explain=True)
    status, core = _solve_with(build, list(build.guards), time_limit_s)
    if status != cp_model.INFEASIBLE:
        return set()
    return {build.guards[index].family for index in _shrink(build, core, time.perf_counter() + time_limit_s)}


def _affordable(deadline: float, pairs: int) -> bool:
    """Whether a model of this many pairs can be built and searched (as long again) by the deadline."""
    return deadline - time.perf_counter() >= 2 * (BUILD_SECONDS + BUILD_SECONDS_PER_PAIR * pairs)


def _share_of(deadline: float, share: float) -> float:
    """A deadline ``share`` of the way from now to ``deadline``."""
    now = time.perf_counter()
    return now + share * max(deadline - now, 0.0)


# --- 0. numbers out of the solver's range ------------------------------------------------------


def out_of_range(problem: Problem) -> tuple[str, ...]:
    """Weights or amounts whose products overflow the solver's integers, each named with its limit."""
    weights = problem.scenario.objective
    accounts, targets = len(problem.accounts), max(int(problem.territories["active"].sum()), 1)
    # the largest value each weight multiplies, in objective units per unit of weight
    reach = {
        "potential_balance": POINT * 100 / UNITS_PER_MEAN * max(_units(problem), UNITS_PER_MEAN) * 2,
        "workload_balance": POINT * 100 * targets * 2,
        "travel": POINT / 100 * 20_000 * accounts,
        "continuity": POINT * 1.75 * accounts,
        "industry_mix": POINT * accounts,
        "state_spread": POINT * 1.01 * (accounts + targets),
    }
    total = sum(getattr(weights, key) * value for key, value in reach.items())
    sentences = []
    if total >= SAFE_MAGNITUDE:
        for key, value in reach.items():
            weight = getattr(weights, key)
            if weight * value >= SAFE_MAGNITUDE / len(reach):
                sentences.append(
                    f"The {key.replace('_', ' ')} weight {weight:g} is out of range: with it the objective "
                    f"could reach {weight * value / POINT:.3g} points, beyond what the solver's 64-bit "
                    f"integers hold; use a weight of at most {SAFE_MAGNITUDE / len(reach) / value:.3g}."
                )
    revenue = float(problem.accounts["revenue_ttm"].abs().sum())
    if problem.scenario.constraints.churn.max_revenue is not None and revenue >= SAFE_MAGNITUDE:
        sentences.append(
            f"The book's revenue, {money(revenue)}, is out of range for the revenue cap: the solver counts "
            f"revenue in whole dollars, up to {SAFE_MAGNITUDE:.3g}."
        )
    return tuple(sentences)


def _units(problem: Problem) -> int:
    return int(problem.accounts["potential_units"].abs().sum())


def model_invalid(message: str, problem: Problem) -> tuple[str, ...]:
    """The solver's complaint in one line, without the model it quotes, plus what is out of range."""
    first = message.split(":", 1)[0].strip() or "the model is not valid"
    return (f"The solver rejected the model ({first}).", *out_of_range(problem))


# --- 1. arithmetic -------------------------------------------------------------------------------


def arithmetic(problem: Problem) -> Diagnosis | None:
    """Reasons that need no search (see module docstring, 1)."""
    checks: tuple[Callable[[Problem], Diagnosis | None], ...] = (
        _no_rep_left,
        _nowhere_to_go,
        _leaving_books_over_cap,
        _band_totals,
        _range_totals,
        _pinned,
    )
    for check in checks:
        found = check(problem)
        if found is not None:
            log.info("infeasible %s: %s", problem.scenario.name, found.explanation[0])
            return found
    return None


def _receivers(problem: Problem) -> np.ndarray:
    t = problem.territories
    return np.flatnonzero((t["active"] & t["in_scope"]).to_numpy())


def _leaving(problem: Problem) -> list[str]:
    t = problem.territories
    return [_label(problem, int(i)) for i in np.flatnonzero(t["vacated"].to_numpy())]


def _label(problem: Problem, t: int) -> str:
    row = problem.territories.iloc[t]
    name, external = row["name"], row["external_id"]
    return f"{external} ({name})" if name and name != external else str(external)


def _no_rep_left(problem: Problem) -> Diagnosis | None:
    moving = problem.accounts["in_scope"] & problem.accounts["vacating"]
    if not moving.any() or len(_receivers(problem)):
        return None
    leaving = _leaving(problem)
    who = "Every rep leaves" if not problem.territories["active"].any() else "Every rep in scope leaves"
    return Diagnosis(
        (
            f"{who} (what-if: {', '.join(leaving)}): their {int(moving.sum())} accounts have no "
            "territory to go to.",
        ),
        ("Keep at least one rep, or add a rep (what-if) to take the book.",),
    )


def _nowhere_to_go(problem: Problem) -> Diagnosis | None:
    accounts = problem.accounts
    has_pair = np.zeros(len(accounts), dtype=bool)
    has_pair[problem.pairs["account"].to_numpy()] = True
    homeless = np.flatnonzero(accounts["in_scope"].to_numpy() & ~has_pair)
    receivers = _receivers(problem)
    if not len(homeless) or not len(receivers):
        return None
    rows, cols = np.repeat(homeless, len(receivers)), np.tile(receivers, len(homeless))
    rules = problem.scenario.constraints
    words = {
        "state_lines": rules.describe_state_lines(),
        "specialist_only": rules.specialists.describe_exclusive() if rules.specialists else "",
    }
    blocking = [words[key] for key, forbid in eligibility(problem, rows, cols).items() if forbid.any()]
    examples = ", ".join(accounts["external_id"].iloc[homeless[:3]].astype(str))
    return Diagnosis(
        (
            f"{len(homeless)} accounts of the leaving reps' books (e.g. {examples}) have no territory "
            "they may go to:",
            *(blocking or ["no territory in scope is near enough to be a candidate"]),
        ),
        (
            "Keep their rep, add a rep who may take them (what-if), or drop that rule."
            if blocking
            else "Widen the scope or raise `candidates`.",
        ),
    )


def _leaving_books_over_cap(problem: Problem) -> Diagnosis | None:
    cap = problem.scenario.constraints.churn.max_moves
    leaving = int((problem.accounts["in_scope"] & problem.accounts["vacating"]).sum())
    if cap is None or leaving <= cap:
        return None
    vacated = np.flatnonzero(problem.territories["vacated"].to_numpy())
    return Diagnosis(
        (
            f"The leaving reps' books alone need {leaving} moves; the cap is {cap}.",
            CONFLICT,
            *(Vacated().sentence(problem, int(t)) for t in vacated),
            problem.scenario.constraints.churn.describe_moves(),
        ),
        (f"Raise the move cap to at least {leaving}.",),
    )


def _band_totals(problem: Problem) -> Diagnosis | None:
    rule = problem.scenario.constraints.potential
    receivers = _receivers(problem)
    if rule is None or not len(receivers):
        return None
    low, high = problem.potential_bounds()  # type: ignore[misc]
    total = float(problem.accounts.loc[problem.accounts["in_scope"], "potential"].sum())
    average = total / len(receivers)
    short, over = average < low * (1 - 1e-9), average > high * (1 + 1e-9)
    if not (short or over):
        return None
    side = f"at least {money(low)}" if short else f"at most {money(high)}"
    if rule.share is not None:
        needed = abs(average / problem.mean_potential - 1)
        fix = f"Widen the band to ±{pct(math.ceil(needed * 1000) / 1000, 1)} or widen the scope."
    else:
        fix = f"{'Lower the band minimum' if short else 'Raise the band maximum'} to {money(average)}."
    return Diagnosis(
        (
            f"The {len(receivers)} territories in scope share {money(total)} of potential, "
            f"{money(average)} each on average: they cannot all have {side} ({rule.describe()}).",
        ),
        (fix,),
        rule="potential_band",
    )


def _range_totals(problem: Problem) -> Diagnosis | None:
    rule = problem.scenario.constraints.accounts
    receivers = _receivers(problem)
    if rule is None or not len(receivers):
        return None
    count = int(problem.accounts["in_scope"].sum())
    if rule.min is not None and count < rule.min * len(receivers):
        return Diagnosis(
            (
                f"The {len(receivers)} territories in scope share {count} accounts: they cannot all have "
                f"{rule.describe_min()}.",
            ),
            (f"Lower the minimum to {count // len(receivers)} accounts.",),
        )
    if rule.max is not None and count > rule.max * len(receivers):
        return Diagnosis(
            (
                f"The {len(receivers)} territories in scope share {count} accounts: they cannot all have "
                f"{rule.describe_max()}.",
            ),
            (f"Raise the maximum to {math.ceil(count / len(receivers))} accounts.",),
        )
    return None


def _pinned(problem: Problem) -> Diagnosis | None:
    """A territory whose accounts that must stay already exceed its account or potential maximum."""
    accounts, rules = problem.accounts, problem.scenario.constraints
    stays = accounts["stays"].to_numpy() & accounts["in_scope"].to_numpy()
    owner = accounts["territory"].to_numpy()
    counts = np.bincount(owner[stays], minlength=len(problem.territories))
    potential = np.bincount(
        owner[stays], weights=accounts["potential"].to_numpy()[stays], minlength=len(counts)
    )
    high = problem.potential_bounds()[1] if rules.potential is not None else math.inf  # type: ignore[index]
    most = rules.accounts.max if rules.accounts is not None and rules.accounts.max is not None else math.inf
    for t in map(int, _receivers(problem)):
        if counts[t] <= most and potential[t] <= high * (1 + 1e-9):
            continue
        reasons = [
            STAY_FAMILY[f].sentence(problem)
            for f in STAY_FAMILIES
            if (accounts[f"stay_{f}"] & (owner == t)).any()
        ]
        if rules.accounts is not None and rules.accounts.max is not None and counts[t] > rules.accounts.max:
            return Diagnosis(
                (CONFLICT, *reasons, MaxAccounts().describe(problem, t)),
                (
                    f"{_label(problem, t)} keeps {counts[t]} accounts that must stay: raise the maximum to "
                    f"{counts[t]} accounts, or let some of them move.",
                ),
            )
        if potential[t] > high * (1 + 1e-9):
            return Diagnosis(
                (CONFLICT, *reasons, PotentialBand().describe(problem, t)),
                (
                    f"{_label(problem, t)} keeps {money(potential[t])} of accounts that must stay: raise the "
                    f"band maximum to {money(potential[t])}, or let some of them move.",
                ),
                rule="potential_band",
            )
    return None


# --- 2. churn caps: the least churn that keeps every other rule ----------------------------------


def _targets_phrase(problem: Problem) -> str:
    rules = problem.scenario.constraints
    parts = [
        p for p, on in (("in band", rules.potential), ("within the account range", rules.accounts)) if on
    ]
    return f"Every territory {' and '.join(parts)}" if parts else "Keeping the other rules"


def _least_churn(
    problem: Problem, deadline: float, field: str, per_account: np.ndarray
) -> tuple[int, int, Plan] | None | bool:
    """(lower bound, best found, plan) of the churn ``per_account`` sums without the cap ``field``;
    False when even without the cap no plan exists; None when nothing was learnt in the time."""
    free = replace(problem, scenario=problem.scenario.with_changes(**{f"constraints.churn.{field}": None}))
    start = greedy_plan(free, len(problem.accounts), deadline=_share_of(deadline, 0.2), to_band=True)
    build = build_model(free, hint=start)
    rows = np.flatnonzero(~build.pairs["current"].to_numpy())
    costs = per_account[build.pairs["account"].to_numpy()[rows]]
    build.model.minimize(weighted_sum([build.x[r] for r in rows], costs))
    solver = _solver(build, deadline)
    status = solver.solve(build.model)
    if status == cp_model.INFEASIBLE:
        return False
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    bound = math.ceil(solver.best_objective_bound - 1e-6)
    return bound, round(solver.objective_value), build.plan(solver)


def _solver(build: Build, deadline: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(deadline - time.perf_counter(), 0.5)
    solver.parameters.num_workers = max(build.problem.scenario.workers, 1)
    return solver


def _fewest_moves(problem: Problem, deadline: float) -> Diagnosis | None:
    cap = problem.scenario.constraints.churn.max_moves
    if cap is None:
        return None
    found = _least_churn(problem, deadline, "max_moves", np.ones(len(problem.accounts), dtype=np.int64))
    if not isinstance(found, tuple):
        return None
    bound, best, _ = found
    what = _targets_phrase(problem)
    rule = problem.scenario.constraints.churn.describe_moves()
    if bound > cap:
        note = "" if best == bound else f" (the fewest found is {best})"
        return Diagnosis(
            (f"{what} needs at least {bound} moves{note}; the cap is {cap}.", CONFLICT, rule),
            (
                f"Raise the move cap to {best}."
                if best == bound
                else f"Raise the move cap to between {bound} and {best}.",
            ),
        )
    if best > cap:  # not proven: the search found no plan within the cap
        return Diagnosis(
            (
                f"{what} took {best} moves in the best plan found (at least {bound} are needed); "
                f"the cap is {cap}.",
                rule,
            ),
            (f"Raise the move cap to {best}, or the time limit.",),
            proven=False,
        )
    return None


def _least_revenue(problem: Problem, deadline: float) -> Diagnosis | None:
    cap = problem.scenario.constraints.churn.max_revenue
    if cap is None:
        return None
    dollars = np.rint(problem.accounts["revenue_ttm"].to_numpy()).astype(np.int64)
    found = _least_churn(problem, deadline, "max_revenue", dollars)
    if not isinstance(found, tuple):
        return None
    bound, best, _ = found
    if bound <= cap:
        return None
    return Diagnosis(
        (
            f"{_targets_phrase(problem)} needs at least {money(bound)} of revenue moved; "
            f"the cap is {money(cap)}.",
            CONFLICT,
            problem.scenario.constraints.churn.describe_revenue(),
        ),
        (f"Raise the revenue cap to {money(best)}.",),
    )


# --- 3. the tightest band a plan meets ---------------------------------------------------------


def _tightest_band(problem: Problem, deadline: float) -> Diagnosis | None:
    rule = problem.scenario.constraints.potential
    if rule is None:
        return None
    widening = tightest_widening(problem, deadline)
    if widening is None:
        return None
    bound, found, plan = widening
    if found == 0:
        return None
    low, high = problem.potential_bounds()  # type: ignore[misc]
    unit = problem.potential_unit
    relaxed = widened(problem.scenario, problem.mean_potential, found + 2 * BAND_ROUNDING_MARGIN, unit)
    tight = widened(problem.scenario, problem.mean_potential, found, unit).constraints.potential
    assert tight is not None
    return Diagnosis(
        (f"No plan keeps every territory's {rule.describe()} together with the other rules.",),
        (
            f"The tightest band a plan meets is {_band_words(tight, problem.mean_potential)}"
            + ("" if bound >= found else " (the tightest found in the time)")
            + f"; the band asks {money(low)}–{money(high) if math.isfinite(high) else 'any'}.",
        ),
        proven=bound > 0,
        relaxed=relaxed,
        plan=Plan(replace(problem, scenario=relaxed), plan.owner),
        rule="potential_band",
    )


def tightest_band(problem: Problem, *, time_limit_s: float) -> Diagnosis | None:
    """The tightest band a plan keeping every other rule meets, with that plan (None: no band, or
    no such plan found in the time)."""
    return _tightest_band(problem, time.perf_counter() + max(time_limit_s, 0.5))


def tightest_widening(problem: Problem, deadline: float) -> tuple[int, int, Plan] | None:
    """(lower bound, best found, plan) of the smallest widening z, in potential units, of both ends
    of the band such that a plan keeping every other rule has each territory in [low - z, high + z]."""
    free = replace(problem, scenario=problem.scenario.with_changes(**{"constraints.potential": None}))
    budget = problem.scenario.constraints.churn.max_moves
    start = greedy_plan(
        free, budget if budget is not None else len(problem.accounts), deadline=_share_of(deadline, 0.2)
    )
    build = build_model(free, hint=start)
    low_d, high_d = problem.potential_bounds()  # type: ignore[misc]
    low, high = math.ceil(low_d / problem.potential_unit - 1e-9), high_d / problem.potential_unit
    units = problem.accounts["potential_units"].to_numpy()[build.pairs["account"].to_numpy()]
    reach = int(np.abs(units).sum()) + abs(low) + (0 if math.isinf(high) else int(high))
    z = build.model.new_int_var(0, max(reach, 1), "band_widening")
    for t in build.targets:
        total = build.total(build.rows(int(t)), units)
        build.model.add(total + z >= low)
        if math.isfinite(high):
            build.model.add(total - z <= math.floor(high + 1e-9))
    build.model.minimize(z)
    solver = _solver(build, deadline)
    status = solver.solve(build.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return math.ceil(solver.best_objective_bound - 1e-6), round(solver.objective_value), build.plan(solver)


def widened(scenario: Scenario, mean: float, units: int, unit: float) -> Scenario:
    """The scenario with both ends of its band moved out by ``units`` potential units."""
    rule = scenario.constraints.potential
    assert rule is not None
    if rule.share is not None:
        share = min(rule.share + units / UNITS_PER_MEAN, 0.999)
        return scenario.with_changes(
            **{"constraints.potential": {"share": math.ceil(share * 10_000) / 10_000}}
        )
    low, high = rule.bounds(mean)
    band = {"min": max(low - units * unit, 0.0), "max": None if math.isinf(high) else high + units * unit}
    return scenario.with_changes(**{"constraints.potential": band})


def _band_words(rule, mean: float) -> str:  # type: ignore[no-untyped-def]
    low, high = rule.bounds(mean)
    dollars = f"{money(low)}–{money(high) if math.isfinite(high) else 'any'}"
    return f"±{pct(rule.share, 1)} of the team mean ({dollars})" if rule.share is not None else dollars


# --- 4. the rules that conflict ----------------------------------------------------------------


def _conflict(problem: Problem, deadline: float) -> Diagnosis | None:
    """The conflicting rules from an assumption core (None when not isolated in the time)."""
    build = build_model(problem, explain=True)
    status, core = _solve_with(build, list(build.guards), max(deadline - time.perf_counter(), 0.5))
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Diagnosis(
            (
                "The rules can all hold, but not with each account offered only its "
                f"{problem.scenario.candidates} nearest eligible territories; raise `candidates`.",
            ),
            (f"Raise `candidates` above {problem.scenario.candidates}.",),
        )
    if status != cp_model.INFEASIBLE:
        return None
    core = _shrink(build, core, deadline)
    sentences = tuple(build.guards[index].sentence for index in core)
    log.info("infeasible %s: %d conflicting rules", problem.scenario.name, len(sentences))
    if not sentences:
        return Diagnosis(
            ("No assignment exists even without the optional rules (an account has no territory to go to).",),
            ("Widen the scope or raise `candidates`.",),
        )
    return Diagnosis((CONFLICT, *sentences), ("Loosen any one of these rules.",))


def _solve_with(build: Build, assumptions: list[int], time_limit_s: float) -> tuple[int, list[int]]:
    """Solve under the given assumption literals; the infeasible core when infeasible."""
    model = build.model
    model.clear_assumptions()
    model.proto.assumptions.extend(assumptions)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit_s, 0.1)
    solver.parameters.num_workers = 1  # cores come from the sequential search
    status = int(solver.solve(model))
    core = list(solver.sufficient_assumptions_for_infeasibility()) if status == cp_model.INFEASIBLE else []
    return status, core


def _shrink(build: Build, core: list[int], deadline: float) -> list[int]:
    """Deletion filter: drop each rule whose absence keeps the rest infeasible."""
    kept = list(dict.fromkeys(core))
    for index in list(kept)[:MAX_DELETION_STEPS]:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        trial = [i for i in kept if i != index]
        status, smaller = _solve_with(build, trial, min(remaining, 5.0))
        if status == cp_model.INFEASIBLE:
            kept = [i for i in trial if not smaller or i in set(smaller)]
    return kept
