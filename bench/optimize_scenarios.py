"""The shipped rebalance scenarios on their sample books, and a targeted plan on a 50,000-account book.

    python bench/optimize_scenarios.py [--books southwest,midmarket,national,custom50k]
                                       [--limits 10,60] [--workers 2]

For each book and each time limit: status, moves, team CV and max/min potential before -> after,
territories out of the potential band after, objective and proven bound (points, see
docs/optimizer.md), gap, and wall time (book generation excluded,
model building and the CP-SAT solve included). Targets (issue: Optimize, acceptance): national
feasible within 10 s and gap <= 1% within 60 s; custom50k (``--books custom50k --limits 60``)
feasible within 60 s. Not a test:
numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.rebalance import Scenario, solve  # noqa: E402
from core.rebalance.book import problem_from_book  # noqa: E402
from core.sample import generate_book  # noqa: E402

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
AS_OF = date(2025, 6, 15)


def problem_for(book_name: str):  # type: ignore[no-untyped-def]
    if book_name == "custom50k":
        book = generate_book("custom", reps=200, accounts=50_000, as_of=AS_OF)
        return problem_from_book(book, Scenario.from_toml(SCENARIOS / "targeted.toml"))
    scenario = Scenario.from_toml(SCENARIOS / f"{book_name}.toml")
    return problem_from_book(generate_book(book_name, as_of=AS_OF), scenario)


def _num(value: float | None) -> str:
    return f"{value:>9.1f}" if value is not None else f"{'-':>9}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", default="southwest,midmarket,national,custom50k")
    parser.add_argument("--limits", default="10,60", help="time limits in seconds, comma-separated")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {args.workers} CP-SAT workers")
    print(
        f"{'book':<10} {'limit s':>7} {'status':<9} {'moves':>5} {'cv before->after':>17} "
        f"{'max/min before->after':>22} {'out':>4} {'objective':>9} {'bound':>9} {'gap %':>6} {'seconds':>8}"
    )
    for book_name in args.books.split(","):
        problem = problem_for(book_name)
        for limit in (float(x) for x in args.limits.split(",")):
            result = solve(problem, time_limit_s=limit, workers=args.workers)
            before, after = result.team_before, result.team_after
            gap = f"{100 * result.gap:6.2f}" if result.gap is not None else "     -"
            print(
                f"{book_name:<10} {limit:>7g} {result.status:<9} {len(result.moves):>5} "
                f"{before.cv:>8.3f}->{after.cv:<7.3f} "
                f"{before.max_min_ratio:>10.2f}->{after.max_min_ratio:<10.2f} "
                f"{after.out_of_band:>4} {_num(result.objective)} {_num(result.best_bound)} {gap} "
                f"{result.wall_time_s:>8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
