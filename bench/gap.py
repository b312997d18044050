"""Solve public GAP instances with the product's assignment model and print one line per instance.

    python bench/gap.py /work/shared/benchmarks/gap/c*.zip [--time-limit 60] [--workers 2]

Each instance is minimised unless best_known.csv (beside the files) lists it only as Max; the
c0515_* .. c1060_* sets (gap1-gap12) are Max, the a/b/c large ones Min. Columns: instance,
objective, best known (lower-upper when open), gap % to the best known bound, proven optimal?, seconds.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gap_instances import read_gap  # noqa: E402
from bench.gap_solver import solve_gap  # noqa: E402

MAX_SETS = tuple(
    f"c{m:02d}{n:02d}_"
    for m, n in (
        (5, 15),
        (5, 20),
        (5, 25),
        (5, 30),
        (8, 24),
        (8, 32),
        (8, 40),
        (8, 48),
        (10, 30),
        (10, 40),
        (10, 50),
        (10, 60),
    )
)


def best_known(folder: Path) -> dict[tuple[str, str], tuple[int, int]]:
    path = folder / "best_known.csv"
    if not path.exists():
        return {}
    with path.open() as handle:
        return {
            (row["instance"], row["sense"]): (int(row["lower_bound"]), int(row["upper_bound"]))
            for row in csv.DictReader(handle)
        }


def instance_arguments(description: str) -> argparse.Namespace:
    """The instance files, --time-limit and --workers of a GAP benchmark."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    return parser.parse_args()


def main() -> None:
    args = instance_arguments(__doc__.splitlines()[0])
    known = best_known(args.files[0].parent)
    print(
        f"{'instance':<10} {'sense':<5} {'objective':>9} {'best known':>13} {'gap %':>7} "
        f"{'proven':>6} {'seconds':>8}"
    )
    for path in args.files:
        instance = read_gap(path)
        sense = "Max" if instance.name.startswith(MAX_SETS) else "Min"
        result = solve_gap(
            instance, maximize=sense == "Max", time_limit_s=args.time_limit, workers=args.workers
        )
        low, high = known.get((instance.name, sense), (None, None))
        reference = high if sense == "Min" else low
        gap = (
            abs(result.objective - reference) / reference * 100
            if result.objective is not None and reference
            else float("nan")
        )
        best = "?" if low is None else (f"{low}" if low == high else f"{low}-{high}")
        print(
            f"{instance.name:<10} {sense:<5} {result.objective if result.objective is not None else '-':>9} "
            f"{best:>13} {gap:>7.2f} {'yes' if result.optimal else 'no':>6} {result.wall_time_s:>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
