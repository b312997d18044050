"""Balance reached by the greedy baseline and by CP-SAT at equal move budgets.

    python bench/greedy_vs_cpsat.py [--book southwest] [--budgets 0,5,10,20,40] [--time-limit 10]

Both keep the scenario's rules except the potential band (balance is what is compared); CP-SAT
solves the frontier (``core.rebalance.frontier``) and starts each budget from the greedy's plan
when that is better than its chained hint. Columns per budget: moves used, team CV of potential,
largest |index - 1|, territories out of the ±15% band, CP-SAT's proven gap (none: the search ran
out of time and the greedy's plan stands) and seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.rebalance import Scenario, greedy, solve  # noqa: E402
from core.rebalance.book import problem_from_book  # noqa: E402
from core.rebalance.frontier import frontier_problem  # noqa: E402
from core.rebalance.result import plan_of  # noqa: E402
from core.sample import generate_book  # noqa: E402

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", default="southwest", choices=["southwest", "midmarket", "national"])
    parser.add_argument("--budgets", default="0,5,10,20,40")
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args()
    book = generate_book(args.book, as_of=date(2025, 6, 15))
    scenario = Scenario.from_toml(SCENARIOS / f"{args.book}.toml").with_changes(
        **{
            "objective.potential_balance": 1.0,
            "objective.continuity": 0.0,
            "objective.state_spread": 0.0,
            "constraints.accounts": None,
        }
    )
    problem = problem_from_book(book, scenario)
    print(
        f"{args.book}: {len(problem.accounts)} accounts, {len(problem.territories)} territories; "
        f"time limit {args.time_limit:g} s per CP-SAT solve"
    )
    print(
        f"{'budget':>6} | {'greedy moves':>12} {'cv':>6} {'max dev':>7} {'out':>3} {'s':>5} | "
        f"{'cp-sat moves':>12} {'cv':>6} {'max dev':>7} {'out':>3} {'gap':>6} {'s':>5}"
    )
    for budget in [int(b) for b in args.budgets.split(",")]:
        started = time.perf_counter()
        heuristic = greedy(problem, budget)
        greedy_s = time.perf_counter() - started
        bounded = frontier_problem(problem, budget)
        exact = solve(
            bounded, time_limit_s=args.time_limit, hint=plan_of(bounded, heuristic.assignment), explain=False
        )
        g, e = heuristic.team_after, exact.team_after
        gap = f"{exact.gap:>6.3f}" if exact.gap is not None else "  none"  # the start kept, no bound
        print(
            f"{budget:>6} | {len(heuristic.moves):>12} {g.cv:>6.3f} {g.max_deviation:>7.3f} "
            f"{g.out_of_band:>3} {greedy_s:>5.1f} | {len(exact.moves):>12} {e.cv:>6.3f} "
            f"{e.max_deviation:>7.3f} {e.out_of_band:>3} "
            f"{gap} {exact.wall_time_s:>5.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
