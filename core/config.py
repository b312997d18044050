"""One Settings object for the whole product.

Every setting reads a ``TERRITORY_*`` environment variable or a line of a ``.env`` file in the
working directory, and every field carries a description (a test checks it): the README's
settings table is generated from these descriptions by ``territory settings``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = PROJECT_ROOT / "data" / "territory.db"


class Settings(BaseSettings):
    """Product settings; constants of the DESIGN.md definitions live here too."""

    model_config = SettingsConfigDict(env_prefix="TERRITORY_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DB_PATH}",
        description="SQLAlchemy URL of the database (SQLite file by default, any PostgreSQL URL works).",
    )
    sample: str = Field(
        default="southwest",
        description="Sample book loaded by `territory run` when the database is empty.",
    )
    # --- definitions (DESIGN.md) ---
    whitespace_weight: float = Field(
        default=0.3, ge=0, le=1, description="Share of untapped wallet counted in account potential."
    )
    potential_band: float = Field(
        default=0.15, gt=0, description="A territory is out of band when |potential index - 1| exceeds this."
    )
    workload_band: float = Field(
        default=0.20, gt=0, description="A territory is out of band when |workload index - 1| exceeds this."
    )
    coverage_window_days: int = Field(
        default=90, gt=0, description="An account counts as covered with an activity within this many days."
    )
    travel_speed_kmh: float = Field(
        default=60.0, gt=0, description="Average driving speed for the travel part of workload."
    )
    touch_hours_strategic: float = Field(
        default=10.0, ge=0, description="Touch hours a month, strategic tier."
    )
    touch_hours_key: float = Field(default=4.0, ge=0, description="Touch hours a month, key tier.")
    touch_hours_standard: float = Field(default=1.5, ge=0, description="Touch hours a month, standard tier.")
    touch_hours_long_tail: float = Field(
        default=0.5, ge=0, description="Touch hours a month, long-tail tier."
    )
    visits_per_month_strategic: float = Field(
        default=1.0, ge=0, description="On-site visits a month for a strategic account (travel workload)."
    )
    visits_per_month_key: float = Field(default=0.5, ge=0, description="On-site visits a month, key tier.")
    visits_per_month_standard: float = Field(
        default=0.25, ge=0, description="On-site visits a month, standard tier."
    )
    visits_per_month_long_tail: float = Field(
        default=0.0, ge=0, description="On-site visits a month, long-tail tier."
    )
    key_revenue_threshold: float = Field(
        default=100_000.0,
        ge=0,
        description="Trailing-12-month revenue from which an account is in the key tier.",
    )
    long_tail_revenue_threshold: float = Field(
        default=20_000.0, ge=0, description="Trailing-12-month revenue below which an account is long-tail."
    )
    strategic_revenue_threshold: float = Field(
        default=200_000.0, ge=0, description="Trailing-12-month revenue above which an account is strategic."
    )
    default_capacity_hours: float = Field(
        default=140.0, gt=0, description="Monthly capacity of a rep whose import gives none."
    )
    fiscal_year_start_month: int = Field(
        default=1, ge=1, le=12, description="First month of the fiscal year (quota periods)."
    )
    # --- jobs ---
    forecast_horizon_months: int = Field(default=12, ge=1, le=36, description="Months forecast ahead.")
    forecast_workers: int = Field(
        default=0, ge=0, description="Processes fitting forecasts; 0 means one per CPU core."
    )
    dask_address: str | None = Field(
        default=None, description="Address of a Dask scheduler; when set, forecasts fit on that cluster."
    )
    forecast_cron: str = Field(default="0 2 * * *", description="Cron schedule of the forecast refresh.")
    kpi_cron: str = Field(
        default="5 * * * *", description="Cron schedule of the KPI refresh (alerts follow)."
    )
    misfire_grace_seconds: int = Field(
        default=3600, ge=1, description="A scheduled run late by up to this many seconds still runs."
    )
    stale_after_hours: float = Field(
        default=36.0, gt=0, description="The dashboard flags data older than this as stale."
    )
    map_style: str | None = Field(
        default=None,
        description="Basemap under the dashboard maps for deployments with internet: a CARTO style "
        "(light, dark, road) or a style URL. Unset: no basemap, only the bundled state outlines (offline).",
    )
    # --- optimizer ---
    solver_time_limit_s: float = Field(
        default=30.0, gt=0, description="Default CP-SAT time limit in seconds."
    )
    solver_workers: int = Field(default=2, ge=1, description="CP-SAT search workers.")
    # --- alerts and email ---
    smtp_host: str | None = Field(
        default=None, description="SMTP server; when unset, emails go to the outbox shown on the Alerts page."
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port.")
    smtp_user: str | None = Field(default=None, description="SMTP user name (login when set).")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_ssl: bool = Field(default=False, description="Connect to the SMTP server over implicit TLS (SMTPS).")
    smtp_timeout_s: float = Field(default=10.0, gt=0, description="SMTP connection timeout in seconds.")
    smtp_retries: int = Field(
        default=3, ge=0, description="Delivery attempts beyond the first within one run."
    )
    smtp_backoff_s: float = Field(
        default=1.0, ge=0, description="First retry delay in seconds; doubles with each retry."
    )
    alert_from: str = Field(
        default="territory-health@localhost", description="Sender address of alert emails."
    )
    alert_recipients: str = Field(
        default="revops@localhost", description="Default alert recipients, comma separated."
    )
    alert_fix_plans: bool = Field(
        default=True,
        description="When a balance alert opens, prepare a targeted draft plan to fix it (linked in emails).",
    )
    alert_fix_time_limit_s: float = Field(
        default=10.0, gt=0, description="Solver time limit in seconds of the draft plan an alert prepares."
    )
    dashboard_url: str = Field(
        default="http://localhost:8501",
        description="Base URL of the dashboard, used for links in emails; when unset, `territory run` "
        "uses the address it serves (its --port).",
    )

    # --- sign-in, roles and the approval workflow ---
    user: str | None = Field(
        default=None, description="Who a CLI writing command acts as when `--as` is not given (an email)."
    )
    allow_self_approval: bool = Field(
        default=False, description="Let an approver approve or reject a plan they created themselves."
    )
    admin_email: str = Field(
        default="admin@localhost", description="Email of the admin `territory run` creates on first run."
    )
    admin_password: str | None = Field(
        default=None,
        description="Password of that first admin; when unset, one is generated and printed once.",
    )
    session_hours: float = Field(
        default=12.0, gt=0, description="A dashboard sign-in lasts this many hours (then sign in again)."
    )
    signin_max_failures: int = Field(
        default=5, ge=1, description="Failed sign-ins in a row after which the account is locked."
    )
    signin_lock_minutes: float = Field(
        default=15.0, gt=0, description="How long a locked account stays locked."
    )
    signin_delay_s: float = Field(
        default=0.5,
        ge=0,
        description="Pause after a failed sign-in; doubles with each failure in a row (max 8 s).",
    )

    @field_validator("database_url")
    @classmethod
    def _url_is_supported(cls, value: str) -> str:
        """Any SQLAlchemy URL of a supported backend (percent-encoding included); the message never
        shows the password."""
        from core.db import DatabaseError, parse_database_url

        if "://" not in value:
            raise ValueError("database_url must be an SQLAlchemy URL such as sqlite:///data/x.db")
        try:
            parse_database_url(value)
        except DatabaseError as error:
            raise ValueError(str(error)) from None
        return value

    @property
    def recipients(self) -> list[str]:
        return [r.strip() for r in self.alert_recipients.split(",") if r.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing the env."""
    return Settings()
