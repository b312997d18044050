"""CRM-ready files: the Salesforce owners update and the ETM associations of a plan, the Salesforce
User / Territory2 mapping imports, refusals that name the rows, and spreadsheet safety.

The book is a tiny custom sample (3 reps, 12 accounts in Arizona) loaded with its Salesforce-style
ids; the plan is saved by hand (two moves), so no solver runs.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from core.crm_export import MissingSalesforceIds, etm_files, owners_file
from core.db import get_engine, session_scope
from core.importing import ImportValidationError
from core.importing.salesforce import import_salesforce_mapping, read_mapping_file
from core.models import Rep, Territory
from core.plans import assignments_fingerprint, save_plan
from core.salesforce_ids import checksum, is_salesforce_id, sample_id
from core.sample import generate_book
from jobs.cli import app
from jobs.setup import initialise

AS_OF = date(2026, 11, 23)
runner = CliRunner()


def book():
    return generate_book("custom", seed=7, as_of=AS_OF, reps=3, accounts=12, states=["AZ"])


@pytest.fixture
def url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    initialise(
        get_engine(url), sample="custom", reps=3, accounts=12, states=["AZ"], as_of=AS_OF, backfill=False
    )
    return url


@pytest.fixture
def plan(url) -> int:
    """Two moves: the first account of CU-T001 to CU-T002, the first of CU-T002 to CU-T003."""
    engine = get_engine(url)
    accounts = book().accounts
    first = {
        t: accounts.loc[accounts["territory_id"] == t, "account_id"].iloc[0] for t in ("CU-T001", "CU-T002")
    }
    moves = [
        {"account": first["CU-T001"], "from": "CU-T001", "to": "CU-T002", "reason": "balance"},
        {"account": first["CU-T002"], "from": "CU-T002", "to": "CU-T003", "reason": "balance"},
    ]
    return save_plan(
        engine,
        name="hand",
        scenario_toml="",
        result={"status": "FEASIBLE", "moves": moves},
        fingerprint=assignments_fingerprint(engine),
    )


def expected(moved: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the files must hold, from the sample book's own ids."""
    sample = book()
    sf_account = dict(zip(sample.accounts["account_id"], sample.accounts["salesforce_id"], strict=True))
    reps = sample.reps.dropna(subset=["territory_id"])
    owner_sf = dict(zip(reps["territory_id"], reps["salesforce_id"], strict=True))
    territory_sf = dict(zip(reps["territory_id"], reps["territory_salesforce_id"], strict=True))
    moves = [("CU-T001", "CU-T002"), ("CU-T002", "CU-T003")]
    owners = pd.DataFrame(
        {"Id": [sf_account[a] for a in moved], "OwnerId": [owner_sf[to] for _, to in moves]}
    )
    etm = pd.DataFrame(
        {
            "ObjectId": [sf_account[a] for a in moved],
            "Territory2Id": [territory_sf[to] for _, to in moves],
            "AssociationCause": "Territory2Manual",
        }
    )
    return owners, etm


def moved_accounts(url: str, plan_id: int) -> list[str]:
    from core.plans import get_plan

    return sorted(m.account for m in get_plan(get_engine(url), plan_id).moves)


def test_salesforce_ids_are_valid_18_character_ids():
    assert checksum("001A0000006Vm9r") == "IAC"  # Salesforce's documented example
    sample = book()
    for prefix, ids in (
        ("005", sample.reps["salesforce_id"]),
        ("0MI", sample.reps["territory_salesforce_id"].dropna()),
        ("001", sample.accounts["salesforce_id"]),
    ):
        assert ids.is_unique and all(len(i) == 18 and is_salesforce_id(i, prefix=prefix) for i in ids)
    assert sample_id("005", "SW", 1) != sample_id("005", "MM", 1)


def test_owners_and_etm_files_name_the_new_owner_and_territory(url, plan):
    engine = get_engine(url)
    moved = moved_accounts(url, plan)
    owners, etm = expected(moved)
    pd.testing.assert_frame_equal(owners_file(engine, plan), owners)
    files = etm_files(engine, plan)
    pd.testing.assert_frame_equal(files.associate, etm)
    sample = book().reps.dropna(subset=["territory_id"])
    territory_sf = dict(zip(sample["territory_id"], sample["territory_salesforce_id"], strict=True))
    assert files.remove["Territory2Id"].tolist() == [territory_sf["CU-T001"], territory_sf["CU-T002"]]
    assert files.remove["ObjectId"].tolist() == etm["ObjectId"].tolist()


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def salesforce_exports(tmp_path: Path) -> tuple[Path, Path]:
    """A User and a Territory2 export as Salesforce writes them, with users that are not reps."""
    sample = book()
    users = [
        {"Id": r.salesforce_id, "Name": r.name, "Email": r.email.upper(), "IsActive": "true"}
        for r in sample.reps.itertuples()
    ]
    users.append(
        {
            "Id": sample_id("005", "ZZ", 1),
            "Name": "Integration User",
            "Email": "api@x.com",
            "IsActive": "true",
        }
    )
    territories = [
        {
            "Id": r.territory_salesforce_id,
            "Name": r.territory_name,
            "DeveloperName": r.territory_id.replace("-", "_"),
        }
        for r in sample.reps.dropna(subset=["territory_id"]).itertuples()
    ]
    return write_csv(tmp_path / "User.csv", users), write_csv(tmp_path / "Territory2.csv", territories)


def test_files_round_trip_through_the_salesforce_mapping_import(url, plan, tmp_path):
    """Forget every Salesforce id, refuse to export, import the Salesforce exports: same files."""
    engine = get_engine(url)
    before_owners, before_etm = owners_file(engine, plan), etm_files(engine, plan)
    with session_scope(engine) as session:
        session.execute(update(Rep).values(salesforce_id=None))
        session.execute(update(Territory).values(salesforce_id=None))
    with pytest.raises(MissingSalesforceIds):
        owners_file(engine, plan)
    users, territories = salesforce_exports(tmp_path)
    result = import_salesforce_mapping(engine, users, "salesforce_users")
    assert (result.rows, result.mapped, result.unmatched) == (4, 3, 1)  # 3 reps and an integration user
    assert import_salesforce_mapping(engine, territories, "salesforce_territories").mapped == 3
    pd.testing.assert_frame_equal(owners_file(engine, plan), before_owners)
    pd.testing.assert_frame_equal(etm_files(engine, plan).associate, before_etm.associate)
    pd.testing.assert_frame_equal(etm_files(engine, plan).remove, before_etm.remove)


def test_a_missing_mapping_is_refused_naming_the_rows(url, plan, tmp_path):
    engine = get_engine(url)
    with session_scope(engine) as session:
        session.execute(update(Rep).where(Rep.external_id == "CU-R003").values(salesforce_id=None))
        session.execute(
            update(Territory).where(Territory.external_id == "CU-T002").values(salesforce_id=None)
        )
    moved = moved_accounts(url, plan)
    out = tmp_path / "owners.csv"
    result = runner.invoke(
        app, ["plans", "export", str(plan), "--format", "owners", "--csv", str(out), "--db", url]
    )
    assert result.exit_code == 1 and not out.exists()
    line = result.output.strip()
    assert "\n" not in line
    assert f"account {moved[1]}: new owner rep CU-R003 has no Salesforce User id" in line
    assert moved[0] not in line  # its owner is mapped
    result = runner.invoke(
        app, ["plans", "export", str(plan), "--format", "etm", "--csv", str(out), "--db", url]
    )
    assert result.exit_code == 1
    assert f"account {moved[0]}: new territory CU-T002 has no Salesforce Territory2 id" in result.output
    assert f"account {moved[1]}: old territory CU-T002 has no Salesforce Territory2 id" in result.output


def test_the_cli_writes_owners_and_both_etm_files(url, plan, tmp_path):
    out = tmp_path / "etm.csv"
    result = runner.invoke(
        app, ["plans", "export", str(plan), "--format", "etm", "--csv", str(out), "--db", url]
    )
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out).columns.tolist() == ["ObjectId", "Territory2Id", "AssociationCause"]
    assert pd.read_csv(tmp_path / "etm-delete.csv").columns.tolist() == ["ObjectId", "Territory2Id"]
    result = runner.invoke(
        app, ["plans", "export", str(plan), "--format", "owners", "--csv", "-", "--db", url]
    )
    assert result.output.splitlines()[0] == "Id,OwnerId" and len(result.output.splitlines()) == 3


def test_the_cli_imports_the_salesforce_exports(url, tmp_path):
    from tests.dashboard.conftest import add_role_users, role_email

    add_role_users(url)  # importing is an admin's write
    users, territories = salesforce_exports(tmp_path)
    args = [
        "import",
        "--as",
        role_email("admin"),
        "--salesforce-users",
        str(users),
        "--salesforce-territories",
        str(territories),
        "--db",
        url,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "mapped 3 reps" in result.output and "mapped 3 territories" in result.output


def test_bad_salesforce_exports_are_refused_by_file_row_and_field(url, tmp_path):
    engine = get_engine(url)
    rows = [
        {"Id": "=1+1", "Name": "A", "Email": "a@x.com"},
        {"Id": "", "Name": "B", "Email": "b@x.com"},
        {"Id": sample_id("001", "CU", 1), "Name": "C", "Email": "c@x.com"},  # an Account id
        {"Id": sample_id("005", "CU", 1), "Name": "D", "Email": "d@x.com"},
        {"Id": sample_id("005", "CU", 1), "Name": "E", "Email": "e@x.com"},
    ]
    with pytest.raises(ImportValidationError) as refused:
        import_salesforce_mapping(engine, write_csv(tmp_path / "users.csv", rows), "salesforce_users")
    problems = [(p.row, p.field) for p in refused.value.problems]
    assert problems == [(3, "Id"), (2, "Id"), (4, "Id"), (6, "Id")]
    assert "'=1+1' is not a Salesforce User id" in str(refused.value)
    _, missing = read_mapping_file(write_csv(tmp_path / "t.csv", [{"Name": "x"}]), "salesforce_territories")
    assert [(p.row, p.field) for p in missing] == [(1, "salesforce_id")]
    with session_scope(engine) as session:  # nothing written
        assert session.scalar(select(Rep.salesforce_id).where(Rep.external_id == "CU-R001")) == sample_id(
            "005", "CU", 1
        )


def test_formula_like_values_are_neutralised(url, plan):
    engine = get_engine(url)
    with session_scope(engine) as session:  # values typed in by hand, not through the import's checks
        session.execute(update(Rep).where(Rep.external_id == "CU-R002").values(salesforce_id="=HYPERLINK(1)"))
        session.execute(
            update(Territory).where(Territory.external_id == "CU-T003").values(salesforce_id="+SUM(1)")
        )
    assert "'=HYPERLINK(1)" in owners_file(engine, plan)["OwnerId"].tolist()
    assert "'+SUM(1)" in etm_files(engine, plan).associate["Territory2Id"].tolist()
