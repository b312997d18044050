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

from core.db import get_engine
from core.liveness import die_with_parent, sweep_dead_runs
from core.queries import current_forecast_run

log = logging.getLogger(__name__)
APP = Path(__file__).resolve().parent.parent / "dashboard" / "streamlit_app.py"
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


def launch(database_url: str, *, port: int, sample: str, headless: bool) -> int:
    """Initialise (sample into an empty database, first forecasts), then run scheduler + dashboard."""
    from jobs.setup import initialise

    previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
    children: list[subprocess.Popen] = []
    try:
        engine = get_engine(database_url)
        print(initialise(engine, sample=sample), flush=True)  # noqa: T201 (CLI output)
        sweep_dead_runs(engine)
        env = {**os.environ, "TERRITORY_DATABASE_URL": database_url}
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
