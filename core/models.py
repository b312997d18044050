"""SQLModel tables for every entity of DESIGN.md.

Conventions: integer surrogate keys; ``external_id`` is the CRM's id (unique, what imports upsert
by and what CSV exports print); dates are ``date``; timestamps are timezone-aware UTC ``datetime``; money is
float dollars. Indexes sit on what the dashboard filters by (territory, state, industry, segment,
snapshot date, month). Schema changes go through Alembic (core/migrations).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Now, timezone-aware in UTC (SQLModel stores aware datetimes and returns them in UTC)."""
    return datetime.now(UTC)


class Rep(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(index=True, unique=True)
    name: str
    email: str | None = None
    home_city: str | None = None
    home_lat: float | None = None
    home_lon: float | None = None
    state: str | None = Field(default=None, index=True)
    region: str | None = Field(default=None, index=True)
    specialties: str = ""  # industries separated by |, e.g. "Healthcare|Technology"
    capacity_hours: float = 140.0  # per month
    active: bool = True
    hired_at: date | None = None
    left_at: date | None = None
    salesforce_id: str | None = Field(default=None, index=True)  # the Salesforce User Id (005...)


class Territory(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(index=True, unique=True)
    name: str
    region: str | None = Field(default=None, index=True)
    owner_rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)  # None: vacant
    salesforce_id: str | None = Field(default=None, index=True)  # the Salesforce Territory2 Id (0MI...)


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(index=True, unique=True)
    name: str
    industry: str | None = Field(default=None, index=True)
    segment: str | None = Field(default=None, index=True)
    city: str | None = None
    state: str | None = Field(default=None, index=True)
    postal_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    strategic: bool = False
    locked: bool = False
    territory_id: int | None = Field(default=None, foreign_key="territory.id", index=True)
    owned_since: date | None = None
    last_moved_at: date | None = None
    wallet_estimate: float | None = None
    annual_revenue: float | None = None  # the firm's own revenue (firmographics), not ours
    employees: int | None = None
    salesforce_id: str | None = Field(default=None, index=True)  # the Salesforce Account Id (001...)


class RevenueMonth(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("account_id", "month"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    month: date = Field(index=True)  # first day of the month
    amount: float


class Activity(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    external_id: str | None = Field(default=None, index=True, unique=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    kind: str = "call"  # call | email | meeting | visit
    occurred_on: date = Field(index=True)
    hours: float = 0.5


class Opportunity(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(index=True, unique=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    name: str | None = None
    amount: float
    stage: str = "Prospecting"
    status: str = Field(default="open", index=True)  # open | won | lost
    created_on: date
    close_date: date = Field(index=True)


class Quota(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("rep_id", "period_start"),)
    id: int | None = Field(default=None, primary_key=True)
    rep_id: int = Field(foreign_key="rep.id", index=True)
    period_start: date
    period_end: date
    amount: float


class ForecastRun(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    as_of: date
    status: str = Field(default="running", index=True)  # running | complete | failed
    is_current: bool = Field(default=False, index=True)
    full: bool = False
    accounts_total: int = 0
    accounts_fitted: int = 0
    accounts_reused: int = 0
    accounts_failed: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))


class AccountForecast(SQLModel, table=True):
    """One forecast month of one account in one run."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="forecastrun.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    month: date
    yhat: float
    yhat_lower: float
    yhat_upper: float


class AccountPotential(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("run_id", "account_id"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="forecastrun.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    forecast_12m: float
    wallet: float
    potential: float
    method: str  # prophet | fallback:<reason>
    history_hash: str
    error: str | None = Field(default=None, sa_column=Column(Text))


class TerritoryKpi(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("snapshot_date", "territory_id"),)
    id: int | None = Field(default=None, primary_key=True)
    snapshot_date: date = Field(index=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    computed_at: datetime = Field(default_factory=utcnow)
    accounts: int = 0
    potential: float = 0.0
    revenue_ttm: float = 0.0
    workload_hours: float = 0.0
    utilization: float | None = None
    potential_index: float | None = None
    workload_index: float | None = None
    coverage: float | None = None
    accounts_touched_share: float | None = None
    quota: float | None = None
    bookings: float = 0.0
    attainment: float | None = None
    pace: float | None = None
    attainment_gap: float | None = None
    drift: float | None = None
    projected_attainment: float | None = None
    pipeline_coverage: float | None = None
    activity_change: float | None = None
    health: float | None = None
    deductions: str = Field(default="[]", sa_column=Column(Text))  # JSON list of {reason, points}


class TeamKpi(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    snapshot_date: date = Field(index=True, unique=True)
    computed_at: datetime = Field(default_factory=utcnow)
    territories: int = 0
    accounts: int = 0
    potential: float = 0.0
    cv_potential: float | None = None
    max_min_ratio: float | None = None
    quartile_ratio: float | None = None
    gini: float | None = None
    out_of_band: int = 0
    workload_out_of_band: int = 0
    reps_on_pace_share: float | None = None
    coverage: float | None = None
    attainment: float | None = None


class AlertRule(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True)
    name: str
    metric: str
    comparator: str  # below | above | outside
    threshold: float
    scope: str = "territory"  # territory | team
    severity: str = "warning"  # info | warning | critical
    recipients: str = ""  # comma separated; empty means the default list
    renotify_hours: float = 24.0
    enabled: bool = True


class AlertEpisode(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="alertrule.id", index=True)
    territory_id: int | None = Field(default=None, foreign_key="territory.id", index=True)
    status: str = Field(default="open", index=True)  # open | resolved
    opened_at: datetime = Field(default_factory=utcnow)
    opened_snapshot: date | None = None
    resolved_at: datetime | None = None
    first_value: float | None = None
    last_value: float | None = None
    last_notified_at: datetime | None = None
    notify_count: int = 0
    resolution_notified: bool = False
    fix_plan_id: int | None = None  # the draft plan prepared to fix a balance episode (RebalancePlan.id)


class Notification(SQLModel, table=True):
    """One email (a digest) to one recipient: the outbox when no SMTP host is set."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    recipient: str = Field(index=True)
    subject: str
    body_text: str = Field(sa_column=Column(Text))
    body_html: str = Field(sa_column=Column(Text))
    status: str = Field(default="pending", index=True)  # pending | sent | outbox | failed
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: datetime | None = None
    episode_ids: str = "[]"  # JSON list


class RebalancePlan(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    status: str = Field(
        default="draft", index=True
    )  # draft | submitted | approved | rejected | scheduled | applied | refused | discarded
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str | None = None
    submitted_at: datetime | None = None
    submitted_by: str | None = None
    rejected_at: datetime | None = None
    rejected_by: str | None = None
    review_comment: str | None = Field(default=None, sa_column=Column(Text))
    approved_at: datetime | None = None
    approved_by: str | None = None
    applied_at: datetime | None = None
    applied_by: str | None = None
    effective_date: date | None = None
    scheduled_at: datetime | None = None  # when an approver applied it for a future effective date
    scheduled_by: str | None = None
    quota_method: str | None = None  # none | potential | revenue, chosen at apply time
    revision: int = 1  # +1 for every move-by-move edit or re-solve (PlanEdit rows)
    scenario: str = Field(sa_column=Column(Text))  # TOML
    result: str = Field(sa_column=Column(Text))  # JSON of the solve result
    assignments_fingerprint: str  # hash of the assignments the plan was computed on
    solver_status: str = ""
    objective: float | None = None
    gap: float | None = None
    moves_count: int = 0


class PlanMove(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="rebalanceplan.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    from_territory_id: int | None = Field(default=None, foreign_key="territory.id")
    to_territory_id: int = Field(foreign_key="territory.id")
    reason: str = ""
    risks: str = ""  # comma separated flags


class PlanEdit(SQLModel, table=True):
    """One move-by-move edit of a plan under review (a plan revision): reject, pin, or re-solve."""

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="rebalanceplan.id", index=True)
    revision: int  # the plan's revision this edit produced
    kind: str  # reject | pin | resolve
    account_id: int | None = Field(default=None, foreign_key="account.id")
    territory_id: int | None = Field(default=None, foreign_key="territory.id")  # pin: where it stays
    reason: str = Field(default="", sa_column=Column(Text))
    detail: str = Field(default="{}", sa_column=Column(Text))  # JSON, e.g. what a re-solve cost in balance
    actor: str
    at: datetime = Field(default_factory=utcnow)


class QuotaAdjustment(SQLModel, table=True):
    """A change of one rep's quota for one period from a date on (quota following moved accounts).

    The rep's quota for the period as of day d = ``Quota.amount`` + the adjustments effective on or
    before d. A transfer is two rows of opposite sign with the same plan, so the team total is conserved.
    """

    id: int | None = Field(default=None, primary_key=True)
    rep_id: int = Field(foreign_key="rep.id", index=True)
    territory_id: int | None = Field(default=None, foreign_key="territory.id")
    period_start: date
    period_end: date
    effective_date: date = Field(index=True)
    amount: float  # signed dollars, rounded to the cent
    method: str = "potential"  # none | potential | revenue
    plan_id: int | None = Field(default=None, foreign_key="rebalanceplan.id", index=True)
    reason: str = Field(default="", sa_column=Column(Text))
    actor: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class AssignmentHistory(SQLModel, table=True):
    """The audit log: every change of an account's territory."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    from_territory_id: int | None = Field(default=None, foreign_key="territory.id")
    to_territory_id: int | None = Field(default=None, foreign_key="territory.id")
    changed_at: datetime = Field(default_factory=utcnow, index=True)
    effective_date: date | None = None
    source: str = "import"  # import | sample | plan | manual
    plan_id: int | None = Field(default=None, foreign_key="rebalanceplan.id")
    actor: str | None = None
    note: str | None = None


class JobRun(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(index=True)  # forecasts | kpis | alerts | import | sample
    started_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: datetime | None = None
    status: str = Field(default="running", index=True)  # running | success | failed
    rows_written: int = 0
    progress: float = 0.0  # 0..1
    message: str | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    trigger: str = "cli"  # cli | scheduler | dashboard


class User(SQLModel, table=True):
    """A person who may sign in: a local account (Argon2 hash) or a single sign-on identity (no hash).

    The role decides what the person may do (core.auth.ROLES); ``email`` is stored lower-case.
    """

    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True)
    name: str = ""
    role: str = "viewer"  # viewer | planner | approver | admin
    password_hash: str | None = None  # None: signs in through single sign-on only
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    failed_signins: int = 0
    locked_until: datetime | None = None
    last_signin_at: datetime | None = None


class UserSession(SQLModel, table=True):
    """A signed-in browser: the cookie carries the token, the database only its hash.

    A session starts as a one-time ticket (the sign-in form hands it to the cookie route), then
    holds the token; ending it (sign-out) or expiry ends it in every tab.
    """

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str | None = Field(default=None, index=True, unique=True)
    ticket_hash: str | None = Field(default=None, index=True, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    ended_at: datetime | None = None


class SiteSecret(SQLModel, table=True):
    """Secrets the product generates once for itself (the session-cookie signing key)."""

    name: str = Field(primary_key=True)
    value: str


class AuditEvent(SQLModel, table=True):
    """Who did what, when and from where: one row per write (import, rule, user, plan, email)."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(index=True)
    action: str = Field(index=True)  # e.g. plan.apply, users.add, import, alerts.edit
    what: str = Field(sa_column=Column(Text))
    source: str = "cli"  # cli | page | scheduler
    plan_id: int | None = Field(default=None, index=True)
