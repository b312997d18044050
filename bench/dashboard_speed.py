"""Seconds per dashboard page, cold (first run) and warm (caches filled), with Streamlit's AppTest,
and the bytes each page sends for its charts (the map's deck JSON is the big one).

Targets: warm < 0.5 s per page on the national sample, < 2 s with a 50,000-account book; the map's
payload < 3 MB at 50,000 accounts (past 5,000 located accounts the dots are drawn as clusters).

    python bench/dashboard_speed.py                      # builds both books in a temp dir (minutes)
    python bench/dashboard_speed.py --national sqlite:////tmp/n.db --custom sqlite:////tmp/c.db
    python bench/dashboard_speed.py --skip-custom        # national only

A book is built like `territory init --sample ...` followed by `territory refresh kpis`. Warm is
the median of three reruns of the same page with the same inputs; times include AppTest's own
overhead (tens of milliseconds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = ("overview", "map", "territory", "drift", "data_page")
WARM_RUNS = 3
TARGETS = {"national": 0.5, "custom 50k": 2.0}
PAYLOAD_TARGET_MB = 3.0


def build(url: str, sample: str, **options: object) -> None:
    from core.db import get_engine
    from jobs.kpis import refresh_kpis
    from jobs.setup import initialise

    started = time.perf_counter()
    engine = get_engine(url)
    initialise(engine, sample=sample, **options)  # type: ignore[arg-type]
    refresh_kpis(engine)
    print(f"built {sample} {options or ''} in {time.perf_counter() - started:.0f} s: {url}", flush=True)


def payload_mb(app) -> float:  # type: ignore[no-untyped-def]
    """Megabytes of chart specs on the page (pydeck JSON, Vega-Lite specs and their data)."""
    charts = [*app.get("deck_gl_json_chart"), *app.get("arrow_vega_lite_chart")]
    return sum(len(chart.proto.SerializeToString()) for chart in charts) / 1e6


def time_page(name: str) -> tuple[float, float, float]:
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "dashboard" / "app_pages" / f"{name}.py"), default_timeout=600)
    started = time.perf_counter()
    app.run()
    cold = time.perf_counter() - started
    if app.exception:
        raise RuntimeError(f"{name}: {app.exception[0].message}")
    warm = []
    for _ in range(WARM_RUNS):
        started = time.perf_counter()
        app.run()
        warm.append(time.perf_counter() - started)
    return cold, statistics.median(warm), payload_mb(app)


def bench(label: str, url: str) -> None:
    from core.config import get_settings

    os.environ["TERRITORY_DATABASE_URL"] = url
    get_settings.cache_clear()
    target = TARGETS[label]
    print(f"\n{label}  ({url})  target warm < {target} s")
    print(f"{'page':<12}{'cold s':>9}{'warm s':>9}{'charts MB':>11}  ok")
    for name in PAGES:
        cold, warm, size = time_page(name)
        ok = warm < target and size < PAYLOAD_TARGET_MB
        print(f"{name:<12}{cold:>9.2f}{warm:>9.3f}{size:>11.2f}  {'yes' if ok else 'NO'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--national", help="URL of a database holding the national sample (built when absent)"
    )
    parser.add_argument(
        "--custom", help="URL of a database holding a 50,000-account custom book (built when absent)"
    )
    parser.add_argument("--skip-custom", action="store_true", help="Only the national sample.")
    args = parser.parse_args()
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as folder:
        national = args.national or f"sqlite:///{folder}/national.db"
        if not args.national:
            build(national, "national")
        bench("national", national)
        if args.skip_custom:
            return
        custom = args.custom or f"sqlite:///{folder}/custom.db"
        if not args.custom:
            build(custom, "custom", reps=200, accounts=50_000)
        bench("custom 50k", custom)


if __name__ == "__main__":
    main()
