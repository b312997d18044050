"""Generalized Assignment Problem instances solved with the product's assignment model (benchmark only).

A GAP instance is a rebalance stripped to its core: jobs (accounts) go to exactly one agent
(territory), each pair has a cost and a resource use (workload), each agent a capacity. The model
is ``add_assignment`` + ``add_capacity`` from ``core.rebalance.build``, the same two functions every
rebalance starts from, with the per-pair cost as the objective. The instances and their file
format are in ``bench/gap_instances.py``; the scripts are ``bench/gap.py`` and ``bench/gap_proof.py``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from bench.gap_instances import GapInstance
from core.rebalance.build import add_assignment, add_capacity, groups, weighted_sum
from core.rebalance.relax import glop


@dataclass(frozen=True)
class GapResult:
    name: str
    status: str
    objective: int | None
    bound: int | None
    wall_time_s: float

    @property
    def optimal(self) -> bool:
        return self.status == "OPTIMAL"


def greedy_gap(
    instance: GapInstance, *, maximize: bool = False, deadline: float = math.inf
) -> np.ndarray | None:
    """A feasible start (Martello-Toth regret heuristic): jobs by decreasing regret go to their most
    desirable agent with room, trying cost, resource share and their product as desirability; then
    shifts. Returns the agent of each job of the cheapest start found, or None when all get stuck.
    After ``deadline`` (perf_counter) no further pass starts or finishes once one has found a start
    (a pass is O(n (m + n)): 1.5 s at 80 x 1,600 on a loaded machine)."""
    cost = -instance.cost if maximize else instance.cost
    share = instance.resource / np.maximum(instance.capacity[:, None], 1)
    found = []
    for measure in (cost, share, cost * share, instance.resource):
        agent, room = _regret_greedy(instance, measure, deadline if found else math.inf)
        if agent is not None:
            found.append(_improve_by_shifts(instance, cost, agent, room, deadline))
        if found and time.perf_counter() > deadline:
            break
    return min(found, key=lambda a: int(cost[a, np.arange(len(a))].sum())) if found else None


def _regret_greedy(
    instance: GapInstance, desirability: np.ndarray, deadline: float = math.inf
) -> tuple[np.ndarray | None, np.ndarray]:
    """One regret pass. Only the chosen agent's room shrinks at each step, so only the jobs that
    stop fitting it get their best and second-best agent recomputed (O(n) per step, not O(mn))."""
    m, n = desirability.shape
    room = instance.capacity.astype(np.int64).copy()
    agent = np.full(n, -1)
    score = np.where(instance.resource <= room[:, None], desirability, np.inf).astype(float)
    regret = _regrets(score)
    if regret is None:
        return None, room
    for step in range(n):
        if step % 64 == 0 and time.perf_counter() > deadline:
            return None, room
        j = int(np.argmax(regret))
        i = int(np.argmin(score[:, j]))
        agent[j], room[i], regret[j] = i, room[i] - instance.resource[i, j], -np.inf
        stops = np.isfinite(score[i]) & (instance.resource[i] > room[i]) & (agent < 0)
        if stops.any():
            score[i, stops] = np.inf
            columns = np.flatnonzero(stops)
            changed = _regrets(score[:, columns])
            if changed is None:
                return None, room
            regret[columns] = changed
    return agent, room


def _regrets(score: np.ndarray) -> np.ndarray | None:
    """Second-best minus best score per job (inf with one agent left); None when one has none."""
    ordered = np.partition(score, 1, axis=0) if score.shape[0] > 1 else score
    best = ordered[0]
    if np.isinf(best).any():
        return None
    second = ordered[1] if score.shape[0] > 1 else np.full(score.shape[1], np.inf)
    regret = np.full(score.shape[1], np.inf)  # a job with one agent left goes first
    finite = np.isfinite(second)
    regret[finite] = second[finite] - best[finite]
    return regret


def _improve_by_shifts(
    instance: GapInstance, cost: np.ndarray, agent: np.ndarray, room: np.ndarray, deadline: float = math.inf
) -> np.ndarray:
    """Move single jobs to a cheaper agent with room until no shift improves (or the deadline)."""
    improved = True
    while improved and time.perf_counter() <= deadline:
        improved = False
        for j in range(cost.shape[1]):
            i = agent[j]
            fits = instance.resource[:, j] <= room
            gain = np.where(fits, cost[i, j] - cost[:, j], 0)
            best = int(np.argmax(gain))
            if gain[best] > 0:
                room[i] += instance.resource[i, j]
                room[best] -= instance.resource[best, j]
                agent[j], improved = best, True
    return agent


def gap_model(
    instance: GapInstance,
    *,
    maximize: bool = False,
    start: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
) -> tuple[cp_model.CpModel, list]:
    """The assignment model of an instance: the rebalance core over the (job, agent) pairs.

    ``allowed`` (agents x jobs, default all) restricts the pairs.
    """
    # Data: the candidate pairs, grouped by job.
    agents, jobs = np.nonzero(np.ones_like(instance.cost, dtype=bool) if allowed is None else allowed)
    order = np.argsort(jobs, kind="stable")
    agents, jobs = agents[order], jobs[order]
    model = cp_model.CpModel()
    # Variables and constraint: each job to exactly one agent.
    x = add_assignment(model, jobs)
    # Constraint: each agent's resource use within its capacity.
    add_capacity(
        model,
        x,
        groups(agents),
        instance.resource[agents, jobs],
        {i: int(instance.capacity[i]) for i in range(len(instance.capacity))},
    )
    # Objective: the per-pair costs.
    total = weighted_sum(x, instance.cost[agents, jobs])
    model.maximize(total) if maximize else model.minimize(total)
    # Hint: a start, complete (a job with one allowed agent has the constant 1, no hint).
    if start is not None:
        own = np.bincount(jobs, minlength=instance.cost.shape[1])[jobs] > 1
        hint = model.proto.solution_hint
        hint.vars.extend([x[r].index for r in np.flatnonzero(own).tolist()])
        hint.values.extend((start[jobs[own]] == agents[own]).astype(int).tolist())
    return model, [x, agents, jobs]


# Shares of the time limit: the greedy start, the Lagrangian probe, the Lagrangian bound against
# the plan of the steps (when pruning may pay).
GREEDY_SHARE, PROBE_SHARE, LAGRANGIAN_SHARE = 0.05, 0.05, 0.15
# Pruning may pay only when the probe's bound is within LOOSE_GAP of the greedy start (else no
# incumbent gets near enough for fixing to bite: generated d and e instances end the probe far
# below it) and reduced-cost fixing would keep at most KEEP_AT_MOST of the pairs against a plan
# PROBE_MARGIN above the bound.
LOOSE_GAP = 0.10
KEEP_AT_MOST = 0.5
# The fixing against the steps' plan must keep at most this share for the smaller model to be
# searched; a weaker reduction (b10200-like instances: about half the pairs) lost to the full model
# searched from the same plan (generated b10200: 2,863 against plain CP-SAT's 2,837).
SEARCH_PRUNED_AT_MOST = 0.25
PROBE_MARGIN = 0.005


def solve_gap(
    instance: GapInstance, *, maximize: bool = False, time_limit_s: float = 60.0, workers: int = 2
) -> GapResult:
    """Solve an instance; OPTIMAL means the optimum is proven within the time limit.

    1. A greedy start (at most 5% of the time).
    2. Probe (at most 5%): a Lagrangian bound (relax "each job exactly once" with multipliers, one
       knapsack per agent, subgradient steps), its gap to the greedy start, and the share of pairs
       reduced-cost fixing would keep against a plan 0.5% above that bound. Whether pruning pays
       is read from the instance this way, not from its type: on types a-c the bound is close and
       fixing drops most pairs; where cost falls as resource use rises (types d, e) the bound
       stays far below any plan and fixing would keep nearly every pair.
    3. When the probe said pruning may pay: steps over agent subsets from the start
       (``improve_by_steps``) until they stall, at most 15% of the time; then the Lagrangian bound
       again from the probe's multipliers against the steps' plan; reduced-cost fixing drops every
       pair whose use provably costs at least that plan (keeping the plan's own). When at most a
       quarter of the pairs is left, CP-SAT searches what is left from the plan for the rest of
       the time; the reduced model's optimum is the instance's, so CP-SAT proving it, or reaching
       the Lagrangian bound, proves the instance.
    4. Otherwise (where cost falls as resource use rises, fixing cannot bite: no single pair costs
       more than the distance between a good plan and the bound) the linear relaxation is solved
       (GLOP's dual simplex, at most LP_SHARE of the time): its optimum is the bound, and the
       plan comes from kernel search (``_kernel_search``): CP-SAT on the pairs the relaxation
       uses plus each job's two pairs of lowest reduced cost (a few percent of the model; on
       generated d and e instances its plan is within 0.2-0.9% of the bound in 5 s, where plain
       CP-SAT on all pairs is still at its first plan), then on twice as many pairs per job from
       the best plan, and so on to the whole model, each one left after KERNEL_STALL of the time
       without a cheaper plan.
    5. When the relaxation is not solved in its time (``_alternate``'s own loop): CP-SAT on the
       full model as a plain model (no hint, default parameters), first; once it has found a
       cheaper plan it runs to the end. If it finds none within FIRST_LOOK of the time,
       ``_portfolio``: plain CP-SAT without a hint on one worker and steps on the other.
    The incumbent is only ever replaced by a cheaper plan.
    """
    started = time.perf_counter()
    deadline = started + time_limit_s
    minimizing = -instance.cost if maximize else instance.cost
    problem = GapInstance(instance.name, minimizing, instance.resource, instance.capacity)
    start = greedy_gap(problem, deadline=started + GREEDY_SHARE * time_limit_s)
    lower, multipliers, prune = -(2**62), None, False
    if start is not None:
        upper = int(problem.cost[start, np.arange(len(start))].sum())
        probe_end = time.perf_counter() + PROBE_SHARE * time_limit_s
        bound, multipliers = lagrangian_bound(problem, upper, deadline=probe_end)
        if math.isfinite(bound):
            lower = math.ceil(bound - 1e-6)
            if lower >= upper:
                return _result(instance, "OPTIMAL", upper, upper, maximize, started)
            hoped = min(upper, math.floor(bound + PROBE_MARGIN * abs(bound)) + 1)
            prune = (upper - bound) <= LOOSE_GAP * abs(upper) and (
                reduced_cost_pairs(problem, multipliers, bound, hoped).mean() <= KEEP_AT_MOST
            )
    if start is None or not prune:  # the full model first; the steps only once it stalls
        return _alternate(instance, problem, start, lower, deadline, workers, maximize, started)
    start = improve_by_steps(problem, start, deadline=started + STEPS_SHARE * time_limit_s, workers=workers)
    upper = _cost(problem, start)
    if lower < upper:  # pruning may pay (else the full model went first, above)
        lagrangian_end = min(time.perf_counter() + LAGRANGIAN_SHARE * time_limit_s, deadline - 1.0)
        bound, multipliers = lagrangian_bound(
            problem, upper, deadline=lagrangian_end, multipliers=multipliers
        )
        if math.isfinite(bound):
            lower = max(lower, math.ceil(bound - 1e-6))
        kept = reduced_cost_pairs(problem, multipliers, bound, upper)
        kept[start, np.arange(len(start))] = True  # the incumbent stays a valid start
        if lower < upper and kept.mean() <= SEARCH_PRUNED_AT_MOST:
            run = _cp_sat(problem, start, kept, deadline - time.perf_counter(), workers, lower=lower)
            if run.agent is not None and run.objective is not None and round(run.objective) <= upper:
                upper = int(round(run.objective))
                if run.status == "OPTIMAL":  # the pruned model's optimum is the instance's
                    lower = upper
            if run.agent is not None and run.bound is not None:
                lower = max(lower, int(round(run.bound)))
            lower = min(lower, upper)
            status = "OPTIMAL" if lower >= upper else "FEASIBLE"
            return _result(instance, status, upper, lower, maximize, started)
    if lower >= upper:
        return _result(instance, "OPTIMAL", upper, upper, maximize, started)
    return _alternate(instance, problem, start, lower, deadline, workers, maximize, started)


def _alternate(
    instance: GapInstance,
    problem: GapInstance,
    start: np.ndarray | None,
    lower: int,
    deadline: float,
    workers: int,
    maximize: bool,
    started: float,
) -> GapResult:
    """Without pruning: the linear relaxation's bound and kernel search (``_kernel_search``) when the
    relaxation is solved within LP_SHARE of the time. Otherwise the time goes to whichever search is
    improving: CP-SAT on the full model (the plain model: no hint, its own parameters) for as long
    as it finds a plan cheaper than the best one, or a better bound (the first look: FIRST_LOOK of
    the time; later FULL_STALL). A first look that finds nothing cheaper hands over to
    ``_portfolio``; with one worker, or after a later stall, steps over agent subsets (at most
    STEPS_SHARE of the time), then the full model again, and so on to the deadline."""
    time_limit_s = deadline - started
    relaxation = lp_relaxation(
        problem, deadline=min(deadline - 1.0, time.perf_counter() + LP_SHARE * time_limit_s)
    )
    if relaxation is not None:
        final = _kernel_search(problem, start, relaxation, lower, deadline, workers, time_limit_s)
        return _best_of(instance, problem, final, start, lower, maximize, started)
    best, bound, status = start, lower, "UNKNOWN"
    for attempt in range(4):
        if deadline - time.perf_counter() < 0.5:
            break
        stall = (FIRST_LOOK if attempt == 0 else FULL_STALL) * time_limit_s if best is not None else None
        before = None if best is None else _cost(problem, best)
        run = _cp_sat(
            problem,
            best,
            None,
            deadline - time.perf_counter(),
            workers,
            lower=lower,
            stall_s=stall,
            hint=False,  # a hint holds the search near the plan (see _portfolio); the plan stays ours
        )
        if run.bound is not None:
            bound = max(bound, int(round(run.bound)))
        found = run.agent is not None and (before is None or run.objective < before)  # type: ignore[operator]
        settled = run.status in ("OPTIMAL", "INFEASIBLE", "MODEL_INVALID")
        if attempt == 0 and before is not None and not found and not settled and workers >= 2:
            return _portfolio(instance, problem, best, bound, deadline, workers, maximize, started)
        if found:
            best = run.agent
        if settled or best is None:
            status = run.status
            break
        if _cost(problem, best) <= bound or deadline - time.perf_counter() < 0.5:
            break
        steps_end = min(deadline, time.perf_counter() + STEPS_SHARE * time_limit_s)
        best = improve_by_steps(problem, best, deadline=steps_end, workers=workers)
    final = _Run(status, None if best is None else _cost(problem, best), bound, best)
    return _best_of(instance, problem, final, start, lower, maximize, started)


@dataclass(frozen=True)
class Relaxation:
    """The linear relaxation of an instance (0 <= x <= 1), solved to optimality."""

    bound: float
    reduced: np.ndarray  # agents x jobs: the reduced cost of each pair at the optimum
    support: np.ndarray  # agents x jobs: the pairs with x > 0 at the optimum


def lp_relaxation(instance: GapInstance, *, deadline: float) -> Relaxation | None:
    """The linear relaxation solved by GLOP's dual simplex; None when it is not solved by the deadline.
    Built straight from the instance's arrays: through ``gap_model`` and ``core.rebalance.relax``'s
    generic reading of a CP-SAT model it is the same LP, 3-4 s slower at 80 x 1,600."""
    m, n = instance.cost.shape
    solver = glop()
    x = [[solver.NumVar(0.0, 1.0, "") for _ in range(n)] for _ in range(m)]
    once = [solver.Constraint(1.0, 1.0) for _ in range(n)]
    objective = solver.Objective()
    for i in range(m):
        capacity = solver.Constraint(-solver.infinity(), float(instance.capacity[i]))
        for j, (var, cost, use) in enumerate(
            zip(x[i], instance.cost[i].tolist(), instance.resource[i].tolist(), strict=True)
        ):
            once[j].SetCoefficient(var, 1.0)
            capacity.SetCoefficient(var, float(use))
            objective.SetCoefficient(var, float(cost))
    objective.SetMinimization()
    left = deadline - time.perf_counter()
    if left <= 0.1:
        return None
    if math.isfinite(left):
        solver.SetTimeLimit(int(left * 1000))
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    reduced = np.array([[var.reduced_cost() for var in row] for row in x])
    support = np.array([[var.solution_value() > 1e-6 for var in row] for row in x])
    return Relaxation(objective.Value(), reduced, support)


# Kernel search: the first restricted model holds, for each job, the pairs the relaxation uses and its
# KERNEL_FIRST pairs of lowest reduced cost; each following one doubles that count, up to every pair.
# A restricted model is left after KERNEL_STALL of the time without a cheaper plan.
KERNEL_FIRST, KERNEL_STALL, LP_SHARE = 2, 0.05, 0.3


def _kernel_search(
    problem: GapInstance,
    start: np.ndarray | None,
    relaxation: Relaxation,
    lower: int,
    deadline: float,
    workers: int,
    time_limit_s: float,
) -> _Run:
    """CP-SAT on models restricted to the pairs the relaxation prices lowest, each one wider than
    the last and searched from the best plan so far, until the last holds every pair."""
    m, n = problem.cost.shape
    ranked = np.argsort(relaxation.reduced, axis=0, kind="stable")
    best, bound, status, k = start, max(lower, math.ceil(relaxation.bound - 1e-6)), "UNKNOWN", KERNEL_FIRST
    while deadline - time.perf_counter() > 0.5:
        whole = k >= m
        allowed = None
        if not whole:
            allowed = relaxation.support.copy()
            allowed[ranked[:k], np.arange(n)[None, :]] = True
            if best is not None and k > KERNEL_FIRST:  # the plan as the hint of every later one
                allowed[best, np.arange(n)] = True
        before = None if best is None else _cost(problem, best)
        run = _cp_sat(
            problem,
            best,
            allowed,
            deadline - time.perf_counter(),
            workers,
            lower=bound,
            stall_s=None if whole else KERNEL_STALL * time_limit_s,
            hint=best is not None and k > KERNEL_FIRST,
            stall_after_improving=True,
        )
        if run.agent is not None and (before is None or run.objective < before):  # type: ignore[operator]
            best = run.agent
        if whole:
            status = run.status
            if run.bound is not None:
                bound = max(bound, int(round(run.bound)))
            break
        if best is not None and _cost(problem, best) <= bound:
            break
        if deadline - time.perf_counter() < KERNEL_STALL * time_limit_s:
            break  # too little time left to build and search a wider model
        k = min(m, 2 * k)
    return _Run(status, None if best is None else _cost(problem, best), bound, best)


def _portfolio(
    instance: GapInstance,
    problem: GapInstance,
    start: np.ndarray,
    lower: int,
    deadline: float,
    workers: int,
    maximize: bool,
    started: float,
) -> GapResult:
    """For a model whose first look found nothing cheaper than the start (a large one): plain CP-SAT
    on the full model, without a hint (a hint holds its search near the start), on all workers but
    one to the deadline, while steps from the start run on the last one, with a fresh seed each
    time they stall. The cheaper plan and the better bound of the two."""
    ran: dict[str, _Run] = {}

    def full() -> None:
        ran["full"] = _cp_sat(problem, None, None, deadline - time.perf_counter(), workers - 1, lower=lower)

    thread = threading.Thread(target=full, daemon=True)
    thread.start()
    best, seed = start, 0
    while time.perf_counter() < deadline - 0.5 and thread.is_alive():
        best = improve_by_steps(problem, best, deadline=deadline - 0.2, workers=1, seed=seed)
        seed += 1
    thread.join()
    run = ran.get("full", _Run("UNKNOWN", None, None, None))
    plan = run.agent if run.agent is not None and run.objective < _cost(problem, best) else best  # type: ignore[operator]
    final = _Run(run.status, _cost(problem, plan), run.bound, plan)
    return _best_of(instance, problem, final, start, lower, maximize, started)


def _cost(instance: GapInstance, agent: np.ndarray) -> int:
    return int(instance.cost[agent, np.arange(len(agent))].sum())


def _best_of(
    instance: GapInstance,
    problem: GapInstance,
    run: _Run,
    start: np.ndarray | None,
    lower: int,
    maximize: bool,
    started: float,
) -> GapResult:
    """A search's result, or the start when the search found nothing better; the better bound."""
    objective, status = run.objective, run.status
    if start is not None:
        start_cost = int(problem.cost[start, np.arange(len(start))].sum())
        if objective is None or start_cost < objective:
            objective, status = start_cost, "FEASIBLE"
    if objective is None:
        return _result(instance, status, None, None, maximize, started)
    bound = max(lower, int(round(run.bound))) if run.bound is not None else lower
    bound = min(bound, round(objective))
    if bound <= -(2**62):
        return _result(instance, status, objective, None, maximize, started)
    return _result(
        instance, "OPTIMAL" if bound >= objective else "FEASIBLE", objective, bound, maximize, started
    )


@dataclass(frozen=True)
class _Run:
    status: str
    objective: float | None
    bound: float | None
    agent: np.ndarray | None  # agent of each job in the best solution


class _StopAtBound(cp_model.CpSolverSolutionCallback):
    """Stops the search once a solution reaches a bound proven elsewhere (it is then optimal)."""

    def __init__(self, bound: int) -> None:
        super().__init__()
        self.bound = bound
        self.target = 2**62  # a plan below it counts as an improvement
        self.improved_at = time.perf_counter()
        self.bounds: list[tuple[float, float]] = []  # (time, bound) as the bound rose
        self.improved = False  # whether a plan below the first target came

    def on_bound(self, bound: float) -> None:
        self.bounds.append((time.perf_counter(), bound))

    def closing(self, window_s: float, left_s: float) -> bool:
        """Whether the bound, rising at its pace over the last ``window_s``, would meet the best
        plan within ``left_s`` (a proof in sight)."""
        if not self.bounds or self.target >= 2**62:
            return False
        now, latest = time.perf_counter(), self.bounds[-1][1]
        earlier = [b for t, b in self.bounds if t <= now - window_s]
        rate = (latest - (earlier[-1] if earlier else self.bounds[0][1])) / window_s
        return rate > 0 and (self.target - latest) / rate <= left_s

    def on_solution_callback(self) -> None:
        if self.objective_value < self.target:
            self.target, self.improved_at = self.objective_value, time.perf_counter()
            self.improved = True
        if self.objective_value <= self.bound:
            self.stop_search()


def _cp_sat(
    instance: GapInstance,
    start: np.ndarray | None,
    allowed: np.ndarray | None,
    time_limit_s: float,
    workers: int,
    lower: int | None = None,
    stall_s: float | None = None,
    hint: bool = True,
    stall_after_improving: bool = False,
) -> _Run:
    """CP-SAT from ``start`` (as its hint when ``hint``); with ``stall_s``, stopped once that long
    passes without any plan cheaper than the start, unless the bound is rising fast enough to meet
    the plan before the time limit (then the search is on its way to a proof). A search that has
    improved on its start once runs to the time limit, as a plain model would; with
    ``stall_after_improving``, it is stopped once ``stall_s`` passes without a cheaper plan than its
    last one."""
    model, (x, agents, jobs) = gap_model(instance, start=start if hint else None, allowed=allowed)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit_s, 0.5)
    solver.parameters.num_workers = workers
    callback = _StopAtBound(lower if lower is not None else -(2**62))
    if stall_s is None:
        status = solver.solve(model, callback)
    else:
        callback.target = _cost(instance, start) if start is not None else 2**62
        solver.best_bound_callback = callback.on_bound
        done, ends = threading.Event(), time.perf_counter() + time_limit_s

        def watch() -> None:
            while not done.wait(0.2):
                now = time.perf_counter()
                waiting = stall_after_improving or not callback.improved
                idle = waiting and now - callback.improved_at > stall_s
                if idle and not callback.closing(stall_s, ends - now):
                    solver.stop_search()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            status = solver.solve(model, callback)
        finally:
            done.set()
            watcher.join()
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _Run(solver.status_name(status), None, None, None)
    solution = np.asarray(solver.response_proto.solution)
    chosen = solution[[literal.index for literal in x]] == 1
    agent = np.full(instance.cost.shape[1], -1)
    agent[jobs[chosen]] = agents[chosen]
    return _Run(solver.status_name(status), solver.objective_value, solver.best_objective_bound, agent)


def _result(
    instance: GapInstance,
    status: str,
    objective: float | None,
    bound: float | None,
    maximize: bool,
    started: float,
) -> GapResult:
    sign = -1 if maximize else 1
    return GapResult(
        name=instance.name,
        status=status,
        objective=None if objective is None else sign * round(objective),
        bound=None if bound is None else sign * round(bound),
        wall_time_s=time.perf_counter() - started,
    )


# --- large-neighbourhood steps over agent subsets ----------------------------------------------

# The first steps phase ends after this share of the time, or earlier once STALL_ROUNDS rounds in a
# row (a round: as many steps as it takes to free every agent once on average) find nothing cheaper.
STEPS_SHARE, STALL_ROUNDS = 0.15, 2
# CP-SAT on the full model is stopped after FULL_STALL of the time without any plan cheaper than
# its start, unless its bound, rising at its recent pace, would meet the plan before the time limit.
# Its first search, straight after the probe, gets FIRST_LOOK: a model small enough to search
# improves on the start within it and then runs to the end (as plain CP-SAT would, from a better
# start); one whose presolve alone takes longer (80 x 1,600) goes to the steps after it.
FULL_STALL, FIRST_LOOK = 0.25, 0.10
# The first step frees the jobs of enough agents for about LNS_JOBS jobs (at least 2 agents, at most
# half); each step has at most LNS_STEP_S seconds.
LNS_JOBS, LNS_STEP_S = 100, 0.5


def improve_by_steps(
    instance: GapInstance, agent: np.ndarray, *, deadline: float, workers: int, seed: int = 0
) -> np.ndarray:
    """Large-neighbourhood steps: free the jobs of a few agents (one at random and the agents its
    jobs are cheapest to move to), solve that small GAP exactly with CP-SAT from the current plan,
    keep it when cheaper. Returns the best plan (never costlier than ``agent``); stops at the
    deadline or after STALL_ROUNDS rounds without a cheaper plan."""
    m, n = instance.cost.shape
    if m < 3:
        return agent
    rng = np.random.default_rng(seed)
    k = int(min(max(2, round(LNS_JOBS * m / n)), m // 2))
    agent = agent.copy()
    round_steps, since_better = max(1, math.ceil(m / k)), 0
    while time.perf_counter() < deadline - 0.2 and since_better < STALL_ROUNDS * round_steps:
        chosen = _neighbourhood(instance, agent, rng, k)
        jobs = np.flatnonzero(np.isin(agent, chosen))
        sub = GapInstance(
            instance.name,
            instance.cost[np.ix_(chosen, jobs)],
            instance.resource[np.ix_(chosen, jobs)],
            instance.capacity[chosen],
        )
        local = np.searchsorted(chosen, agent[jobs])
        before = int(sub.cost[local, np.arange(len(jobs))].sum())
        limit = min(LNS_STEP_S, deadline - time.perf_counter())
        run = _cp_sat(sub, local, None, limit, workers)
        if run.agent is not None and run.objective is not None and round(run.objective) < before:
            agent[jobs] = chosen[run.agent]
            since_better = 0
        else:
            since_better += 1
        # Step size follows what the steps can solve: larger after a proven step, smaller after one
        # that ran out of time.
        k = min(k + 1, max(2, m // 2)) if run.status == "OPTIMAL" else max(2, k - 1)
        round_steps = max(1, math.ceil(m / k))
    return agent


def _neighbourhood(instance: GapInstance, agent: np.ndarray, rng: np.random.Generator, k: int) -> np.ndarray:
    """k agents (sorted): one at random, then (half of the rest) the agents its jobs are cheapest to
    move to, the others at random."""
    m = instance.cost.shape[0]
    first = int(rng.integers(m))
    own = np.flatnonzero(agent == first)
    picked = [first]
    if len(own):
        extra = (instance.cost[:, own] - instance.cost[first, own][None, :]).mean(axis=1)
        extra[first] = np.inf
        picked += [int(i) for i in np.argsort(extra)[: (k - 1) // 2 + (k - 1) % 2]]
    rest = np.setdiff1d(np.arange(m), picked)
    picked += rng.choice(rest, size=k - len(picked), replace=False).tolist()
    return np.sort(np.asarray(picked[:k]))


# --- Lagrangian relaxation of "each job exactly once" ------------------------------------------


def _knapsack(profit: np.ndarray, weight: np.ndarray, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """0/1 knapsack by dynamic programming: (best profit per capacity 0..capacity, table of takes)."""
    best = np.zeros(capacity + 1)
    takes = np.zeros((len(profit), capacity + 1), dtype=bool)
    for k, (p, w) in enumerate(zip(profit, weight, strict=True)):
        if w > capacity:
            continue
        candidate = np.full(capacity + 1, -np.inf)
        candidate[w:] = best[: capacity + 1 - w] + p
        takes[k] = candidate > best
        best = np.maximum(best, candidate)
    return best, takes


def _chosen(takes: np.ndarray, weight: np.ndarray, capacity: int) -> np.ndarray:
    """Backtrack a knapsack table: which items the best solution at ``capacity`` takes."""
    chosen = np.zeros(len(weight), dtype=bool)
    for k in range(len(weight) - 1, -1, -1):
        if takes[k, capacity]:
            chosen[k] = True
            capacity -= int(weight[k])
    return chosen


def _relaxed(instance: GapInstance, multipliers: np.ndarray) -> tuple[float, np.ndarray]:
    """L(u) = sum u + sum over agents of the cheapest knapsack of reduced costs c - u; and its x."""
    reduced = instance.cost - multipliers[None, :]
    x = np.zeros(instance.cost.shape, dtype=bool)
    value = float(multipliers.sum())
    for i, capacity in enumerate(instance.capacity):
        items = np.flatnonzero((reduced[i] < 0) & (instance.resource[i] <= capacity))
        best, takes = _knapsack(-reduced[i, items], instance.resource[i, items], int(capacity))
        value -= best[-1]
        x[i, items[_chosen(takes, instance.resource[i, items], int(capacity))]] = True
    return value, x


def lagrangian_bound(
    instance: GapInstance,
    upper: float,
    *,
    deadline: float,
    iterations: int = 400,
    multipliers: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """The best Lagrangian lower bound found by subgradient steps (from ``multipliers``, default
    each job's second-cheapest cost), and its multipliers."""
    if multipliers is None:
        multipliers = np.sort(instance.cost, axis=0)[min(1, instance.cost.shape[0] - 1)].astype(float)
    best, best_multipliers, step_size, stall = -np.inf, multipliers.copy(), 2.0, 0
    for _ in range(iterations):
        value, x = _relaxed(instance, multipliers)
        if value > best + 1e-9:
            best, best_multipliers, stall = value, multipliers.copy(), 0
        else:
            stall += 1
            if stall >= 15:
                step_size, stall = step_size / 2, 0
        slack = 1 - x.sum(axis=0)
        if not slack.any() or step_size < 1e-4 or time.perf_counter() > deadline or best >= upper:
            break
        multipliers = multipliers + step_size * max(upper - value, 1e-6) / float(slack @ slack) * slack
    return best, best_multipliers


def reduced_cost_pairs(
    instance: GapInstance, multipliers: np.ndarray, bound: float, upper: int
) -> np.ndarray:
    """Pairs that may still be in a solution cheaper than ``upper`` (agents x jobs mask).

    With L = L(u), the bound of a solution using pair (i, j) is L - K_i + K_i(j forced in); when
    it reaches ``upper`` the pair is dropped. When forcing j out of agent i reaches ``upper``, job j
    must stay with i and its other pairs are dropped.
    """
    value, _ = _relaxed(instance, multipliers)
    allowed = np.ones(instance.cost.shape, dtype=bool)
    reduced = instance.cost - multipliers[None, :]
    for i, capacity in enumerate(instance.capacity):
        cap = int(capacity)
        items = np.flatnonzero((reduced[i] < 0) & (instance.resource[i] <= cap))
        weights, profits = instance.resource[i, items], -reduced[i, items]
        prefix = _prefix_tables(profits, weights, cap)
        suffix = _prefix_tables(profits[::-1], weights[::-1], cap)[::-1]
        full = prefix[-1][cap]
        position = {int(j): k for k, j in enumerate(items)}
        for j in range(instance.cost.shape[1]):
            r = int(instance.resource[i, j])
            if r > cap:
                allowed[i, j] = False
                continue
            k = position.get(j)
            if k is None:  # j is no item of i's knapsack: forcing it in only costs its reduced cost
                if math.ceil(value + full + reduced[i, j] - prefix[-1][cap - r] - 1e-6) >= upper:
                    allowed[i, j] = False
                continue
            forced_in = value + full + reduced[i, j] - _best_split(prefix[k], suffix[k + 1], cap - r)
            if math.ceil(forced_in - 1e-6) >= upper:
                allowed[i, j] = False
            elif math.ceil(value + full - _best_split(prefix[k], suffix[k + 1], cap) - 1e-6) >= upper:
                allowed[:, j] = False  # without agent i no better solution exists: j stays with i
                allowed[i, j] = True
    return allowed


def _prefix_tables(profits: np.ndarray, weights: np.ndarray, capacity: int) -> list[np.ndarray]:
    """tables[k][w]: best profit of items[:k] within capacity w (k = 0..len)."""
    tables = [np.zeros(capacity + 1)]
    for p, w in zip(profits, weights, strict=True):
        best = tables[-1]
        candidate = np.full(capacity + 1, -np.inf)
        if w <= capacity:
            candidate[w:] = best[: capacity + 1 - w] + p
        tables.append(np.maximum(best, candidate))
    return tables


def _best_split(before: np.ndarray, after: np.ndarray, capacity: int) -> float:
    """max over w of before[w] + after[capacity - w]: items on both sides of one left out."""
    return float(np.max(before[: capacity + 1] + after[capacity::-1][: capacity + 1]))


def solve_plain(
    instance: GapInstance, *, maximize: bool = False, time_limit_s: float = 60.0, workers: int = 2
) -> GapResult:
    """The reference: CP-SAT on the plain model (all pairs, no start, no pruning, default parameters)."""
    started = time.perf_counter()
    model, _ = gap_model(instance, maximize=maximize)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    return GapResult(
        name=instance.name,
        status=solver.status_name(status),
        objective=round(solver.objective_value) if found else None,
        bound=round(solver.best_objective_bound) if found else None,
        wall_time_s=time.perf_counter() - started,
    )
