"""Storing a validated book: upserts by CRM id, territories and owners, assignment history,
idempotent re-imports, the caller's transaction, and the portable (no ON CONFLICT) path.

Every test writes to a real SQLite file (the ``engine`` fixture of tests/conftest.py).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

import core.importing.bulk as importing
from core.db import session_scope
from core.importing import ImportValidationError, import_book, import_files, store_book, validate_book
from core.models import Account, Activity, AssignmentHistory, JobRun, Opportunity, Rep, Territory
from core.queries import table_counts
from core.sample import generate_book
from tests.core.test_importing import TODAY, append_row, copy_fixtures, db_checksum, set_cell

GOOD_COUNTS = {
    "reps": 3,
    "territories": 3,
    "accounts": 5,
    "revenue_months": 15,
    "activities": 5,
    "opportunities": 3,
    "quotas": 3,
}


def territory_of(engine: Engine) -> dict[str, str | None]:
    """Account external id -> territory external id."""
    statement = select(Account.external_id, Territory.external_id).join(
        Territory, Territory.id == Account.territory_id, isouter=True
    )
    with engine.connect() as connection:
        return dict(connection.execute(statement).all())


def owners(engine: Engine) -> dict[str, str | None]:
    """Territory external id -> owner rep external id (None: vacant)."""
    statement = select(Territory.external_id, Rep.external_id).join(
        Rep, Rep.id == Territory.owner_rep_id, isouter=True
    )
    with engine.connect() as connection:
        return dict(connection.execute(statement).all())


def history(engine: Engine) -> list[tuple]:
    """(account, from territory, to territory, source, effective date) in the order written."""
    statement = text("""select a.external_id, f.external_id, t.external_id, h.source, h.effective_date
                        from assignmenthistory h join account a on a.id = h.account_id
                        left join territory f on f.id = h.from_territory_id
                        left join territory t on t.id = h.to_territory_id order by h.id""")
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return [(*row[:4], date.fromisoformat(str(row[4]))) for row in rows]


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    return copy_fixtures(tmp_path / "files")


@pytest.fixture
def loaded(engine, files) -> Engine:
    import_files(engine, files, today=TODAY)
    return engine


def test_import_writes_every_table(engine, files):
    result = import_files(engine, files, today=TODAY)
    assert table_counts(engine=engine) == GOOD_COUNTS
    assert result.report.accounts_new == 5 and result.report.rows_written > 0
    assert result.rows_read == {
        "reps": 3,
        "accounts": 5,
        "revenue": 15,
        "activities": 5,
        "opportunities": 3,
        "quotas": 3,
    }
    with engine.connect() as connection:
        run = connection.execute(select(JobRun)).one()
    assert (run.job, run.status, run.rows_written) == ("import", "success", result.report.rows_written)
    assert run.finished_at is not None and run.error is None


def test_territories_come_from_the_reps(loaded):
    """T1 and T2 belong to their active reps; T3 is only named by R3, who left: vacant."""
    assert owners(loaded) == {"T1": "R1", "T2": "R2", "T3": None}
    with loaded.connect() as connection:
        names = dict(connection.execute(select(Territory.external_id, Territory.name)).all())
        specialties = connection.execute(select(Rep.specialties).where(Rep.external_id == "R1")).scalar()
    assert names == {"T1": "AZ · Phoenix", "T2": "AZ · Tucson", "T3": "NV · Las Vegas"}
    assert specialties == "Healthcare"


def test_accounts_are_placed_and_assigned(loaded):
    """A2 has no territory_id: it joins its owner R1's territory. A3 is placed by its postal code."""
    assert territory_of(loaded) == {"A1": "T1", "A2": "T1", "A3": "T2", "A4": "T3", "A5": "T2"}
    with loaded.connect() as connection:
        a3 = connection.execute(select(Account).where(Account.external_id == "A3")).one()
    assert (a3.city, a3.state, a3.postal_code) == ("Tucson", "AZ", "85701")
    assert a3.lat == pytest.approx(32.21, abs=0.05) and a3.locked


def test_new_accounts_get_a_history_row_from_nowhere(loaded):
    assert history(loaded) == [
        (a, None, t, "import", TODAY)
        for a, t in [("A1", "T1"), ("A2", "T1"), ("A3", "T2"), ("A4", "T3"), ("A5", "T2")]
    ]


def test_reimport_is_idempotent(loaded, files):
    before = db_checksum(loaded)
    result = import_files(loaded, files, today=TODAY)
    assert db_checksum(loaded) == before
    assert table_counts(engine=loaded) == GOOD_COUNTS
    assert result.report.rows_written == 0 and result.report.accounts_new == 0
    with loaded.connect() as connection:
        runs = connection.execute(select(JobRun.status, JobRun.rows_written).order_by(JobRun.id)).all()
    assert [tuple(r) for r in runs][1] == ("success", 0)


def test_territory_change_writes_history(loaded, files):
    """A5 moves from T2 to T1: one history row, and its tenure restarts; nothing else moves."""
    set_cell("accounts", 6, "territory_id", "T1")(files)
    moved_on = date(2026, 1, 5)
    result = import_files(loaded, files, today=moved_on)
    assert result.report.assignment_changes == 1
    assert history(loaded)[-1] == ("A5", "T2", "T1", "import", moved_on)
    assert len(history(loaded)) == 6
    with loaded.connect() as connection:
        a5 = connection.execute(select(Account).where(Account.external_id == "A5")).one()
        a1 = connection.execute(select(Account).where(Account.external_id == "A1")).one()
    assert a5.last_moved_at == moved_on and a5.owned_since == moved_on
    assert a1.owned_since == date(2023, 1, 15) and a1.last_moved_at is None


def test_owner_change_moves_an_account_without_territory_id(loaded, files):
    """A2 names only its owner: when the owner becomes R2, A2 follows into R2's territory."""
    set_cell("accounts", 3, "owner_rep_id", "R2")(files)
    import_files(loaded, files, today=TODAY)
    assert territory_of(loaded)["A2"] == "T2"
    assert history(loaded)[-1][:3] == ("A2", "T1", "T2")


def test_a_rep_leaving_vacates_the_territory(loaded, files):
    set_cell("reps", 3, "active", "false")(files)
    set_cell("reps", 3, "left_at", "2025-12-15")(files)
    result = import_files(loaded, files, today=TODAY)
    assert owners(loaded) == {"T1": "R1", "T2": None, "T3": None}
    assert territory_of(loaded)["A5"] == "T2"  # accounts stay in the vacant territory
    assert result.report.assignment_changes == 0


def test_a_rep_naming_another_territory_gives_up_the_old_one(loaded, files):
    """R2 now names T3 (vacant until now): T3 gets an owner and T2 becomes vacant."""
    set_cell("reps", 3, "territory_id", "T3")(files)
    set_cell("reps", 3, "territory_name", "")(files)
    result = import_files(loaded, files, today=TODAY)
    assert owners(loaded) == {"T1": "R1", "T2": None, "T3": "R2"}
    assert result.report.territories_vacated == 1
    with loaded.connect() as connection:  # a territory keeps its stored name when the file gives none
        assert (
            connection.execute(select(Territory.name).where(Territory.external_id == "T3")).scalar()
            == "NV · Las Vegas"
        )


def test_a_new_rep_takes_a_vacant_territory(loaded, files):
    append_row("reps", rep_id="R4", name="Dev Diaz", active="true", territory_id="T3", state="NV")(files)
    import_files(loaded, files, today=TODAY)
    assert owners(loaded)["T3"] == "R4"


def test_columns_absent_from_a_file_are_kept(loaded, tmp_path):
    """A file with only ids and names renames accounts and leaves everything else as stored."""
    path = tmp_path / "names.csv"
    path.write_text("account_id,name\nA1,Summit Health System\n")
    result = import_files(loaded, {"accounts": path}, today=TODAY)
    with loaded.connect() as connection:
        a1 = connection.execute(select(Account).where(Account.external_id == "A1")).one()
    assert a1.name == "Summit Health System"
    assert (a1.industry, a1.strategic, a1.lat) == ("Healthcare", True, pytest.approx(33.4557))
    assert territory_of(loaded)["A1"] == "T1"
    assert result.report.accounts == 1 and result.report.assignment_changes == 0


def test_activities_without_ids_are_deduplicated(loaded, files):
    """Two id-less activities are stored once however often they are imported; a new one is added."""
    append_row("activities", account_id="A5", rep_id="R2", kind="visit", occurred_on="2025-12-02", hours="1")(
        files
    )
    append_row("activities", account_id="A5", rep_id="R2", kind="visit", occurred_on="2025-12-02", hours="1")(
        files
    )  # the same visit twice in one file
    import_files(loaded, files, today=TODAY)
    import_files(loaded, files, today=TODAY)
    with loaded.connect() as connection:
        kinds = (
            connection.execute(
                select(Activity.kind)
                .where(Activity.external_id.is_(None))
                .order_by(Activity.occurred_on, Activity.kind)
            )
            .scalars()
            .all()
        )
    assert kinds == ["call", "email", "visit"]


def test_salesforce_export_imports(engine, tmp_path):
    files = copy_fixtures(tmp_path, "salesforce")
    salesforce = {
        "reps": files["users"],
        "accounts": files["accounts"],
        "opportunities": files["opportunities"],
        "activities": files["events"],
    }
    import_files(engine, salesforce, today=TODAY)
    assert owners(engine) == {"TX-1": "005A1", "TX-2": "005A2"}
    assert territory_of(engine) == {"001A1": "TX-1", "001A2": "TX-1", "001A3": "TX-2"}  # by OwnerId
    with engine.connect() as connection:
        deals = dict(connection.execute(select(Opportunity.external_id, Opportunity.status)).all())
        hours = connection.execute(select(func.sum(Activity.hours))).scalar()
    assert deals == {"006A1": "won", "006A2": "lost", "006A3": "open"}
    assert hours == 3.5


def test_sample_book_import_is_idempotent(engine):
    book = generate_book("southwest", as_of=date(2026, 3, 15))
    first = import_book(engine, book, source="sample")
    counts = table_counts(engine=engine)
    assert counts == {
        "reps": len(book.reps),
        "territories": book.reps["territory_id"].nunique(),
        "accounts": len(book.accounts),
        "revenue_months": len(book.revenue),
        "activities": len(book.activities),
        "opportunities": len(book.opportunities),
        "quotas": len(book.quotas),
    }
    assert first.report.accounts_new == len(book.accounts)
    second = import_book(engine, book, source="sample")
    assert table_counts(engine=engine) == counts and second.report.rows_written == 0
    with engine.connect() as connection:
        jobs = connection.execute(select(JobRun.job, JobRun.status)).all()
        sources = connection.execute(select(AssignmentHistory.source).distinct()).scalars().all()
    assert [tuple(j) for j in jobs] == [("sample", "success")] * 2 and sources == ["sample"]


def test_a_bad_book_is_refused_whole(engine):
    book = generate_book("southwest", as_of=date(2026, 3, 15))
    book.accounts.loc[3, "lat"] = 200.0
    before = db_checksum(engine)
    with pytest.raises(ImportValidationError) as raised:
        import_book(engine, book, source="sample")
    assert [(p.file, p.row, p.field) for p in raised.value.problems] == [("accounts", 5, "lat")]
    assert db_checksum(engine) == before


def test_store_book_writes_in_the_callers_transaction(engine, files):
    book, problems = validate_book(files, today=TODAY)
    assert problems == []
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        store_book(session, book, today=TODAY)
        raise RuntimeError("the caller fails after the book was written")
    assert set(table_counts(engine=engine).values()) == {0}


def test_portable_path_without_on_conflict(engine, files, monkeypatch):
    """Dialects without ON CONFLICT insert new rows and update changed ones with keyed UPDATEs."""
    monkeypatch.setattr(importing, "_insert_for", lambda connection: None)
    import_files(engine, files, today=TODAY)
    set_cell("accounts", 2, "name", "Summit Health System")(files)
    set_cell("revenue", 2, "amount", "99")(files)
    result = import_files(engine, files, today=TODAY)
    assert table_counts(engine=engine) == GOOD_COUNTS
    assert (result.report.accounts, result.report.revenue_months) == (1, 1)
    with engine.connect() as connection:
        assert connection.execute(text("select amount from revenuemonth order by id limit 1")).scalar() == 99


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["T1", "T2", "T3"]), min_size=5, max_size=5))
def test_every_change_of_territory_is_in_the_history(loaded, files, assignment):
    """Whatever the new assignment, the database holds it and history grew by the accounts that moved."""
    before = territory_of(loaded)
    rows = pd.read_csv(files["accounts"], dtype=str, keep_default_na=False)
    rows["territory_id"] = assignment
    rows.to_csv(files["accounts"], index=False)
    written = len(history(loaded))
    import_files(loaded, files, today=TODAY)
    after = territory_of(loaded)
    assert after == dict(zip(rows["account_id"], assignment, strict=True))
    moved = [a for a in after if after[a] != before[a]]
    assert [h[:3] for h in history(loaded)[written:]] == [(a, before[a], after[a]) for a in moved]
