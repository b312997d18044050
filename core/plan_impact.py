"""What a saved plan does to each rep, before anyone presses Apply: the impact preview.

``plan_impact(engine, plan_id)`` reads the plan (``core.plans.get_plan``) and today's book and
returns a ``PlanImpact``: per rep (territory owner) whose book the plan changes, the accounts,
potential, trailing-12-month revenue and open pipeline before, gained, lost and after; quota,
projected attainment, workload and travel hours before and after; and the open opportunities
changing hands. ``impact_of`` is the pure half (a loaded ``ImpactBook`` in, the impact out).

Every number comes from its one home:

* per-account potential, revenue_ttm and workload (with travel from the owner's home):
  ``core.rebalance.frames.problem_frames`` (``core.accounts``), the numbers the optimizer uses, with
  each account in its territory before and after the plan; travel = workload − touch hours by tier;
* quota: ``core.quota.quota_as_of`` on the plan's effective date; after the plan with the rows
  ``core.quota.quota_transfers`` / ``adjustment_rows`` give for the chosen method (an applied plan's
  stored quota adjustments when it has them);
* projected attainment = (bookings + the accounts' forecast for the rest of the period) / quota
  (``core.kpi_registry.projected_attainment``): bookings from ``core.kpis.build_context`` and the
  rest-of-period forecast from ``core.snapshot_inputs.kpi_inputs``. Bookings made before the
  effective date stay with the old territory (the crediting rule), so a rep's bookings are the same
  before and after; the moved accounts' forecast for the rest of the period follows them.
* open pipeline: the amounts of the accounts' open opportunities (status open), whatever their
  close date; the opportunities listed as changing hands are exactly the moved accounts' ones.

A rep owning several territories is one row (their whole book); a vacant territory is a row of its
own named "vacant (territory)". Plans are only read here, never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.accounts import BASELINE_REVENUE_MONTHS, account_tier, touch_hours
from core.config import Settings, get_settings
from core.format import DASH, count, hours, money, pct
from core.kpis import build_context, empty_frame
from core.models import Opportunity, RebalancePlan
from core.months import add_months, month_start
from core.plans import SavedPlan, get_plan
from core.queries import (
    load_book_tables,
    load_current_forecasts,
    load_first_revenue_months,
    load_potentials,
    load_quota_adjustments,
    load_quotas,
    read_frame,
)
from core.quota import (
    DEFAULT_QUOTA_METHOD,
    QUOTA_METHODS,
    QuotaTransfer,
    adjustment_rows,
    quota_as_of,
    quota_transfers,
)
from core.rebalance.frames import BookTables, problem_frames
from core.snapshot_inputs import BookFrames, kpi_inputs

ADJUSTMENT_COLUMNS = ["rep_id", "period_start", "effective_date", "amount"]
FIGURE_COLUMNS = (  # per account; an account with no row on one side (unassigned) counts zero there
    "potential",
    "revenue_ttm",
    "workload_before",
    "workload_after",
    "travel_before",
    "travel_after",
    "rest_before",
    "rest_after",
)


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class Flow:
    """A figure that travels with accounts: after = before + gained − lost."""

    before: float
    gained: float
    lost: float
    after: float


@dataclass(frozen=True)
class Change:
    """A figure before and after the plan (None when it has no value, e.g. no quota)."""

    before: float | None
    after: float | None

    @property
    def delta(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


@dataclass(frozen=True)
class RepImpact:
    """One territory owner's book before and after the plan."""

    rep_id: str | None  # the rep's external id; None for a vacant territory
    rep: str  # the rep's name, or "vacant (territory)"
    territories: tuple[str, ...]  # names of the territories this row covers
    accounts: Flow
    potential: Flow
    revenue_ttm: Flow
    pipeline: Flow
    bookings: float  # this period so far; stays with the rep (credit before the effective date)
    forecast_rest: Change  # the accounts' forecast from the effective date to the period end
    quota: Change
    projected_attainment: Change
    workload_hours: Change
    travel_hours: Change


@dataclass(frozen=True)
class OpportunityChange:
    """An open opportunity whose account changes owner."""

    opportunity_id: str
    name: str
    stage: str
    amount: float
    close_date: date
    account_id: str
    account: str
    from_rep: str
    to_rep: str


@dataclass(frozen=True)
class QuotaMove:
    """Quota following the accounts from one rep to another (or why none does)."""

    from_rep: str
    to_rep: str
    amount: float
    share: float
    skipped: str | None


@dataclass(frozen=True)
class ImpactTotals:
    """The affected reps together: potential, revenue, pipeline and quota are conserved by a plan."""

    accounts: Flow
    potential: Flow
    revenue_ttm: Flow
    pipeline: Flow
    quota: Change
    workload_hours: Change
    travel_hours: Change


@dataclass(frozen=True)
class PlanImpact:
    plan_id: int
    plan_name: str
    status: str
    as_of: date  # the effective date the impact is computed for
    quota_method: str
    quota_from_stored: bool  # True: the applied plan's stored quota adjustments, not a preview
    reps: tuple[RepImpact, ...]
    opportunities: tuple[OpportunityChange, ...]
    quota_moves: tuple[QuotaMove, ...]
    totals: ImpactTotals

    def as_json(self) -> dict[str, object]:
        """A JSON-ready document: plan, as_of, quota_method, reps, opportunities, quota_moves, totals."""
        return {
            "plan": {"id": self.plan_id, "name": self.plan_name, "status": self.status},
            "as_of": self.as_of.isoformat(),
            "quota_method": self.quota_method,
            "quota_from_stored": self.quota_from_stored,
            "reps": [_plain(asdict(r) | {"accounts": _counts(r.accounts)}) for r in self.reps],
            "opportunities": [_plain(asdict(o)) for o in self.opportunities],
            "quota_moves": [_plain(asdict(q)) for q in self.quota_moves],
            "totals": _plain(asdict(self.totals) | {"accounts": _counts(self.totals.accounts)}),
        }


def _counts(flow: Flow) -> dict[str, int]:
    return {part: int(round(value)) for part, value in asdict(flow).items()}


def _plain(value: object) -> object:
    """Dates as ISO text, tuples as lists, floats as floats (numpy scalars included)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()  # type: ignore[union-attr]
    return value


# --------------------------------------------------------------------------- the book it reads


@dataclass(frozen=True)
class ImpactBook:
    """Today's book as the impact reads it.

    ``tables``: what ``problem_frames`` reads (the whole revenue history); ``frames``: what
    ``kpi_inputs`` reads; ``adjustments``: quota adjustments of other plans (``ADJUSTMENT_COLUMNS``);
    ``plan_adjustments``: this plan's own stored ones (empty unless applied); ``opportunities``:
    opportunity_id, external_id, name, account_id, amount, stage, status, close_date;
    ``stored_method``: the quota method the plan was applied with (None before).
    """

    tables: BookTables
    frames: BookFrames
    adjustments: pd.DataFrame
    plan_adjustments: pd.DataFrame
    opportunities: pd.DataFrame
    stored_method: str | None = None


def load_impact_book(engine: Engine, *, plan_id: int, as_of: date) -> ImpactBook:
    """Today's book, the quota adjustments and the opportunities with their names."""
    potentials = load_potentials(engine=engine)
    tables = load_book_tables(engine=engine)
    forecasts, forecast_as_of = load_current_forecasts(engine=engine)
    since = pd.Timestamp(add_months(month_start(as_of), -BASELINE_REVENUE_MONTHS)).date()
    frames = BookFrames(
        accounts=tables.accounts,
        territories=tables.territories,
        revenue=tables.revenue[tables.revenue["month"] >= since],
        activities=empty_frame("activities"),
        opportunities=tables.opportunities,
        quotas=load_quotas(engine=engine),
        potentials=potentials,
        forecasts=forecasts,
        forecast_as_of=forecast_as_of,
        first_revenue_month=load_first_revenue_months(engine=engine),
    )
    adjustments = load_quota_adjustments(engine=engine)
    mine = adjustments["plan_id"] == plan_id
    with engine.connect() as connection:
        stored_method = connection.execute(
            select(col(RebalancePlan.quota_method)).where(col(RebalancePlan.id) == plan_id)
        ).scalar()
    return ImpactBook(
        tables=tables,
        frames=frames,
        adjustments=adjustments.loc[~mine, ADJUSTMENT_COLUMNS],
        plan_adjustments=adjustments.loc[mine, ADJUSTMENT_COLUMNS],
        opportunities=_named_opportunities(engine, tables.opportunities),
        stored_method=stored_method,
    )


def _named_opportunities(engine: Engine, opportunities: pd.DataFrame) -> pd.DataFrame:
    """``load_opportunities`` with each opportunity's external id and name."""
    names = read_frame(
        engine,
        select(
            col(Opportunity.id).label("opportunity_id"), col(Opportunity.external_id), col(Opportunity.name)
        ),
    )
    return opportunities.merge(names, on="opportunity_id", how="left")


# --------------------------------------------------------------------------- entry points


def plan_impact(
    engine: Engine,
    plan_id: int,
    *,
    quota_method: str = DEFAULT_QUOTA_METHOD,
    effective_date: date | None = None,
) -> PlanImpact:
    """The impact of a saved plan on each rep it touches (module docstring).

    ``effective_date``: the day the moves take effect (default: the plan's own, else today).
    ``quota_method``: none | potential | revenue (an applied plan shows the quota it moved).
    Raises ``core.plans.PlanError`` for an unknown plan, ``ValueError`` for an unknown method.
    """
    _check_method(quota_method)
    plan = get_plan(engine, plan_id)
    day = effective_date or plan.effective_date or date.today()
    book = load_impact_book(engine, plan_id=plan_id, as_of=day)
    return impact_of(book, plan, as_of=day, quota_method=quota_method)


def impact_of(
    book: ImpactBook,
    plan: SavedPlan,
    *,
    as_of: date,
    quota_method: str = DEFAULT_QUOTA_METHOD,
    settings: Settings | None = None,
) -> PlanImpact:
    """The impact of ``plan`` on ``book`` with the moves effective on ``as_of`` (pure)."""
    _check_method(quota_method)
    settings = settings or get_settings()
    moves = _move_frame(book, plan)
    before, after = _assignments(book.tables.accounts, moves)
    owner_key = _owner_keys(book.tables.territories)
    accounts = _account_figures(book, before, after, as_of=as_of, settings=settings)
    accounts["owner_before"] = accounts["territory_before"].map(owner_key)
    accounts["owner_after"] = accounts["territory_after"].map(owner_key)
    stored = not book.plan_adjustments.empty
    transfers = _transfers(book, moves, accounts, as_of=as_of, method=quota_method) if not stored else []
    quotas = _quotas(book, transfers, as_of=as_of, stored=stored)
    bookings = _bookings(book, before, as_of=as_of, settings=settings)
    changed = accounts["owner_before"].fillna("") != accounts["owner_after"].fillna("")
    affected = pd.unique(accounts.loc[changed, ["owner_before", "owner_after"]].stack().dropna())
    names = _owner_names(book.tables.territories)
    reps = tuple(
        _rep_impact(key, names[key], accounts, bookings.get(key, 0.0), quotas, changed)
        for key in sorted(affected, key=lambda k: names[k][1])
    )
    return PlanImpact(
        plan_id=plan.id,
        plan_name=plan.name,
        status=plan.status,
        as_of=as_of,
        quota_method=(book.stored_method or quota_method) if stored else quota_method,
        quota_from_stored=stored,
        reps=reps,
        opportunities=_opportunities(book, accounts[changed], names),
        quota_moves=tuple(_quota_move(t, book.tables.territories, names) for t in transfers),
        totals=_totals(reps),
    )


# --------------------------------------------------------------------------- pieces


def _check_method(method: str) -> None:
    if method not in QUOTA_METHODS:
        raise ValueError(f"quota method must be one of {', '.join(QUOTA_METHODS)}, not {method!r}")


def _move_frame(book: ImpactBook, plan: SavedPlan) -> pd.DataFrame:
    """The plan's moves by database id: account_id, from_territory_id, to_territory_id."""
    account_id = book.tables.accounts.set_index("external_id")["account_id"]
    territory_id = book.tables.territories.set_index("external_id")["territory_id"]
    rows = [
        {
            "account_id": account_id.get(m.account),
            "from_territory_id": territory_id.get(m.from_territory),
            "to_territory_id": territory_id.get(m.to_territory),
        }
        for m in plan.moves
    ]
    frame = pd.DataFrame(rows, columns=["account_id", "from_territory_id", "to_territory_id"])
    return frame.dropna(subset=["account_id", "to_territory_id"]).astype(
        {"account_id": "int64", "to_territory_id": "int64"}
    )


def _assignments(accounts: pd.DataFrame, moves: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each account's territory before and after the plan (by account_id; NaN: unassigned).

    Before is the moves' "from" (true also for an applied plan, whose accounts are at "to" now).
    """
    now = accounts.set_index("account_id")["territory_id"].astype(float)
    moved = moves.set_index("account_id")
    before, after = now.copy(), now.copy()
    before.loc[moved.index] = moved["from_territory_id"].astype(float)
    after.loc[moved.index] = moved["to_territory_id"].astype(float)
    return before, after


def _owner_keys(territories: pd.DataFrame) -> pd.Series:
    """A row key per territory_id: its owner ("rep:<id>"), or the territory itself when vacant."""
    owner = territories["owner_rep_id"]
    keys = [
        f"territory:{t}" if pd.isna(r) else f"rep:{int(r)}"
        for t, r in zip(territories["territory_id"], owner, strict=True)
    ]
    return pd.Series(keys, index=territories["territory_id"].astype(float).to_numpy())


def _owner_names(territories: pd.DataFrame) -> dict[str, tuple[str | None, str, tuple[str, ...]]]:
    """Per row key: the rep's external id, the row's name and its territories' names."""
    keys = _owner_keys(territories)
    out: dict[str, tuple[str | None, str, tuple[str, ...]]] = {}
    for (_, row), key in zip(territories.iterrows(), keys, strict=True):
        name = str(row["name"] if pd.notna(row["name"]) else row["external_id"])
        if key.startswith("territory:"):
            out[key] = (None, f"vacant ({name})", (name,))
            continue
        rep_id, rep, names = out.get(key, (str(row["rep_external_id"]), str(row["rep_name"]), ()))
        out[key] = (rep_id, rep, (*names, name))
    return out


def _account_figures(
    book: ImpactBook, before: pd.Series, after: pd.Series, *, as_of: date, settings: Settings
) -> pd.DataFrame:
    """Per account_id: territory, workload, travel and rest-of-period forecast before and after;
    potential, revenue_ttm and open pipeline (the same on both sides)."""
    measured_before = _measures(book.tables, before, as_of=as_of, settings=settings)
    measured_after = _measures(book.tables, after, as_of=as_of, settings=settings)
    opportunities = book.tables.opportunities
    is_open = opportunities["status"].astype(str).str.lower() == "open"
    pipeline = opportunities[is_open].groupby("account_id")["amount"].sum()
    frame = pd.DataFrame({"territory_before": before, "territory_after": after})
    both = measured_before.combine_first(measured_after)  # an account unassigned before has no row there
    return frame.assign(
        potential=both["potential"],
        revenue_ttm=both["revenue_ttm"],
        pipeline=frame.index.map(pipeline).fillna(0.0).astype(float),
        workload_before=measured_before["workload_hours"],
        workload_after=measured_after["workload_hours"],
        travel_before=measured_before["travel_hours"],
        travel_after=measured_after["travel_hours"],
        rest_before=_rest_of_period(book.frames, before, as_of=as_of),
        rest_after=_rest_of_period(book.frames, after, as_of=as_of),
    ).fillna({c: 0.0 for c in FIGURE_COLUMNS})


def _measures(tables: BookTables, assignment: pd.Series, *, as_of: date, settings: Settings) -> pd.DataFrame:
    """potential, revenue_ttm, workload_hours and travel_hours per account_id in ``assignment``."""
    accounts = tables.accounts.assign(territory_id=tables.accounts["account_id"].map(assignment))
    frame, _ = problem_frames(replace(tables, accounts=accounts), as_of=as_of, settings=settings)
    tier = account_tier(frame["revenue_ttm"], frame["strategic"], settings)
    travel = frame["workload_hours"] - touch_hours(tier, settings)
    return frame.assign(travel_hours=travel.clip(lower=0.0)).set_index("account_id")[
        ["potential", "revenue_ttm", "workload_hours", "travel_hours"]
    ]


def _rest_of_period(frames: BookFrames, assignment: pd.Series, *, as_of: date) -> pd.Series:
    """Each account's forecast from ``as_of`` to the end of its owner's quota period."""
    accounts = frames.accounts.assign(territory_id=frames.accounts["account_id"].map(assignment))
    inputs = kpi_inputs(replace(frames, accounts=accounts), as_of=as_of)
    return inputs.accounts.set_index("account_id")["forecast_rest_of_period"].astype(float)


def _bookings(book: ImpactBook, before: pd.Series, *, as_of: date, settings: Settings) -> dict[str, float]:
    """Bookings this period by row key, with the book before the plan (they stay with the old rep)."""
    frames = book.frames
    accounts = frames.accounts.assign(territory_id=frames.accounts["account_id"].map(before))
    context = build_context(
        kpi_inputs(replace(frames, accounts=accounts), as_of=as_of), as_of=as_of, settings=settings
    )
    by_territory = context.position["bookings"]
    keys = _owner_keys(book.tables.territories)
    grouped = by_territory.groupby(by_territory.index.astype(float).map(keys)).sum()
    return {str(k): float(v) for k, v in grouped.items()}


def _transfers(
    book: ImpactBook, moves: pd.DataFrame, accounts: pd.DataFrame, *, as_of: date, method: str
) -> list[QuotaTransfer]:
    before = accounts["territory_before"].dropna()
    frame = pd.DataFrame(
        {
            "account_id": before.index.astype("int64"),
            "territory_id": before.astype("int64").to_numpy(),
            "potential": accounts.loc[before.index, "potential"].to_numpy(),
            "revenue_ttm": accounts.loc[before.index, "revenue_ttm"].to_numpy(),
        }
    )
    return quota_transfers(
        moves,
        frame,
        book.tables.territories[["territory_id", "owner_rep_id"]],
        book.frames.quotas,
        book.adjustments,
        effective_date=as_of,
        method=method,
    )


def _quotas(book: ImpactBook, transfers: list[QuotaTransfer], *, as_of: date, stored: bool) -> pd.DataFrame:
    """quota_before / quota_after per rep_id on ``as_of`` (``core.quota.quota_as_of``)."""
    planned = (
        book.plan_adjustments if stored else pd.DataFrame(adjustment_rows(transfers, effective_date=as_of))
    )
    quotas = book.frames.quotas
    before = quota_as_of(quotas, book.adjustments, as_of)["quota"]
    pieces = [frame for frame in (book.adjustments, planned) if not frame.empty]
    combined = pd.concat([p[ADJUSTMENT_COLUMNS] for p in pieces]) if pieces else book.adjustments
    after = quota_as_of(quotas, combined, as_of)["quota"]
    return pd.DataFrame({"before": before, "after": after})


def _rep_impact(
    key: str,
    name: tuple[str | None, str, tuple[str, ...]],
    accounts: pd.DataFrame,
    bookings: float,
    quotas: pd.DataFrame,
    changed: pd.Series,
) -> RepImpact:
    mine_before, mine_after = accounts["owner_before"] == key, accounts["owner_after"] == key
    gained, lost = mine_after & changed, mine_before & changed

    def flow(column: str | None) -> Flow:
        values = pd.Series(1.0, index=accounts.index) if column is None else accounts[column]
        return Flow(
            before=float(values[mine_before].sum()),
            gained=float(values[gained].sum()),
            lost=float(values[lost].sum()),
            after=float(values[mine_after].sum()),
        )

    def change(column: str) -> Change:
        return Change(
            float(accounts.loc[mine_before, f"{column}_before"].sum()),
            float(accounts.loc[mine_after, f"{column}_after"].sum()),
        )

    rep_id = int(key.split(":")[1]) if key.startswith("rep:") else None
    quota = Change(*(_quota_of(quotas, rep_id, side) for side in ("before", "after")))
    rest = change("rest")
    return RepImpact(
        rep_id=name[0],
        rep=name[1],
        territories=name[2],
        accounts=flow(None),
        potential=flow("potential"),
        revenue_ttm=flow("revenue_ttm"),
        pipeline=flow("pipeline"),
        bookings=bookings,
        forecast_rest=rest,
        quota=quota,
        projected_attainment=Change(
            _projected(bookings, rest.before, quota.before), _projected(bookings, rest.after, quota.after)
        ),
        workload_hours=change("workload"),
        travel_hours=change("travel"),
    )


def _quota_of(quotas: pd.DataFrame, rep_id: int | None, side: str) -> float | None:
    if rep_id is None or rep_id not in quotas.index or pd.isna(quotas.at[rep_id, side]):
        return None
    return round(float(quotas.at[rep_id, side]), 2)


def _projected(bookings: float, rest: float | None, quota: float | None) -> float | None:
    """(bookings + rest-of-period forecast) / quota, as ``core.kpi_registry.projected_attainment``."""
    if quota is None or quota <= 0 or rest is None:
        return None
    return (bookings + rest) / quota


def _opportunities(
    book: ImpactBook, moved: pd.DataFrame, names: dict[str, tuple[str | None, str, tuple[str, ...]]]
) -> tuple[OpportunityChange, ...]:
    opportunities = book.opportunities
    is_open = opportunities["status"].astype(str).str.lower() == "open"
    mine = opportunities[is_open & opportunities["account_id"].isin(moved.index)]
    account = book.tables.accounts.set_index("account_id")
    rows = [
        OpportunityChange(
            opportunity_id=str(o.external_id),
            name=str(o.name) if pd.notna(o.name) else str(o.external_id),
            stage=str(o.stage),
            amount=float(o.amount),
            close_date=o.close_date,
            account_id=str(account.at[o.account_id, "external_id"]),
            account=str(account.at[o.account_id, "name"]),
            from_rep=_name_of(names, moved.at[o.account_id, "owner_before"]),
            to_rep=_name_of(names, moved.at[o.account_id, "owner_after"]),
        )
        for o in mine.itertuples()
    ]
    return tuple(sorted(rows, key=lambda r: (r.close_date, r.account, r.name)))


def _name_of(names: dict[str, tuple[str | None, str, tuple[str, ...]]], key: object) -> str:
    return names[str(key)][1] if isinstance(key, str) and key in names else "unassigned"


def _quota_move(
    transfer: QuotaTransfer,
    territories: pd.DataFrame,
    names: dict[str, tuple[str | None, str, tuple[str, ...]]],
) -> QuotaMove:
    keys = _owner_keys(territories)

    def who(territory_id: int | None) -> str:
        return "unassigned" if territory_id is None else _name_of(names, keys.get(float(territory_id)))

    return QuotaMove(
        from_rep=who(transfer.from_territory_id),
        to_rep=who(transfer.to_territory_id),
        amount=transfer.amount,
        share=transfer.share,
        skipped=transfer.skipped,
    )


def _totals(reps: Sequence[RepImpact]) -> ImpactTotals:
    def flow(name: str) -> Flow:
        flows = [getattr(r, name) for r in reps]
        return Flow(
            *(float(sum(getattr(f, part) for f in flows)) for part in ("before", "gained", "lost", "after"))
        )

    def change(name: str, digits: int | None = None) -> Change:
        def total(side: str) -> float | None:
            known = [
                getattr(getattr(r, name), side) for r in reps if getattr(getattr(r, name), side) is not None
            ]
            if not known:
                return None
            return round(float(sum(known)), digits) if digits is not None else float(sum(known))

        return Change(total("before"), total("after"))

    return ImpactTotals(
        accounts=flow("accounts"),
        potential=flow("potential"),
        revenue_ttm=flow("revenue_ttm"),
        pipeline=flow("pipeline"),
        quota=change("quota", 2),
        workload_hours=change("workload_hours"),
        travel_hours=change("travel_hours"),
    )


# --------------------------------------------------------------------------- for people


def _in_out(flow: Flow, text) -> str:  # type: ignore[no-untyped-def]
    parts = ([f"+{text(flow.gained)}"] if flow.gained else []) + (
        [f"−{text(flow.lost)}"] if flow.lost else []
    )
    return " / ".join(parts) or DASH


FIGURES = (
    "Accounts",
    "Potential",
    "Revenue TTM",
    "Open pipeline",
    "Quota",
    "Projected attainment",
    "Workload",
    "Travel",
)
IMPACT_COLUMNS = ["Rep", "Territories", *FIGURES]
FLOW_COLUMNS = ["Rep", "Accounts in / out", "Potential in / out", "Revenue TTM in / out", "Pipeline in / out"]
OPPORTUNITY_COLUMNS = ["Opportunity", "Account", "Stage", "Amount", "Close date", "From", "To"]


def figures(r: RepImpact) -> dict[str, tuple[str, str]]:
    """Each figure of a rep as a person reads it: (before, after)."""
    pairs: dict[str, tuple[Flow | Change, Callable[[float | None], str]]] = {
        "Accounts": (r.accounts, count),
        "Potential": (r.potential, money),
        "Revenue TTM": (r.revenue_ttm, money),
        "Open pipeline": (r.pipeline, money),
        "Quota": (r.quota, money),
        "Projected attainment": (r.projected_attainment, pct),
        "Workload": (r.workload_hours, hours),
        "Travel": (r.travel_hours, hours),
    }
    return {name: (text(value.before), text(value.after)) for name, (value, text) in pairs.items()}


def impact_table(impact: PlanImpact) -> pd.DataFrame:
    """One row per rep, every figure as a person reads it: before → after."""
    rows = [
        {"Rep": r.rep, "Territories": ", ".join(r.territories)}
        | {name: f"{before} → {after}" for name, (before, after) in figures(r).items()}
        for r in impact.reps
    ]
    return pd.DataFrame(rows, columns=IMPACT_COLUMNS)


def flows_table(impact: PlanImpact) -> pd.DataFrame:
    """One row per rep: what they gain and lose (accounts, potential, revenue, pipeline)."""
    rows = [
        {
            "Rep": r.rep,
            "Accounts in / out": _in_out(r.accounts, count),
            "Potential in / out": _in_out(r.potential, money),
            "Revenue TTM in / out": _in_out(r.revenue_ttm, money),
            "Pipeline in / out": _in_out(r.pipeline, money),
        }
        for r in impact.reps
    ]
    return pd.DataFrame(rows, columns=FLOW_COLUMNS)


def opportunities_table(impact: PlanImpact) -> pd.DataFrame:
    rows = [
        {
            "Opportunity": o.name,
            "Account": o.account,
            "Stage": o.stage,
            "Amount": money(o.amount),
            "Close date": o.close_date.isoformat(),
            "From": o.from_rep,
            "To": o.to_rep,
        }
        for o in impact.opportunities
    ]
    return pd.DataFrame(rows, columns=OPPORTUNITY_COLUMNS)


def compare_table(impacts: Sequence[PlanImpact]) -> pd.DataFrame:
    """Plans side by side: one row per (rep touched by any plan, figure); Before, then each plan's after.

    Before is the book as it stands (the first plan touching the rep says it); under a plan that
    does not touch the rep, after reads "unchanged".
    """
    reps: dict[str, str] = {}
    for impact in impacts:
        for r in impact.reps:
            reps.setdefault(r.rep_id or r.rep, r.rep)
    afters = [f"#{i.plan_id} after" for i in impacts]
    rows = []
    for key, rep in reps.items():
        found = [next((r for r in i.reps if (r.rep_id or r.rep) == key), None) for i in impacts]
        cells = [figures(r) if r is not None else None for r in found]
        before = next(c for c in cells if c is not None)
        for figure in FIGURES:
            row = {"Rep": rep, "Figure": figure, "Before": before[figure][0]}
            for column, cell in zip(afters, cells, strict=True):
                row[column] = cell[figure][1] if cell is not None else "unchanged"
            rows.append(row)
    return pd.DataFrame(rows, columns=["Rep", "Figure", "Before", *afters])


def compare_json(impacts: Sequence[PlanImpact]) -> dict[str, object]:
    """Two (or more) plans' impacts side by side: ``plans`` (each ``as_json``) and ``reps``."""
    documents = [i.as_json() for i in impacts]
    reps: dict[str, dict[str, object]] = {}
    for impact, document in zip(impacts, documents, strict=True):
        for rep, row in zip(impact.reps, document["reps"], strict=True):  # type: ignore[call-overload]
            entry = reps.setdefault(
                rep.rep_id or rep.rep, {"rep_id": rep.rep_id, "rep": rep.rep, "plans": {}}
            )
            entry["plans"][str(impact.plan_id)] = row  # type: ignore[index]
    return {"plans": documents, "reps": list(reps.values())}
