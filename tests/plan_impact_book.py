"""A tiny book in the database whose plan impact is worked out by hand (tests/core/test_plan_impact.py).

Two reps on the equator, one territory each, quarter Oct 1 – Dec 31 2026 (92 days), effective Nov 16
(day 47). Every account has 24 months of flat revenue up to October 2026, no wallet and no forecast
run, so its potential = its forecast = its trailing-12-month revenue, and its forecast for the rest of
the quarter from Nov 16 is its monthly revenue × 1.5 (half of November and all of December).
All accounts are standard tier (ttm between $20K and $100K): 1.5 touch hours and 0.25 visits a
month; travel = 0.25 × 2 × km / 60 km/h.

====  ==========  =========  =======  =========  ==================================
acct  territory   monthly    ttm      rest       place (lat 0)
====  ==========  =========  =======  =========  ==================================
A1    T1 (Ana)    $2,000     $24,000  $3,000     lon 0.75: 83.396 km from Ana, 27.799 km from Bo
A3    T1 (Ana)    $6,000     $72,000  $9,000     lon 0 (Ana's home)
A2    T2 (Bo)     $3,000     $36,000  $4,500     lon 1 (Bo's home)
A4    T2 (Bo)     $4,000     $48,000  $6,000     lon 1
====  ==========  =========  =======  =========  ==================================

Quotas: Ana $100,000, Bo $80,000. Won this quarter: A3 $40,000 (Ana), A2 $30,000 (Bo).
Open: "Big deal" on A1 $5,000 (Proposal, Dec 15), "Renewal" on A4 $7,000; a lost deal on A1 is no
pipeline.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Engine

from core.db import session_scope
from core.models import Account, Opportunity, Quota, Rep, RevenueMonth, Territory
from core.months import add_months
from core.plans import assignments_fingerprint, save_plan

EFFECTIVE = date(2026, 11, 16)
QUARTER = (date(2026, 10, 1), date(2026, 12, 31))
MONTHLY = {"A1": 2_000.0, "A2": 3_000.0, "A3": 6_000.0, "A4": 4_000.0}
LON = {"A1": 0.75, "A2": 1.0, "A3": 0.0, "A4": 1.0}
HOME = {"T1": "A1 A3", "T2": "A2 A4"}


def seed_impact_book(engine: Engine) -> None:
    with session_scope(engine) as session:
        reps = [
            Rep(external_id="R1", name="Ana Alvarez", home_lat=0.0, home_lon=0.0),
            Rep(external_id="R2", name="Bo Li", home_lat=0.0, home_lon=1.0),
        ]
        session.add_all(reps)
        session.flush()
        territories = {
            f"T{i}": Territory(external_id=f"T{i}", name=name, owner_rep_id=rep.id)
            for i, (name, rep) in enumerate(zip(["North · Ana", "South · Bo"], reps, strict=True), 1)
        }
        session.add_all(territories.values())
        session.flush()
        accounts = {}
        for territory, names in HOME.items():
            for name in names.split():
                accounts[name] = Account(
                    external_id=name,
                    name=f"Acme {name}",
                    lat=0.0,
                    lon=LON[name],
                    territory_id=territories[territory].id,
                )
        session.add_all(accounts.values())
        session.flush()
        for name, account in accounts.items():
            for k in range(24):  # Nov 2024 .. Oct 2026
                month = add_months(date(2024, 11, 1), k)
                session.add(RevenueMonth(account_id=account.id, month=month, amount=MONTHLY[name]))
        for rep, amount in zip(reps, (100_000.0, 80_000.0), strict=True):
            session.add(Quota(rep_id=rep.id, period_start=QUARTER[0], period_end=QUARTER[1], amount=amount))
        deals = [
            ("O1", "A3", 40_000.0, "won", "Closed Won", date(2026, 10, 20)),
            ("O2", "A2", 30_000.0, "won", "Closed Won", date(2026, 11, 2)),
            ("O3", "A1", 5_000.0, "open", "Proposal", date(2026, 12, 15)),
            ("O4", "A4", 7_000.0, "open", "Negotiation", date(2026, 12, 20)),
            ("O5", "A1", 1_000.0, "lost", "Closed Lost", date(2026, 10, 5)),
        ]
        names = {"O3": "Big deal", "O4": "Renewal"}
        for external_id, name, amount, status, stage, close in deals:
            session.add(
                Opportunity(
                    external_id=external_id,
                    name=names.get(external_id),
                    account_id=accounts[name].id,
                    amount=amount,
                    status=status,
                    stage=stage,
                    created_on=date(2026, 9, 1),
                    close_date=close,
                )
            )


def save_moves(engine: Engine, name: str, *moves: tuple[str, str, str]) -> int:
    """A draft plan moving (account, from, to) external ids."""
    result = {
        "status": "OPTIMAL",
        "gap": 0.0,
        "objective": 1.0,
        "moves": [{"account": a, "from": f, "to": t, "reason": "balance", "risks": []} for a, f, t in moves],
    }
    return save_plan(
        engine, name=name, scenario_toml="", result=result, fingerprint=assignments_fingerprint(engine)
    )
