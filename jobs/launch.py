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
APP = Path(__file__).resolve().parent.parent / "dashboard" / "server.py"  # the app and its sign-in routes


def served_url(port: int) -> dict[str, str]:
    """``TERRITORY_DASHBOARD_URL`` for the child processes (scheduler, alert emails) when the user set
    none: the address this launch actually serves, not the setting's default port."""
    if "dashboard_url" in get_settings().model_fields_set:
        return {}
    return {"TERRITORY_DASHBOARD_URL": f"http://localhost:{port}"}


def launch(database_url: str, *, port: int, sample: str, headless: bool, host: str = "127.0.0.1") -> int:
    """Initialise (sample into an empty database, first forecasts, first admin), then run scheduler +
    dashboard, listening on ``host`` (this machine only unless told otherwise)."""
    from jobs.setup import initialise

    engine = get_engine(database_url)
    print(initialise(engine, sample=sample), flush=True)  # noqa: T201 (CLI output)
    first_admin(engine)
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
                "--server.address",
                host,
            ],
            env=env,
            cwd=APP.parent.parent,
        )
    except KeyboardInterrupt:
        return 0
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=10)


def first_admin(engine) -> None:  # type: ignore[no-untyped-def]
    """On first run, the admin from TERRITORY_ADMIN_EMAIL / TERRITORY_ADMIN_PASSWORD, or a generated
    password printed once (never logged, never stored but as its Argon2 hash)."""
    from core.auth import ensure_first_admin
    from core.config import get_settings

    settings = get_settings()
    generated = ensure_first_admin(engine, settings.admin_email, settings.admin_password)
    if generated is not None:
        print(  # noqa: T201 (CLI output, shown once)
            f"\nFirst admin created. Sign in as {settings.admin_email} with the password: {generated}\n"
            "(shown once; change it with `territory users reset-password`)\n",
            flush=True,
        )
    elif settings.admin_password:
        log.info("first admin: %s (password from TERRITORY_ADMIN_PASSWORD)", settings.admin_email)
