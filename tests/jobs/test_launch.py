"""`territory run`: the first admin (printed once, or from the environment) and the bind address."""

from __future__ import annotations

import re

from core.auth import list_users, verify_password
from jobs import launch


def test_the_first_admin_gets_a_generated_password_printed_once(engine, capsys):
    launch.first_admin(engine)
    shown = capsys.readouterr().out
    password = re.search(r"Sign in as admin@localhost with the password: (\S+)", shown).group(1)
    assert verify_password(engine, "admin@localhost", password).role == "admin"
    launch.first_admin(engine)
    assert capsys.readouterr().out == ""  # once only
    assert [u.email for u in list_users(engine)] == ["admin@localhost"]


def test_the_first_admin_from_the_environment_is_not_printed(engine, capsys, monkeypatch):
    monkeypatch.setenv("TERRITORY_ADMIN_EMAIL", "boss@example.com")
    monkeypatch.setenv("TERRITORY_ADMIN_PASSWORD", "from the environment")
    launch.first_admin(engine)
    assert "from the environment" not in capsys.readouterr().out
    assert verify_password(engine, "boss@example.com", "from the environment").role == "admin"


def test_the_dashboard_listens_on_this_machine_unless_told(db_url, engine, monkeypatch):
    calls: list[list[str]] = []

    class Finished:
        def wait(self, timeout: float | None = None) -> int:
            return 0

        def poll(self) -> int:
            return 0

    monkeypatch.setattr(launch, "current_forecast_run", lambda engine: object())
    monkeypatch.setattr("jobs.setup.initialise", lambda engine, sample: "ready")
    monkeypatch.setattr(launch, "first_admin", lambda engine: None)
    monkeypatch.setattr(launch, "_child", lambda command, env, **options: calls.append(command) or Finished())
    launch.launch(db_url, port=8599, sample="none", headless=True)
    launch.launch(db_url, port=8599, sample="none", headless=True, host="0.0.0.0")
    calls = [args for args in calls if "--server.address" in args]
    addresses = [args[args.index("--server.address") + 1] for args in calls]
    assert addresses == ["127.0.0.1", "0.0.0.0"]
    assert all(args[4].endswith("dashboard/server.py") for args in calls)  # the app with its sign-in routes
