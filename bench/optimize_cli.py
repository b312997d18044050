"""The optimizer as a user runs it: ``territory optimize --scenario scenarios/national.toml`` on a
database holding the national sample, several runs, one line per run.

    python bench/optimize_cli.py [--runs 5] [--scenario scenarios/national.toml] [--sample national]
                                 [--db sqlite:////tmp/national.db] [--time-limit SECONDS]

Without ``--db`` the database is created as a user does (``territory init --sample national``
into a temporary SQLite file; the sample has no forecast run, so potentials are the baseline of
``core.accounts``, exactly as the optimizer and the KPIs read them). Each run calls the job the
CLI calls (``jobs.optimize.optimize`` on today's book, the scenario's time limit and workers) and
prints: seconds to the first valid plan (from the start of the job: loading the book, building
the problem, the start and its repair), status, moves, objective and proven bound (points), gap,
total seconds, and the load average when the run ended. Not a test: numbers depend on the machine
and on what else runs on it; report every run, not the best.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.db import get_engine  # noqa: E402
from core.rebalance import Scenario  # noqa: E402
from jobs.optimize import optimize  # noqa: E402

FIRST_PLAN = "first valid plan"


class _FirstPlan(logging.Handler):
    """Remembers when the solver logged its first valid plan."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.at: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.at is None and FIRST_PLAN in record.getMessage():
            self.at = time.time()


def create_database(sample: str, folder: Path) -> str:
    url = f"sqlite:///{folder / f'{sample}.db'}"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from jobs.cli import app; app()", "init", "--db", url, "--sample", sample],
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    print(f"created {url} in {time.perf_counter() - started:.0f} s (territory init --sample {sample})")
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "national.toml")
    parser.add_argument("--sample", default="national")
    parser.add_argument("--db", default=None, help="an existing database (default: a new one)")
    parser.add_argument("--time-limit", type=float, default=None)
    args = parser.parse_args()
    handler = _FirstPlan()
    logger = logging.getLogger("core.rebalance")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or create_database(args.sample, Path(folder))
        engine = get_engine(url)
        scenario = Scenario.from_toml(args.scenario)
        print(
            f"scenario {scenario.name}: {args.time_limit or scenario.time_limit_s:g} s, "
            f"{scenario.workers} workers, {os.cpu_count()} cores"
        )
        print(
            f"{'run':>3} {'first plan s':>12} {'status':<9} {'moves':>5} {'objective':>9} {'bound':>9} "
            f"{'gap %':>6} {'seconds':>7}  load (1, 5, 15 min)"
        )
        for number in range(1, args.runs + 1):
            handler.at = None
            started = time.time()
            run = optimize(engine, scenario, time_limit_s=args.time_limit)
            result = run.result
            first = f"{handler.at - started:.1f}" if handler.at is not None else "-"
            gap = f"{result.gap * 100:.2f}" if result.gap is not None else "-"
            load = " ".join(f"{v:.1f}" for v in os.getloadavg())
            objective = f"{result.objective:.1f}" if result.objective is not None else "-"
            bound = f"{result.best_bound:.1f}" if result.best_bound is not None else "-"
            print(
                f"{number:>3} {first:>12} {result.status:<9} {len(result.moves):>5} {objective:>9} "
                f"{bound:>9} {gap:>6} {time.time() - started:>7.1f}  {load}",
                flush=True,
            )


if __name__ == "__main__":
    main()
