"""`territory run`: the product in one command — database, first job runs, scheduler, dashboard."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from core.config import get_settings
from core.db import get_engine
from core.queries import current_forecast_run

log = logging.getLogger(__name__)
APP = Path(__file__).resolve().parent.parent / "dashboard" / "streamlit_app.py"


def served_url(port: int) -> dict[str, str]:
    """``TERRITORY_DASHBOARD_URL`` for the child processes (scheduler, alert emails) when the user set
    none: the address this launch actually serves, not the setting's default port."""
    if "dashboard_url" in get_settings().model_fields_set:
        return {}
    return {"TERRITORY_DASHBOARD_URL": f"http://localhost:{port}"}


def launch(database_url: str, *, port: int, sample: str, headless: bool) -> int:
    """Initialise (sample into an empty database, first forecasts), then run scheduler + dashboard."""
    from jobs.setup import initialise

    engine = get_engine(database_url)
    print(initialise(engine, sample=sample), flush=True)  # noqa: T201 (CLI output)
    env = {**os.environ, "TERRITORY_DATABASE_URL": database_url, **served_url(port)}
    if current_forecast_run(engine=engine) is None:
        print("first forecast run: fitting every account once (later runs are incremental)...", flush=True)  # noqa: T201
        subprocess.run(
            [sys.executable, "-m", "jobs", "refresh", "all", "--db", database_url], env=env, check=False
        )
    scheduler = subprocess.Popen([sys.executable, "-m", "jobs", "scheduler", "--db", database_url], env=env)
    try:
        return subprocess.call(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(APP),
                "--server.port",
                str(port),
                "--server.headless",
                str(headless).lower(),
            ],
            env=env,
            cwd=APP.parent.parent,
        )
    except KeyboardInterrupt:
        return 0
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=10)
