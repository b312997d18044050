"""CSV import: reading, header mapping, type parsing, every validation check, all-or-nothing.

Good inputs are the fixtures in tests/fixtures/import (``ours``: our column names; ``salesforce``:
Salesforce export names, UTF-8 BOM, semicolons, CRLF, decimal commas). Each bad input is one edit of
the good files; the import must be refused with a problem naming the file, the spreadsheet row
(header = row 1) and the field, and the database (seeded with the good files) must not change.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from core.db import get_engine, upgrade_schema
from core.importing import (
    MAX_ROWS_PER_CHECK,
    ExistingIds,
    ImportValidationError,
    Problem,
    import_files,
    map_headers,
    read_csv_file,
    validate_book,
)
from core.models import JobRun
from tests.databases import BACKENDS, clone_database, drop_database, new_database, require_backend

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"
KINDS = ("reps", "accounts", "revenue", "activities", "opportunities", "quotas")
TODAY = date(2025, 12, 31)  # the fixtures' "today": open deals and quota periods reach into 2026
DATA_TABLES = (
    "rep",
    "territory",
    "account",
    "revenuemonth",
    "activity",
    "opportunity",
    "quota",
    "assignmenthistory",
)


def copy_fixtures(folder: Path, variant: str = "ours") -> dict[str, Path]:
    """The fixture files of ``variant`` copied to ``folder``, keyed by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for source in sorted((FIXTURES / variant).glob("*.csv")):
        files[source.stem] = Path(shutil.copy(source, folder / source.name))
    return files


def db_checksum(engine: Engine) -> tuple[dict[str, int], str]:
    """Row counts and a hash of every row of the data tables (not the job history)."""
    digest = hashlib.sha256()
    counts = {}
    with engine.connect() as connection:
        for table in DATA_TABLES:
            rows = connection.execute(text(f"select * from {table} order by id")).all()
            counts[table] = len(rows)
            digest.update(repr(rows).encode())
    return counts, digest.hexdigest()


@pytest.fixture(scope="module", params=BACKENDS)
def seeded_database(request, tmp_path_factory) -> Iterator[str]:
    """A database holding the good fixtures (built once per backend, copied by each test)."""
    require_backend(request.param)
    folder = tmp_path_factory.mktemp("seeded")
    url = new_database(request.param, folder, name="seeded")
    engine = get_engine(url)
    upgrade_schema(engine)
    import_files(engine, copy_fixtures(folder / "files"), today=TODAY)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file
    yield url
    drop_database(url)


@pytest.fixture
def seeded(seeded_database, tmp_path) -> Iterator[tuple[Engine, dict[str, Path]]]:
    """A copy of the seeded database, and a fresh copy of the good files to edit."""
    url = clone_database(seeded_database, tmp_path, name="territory")
    engine = get_engine(url)
    yield engine, copy_fixtures(tmp_path / "files")
    engine.dispose()
    drop_database(url)


# --- editing CSV files ---------------------------------------------------------------------------
Edit = Callable[[dict[str, Path]], None]


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def _write(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def set_cell(kind: str, row: int, column: str, value: str) -> Edit:
    """Set one cell; ``row`` as a spreadsheet shows it (header = 1)."""

    def edit(files: dict[str, Path]) -> None:
        rows = _rows(files[kind])
        rows[row - 1][rows[0].index(column)] = value
        _write(files[kind], rows)

    return edit


def append_row(kind: str, /, **values: str) -> Edit:
    def edit(files: dict[str, Path]) -> None:
        rows = _rows(files[kind])
        rows.append([values.get(column, "") for column in rows[0]])
        _write(files[kind], rows)

    return edit


def drop_column(kind: str, column: str) -> Edit:
    def edit(files: dict[str, Path]) -> None:
        rows = _rows(files[kind])
        position = rows[0].index(column)
        _write(files[kind], [r[:position] + r[position + 1 :] for r in rows])

    return edit


def write_bytes(kind: str, data: bytes) -> Edit:
    def edit(files: dict[str, Path]) -> None:
        files[kind].write_bytes(data)

    return edit


def edit_text(kind: str, old: str, new: str) -> Edit:
    def edit(files: dict[str, Path]) -> None:
        content = files[kind].read_text(encoding="utf-8")
        assert old in content
        files[kind].write_text(content.replace(old, new, 1), encoding="utf-8")

    return edit


def edits(*steps: Edit) -> Edit:
    def edit(files: dict[str, Path]) -> None:
        for step in steps:
            step(files)

    return edit


# --- bad inputs: (edit, file, row, field, words of the message) -----------------------------------
BAD_INPUTS = {
    "missing required column": (
        drop_column("accounts", "name"),
        "accounts.csv",
        1,
        "name",
        "required column 'name' is missing",
    ),
    "required value empty": (
        set_cell("accounts", 3, "name", ""),
        "accounts.csv",
        3,
        "name",
        "required value is empty",
    ),
    "not a number": (
        set_cell("revenue", 3, "amount", "19.5k"),
        "revenue.csv",
        3,
        "amount",
        "'19.5k' is not a number",
    ),
    "not a date": (
        set_cell("opportunities", 2, "close_date", "2025-02-30"),
        "opportunities.csv",
        2,
        "close_date",
        "'2025-02-30' is not a date",
    ),
    "not a true/false value": (
        set_cell("accounts", 2, "strategic", "maybe"),
        "accounts.csv",
        2,
        "strategic",
        "'maybe' is not a true/false value",
    ),
    "not a whole number": (
        set_cell("accounts", 2, "employees", "80.5"),
        "accounts.csv",
        2,
        "employees",
        "80.5 is not a whole number",
    ),
    "duplicate id": (
        append_row(
            "accounts", account_id="A2", name="Mesa Works again", territory_id="T1", lat="33.4", lon="-111.8"
        ),
        "accounts.csv",
        7,
        "account_id",
        "duplicate account_id 'A2': first on row 3",
    ),
    "unknown owner rep": (
        set_cell("accounts", 3, "owner_rep_id", "R9"),
        "accounts.csv",
        3,
        "owner_rep_id",
        "unknown rep 'R9': not in reps.csv nor in the database",
    ),
    "unknown territory": (
        set_cell("accounts", 6, "territory_id", "T9"),
        "accounts.csv",
        6,
        "territory_id",
        "unknown territory 'T9'",
    ),
    "unknown account": (
        append_row("revenue", account_id="A99", month="2025-03-01", amount="10"),
        "revenue.csv",
        17,
        "account_id",
        "unknown account 'A99'",
    ),
    "unknown rep on a quota": (
        set_cell("quotas", 4, "rep_id", "R7"),
        "quotas.csv",
        4,
        "rep_id",
        "unknown rep 'R7'",
    ),
    "latitude out of range": (
        set_cell("accounts", 2, "lat", "95"),
        "accounts.csv",
        2,
        "lat",
        "latitude 95.0 is outside -90..90",
    ),
    "longitude out of range": (
        set_cell("accounts", 2, "lon", "-200"),
        "accounts.csv",
        2,
        "lon",
        "longitude -200.0 is outside -180..180",
    ),
    "coordinates 0,0": (
        edits(set_cell("accounts", 5, "lat", "0"), set_cell("accounts", 5, "lon", "0")),
        "accounts.csv",
        5,
        "lat",
        "0,0 are not a real location",
    ),
    "latitude without longitude": (
        set_cell("accounts", 6, "lon", ""),
        "accounts.csv",
        6,
        "lon",
        "latitude given without longitude",
    ),
    "rep home out of range": (
        set_cell("reps", 3, "home_lat", "-91"),
        "reps.csv",
        3,
        "home_lat",
        "latitude -91.0 is outside",
    ),
    "negative amount": (
        set_cell("opportunities", 3, "amount", "-15000"),
        "opportunities.csv",
        3,
        "amount",
        "amount -15000.0 is negative",
    ),
    "negative revenue": (
        set_cell("revenue", 5, "amount", "-3000"),
        "revenue.csv",
        5,
        "amount",
        "amount -3000.0 is negative",
    ),
    "future activity": (
        set_cell("activities", 2, "occurred_on", "2026-01-15"),
        "activities.csv",
        2,
        "occurred_on",
        "2026-01-15 is in the future (today is 2025-12-31)",
    ),
    "won deal closing in the future": (
        set_cell("opportunities", 2, "close_date", "2026-01-10"),
        "opportunities.csv",
        2,
        "close_date",
        "in the future",
    ),
    "future revenue month": (
        set_cell("revenue", 4, "month", "2026-02-01"),
        "revenue.csv",
        4,
        "month",
        "2026-02-01 is in the future",
    ),
    "duplicate account month": (
        set_cell("revenue", 3, "month", "2025-01-15"),
        "revenue.csv",
        3,
        "month",
        "duplicate (account_id, month) 'A1', 2025-01-01: first on row 2",
    ),
    "period ends before it starts": (
        set_cell("quotas", 2, "period_end", "2025-09-30"),
        "quotas.csv",
        2,
        "period_end",
        "before it starts",
    ),
    "duplicate quota period": (
        set_cell("quotas", 3, "period_start", "2025-10-01"),
        "quotas.csv",
        3,
        "period_start",
        "duplicate (rep_id, period_start)",
    ),
    "unknown state code": (
        set_cell("accounts", 2, "state", "ZZ"),
        "accounts.csv",
        2,
        "state",
        "unknown US state 'ZZ'",
    ),
    "unknown postal code, no coordinates": (
        set_cell("accounts", 4, "postal_code", "00000"),
        "accounts.csv",
        4,
        "postal_code",
        "'00000' is not a known US postal code",
    ),
    "no coordinates, no postal code": (
        set_cell("accounts", 4, "postal_code", ""),
        "accounts.csv",
        4,
        "lat",
        "no lat/lon and no postal code",
    ),
    "unknown opportunity status": (
        set_cell("opportunities", 4, "status", "pending"),
        "opportunities.csv",
        4,
        "status",
        "status 'pending' is not open, won or lost",
    ),
    "two active owners of a territory": (
        set_cell("reps", 3, "territory_id", "T1"),
        "reps.csv",
        3,
        "territory_id",
        "territory 'T1' is also owned by active rep 'R1' (row 2)",
    ),
    "empty file": (write_bytes("quotas", b""), "quotas.csv", None, None, "the file is empty"),
    "header only": (
        write_bytes("quotas", b"rep_id,period_start,period_end,amount\n"),
        "quotas.csv",
        None,
        None,
        "no data rows below the header",
    ),
    "binary file": (
        write_bytes("activities", b"activity_id,account_id\nV1,\x00\x01\x02\xff"),
        "activities.csv",
        2,
        None,
        "binary content (NUL byte",
    ),
    "UTF-16 text": (
        write_bytes("quotas", "rep_id,period_start\nR1,2025-10-01\n".encode("utf-16")),
        "quotas.csv",
        1,
        None,
        "UTF-16",
    ),
    "not UTF-8": (
        write_bytes("reps", "rep_id,name\nR1,Ana\nR2,Ben P\xe9rez\n".encode("latin-1")),
        "reps.csv",
        3,
        None,
        "not UTF-8 text (byte 0xE9",
    ),
    "Excel workbook": (
        write_bytes("reps", b"PK\x03\x04\x14\x00\x06\x00"),
        "reps.csv",
        None,
        None,
        "Excel workbook, not CSV",
    ),
    "no header (JSON)": (
        write_bytes("accounts", b'{"accounts": [{"id": "A1"}]}\n'),
        "accounts.csv",
        1,
        None,
        "no header row with accounts columns",
    ),
    "row with too many fields": (
        edit_text("revenue", "A1,2025-03-01,22000", "A1,2025-03-01,22000,extra"),
        "revenue.csv",
        4,
        None,
        "not a well-formed CSV file",
    ),
}


def _problem(error: ImportValidationError, file: str, row: int | None, field: str | None) -> Problem:
    found = [p for p in error.problems if (p.file, p.row, p.field) == (file, row, field)]
    assert found, f"no problem at {file} row {row} field {field}; got:\n{error}"
    return found[0]


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_refused_and_nothing_changes(seeded, case):
    engine, files = seeded
    edit, file, row, field, words = BAD_INPUTS[case]
    before = db_checksum(engine)
    edit(files)
    with pytest.raises(ImportValidationError) as raised:
        import_files(engine, files, today=TODAY)
    problem = _problem(raised.value, file, row, field)
    assert words in problem.message
    assert str(problem) in str(raised.value)  # the error message lists every problem
    assert db_checksum(engine) == before
    with engine.connect() as connection:
        last = connection.execute(select(JobRun).order_by(JobRun.id.desc())).first()
    assert (last.job, last.status) == ("import", "failed") and problem.message in last.error


def test_at_least_fifteen_distinct_bad_inputs():
    assert len(BAD_INPUTS) >= 15
    assert len({(file, field, words) for _, file, _, field, words in BAD_INPUTS.values()}) == len(BAD_INPUTS)


def test_every_problem_is_collected_across_files(tmp_path):
    """Problems in three files, several per file: all are reported, not just the first."""
    files = copy_fixtures(tmp_path)
    edits(
        set_cell("accounts", 2, "lat", "95"),
        set_cell("accounts", 3, "owner_rep_id", "R9"),
        set_cell("revenue", 3, "amount", "x"),
        set_cell("quotas", 2, "period_end", "2025-09-30"),
    )(files)
    _, problems = validate_book(files, today=TODAY)
    where = {(p.file, p.row, p.field) for p in problems}
    assert where == {
        ("accounts.csv", 2, "lat"),
        ("accounts.csv", 3, "owner_rep_id"),
        ("revenue.csv", 3, "amount"),
        ("quotas.csv", 2, "period_end"),
    }


def test_many_bad_rows_are_listed_up_to_a_cap_then_counted(tmp_path):
    files = copy_fixtures(tmp_path)
    rows = ["account_id,month,amount"]
    rows += [
        f"{account},{year}-{m:02d}-01,-1"
        for account, year in [("A1", 2024), ("A2", 2023), ("A3", 2022)]
        for m in range(1, 13)
    ]
    files["revenue"].write_text("\n".join(rows) + "\n")
    _, problems = validate_book(files, today=TODAY)
    negative = [p for p in problems if p.field == "amount"]
    assert [p.row for p in negative[:MAX_ROWS_PER_CHECK]] == list(range(2, 2 + MAX_ROWS_PER_CHECK))
    assert negative[-1].row is None
    assert negative[-1].message == f"{36 - MAX_ROWS_PER_CHECK} more rows: negative amount"


def test_unreadable_file_does_not_flag_every_reference_to_it(tmp_path):
    """When accounts.csv cannot be read, revenue rows naming its accounts are not reported as unknown."""
    files = copy_fixtures(tmp_path)
    files["accounts"].write_bytes(b"\x00binary")
    _, problems = validate_book(files, today=TODAY)
    assert [(p.file, p.field) for p in problems] == [("accounts.csv", None)]


def test_references_to_ids_in_the_database_are_valid(tmp_path):
    files = copy_fixtures(tmp_path)
    only_revenue = {"revenue": files["revenue"]}
    _, problems = validate_book(only_revenue, today=TODAY)
    assert {p.message for p in problems} >= {"unknown account 'A1': not in the database"}
    existing = ExistingIds(accounts=frozenset({"A1", "A2", "A3", "A4", "A5"}))
    assert validate_book(only_revenue, existing=existing, today=TODAY)[1] == []


def test_problem_reads_like_a_spreadsheet_reference():
    assert (
        str(Problem("accounts.csv", 14, "lat", "latitude 95.0 is outside -90..90"))
        == "accounts.csv row 14, field lat: latitude 95.0 is outside -90..90"
    )
    assert str(Problem("quotas.csv", None, None, "the file is empty")) == "quotas.csv: the file is empty"
    assert str(Problem("reps.csv", 1, "name", "missing")) == "reps.csv row 1, field name: missing"


# --- good inputs ----------------------------------------------------------------------------------
def test_our_columns_read_typed(tmp_path):
    files = copy_fixtures(tmp_path)
    book, problems = validate_book(files, today=TODAY)
    assert problems == []
    accounts = book.accounts.set_index("account_id")
    assert accounts.loc["A1", "lat"] == pytest.approx(33.4557)
    assert bool(accounts.loc["A1", "strategic"]) and not bool(accounts.loc["A1", "locked"])
    assert accounts.loc["A1", "owned_since"] == pd.Timestamp("2023-01-15")
    assert accounts.loc["A1", "employees"] == 80 and pd.isna(accounts.loc["A3", "employees"])
    assert list(book.reps["active"]) == [True, True, False]
    assert book.revenue["amount"].sum() == pytest.approx(105_400.5)
    assert list(book.opportunities["status"]) == ["won", "lost", "open"]


def test_postal_code_places_an_account_without_coordinates(tmp_path):
    """A3 has no lat/lon/city/state, only postal code 85701: it is placed in Tucson, AZ."""
    files = copy_fixtures(tmp_path)
    book, _ = validate_book(files, today=TODAY)
    a3 = book.accounts.set_index("account_id").loc["A3"]
    assert (a3["city"], a3["state"]) == ("Tucson", "AZ")
    assert a3["lat"] == pytest.approx(32.21, abs=0.05) and a3["lon"] == pytest.approx(-110.97, abs=0.05)
    a1 = book.accounts.set_index("account_id").loc["A1"]
    assert a1["lat"] == pytest.approx(33.4557)  # given coordinates win over the postal code's centroid


def test_postal_codes_are_normalised(tmp_path):
    """ZIP+4 is cut to five digits and a code that lost its leading zero is padded back."""
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,name,postal_code\nB1,Boston Co,2134\nB2,Phoenix Co,85004-1234\n")
    frame, problems = read_csv_file(path, "accounts")
    assert problems == []
    assert list(frame["postal_code"]) == ["02134", "85004"]
    assert list(frame["state"]) == ["MA", "AZ"]


def test_salesforce_export_with_bom_and_semicolons(tmp_path):
    files = copy_fixtures(tmp_path, "salesforce")
    assert files["accounts"].read_bytes().startswith(b"\xef\xbb\xbfId;Name;OwnerId")
    book, problems = validate_book(
        {
            "reps": files["users"],
            "accounts": files["accounts"],
            "opportunities": files["opportunities"],
            "activities": files["events"],
        },
        today=TODAY,
    )
    assert problems == []
    reps = book.reps.set_index("rep_id")
    assert reps.loc["005A1", "name"] == "Ana Alvarez"  # FirstName + LastName
    assert reps.loc["005A1", "state"] == "AZ"  # "Arizona"
    assert reps.loc["005A1", "home_lat"] == pytest.approx(33.4484)  # decimal comma
    assert reps.loc["005A2", "territory_name"] == "Southern Arizona"  # Territory_Name__c
    accounts = book.accounts.set_index("account_id")
    assert accounts.loc["001A1", "owner_rep_id"] == "005A1"
    assert accounts.loc["001A1", "annual_revenue"] == 12_000_000  # "12.000.000"
    assert accounts.loc["001A2", "annual_revenue"] == 3_000_000.5  # "3.000.000,50"
    assert accounts.loc["001A2", "postal_code"] == "85201"  # ZIP+4
    assert accounts.loc["001A2", "lat"] == pytest.approx(33.43, abs=0.05)  # placed by postal code
    opportunities = book.opportunities.set_index("opportunity_id")
    assert list(opportunities["status"]) == ["won", "lost", "open"]  # IsWon / IsClosed
    assert opportunities.loc["006A2", "close_date"] == pd.Timestamp("2025-08-01")  # US month/day/year
    assert opportunities.loc["006A1", "created_on"] == pd.Timestamp("2025-06-01")  # ISO timestamp
    assert opportunities.loc["006A2", "amount"] == 15_000.5
    activities = book.activities.set_index("activity_id")
    assert list(activities["hours"]) == [1.5, 2.0]  # DurationInMinutes
    assert list(activities["kind"]) == ["meeting", "visit"]


def test_id_means_what_the_file_kind_says():
    assert map_headers("accounts", ["Id", "OwnerId"]) == {"Id": "account_id", "OwnerId": "owner_rep_id"}
    assert map_headers("opportunities", ["Id", "AccountId"]) == {
        "Id": "opportunity_id",
        "AccountId": "account_id",
    }
    assert map_headers("reps", ["Id"]) == {"Id": "rep_id"}
    assert map_headers("activities", ["Id", "WhatId"]) == {"Id": "activity_id", "WhatId": "account_id"}
    assert map_headers("revenue", ["Id", "AccountId"]) == {"AccountId": "account_id"}  # a row id, not ours


def test_state_code_wins_over_state_name_when_both_are_exported():
    mapping = map_headers("accounts", ["BillingState", "BillingStateCode"])
    assert mapping == {"BillingStateCode": "state"}


@given(
    st.sampled_from(
        [
            "BillingPostalCode",
            "billing_postal_code",
            "BILLING POSTAL CODE",
            "Billing Zip/Postal Code",
            "billingpostalcode",
            "postal_code",
            "Zip",
        ]
    )
)
def test_header_names_match_whatever_their_case_and_punctuation(header):
    assert map_headers("accounts", [header]) == {header: "postal_code"}


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False).map(lambda x: round(x, 2)))
def test_amounts_with_thousands_separators_read_back_exactly(amount):
    """US formatting ("1,234,567.89") in comma files and European ("1.234.567,89") in semicolon files."""
    from core.importing.parsing import _parse_float

    us = pd.Series([f"{amount:,.2f}", f"${amount:,.2f}"])
    european = pd.Series([f"{amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")])
    assert list(_parse_float(us, False)[0]) == [pytest.approx(amount)] * 2
    assert list(_parse_float(european, True)[0]) == [pytest.approx(amount)]


def test_blank_lines_keep_spreadsheet_row_numbers(tmp_path):
    path = tmp_path / "revenue.csv"
    path.write_text("account_id,month,amount\nA1,2025-01-01,10\n\nA1,2025-02-01,oops\n")
    frame, problems = read_csv_file(path, "revenue")
    assert len(frame) == 2
    assert [(p.row, p.field) for p in problems] == [(4, "amount")]


@pytest.mark.parametrize(
    "written, expected",
    [
        ("2025-03-07", "2025-03-07"),
        ("2025-3-7", "2025-03-07"),
        ("2025-03-07T23:10:00.000+0000", "2025-03-07"),
        ("3/7/2025", "2025-03-07"),
        ("07.03.2025", "2025-03-07"),
        ("2025/03/07", "2025-03-07"),
        ("2025-03", "2025-03-01"),
    ],
)
def test_date_formats(tmp_path, written, expected):
    path = tmp_path / "quotas.csv"
    path.write_text(f"rep_id,period_start,period_end,amount\nR1,{written},2025-12-31,1\n")
    frame, problems = read_csv_file(path, "quotas")
    assert problems == [] and frame["period_start"].iloc[0] == pd.Timestamp(expected)


def test_open_deals_and_quota_periods_may_lie_ahead(tmp_path):
    """O3 (open) closes 2026-02-27 and R1 has a 2026-Q1 quota: both after TODAY, neither a problem."""
    files = copy_fixtures(tmp_path)
    _, problems = validate_book(files, today=TODAY)
    assert problems == []
    _, problems = validate_book(files, today=date(2025, 10, 31))  # before O3 was created, V1 happened
    assert {(p.file, p.row, p.field) for p in problems} == {
        ("opportunities.csv", 4, "created_on"),
        ("activities.csv", 2, "occurred_on"),
        ("activities.csv", 3, "occurred_on"),
        ("activities.csv", 5, "occurred_on"),
        ("activities.csv", 6, "occurred_on"),
    }
