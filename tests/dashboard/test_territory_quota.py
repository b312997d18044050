"""The Territory page's "Quota changes": the owner's QuotaAdjustment rows, formatted, names as text."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core.db import get_engine, session_scope
from core.models import Quota, QuotaAdjustment, RebalancePlan, Territory
from core.queries import load_territory_kpis


def add_quota_change(url: str) -> str:
    """A plan moving $12,345.67 of quota to the owner of the first territory; returns its external id."""
    engine = get_engine(url)
    with session_scope(engine) as session:
        territory = session.execute(
            select(Territory).where(Territory.owner_rep_id.is_not(None)).order_by(Territory.external_id)
        ).scalar()
        period = session.execute(
            select(Quota).where(Quota.rep_id == territory.owner_rep_id).order_by(Quota.period_start.desc())
        ).scalar()
        plan = RebalancePlan(
            name="**Spring** <b>plan</b>",
            status="applied",
            scenario="",
            result="{}",
            assignments_fingerprint="x",
        )
        session.add(plan)
        session.flush()
        session.add(
            QuotaAdjustment(
                rep_id=territory.owner_rep_id,
                territory_id=territory.id,
                period_start=period.period_start,
                period_end=period.period_end,
                effective_date=date(2026, 11, 2),
                amount=12_345.67,
                method="potential",
                plan_id=plan.id,
                reason="accounts moved in by the plan",
            )
        )
        return territory.external_id


def test_quota_changes_list_the_owners_adjustments(page, writable_db):
    chosen = add_quota_change(writable_db)
    at = page(writable_db, "territory", territory=chosen)
    assert not at.exception, [e.message for e in at.exception]
    tables = [d.value for d in at.dataframe if "effective" in d.value.columns]
    assert len(tables) == 1
    row = tables[0].iloc[0]
    assert row["effective"] == "2026-11-02" and row["amount"] == "+$12K"
    assert row["plan"].endswith("**Spring** <b>plan</b>")  # a name from data, shown as text
    assert (row["reason"], row["method"]) == ("accounts moved in by the plan", "potential")


def test_a_territory_without_changes_says_so(page, sample_db):
    chosen = load_territory_kpis(engine=get_engine(sample_db))["external_id"].iloc[0]
    at = page(sample_db, "territory", territory=chosen)
    assert not at.exception, [e.message for e in at.exception]
    assert any("No quota changes" in c.value or "Vacant" in c.value for c in at.caption)
    assert not [d for d in at.dataframe if "effective" in d.value.columns]
