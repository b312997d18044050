"""`territory run`: the product in one command — database, first job runs, scheduler, dashboard.

The scheduler and Streamlit are child processes that end with this one: SIGTERM or SIGINT (Ctrl-C)
stops both and waits for them, and on Linux they are also told to die with their parent, so even
a ``kill -9`` leaves no orphan serving the dashboard or running jobs.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from core.config import get_settings
from core.db import get_engine
from core.liveness import die_with_parent, sweep_dead_runs
from core.queries import current_forecast_run

log = logging.getLogger(__name__)
APP = Path(__file__).resolve().parent.parent / "dashboard" / "server.py"  # the app and its sign-in routes
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Stop(Exception):
    """A stop signal arrived."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _child(command: list[str], env: dict[str, str], **options: object) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, preexec_fn=die_with_parent, **options)  # type: ignore[call-overload]


def _stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


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

    previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
    children: list[subprocess.Popen] = []
    try:
        engine = get_engine(database_url)
        print(initialise(engine, sample=sample), flush=True)  # noqa: T201 (CLI output)
        sweep_dead_runs(engine)
        first_admin(engine)
        env = {**os.environ, "TERRITORY_DATABASE_URL": database_url, **served_url(port)}
        if current_forecast_run(engine=engine) is None:
            first = "first forecast run: fitting every account once (later runs are incremental)..."
            print(first, flush=True)  # noqa: T201
            children.append(
                _child([sys.executable, "-m", "jobs", "refresh", "all", "--db", database_url], env)
            )
            children.pop().wait()
        children.append(_child([sys.executable, "-m", "jobs", "scheduler", "--db", database_url], env))
        dashboard = _child(
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
            env,
            cwd=APP.parent.parent,
        )
        children.append(dashboard)
        return dashboard.wait()
    except _Stop as stop:
        print(f"{stop}: stopping the scheduler and the dashboard", flush=True)  # noqa: T201
        return 0
    finally:
        _stop(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
