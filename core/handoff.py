"""Handoff packs: one printable document per rep whose territory gains or loses accounts in a plan.

``handoff_packs(engine, plan_id)`` reads an approved, scheduled or applied plan's moves (its
``PlanMove`` rows, reason and risk flags as saved) and builds one ``HandoffPack`` per territory that
gains or loses accounts and has an owner: the accounts gained and lost with the reason and the old
and new owner, the risky transitions with a recommended handoff (``HANDOFF_RULES``), the open
opportunities and the last activities on the moved accounts, and the first-90-days priorities of the
gaining rep ranked by potential (``core.queries.load_account_measures``: the one potential, from the
current forecast run, else the baseline). A vacant territory has no rep to hand to: no pack.

``render_handoff_html(pack)`` draws a pack as one self-contained HTML page (print CSS, no scripts,
no links, no external assets); ``render_handoff_text(pack)`` is the short plain-text version an email
carries. Both are pure; every name from data is escaped in HTML (data is text, never markup).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from core.alerts.email import RenderedEmail, one_line
from core.format import DASH, count, day_label, money, risk_words
from core.models import Account, Activity, Opportunity, PlanMove, RebalancePlan, Rep, Territory
from core.plans import PlanError
from core.queries import load_account_measures

HANDOFF_STATUSES = ("approved", "scheduled", "applied")
RECENT_ACTIVITIES = 3  # the last activities a pack shows per moved account

# --- the recommended handoff: what each risk flag (core.rebalance.result.RISKS) asks for ----------
STAYS_ON_DEAL = "Previous rep stays on the open deal until it closes"
JOINT_CALL = "Joint call with the previous rep before the effective date"
INTRODUCTION_EMAIL = "Introduction email from the previous rep, copying the new rep"


@dataclass(frozen=True)
class HandoffRule:
    """A risk flag, the handoff steps it asks for, and why (the human half, printed in every pack)."""

    risk: str
    steps: tuple[str, ...]
    why: str


HANDOFF_RULES = (
    HandoffRule(
        "open_opportunity",
        (STAYS_ON_DEAL, JOINT_CALL),
        "a deal in flight is lost most easily when its contact changes mid-cycle",
    ),
    HandoffRule(
        "large_revenue",
        (JOINT_CALL,),
        "a large customer should hear of the change from both reps together",
    ),
    HandoffRule(
        "long_tenure",
        (JOINT_CALL,),
        "a long-held relationship is carried over in person, not by email",
    ),
)
STEP_ORDER = (STAYS_ON_DEAL, JOINT_CALL, INTRODUCTION_EMAIL)


def recommended_handoff(risks: Iterable[str]) -> str:
    """The handoff a move calls for, from its risk flags (``HANDOFF_RULES``), in one or two sentences.

    No flag: an introduction email. An unknown flag counts as risky and gets the joint call.
    """
    rules = {rule.risk: rule.steps for rule in HANDOFF_RULES}
    steps: set[str] = set()
    for risk in risks:
        steps.update(rules.get(risk, (JOINT_CALL,)))
    chosen = [step for step in STEP_ORDER if step in steps] or [INTRODUCTION_EMAIL]
    return " ".join(f"{step}." for step in chosen)


# --- what a pack holds ------------------------------------------------------------------------
@dataclass(frozen=True)
class PackRep:
    id: int
    external_id: str
    name: str
    email: str | None


@dataclass(frozen=True)
class PackTerritory:
    id: int
    external_id: str
    name: str


@dataclass(frozen=True)
class HandoffMove:
    """One of the plan's moves, seen from the pack's territory (``direction`` gain or loss)."""

    account_id: int
    account: str  # the CRM id
    account_name: str
    direction: str  # gain | loss
    from_territory: str | None  # its name; None: the account had no territory
    to_territory: str
    old_owner: str | None  # the rep's name; None: vacant
    new_owner: str | None
    reason: str
    risks: tuple[str, ...]
    handoff: str  # recommended_handoff(risks)
    potential: float
    revenue_ttm: float


@dataclass(frozen=True)
class OpenOpportunity:
    account: str
    account_name: str
    name: str | None
    stage: str
    amount: float
    close_date: date
    owner: str | None  # the rep on the deal


@dataclass(frozen=True)
class RecentActivity:
    account: str
    account_name: str
    occurred_on: date
    kind: str
    by: str | None  # the rep who did it


@dataclass(frozen=True)
class Priority:
    """An account the gaining rep takes on, ranked by potential (1 = the most)."""

    rank: int
    account: str
    account_name: str
    potential: float
    revenue_ttm: float
    tier: str
    open_pipeline: float
    last_activity: date | None
    first_step: str


@dataclass(frozen=True)
class HandoffPack:
    plan_id: int
    plan_name: str
    plan_status: str
    effective_date: date | None
    as_of: date  # the day the potentials and the book were read
    rep: PackRep
    territory: PackTerritory
    gains: tuple[HandoffMove, ...]
    losses: tuple[HandoffMove, ...]
    risky: tuple[HandoffMove, ...]  # gains and losses with a risk flag
    opportunities: tuple[OpenOpportunity, ...]
    activities: tuple[RecentActivity, ...]
    priorities: tuple[Priority, ...]

    @property
    def file_name(self) -> str:
        """A safe file name: slug of the rep's name and the territory id, e.g. ana-alvarez-sw-t001.html."""
        return f"{slug(self.rep.name, 'rep')}-{slug(self.territory.external_id, 'territory')}.html"


def slug(text: str, fallback: str) -> str:
    """Lower-case ASCII letters, digits and single hyphens (at most 60), else ``fallback``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")
    return cleaned or fallback


def file_names(packs: Sequence[HandoffPack]) -> list[str]:
    """Each pack's ``file_name``, made unique (-2, -3, ... before .html when two slugs meet)."""
    seen: dict[str, int] = {}
    names = []
    for pack in packs:
        name = pack.file_name
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name.removesuffix('.html')}-{seen[name]}.html")
    return names


# --- building the packs ------------------------------------------------------------------------
def handoff_packs(engine: Engine, plan_id: int, *, as_of: date | None = None) -> list[HandoffPack]:
    """One pack per territory (with an owner) that the plan's moves touch, by territory id.

    Refused with ``PlanError`` unless the plan is approved, scheduled or applied (a draft, a
    submitted or a rejected plan may still change). ``as_of`` (default today) is the day of the
    potentials and revenue the packs rank and show.
    """
    with Session(engine) as session:
        return packs_in(session, plan_id, as_of=as_of)


def packs_in(session: Session, plan_id: int, *, as_of: date | None = None) -> list[HandoffPack]:
    """``handoff_packs`` read in an open session (the transaction that applies the plan, for its emails)."""
    plan = session.get(RebalancePlan, plan_id)
    if plan is None:
        raise PlanError(f"there is no plan {plan_id}")
    if plan.status not in HANDOFF_STATUSES:
        raise PlanError(
            f"plan {plan_id} is {plan.status}: handoff packs are for approved, scheduled or applied plans"
        )
    as_of = as_of or date.today()
    book = _Book.read(session, plan_id)
    engine = session.get_bind()
    assert isinstance(engine, Engine)  # sessions here are bound to an engine (core.db.session_scope)
    measures = load_account_measures(engine=engine, as_of=as_of).set_index("account_id")
    return [_pack(plan, t, book, measures, as_of) for t in book.territories_touched()]


@dataclass(frozen=True)
class _Book:
    """The rows a plan's packs are made of."""

    moves: tuple[PlanMove, ...]
    accounts: Mapping[int, tuple[str, str]]  # id -> (external id, name)
    territories: Mapping[int, tuple[str, str, int | None]]  # id -> (external id, name, owner rep id)
    reps: Mapping[int, Rep]
    opportunities: tuple[Opportunity, ...]  # open, on the moved accounts, by close date
    activities: tuple[Activity, ...]  # on the moved accounts, newest first

    @classmethod
    def read(cls, session: Session, plan_id: int) -> _Book:
        moves = tuple(
            session.execute(
                select(PlanMove).where(col(PlanMove.plan_id) == plan_id).order_by(col(PlanMove.id))
            ).scalars()
        )
        ids = [m.account_id for m in moves]
        accounts = session.execute(
            select(col(Account.id), col(Account.external_id), col(Account.name)).where(
                col(Account.id).in_(ids)
            )
        ).all()
        territories = session.execute(
            select(
                col(Territory.id),
                col(Territory.external_id),
                col(Territory.name),
                col(Territory.owner_rep_id),
            )
        ).all()
        opportunities = session.execute(
            select(Opportunity)
            .where(col(Opportunity.account_id).in_(ids))
            .where(col(Opportunity.status) == "open")
            .order_by(col(Opportunity.close_date), col(Opportunity.id))
        ).scalars()
        activities = session.execute(
            select(Activity)
            .where(col(Activity.account_id).in_(ids))
            .order_by(col(Activity.occurred_on).desc(), col(Activity.id).desc())
        ).scalars()
        return cls(
            moves=moves,
            accounts={id_: (ext, name) for id_, ext, name in accounts},
            territories={id_: (ext, name, owner) for id_, ext, name, owner in territories},
            reps={rep.id: rep for rep in session.execute(select(Rep)).scalars() if rep.id is not None},
            opportunities=tuple(opportunities),
            activities=tuple(activities),
        )

    def territories_touched(self) -> list[int]:
        """Territories that gain or lose accounts and have an owner, by external id."""
        touched = {m.to_territory_id for m in self.moves} | {
            m.from_territory_id for m in self.moves if m.from_territory_id is not None
        }
        owned = [t for t in touched if self.owner(t) is not None]
        return sorted(owned, key=lambda t: self.territories[t][0])

    def owner(self, territory_id: int | None) -> Rep | None:
        if territory_id is None or territory_id not in self.territories:
            return None
        rep_id = self.territories[territory_id][2]
        return self.reps.get(rep_id) if rep_id is not None else None

    def rep_name(self, rep_id: int | None) -> str | None:
        rep = self.reps.get(rep_id) if rep_id is not None else None
        return rep.name if rep is not None else None

    def territory_name(self, territory_id: int | None) -> str | None:
        return None if territory_id is None else self.territories[territory_id][1]


def _pack(
    plan: RebalancePlan, territory_id: int, book: _Book, measures: pd.DataFrame, as_of: date
) -> HandoffPack:
    rep = book.owner(territory_id)
    assert rep is not None and rep.id is not None  # territories_touched keeps owned territories only
    gains = _side(book, measures, "gain", [m for m in book.moves if m.to_territory_id == territory_id])
    losses = _side(book, measures, "loss", [m for m in book.moves if m.from_territory_id == territory_id])
    moved = {m.account_id for m in (*gains, *losses)}
    ext, name, _ = book.territories[territory_id]
    return HandoffPack(
        plan_id=plan.id or 0,
        plan_name=plan.name,
        plan_status=plan.status,
        effective_date=plan.effective_date,
        as_of=as_of,
        rep=PackRep(rep.id, rep.external_id, rep.name, rep.email),
        territory=PackTerritory(territory_id, ext, name),
        gains=gains,
        losses=losses,
        risky=tuple(m for m in (*gains, *losses) if m.risks),
        opportunities=_opportunities(book, moved),
        activities=_activities(book, moved),
        priorities=_priorities(gains, book, measures),
    )


def _side(
    book: _Book, measures: pd.DataFrame, direction: str, moves: Sequence[PlanMove]
) -> tuple[HandoffMove, ...]:
    """The moves into (gain) or out of (loss) a territory, by account name."""
    seen = [_move(m, direction, book, measures) for m in moves]
    return tuple(sorted(seen, key=lambda m: (m.account_name, m.account)))


def _move(move: PlanMove, direction: str, book: _Book, measures: pd.DataFrame) -> HandoffMove:
    ext, name = book.accounts[move.account_id]
    risks = tuple(r for r in move.risks.split(",") if r)
    old, new = book.owner(move.from_territory_id), book.owner(move.to_territory_id)
    return HandoffMove(
        account_id=move.account_id,
        account=ext,
        account_name=name,
        direction=direction,
        from_territory=book.territory_name(move.from_territory_id),
        to_territory=book.territory_name(move.to_territory_id) or "",
        old_owner=old.name if old is not None else None,
        new_owner=new.name if new is not None else None,
        reason=move.reason,
        risks=risks,
        handoff=recommended_handoff(risks),
        potential=_measure(measures, move.account_id, "potential"),
        revenue_ttm=_measure(measures, move.account_id, "revenue_ttm"),
    )


def _measure(measures: pd.DataFrame, account_id: int, column: str) -> float:
    return float(measures.at[account_id, column]) if account_id in measures.index else 0.0


def _opportunities(book: _Book, moved: set[int]) -> tuple[OpenOpportunity, ...]:
    return tuple(
        OpenOpportunity(
            account=book.accounts[o.account_id][0],
            account_name=book.accounts[o.account_id][1],
            name=o.name,
            stage=o.stage,
            amount=float(o.amount),
            close_date=o.close_date,
            owner=book.rep_name(o.rep_id),
        )
        for o in book.opportunities
        if o.account_id in moved
    )


def _activities(book: _Book, moved: set[int]) -> tuple[RecentActivity, ...]:
    """The last ``RECENT_ACTIVITIES`` of each moved account, by account name, newest first."""
    shown: dict[int, list[Activity]] = {}
    for activity in book.activities:  # newest first
        if (
            activity.account_id in moved
            and len(shown.setdefault(activity.account_id, [])) < RECENT_ACTIVITIES
        ):
            shown[activity.account_id].append(activity)
    ordered = sorted(shown.items(), key=lambda item: (book.accounts[item[0]][1], book.accounts[item[0]][0]))
    return tuple(
        RecentActivity(
            account=book.accounts[account_id][0],
            account_name=book.accounts[account_id][1],
            occurred_on=a.occurred_on,
            kind=a.kind,
            by=book.rep_name(a.rep_id),
        )
        for account_id, activities in ordered
        for a in activities
    )


def _priorities(gains: Sequence[HandoffMove], book: _Book, measures: pd.DataFrame) -> tuple[Priority, ...]:
    """The gained accounts by potential, the largest first (ties by name)."""
    pipeline: dict[int, float] = {}
    for o in book.opportunities:
        pipeline[o.account_id] = pipeline.get(o.account_id, 0.0) + float(o.amount)
    last: dict[int, date] = {}
    for a in book.activities:  # newest first: the first seen is the last activity
        last.setdefault(a.account_id, a.occurred_on)
    ranked = sorted(gains, key=lambda m: (-m.potential, m.account_name, m.account))
    return tuple(
        Priority(
            rank=rank,
            account=m.account,
            account_name=m.account_name,
            potential=m.potential,
            revenue_ttm=m.revenue_ttm,
            tier=str(measures.at[m.account_id, "tier"]) if m.account_id in measures.index else DASH,
            open_pipeline=pipeline.get(m.account_id, 0.0),
            last_activity=last.get(m.account_id),
            first_step=m.handoff,
        )
        for rank, m in enumerate(ranked, 1)
    )


# --- rendering (pure) ----------------------------------------------------------------------------
STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #111;
       max-width: 62rem; margin: 1.5rem auto; padding: 0 1rem; line-height: 1.4; font-size: 11pt; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .4rem; border-bottom: 1px solid #888; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 .8rem; }
th, td { border: 1px solid #bbb; padding: .25rem .4rem; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; white-space: nowrap; }
.facts { color: #444; margin: 0; }
.empty { color: #555; font-style: italic; }
.risk { font-weight: 600; }
footer { color: #666; font-size: 9pt; margin-top: 2rem; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 9.5pt; }
  h2 { break-after: avoid; }
  tr, li { break-inside: avoid; }
  thead { display: table-header-group; }
  th { background: none; }
}
"""


def _e(value: object) -> str:
    """Data as HTML text: every markup character escaped, "—" when missing."""
    return DASH if value is None else html.escape(str(value), quote=True)


Cells = list[str]


def _td(value: object) -> str:
    return f"<td>{_e(value)}</td>"


def _num(text: str) -> str:
    """A right-aligned cell of a formatted number or date (core.format)."""
    return f'<td class="num">{html.escape(text)}</td>'


def _owner(territory: str | None, rep: str | None) -> str:
    """ "Phoenix (Ana Alvarez)"; "unassigned" for no territory, "vacant" for no rep."""
    return "unassigned" if territory is None else f"{territory} ({rep or 'vacant'})"


def _move_cells(m: HandoffMove) -> Cells:
    other = (
        _owner(m.from_territory, m.old_owner)
        if m.direction == "gain"
        else _owner(m.to_territory, m.new_owner)
    )
    return [
        _td(m.account_name),
        _td(m.account),
        _td(other),
        _num(money(m.potential)),
        _num(money(m.revenue_ttm)),
        _td(m.reason),
        _td(risk_words(m.risks) or "none"),
        _td(m.handoff),
    ]


def _risky_cells(m: HandoffMove) -> Cells:
    move = "joins you" if m.direction == "gain" else "leaves you"
    risks = f'<td class="risk">{_e(risk_words(m.risks))}</td>'
    return [
        _td(m.account_name),
        _td(move),
        _td(m.old_owner or "vacant"),
        _td(m.new_owner or "vacant"),
        risks,
        _td(m.handoff),
    ]


def _opportunity_cells(o: OpenOpportunity) -> Cells:
    return [
        _td(o.account_name),
        _td(o.name),
        _td(o.stage),
        _num(money(o.amount)),
        _num(day_label(o.close_date)),
        _td(o.owner),
    ]


def _activity_cells(a: RecentActivity) -> Cells:
    return [_td(a.account_name), _num(day_label(a.occurred_on)), _td(a.kind), _td(a.by)]


def _priority_cells(p: Priority) -> Cells:
    return [
        _num(count(p.rank)),
        _td(p.account_name),
        _num(money(p.potential)),
        _num(money(p.revenue_ttm)),
        _td(p.tier.replace("_", " ")),
        _num(money(p.open_pipeline) if p.open_pipeline else DASH),
        _num(day_label(p.last_activity)),
        _td(p.first_step),
    ]


MOVE_HEADERS = ("Account", "Id", "{}", "Potential", "Revenue 12 mo", "Reason", "Risks", "Handoff")


@dataclass(frozen=True)
class _Section:
    """One part of a pack: its id, heading, table columns, rows and what it says when empty."""

    key: str
    heading: str
    headers: Sequence[str]
    rows: Sequence[tuple[str, Cells]]  # (account id, cells)
    empty: str

    def html(self) -> str:
        """Each row carries ``data-account`` (the account id, escaped): the sections are machine-readable."""
        if not self.rows:
            table = f'<p class="empty">{html.escape(self.empty)}</p>'
        else:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
            body = "".join(f'<tr data-account="{_e(a)}">{"".join(cells)}</tr>' for a, cells in self.rows)
            table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        return f'<section id="{self.key}"><h2>{html.escape(self.heading)}</h2>{table}</section>'


def _sections(pack: HandoffPack) -> list[_Section]:
    n = count
    return [
        _Section(
            "gains",
            f"Accounts you gain ({n(len(pack.gains))})",
            [h.format("From (old owner)") for h in MOVE_HEADERS],
            [(m.account, _move_cells(m)) for m in pack.gains],
            "No account joins your territory.",
        ),
        _Section(
            "losses",
            f"Accounts you hand over ({n(len(pack.losses))})",
            [h.format("To (new owner)") for h in MOVE_HEADERS],
            [(m.account, _move_cells(m)) for m in pack.losses],
            "No account leaves your territory.",
        ),
        _Section(
            "risky",
            f"Risky transitions ({n(len(pack.risky))})",
            ("Account", "Move", "Previous rep", "New rep", "Risk", "Recommended handoff"),
            [(m.account, _risky_cells(m)) for m in pack.risky],
            "No moved account is flagged: an introduction email hands each one over.",
        ),
        _Section(
            "opportunities",
            f"Open opportunities on the moved accounts ({n(len(pack.opportunities))})",
            ("Account", "Opportunity", "Stage", "Amount", "Close date", "Rep on the deal"),
            [(o.account, _opportunity_cells(o)) for o in pack.opportunities],
            "No open opportunity on the moved accounts.",
        ),
        _Section(
            "activities",
            f"Last activities on the moved accounts (up to {RECENT_ACTIVITIES} each)",
            ("Account", "Date", "Kind", "By"),
            [(a.account, _activity_cells(a)) for a in pack.activities],
            "No activity recorded on the moved accounts.",
        ),
        _Section(
            "priorities",
            "First 90 days: your new accounts by potential",
            (
                "#",
                "Account",
                "Potential",
                "Revenue 12 mo",
                "Tier",
                "Open pipeline",
                "Last activity",
                "First step",
            ),
            [(p.account, _priority_cells(p)) for p in pack.priorities],
            "No account joins your territory: nothing new to take on.",
        ),
    ]


def _rules_html() -> str:
    """The handoff rules, printed in every pack so a rep sees why each step is asked for."""
    items = "".join(
        f"<li><b>{html.escape(risk_words([rule.risk]))}</b> ({html.escape(rule.why)}): "
        f"{html.escape(' '.join(f'{step}.' for step in rule.steps))}</li>"
        for rule in HANDOFF_RULES
    )
    return (
        '<section id="rules"><h2>How the handoff is recommended</h2>'
        f"<ul>{items}<li><b>no risk flag</b>: {html.escape(INTRODUCTION_EMAIL)}.</li></ul>"
        "<p>An account with several flags gets every step they ask for.</p></section>"
    )


def _summary(pack: HandoffPack) -> str:
    gained, lost = sum(m.potential for m in pack.gains), sum(m.potential for m in pack.losses)
    return (
        f"Joining: {_many(len(pack.gains), 'account')} ({money(gained)} potential); "
        f"leaving: {_many(len(pack.losses), 'account')} ({money(lost)} potential); "
        f"{_many(len(pack.risky), 'risky transition')}; {_many(len(pack.opportunities), 'open opportunity')} "
        f"({money(sum(o.amount for o in pack.opportunities))})."
    )


def _many(n: int, noun: str) -> str:
    """ "1 account", "3 accounts", "2 open opportunities" (counts through core.format)."""
    if n == 1:
        return f"{count(n)} {noun}"
    return f"{count(n)} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"


def _facts(pack: HandoffPack) -> str:
    effective = day_label(pack.effective_date) if pack.effective_date else "the day the plan is applied"
    return (
        f"{_e(pack.territory.name)} ({_e(pack.territory.external_id)}) · plan {pack.plan_id} "
        f"“{_e(pack.plan_name)}” ({_e(pack.plan_status)}) · effective {_e(effective)} · "
        f"figures as of {_e(day_label(pack.as_of))}"
    )


def render_handoff_html(pack: HandoffPack, *, preface_html: str = "") -> str:
    """The pack as one printable, self-contained HTML page (no scripts, links or external assets).

    ``preface_html`` is trusted markup put first in the body (an email's greeting); everything
    from data in the pack is escaped.
    """
    title = f"Handoff pack: {pack.rep.name}, {pack.territory.name}, plan {pack.plan_id}"
    sections = "".join(section.html() for section in _sections(pack))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>{preface_html}"
        f'<header><h1>Handoff pack: {_e(pack.rep.name)}</h1><p class="facts">{_facts(pack)}</p>'
        f'<p class="summary">{html.escape(_summary(pack))}</p></header>{sections}{_rules_html()}'
        f"<footer>Territory Health · plan {pack.plan_id} · {_e(pack.rep.name)}</footer></body></html>\n"
    )


def render_handoff_text(pack: HandoffPack) -> str:
    """The pack in short plain text (an email's text part): moves, risks, deals and priorities."""
    lines = [f"Handoff pack: {one_line(pack.rep.name)}, {one_line(pack.territory.name)}", _summary(pack)]
    for heading, moves in (("You gain", pack.gains), ("You hand over", pack.losses)):
        lines += ["", f"{heading} ({len(moves)}):"] if moves else []
        lines += [f"  {_text_move(m)}" for m in moves]
    lines += ["", f"Risky transitions ({len(pack.risky)}):"] if pack.risky else []
    lines += [f"  {one_line(m.account_name)} ({risk_words(m.risks)}): {m.handoff}" for m in pack.risky]
    lines += ["", f"Open opportunities ({len(pack.opportunities)}):"] if pack.opportunities else []
    lines += [
        f"  {one_line(o.account_name)}: {one_line(o.stage)}, {money(o.amount)}, "
        f"closes {day_label(o.close_date)}"
        for o in pack.opportunities
    ]
    lines += ["", "First 90 days, by potential:"] if pack.priorities else []
    lines += [f"  {p.rank}. {one_line(p.account_name)}: {money(p.potential)}" for p in pack.priorities]
    return "\n".join(lines) + "\n"


def _text_move(m: HandoffMove) -> str:
    if m.direction == "gain":
        where = f"from {_owner(m.from_territory, m.old_owner)}"
    else:
        where = f"to {_owner(m.to_territory, m.new_owner)}"
    return f"{one_line(m.account_name)} ({one_line(m.account)}), {one_line(where)}: {one_line(m.reason)}"


def with_pack(email: RenderedEmail, pack: HandoffPack) -> RenderedEmail:
    """An email (a plan-applied notice) carrying the rep's pack: the pack's page as its HTML, with the
    notice first, and the pack's short text after the notice's text."""
    return RenderedEmail(
        subject=email.subject,
        text=f"{email.text}\n{render_handoff_text(pack)}",
        html=render_handoff_html(pack, preface_html=email.html),
    )
