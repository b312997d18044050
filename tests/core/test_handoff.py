"""Handoff packs: each rep's pack lists exactly the plan's moves for them, the risky transitions with
their handoff, the open deals and last activities of the moved accounts, priorities by potential;
names are text; the affected reps get their packs by email (a real SMTP server on localhost)."""

from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from core.auth import SYSTEM_ACTOR, create_user
from core.config import get_settings
from core.db import session_scope
from core.handoff import (
    HANDOFF_RULES,
    INTRODUCTION_EMAIL,
    JOINT_CALL,
    STAYS_ON_DEAL,
    HandoffPack,
    file_names,
    handoff_packs,
    recommended_handoff,
    render_handoff_html,
    slug,
)
from core.models import Account, Activity, Opportunity, Rep, RevenueMonth, Territory
from core.plans import (
    PlanError,
    apply_due_plans,
    apply_plan,
    approve_plan,
    assignments_fingerprint,
    reject_plan,
    save_plan,
    submit_plan,
)
from core.queries import load_account_measures
from tests.smtp_server import SmtpServer

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

AS_OF = date(2026, 11, 23)
PLANNER, APPROVER = "pat@example.com", "ada@example.com"
XSS, BOLD, SCRIPT = "<img src=x onerror=alert(1)>", "**bold**", "<script>alert(1)</script> Ltd"

# The small book (revenue a month, so the potential is the trailing year: no wallet, no forecast run):
#   T1 (R1 XSS): A1 $10K/mo, A2 $2K/mo       T2 (R2 BOLD): A3 $5K/mo, A5 $4K/mo (stays)
#   T3 (R3 Cy):  A4 $1K/mo                    T4 (R4 Di): A7 (stays)       T5 vacant: A6 $3K/mo
# The plan: A1 T1->T2 (large revenue), A2 T1->T3 (open opportunity), A3 T2->T1 (none),
#           A4 T3->T2 (long tenure), A6 T5->T2 (none).
MOVES = [
    {"account": "A1", "from": "T1", "to": "T2", "reason": "balance A1", "risks": ["large_revenue"]},
    {"account": "A2", "from": "T1", "to": "T3", "reason": "balance A2", "risks": ["open_opportunity"]},
    {"account": "A3", "from": "T2", "to": "T1", "reason": "closer to <R1>", "risks": []},
    {"account": "A4", "from": "T3", "to": "T2", "reason": "balance A4", "risks": ["long_tenure"]},
    {"account": "A6", "from": "T5", "to": "T2", "reason": "vacant book", "risks": []},
]
# territory -> (gains, losses), worked out from MOVES; T4 is untouched, T5 has no rep
EXPECTED = {"T1": ({"A3"}, {"A1", "A2"}), "T2": ({"A1", "A4", "A6"}, {"A3"}), "T3": ({"A2"}, {"A4"})}


@pytest.fixture
def book(engine):
    return small_book(engine)


def small_book(engine):  # type: ignore[no-untyped-def]
    """The book drawn above, with a planner and an approver (the CLI and page tests use it too)."""
    for email, role in ((PLANNER, "planner"), (APPROVER, "approver")):
        create_user(engine, email, role=role, password=None, actor=SYSTEM_ACTOR)
    with session_scope(engine) as session:
        reps = [
            Rep(external_id=f"R{i}", name=name, email=f"r{i}@example.com")
            for i, name in enumerate((XSS, BOLD, "Cy Lee", "Di Ng"), 1)
        ]
        session.add_all(reps)
        session.flush()
        territories = [
            Territory(external_id=f"T{i}", name=f"Territory {i}", owner_rep_id=rep and rep.id)
            for i, rep in enumerate([*reps, None], 1)
        ]
        session.add_all(territories)
        session.flush()
        where = {"A1": 0, "A2": 0, "A3": 1, "A4": 2, "A5": 1, "A6": 4, "A7": 3}
        monthly = {"A1": 10_000, "A2": 2_000, "A3": 5_000, "A4": 1_000, "A5": 4_000, "A6": 3_000, "A7": 500}
        accounts = {
            ext: Account(
                external_id=ext, name=SCRIPT if ext == "A2" else f"Acct {ext}", territory_id=territories[t].id
            )
            for ext, t in where.items()
        }
        session.add_all(accounts.values())
        session.flush()
        for ext, amount in monthly.items():
            session.add_all(
                RevenueMonth(account_id=accounts[ext].id, month=date(2025, m, 1), amount=amount)
                for m in range(1, 13)
            )
            session.add_all(
                RevenueMonth(account_id=accounts[ext].id, month=date(2026, m, 1), amount=amount)
                for m in range(1, 11)
            )
        deals = [
            ("O1", "A2", 0, "Negotiation", 50_000.0, "open", date(2027, 1, 15)),
            ("O2", "A2", 0, "Closed Won", 9_000.0, "won", date(2026, 3, 1)),  # closed: not shown
            ("O3", "A5", 1, "Proposal", 7_000.0, "open", date(2026, 12, 20)),  # A5 stays: not shown
            ("O4", "A1", 0, "Discovery", 12_000.0, "open", date(2026, 12, 31)),
        ]
        session.add_all(
            Opportunity(
                external_id=ext,
                account_id=accounts[acct].id,
                rep_id=reps[rep].id,
                name=f"{XSS} deal" if ext == "O1" else f"deal {ext}",
                amount=amount,
                stage=stage,
                status=status,
                created_on=date(2026, 1, 1),
                close_date=close,
            )
            for ext, acct, rep, stage, amount, status, close in deals
        )
        visits = [("A1", 0, "call", date(2026, 11, d)) for d in (1, 5, 9, 13)]  # 4: the last 3 shown
        visits += [("A3", 1, "visit", date(2026, 10, 2)), ("A5", 1, "email", date(2026, 11, 20))]
        session.add_all(
            Activity(account_id=accounts[a].id, rep_id=reps[r].id, kind=kind, occurred_on=day)
            for a, r, kind, day in visits
        )
    return engine


def saved(engine, moves=MOVES) -> int:  # type: ignore[no-untyped-def]
    return save_plan(
        engine,
        name=f"Q1 {BOLD}",
        scenario_toml="",
        result={"status": "OPTIMAL", "moves": moves},
        fingerprint=assignments_fingerprint(engine),
        created_by=PLANNER,
    )


def approved(engine, moves=MOVES) -> int:  # type: ignore[no-untyped-def]
    plan_id = saved(engine, moves)
    submit_plan(engine, plan_id, actor=PLANNER)
    approve_plan(engine, plan_id, approver=APPROVER)
    return plan_id


PAGE_TAGS = set(
    "html head meta title style body header h1 h2 p section table thead tbody tr th td ul li b footer".split()
)


class PackPage(HTMLParser):
    """The account ids of each section's rows (data-account), as a reader of the page finds them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.section = ""
        self.rows: dict[str, list[str]] = {}
        self.tags: set[str] = set()
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.section = found["id"] or ""
            self.rows.setdefault(self.section, [])
        if tag == "tr" and "data-account" in found:
            self.rows[self.section].append(found["data-account"] or "")


def by_territory(packs: list[HandoffPack]) -> dict[str, HandoffPack]:
    return {pack.territory.external_id: pack for pack in packs}


def test_each_pack_lists_exactly_the_plans_moves_for_that_rep(book):
    packs = by_territory(handoff_packs(book, approved(book), as_of=AS_OF))
    assert set(packs) == set(EXPECTED)  # T4 is untouched; T5 is vacant: no rep, no pack
    for territory, (gains, losses) in EXPECTED.items():
        pack = packs[territory]
        assert {m.account for m in pack.gains} == gains and {m.account for m in pack.losses} == losses
        assert all(m.direction == "gain" for m in pack.gains) and all(
            m.direction == "loss" for m in pack.losses
        )
        page = PackPage(render_handoff_html(pack))
        assert sorted(page.rows["gains"]) == sorted(gains) and sorted(page.rows["losses"]) == sorted(losses)
        moved = gains | losses
        for section in ("risky", "opportunities", "activities", "priorities"):
            assert set(page.rows[section]) <= moved, section  # nothing but this rep's moves
    t2 = packs["T2"]
    assert t2.rep.name == BOLD and t2.territory.name == "Territory 2"
    a1 = next(m for m in t2.gains if m.account == "A1")
    assert (a1.old_owner, a1.new_owner, a1.from_territory, a1.to_territory) == (
        XSS,
        BOLD,
        "Territory 1",
        "Territory 2",
    )
    assert a1.reason == "balance A1" and a1.risks == ("large_revenue",)
    a6 = next(m for m in t2.gains if m.account == "A6")
    assert (a6.old_owner, a6.from_territory) == (None, "Territory 5")  # from a vacant territory
    assert next(m for m in packs["T1"].gains).reason == "closer to <R1>"


def test_risky_transitions_carry_their_recommended_handoff(book):
    packs = by_territory(handoff_packs(book, approved(book), as_of=AS_OF))
    risky = {t: {m.account: m.handoff for m in pack.risky} for t, pack in packs.items()}
    assert risky == {
        "T1": {"A1": f"{JOINT_CALL}.", "A2": f"{STAYS_ON_DEAL}. {JOINT_CALL}."},  # A3 has no flag
        "T2": {"A1": f"{JOINT_CALL}.", "A4": f"{JOINT_CALL}."},
        "T3": {"A2": f"{STAYS_ON_DEAL}. {JOINT_CALL}.", "A4": f"{JOINT_CALL}."},
    }
    a3 = next(m for m in packs["T1"].gains if m.account == "A3")
    assert a3.handoff == f"{INTRODUCTION_EMAIL}."
    page = render_handoff_html(packs["T1"])
    assert "open opportunity" in page and "large revenue" in page  # the flags in words (core.format)
    assert all(rule.why in page for rule in HANDOFF_RULES)  # the rules are printed with every pack


@pytest.mark.parametrize(
    ("risks", "expected"),
    [
        ((), f"{INTRODUCTION_EMAIL}."),
        (("large_revenue",), f"{JOINT_CALL}."),
        (("long_tenure",), f"{JOINT_CALL}."),
        (("open_opportunity",), f"{STAYS_ON_DEAL}. {JOINT_CALL}."),
        (("long_tenure", "open_opportunity", "large_revenue"), f"{STAYS_ON_DEAL}. {JOINT_CALL}."),
        (("some_new_flag",), f"{JOINT_CALL}."),  # an unknown flag is risky: the careful handoff
    ],
)
def test_recommended_handoff_rules(risks, expected):
    assert recommended_handoff(risks) == expected


def test_open_deals_last_activities_and_priorities_by_potential(book):
    packs = by_territory(handoff_packs(book, approved(book), as_of=AS_OF))
    t1 = packs["T1"]  # loses A1 (deal O4) and A2 (deal O1; O2 is won), gains A3
    assert [(o.account, o.stage, o.amount, o.close_date) for o in t1.opportunities] == [
        ("A1", "Discovery", 12_000.0, date(2026, 12, 31)),
        ("A2", "Negotiation", 50_000.0, date(2027, 1, 15)),
    ]
    assert t1.opportunities[1].owner == XSS and t1.opportunities[1].name == f"{XSS} deal"
    assert [(a.account, a.occurred_on.day, a.kind, a.by) for a in t1.activities] == [
        ("A1", 13, "call", XSS),
        ("A1", 9, "call", XSS),
        ("A1", 5, "call", XSS),  # the last three of four
        ("A3", 2, "visit", BOLD),
    ]
    # T2 gains A1 ($120K a year), A6 ($36K) and A4 ($12K): ranked by the one potential
    measures = load_account_measures(engine=book, as_of=AS_OF).set_index("external_id")["potential"]
    priorities = packs["T2"].priorities
    assert [p.account for p in priorities] == ["A1", "A6", "A4"]
    assert [p.potential for p in priorities] == [measures[a] for a in ("A1", "A6", "A4")]
    assert [p.rank for p in priorities] == [1, 2, 3]
    assert (priorities[0].open_pipeline, priorities[0].last_activity) == (12_000.0, date(2026, 11, 13))
    assert packs["T3"].priorities[0].first_step == f"{STAYS_ON_DEAL}. {JOINT_CALL}."
    assert PackPage(render_handoff_html(packs["T2"])).rows["priorities"] == ["A1", "A6", "A4"]
    page = render_handoff_html(t1)
    assert "$50K" in page and "2027-01-15" in page and "Negotiation" in page  # core.format


def test_names_are_text_never_markup(book):
    packs = by_territory(handoff_packs(book, approved(book), as_of=AS_OF))
    for pack in packs.values():
        page = render_handoff_html(pack)
        assert "<img" not in page and "<script" not in page and "onerror=alert(1)>" not in page
        assert PackPage(page).tags <= PAGE_TAGS  # no script, image, link, frame or form
        assert "href=" not in page and "url(" not in page and "@import" not in page  # no link, no asset
    t1 = render_handoff_html(packs["T1"])
    assert "&lt;img src=x onerror=alert(1)&gt;" in t1  # the rep's name, shown as written
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Ltd" in t1 and "closer to &lt;R1&gt;" in t1
    assert "**bold**" in render_handoff_html(packs["T2"])  # Markdown is not interpreted either


def test_packs_refuse_plans_that_may_still_change(book):
    plan_id = saved(book)
    with pytest.raises(PlanError, match=rf"^plan {plan_id} is draft: handoff packs are for approved"):
        handoff_packs(book, plan_id)
    submit_plan(book, plan_id, actor=PLANNER)
    with pytest.raises(PlanError, match="is submitted: handoff packs"):
        handoff_packs(book, plan_id)
    reject_plan(book, plan_id, actor=APPROVER, comment="no")
    with pytest.raises(PlanError, match="is rejected: handoff packs"):
        handoff_packs(book, plan_id)
    with pytest.raises(PlanError, match="there is no plan 999"):
        handoff_packs(book, 999)


def test_an_applied_plan_keeps_its_packs(book):
    plan_id = approved(book)
    before = handoff_packs(book, plan_id, as_of=AS_OF)
    day = date.today() + timedelta(days=1)  # scheduled, then applied on its date
    apply_plan(book, plan_id, actor=APPROVER, effective_date=day)
    assert {p.plan_status for p in handoff_packs(book, plan_id, as_of=AS_OF)} == {"scheduled"}
    apply_due_plans(book, today=day)
    after = handoff_packs(book, plan_id, as_of=AS_OF)
    assert [p.gains for p in after] == [p.gains for p in before]  # the moves, not today's book
    assert [p.losses for p in after] == [p.losses for p in before]
    assert {p.plan_status for p in after} == {"applied"}
    assert {p.effective_date for p in after} == {day}


def test_file_names_are_safe_and_unique(book):
    packs = handoff_packs(book, approved(book), as_of=AS_OF)
    names = file_names(packs)
    assert names == ["img-src-x-onerror-alert-1-t1.html", "bold-t2.html", "cy-lee-t3.html"]
    assert file_names([packs[1], packs[1]]) == ["bold-t2.html", "bold-t2-2.html"]
    assert slug("../../etc/passwd", "rep") == "etc-passwd" and slug("***", "rep") == "rep"
    assert slug("Zoë Åsberg", "rep") == "zoe-asberg"


def test_a_pack_that_cannot_be_built_never_stops_the_apply(book, monkeypatch, caplog):
    from sqlalchemy import select

    import core.handoff
    from core.models import Notification

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("no packs today")

    monkeypatch.setattr(core.handoff, "packs_in", broken)
    plan_id = approved(book)
    assert apply_plan(book, plan_id, actor=APPROVER) == len(MOVES)
    with session_scope(book) as session:
        mails = session.execute(select(Notification)).scalars().all()
        sent = {m.recipient: m.body_html for m in mails if "changes from" in m.subject}
    assert set(sent) == {"r1@example.com", "r2@example.com", "r3@example.com"}  # the notices, without packs
    assert not any("Handoff pack" in body for body in sent.values())
    assert f"could not build the handoff packs of plan {plan_id}" in caplog.text


def test_each_affected_rep_receives_exactly_their_pack_by_email(book, monkeypatch):
    plan_id = approved(book)
    with SmtpServer() as server:
        monkeypatch.setenv("TERRITORY_SMTP_HOST", server.host)
        monkeypatch.setenv("TERRITORY_SMTP_PORT", str(server.port))
        get_settings.cache_clear()
        apply_plan(book, plan_id, actor=APPROVER)
        received = list(server.messages)
    packs = by_territory(handoff_packs(book, plan_id))
    assert sorted(r for m in received for r in m.rcpt_tos) == [
        "r1@example.com",
        "r2@example.com",
        "r3@example.com",
    ]
    for message in received:
        (recipient,) = message.rcpt_tos
        territory = f"T{recipient[1]}"
        gains, losses = EXPECTED[territory]
        html_part = message.message.get_body(("html",)).get_content()
        page = PackPage(html_part)
        assert sorted(page.rows["gains"]) == sorted(gains) and sorted(page.rows["losses"]) == sorted(losses)
        assert page.rows["risky"] == [m.account for m in packs[territory].risky]
        assert page.rows["priorities"] == [p.account for p in packs[territory].priorities]
        assert f"Plan {plan_id} changes" in html_part  # the notice first, then the pack
        text = message.message.get_body(("plain",)).get_content()
        assert "Handoff pack:" in text and all(f"({a})" in text for a in gains | losses)
        assert "<img" not in html_part


@pytest.fixture
def southwest(engine):
    """The southwest sample with an approved plan: the greedy baseline's 15 moves (real reasons and risks)."""
    from core.rebalance import Scenario, greedy
    from jobs.optimize import load_problem
    from jobs.setup import initialise

    initialise(engine, sample="southwest", as_of=AS_OF, backfill=False)
    for email, role in ((PLANNER, "planner"), (APPROVER, "approver")):
        create_user(engine, email, role=role, password=None, actor=SYSTEM_ACTOR)
    problem = load_problem(engine, Scenario.from_toml(SCENARIOS / "southwest.toml"), as_of=AS_OF)
    moves = [move.to_json_dict() for move in greedy(problem, 15).moves]
    return engine, approved(engine, moves), moves


def test_on_the_southwest_sample_each_pack_is_exactly_its_reps_moves(southwest):
    engine, plan_id, moves = southwest
    packs = by_territory(handoff_packs(engine, plan_id, as_of=AS_OF))
    assert any(m["risks"] for m in moves) and any("open_opportunity" in m["risks"] for m in moves)
    assert set(packs) == {m["to"] for m in moves} | {m["from"] for m in moves}  # every territory has a rep
    for territory, pack in packs.items():
        gains = {m["account"]: m for m in moves if m["to"] == territory}
        losses = {m["account"]: m for m in moves if m["from"] == territory}
        assert {m.account for m in pack.gains} == set(gains) and {m.account for m in pack.losses} == set(
            losses
        )
        for m in (*pack.gains, *pack.losses):
            saved_move = gains.get(m.account) or losses[m.account]
            assert (m.reason, m.risks) == (saved_move["reason"], tuple(saved_move["risks"]))
            assert m.handoff == recommended_handoff(m.risks)
        assert [m.account for m in pack.risky] == [m.account for m in (*pack.gains, *pack.losses) if m.risks]
        page = PackPage(render_handoff_html(pack))
        assert sorted(page.rows["gains"]) == sorted(gains) and sorted(page.rows["losses"]) == sorted(losses)
        assert page.rows["risky"] == [m.account for m in pack.risky]
        assert page.rows["priorities"] == [p.account for p in pack.priorities]
        if not pack.gains:  # a rep who only hands over has nothing new to take on, and is told so
            assert "No account joins your territory: nothing new to take on." in render_handoff_html(pack)
    assert any(not pack.gains for pack in packs.values()) and any(not pack.losses for pack in packs.values())


def test_on_the_southwest_sample_deals_activities_and_priorities_come_from_the_book(southwest):
    from core.queries import load_activities, load_opportunities

    engine, plan_id, _ = southwest
    measures = load_account_measures(engine=engine, as_of=AS_OF).set_index("external_id")
    ids = measures["account_id"]
    deals = load_opportunities(engine=engine)
    activities = load_activities(engine=engine)
    for pack in handoff_packs(engine, plan_id, as_of=AS_OF):
        moved = {m.account for m in (*pack.gains, *pack.losses)}
        potentials = [p.potential for p in pack.priorities]
        assert potentials == sorted(potentials, reverse=True) and len(potentials) == len(pack.gains)
        assert potentials == [
            measures.at[p.account, "potential"] for p in pack.priorities
        ]  # the one potential
        open_deals = deals[(deals["status"] == "open") & deals["account_id"].isin(ids[list(moved)])]
        assert sorted(o.amount for o in pack.opportunities) == sorted(open_deals["amount"])
        for account in moved:
            shown = [a.occurred_on for a in pack.activities if a.account == account]
            latest = sorted(activities.loc[activities["account_id"] == ids[account], "occurred_on"])[-3:]
            assert shown == latest[::-1]  # the last three, newest first
