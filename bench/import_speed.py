"""How fast a large CRM import validates and stores.

Writes the CSV files of a custom sample book (core.sample.generate_book("custom"); default 50,000
accounts and 200 reps with 36 months of revenue = 1.8M rows) to a temporary folder, then times
``core.importing.import_files`` into a fresh SQLite file: validation alone, the import into the
empty database, and the same files again (the idempotent re-import: everything compared, nothing
written). Prints seconds and rows/s for each. Target: the import under 60 s on 2 cores.

    .venv/bin/python bench/import_speed.py                     # reps, accounts, 1.8M revenue rows
    .venv/bin/python bench/import_speed.py --kinds all         # + activities, opportunities, quotas
    .venv/bin/python bench/import_speed.py --accounts 5000 --reps 40 --verbose
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from datetime import date
from pathlib import Path

from core.db import get_engine, upgrade_schema
from core.importing import import_files, load_existing_ids, validate_book
from core.queries import table_counts
from core.sample import generate_book

KINDS = ("reps", "accounts", "revenue", "activities", "opportunities", "quotas")


def write_csvs(
    folder: Path, *, accounts: int, reps: int, seed: int, kinds: tuple[str, ...]
) -> dict[str, Path]:
    """The custom sample book as one CSV per kind, in our own column names."""
    book = generate_book("custom", seed=seed, accounts=accounts, reps=reps, as_of=date.today())
    files = {}
    for kind in kinds:
        path = folder / f"{kind}.csv"
        getattr(book, kind).to_csv(path, index=False)
        files[kind] = path
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--kinds", default="reps,accounts,revenue", help="comma separated kinds to import, or 'all'"
    )
    parser.add_argument("--verbose", action="store_true", help="log the stages of the import")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    kinds = KINDS if args.kinds == "all" else tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        files = write_csvs(folder, accounts=args.accounts, reps=args.reps, seed=args.seed, kinds=kinds)
        sizes = {kind: sum(1 for _ in path.open()) - 1 for kind, path in files.items()}
        total_rows = sum(sizes.values())
        megabytes = sum(p.stat().st_size for p in files.values()) / 1e6
        seconds = time.perf_counter() - started
        print(
            f"generated {total_rows:,} rows ({megabytes:.0f} MB of CSV) in {seconds:.1f} s: "
            + ", ".join(f"{k} {n:,}" for k, n in sizes.items())
        )

        engine = get_engine(f"sqlite:///{folder / 'bench.db'}")
        upgrade_schema(engine)
        started = time.perf_counter()
        _, problems = validate_book(files, existing=load_existing_ids(engine))
        seconds = time.perf_counter() - started
        print(
            f"validate only:           {seconds:6.1f} s  {total_rows / seconds:>10,.0f} rows/s"
            f"  ({len(problems)} problems)"
        )
        for label in ("import into empty db", "re-import, no changes"):
            started = time.perf_counter()
            result = import_files(engine, files)
            seconds = time.perf_counter() - started
            print(
                f"{label + ':':<24} {seconds:6.1f} s  {total_rows / seconds:>10,.0f} rows/s"
                f"  ({result.report.rows_written:,} rows written)"
            )
        print("database:", ", ".join(f"{k} {v:,}" for k, v in table_counts(engine=engine).items()))
        engine.dispose()


if __name__ == "__main__":
    main()
