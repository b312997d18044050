"""Setting a database up: schema (migrations), sample book, first job runs."""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy.engine import Engine

from core.db import upgrade_schema
from core.queries import table_counts

log = logging.getLogger(__name__)


def initialise(
    engine: Engine,
    *,
    sample: str | None,
    seed: int = 7,
    reps: int | None = None,
    accounts: int | None = None,
    states: list[str] | None = None,
    as_of: date | None = None,
    force: bool = False,
    backfill: bool = True,
) -> str:
    """Create or upgrade the schema, then load ``sample`` when the database holds no accounts.

    Returns a human summary. With ``force`` the sample is loaded (upserted) even into a database
    that already has accounts.
    """
    upgrade_schema(engine)
    seed_alert_rules(engine)
    counts = table_counts(engine=engine)
    if sample is None:
        return f"schema is current; {counts['accounts']:,} accounts in the database"
    if counts["accounts"] and not force:
        return (
            f"schema is current; the database already holds {counts['accounts']:,} accounts, "
            "so no sample was loaded (use --force to load it anyway)"
        )
    from core.importing import import_book
    from core.sample import generate_book
    from core.sample_plan import store_past_plan

    book = generate_book(sample, seed=seed, as_of=as_of, reps=reps, accounts=accounts, states=states)
    import_book(engine, book, source="sample")
    store_past_plan(engine, book)  # the plan applied four months ago, for the plan review
    summary = (
        f"loaded the {sample} sample: {len(book.reps)} reps, {len(book.accounts):,} accounts, "
        f"{len(book.revenue):,} revenue months"
    )
    if backfill:
        summary += "\n" + backfill_history(engine, as_of=book.as_of or date.today())
    return summary


def seed_alert_rules(engine: Engine) -> None:
    """Insert the default alert rules that are missing (edited ones stay as they are)."""
    try:
        from core.alerts import seed_default_rules
    except ImportError:  # alerts not installed in this build
        return
    from core.db import session_scope

    with session_scope(engine) as session:
        seed_default_rules(session)


def backfill_history(engine: Engine, *, as_of: date) -> str:
    """Baseline potentials and 26 weekly KPI snapshots, so drift has history from the first run."""
    try:
        from jobs.kpis import backfill_snapshots
    except ImportError:
        return "KPI history not backfilled (KPI job not available)"
    written = backfill_snapshots(engine, as_of=as_of, weeks=26)
    return f"backfilled {written} weekly KPI snapshots"
