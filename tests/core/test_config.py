from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.config import Settings, get_settings


def test_every_setting_is_documented():
    missing = [name for name, field in Settings.model_fields.items() if not (field.description or "").strip()]
    assert missing == []


def test_settings_read_environment_and_dotenv(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("TERRITORY_WHITESPACE_WEIGHT=0.25\nTERRITORY_SMTP_PORT=2525\n")
    monkeypatch.setenv("TERRITORY_SMTP_PORT", "1025")  # the environment wins over .env
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.whitespace_weight == 0.25 and settings.smtp_port == 1025


@pytest.mark.parametrize(
    "variable, value",
    [
        ("TERRITORY_DATABASE_URL", "data/territory.db"),
        ("TERRITORY_WHITESPACE_WEIGHT", "1.5"),
        ("TERRITORY_SMTP_PORT", "70000"),
    ],
)
def test_bad_settings_fail_fast(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("TERRITORY_").lower()):
        Settings()


def test_readme_lists_every_setting():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [
        f"TERRITORY_{name.upper()}"
        for name in Settings.model_fields
        if f"TERRITORY_{name.upper()}" not in readme
    ]
    assert missing == []
