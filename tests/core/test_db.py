from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from core.db import _alembic_config, get_engine, schema_is_current, session_scope, upgrade_schema
from core.models import Account, Territory


def test_schema_matches_the_models(engine):
    """Migrations create every table the models declare, with their indexes."""
    inspector = inspect(engine)
    assert set(SQLModel.metadata.tables) <= set(inspector.get_table_names())
    indexed = {tuple(i["column_names"]) for i in inspector.get_indexes("account")}
    assert {("territory_id",), ("state",), ("industry",), ("segment",)} <= indexed
    assert schema_is_current(engine)


def test_foreign_keys_are_enforced(engine):
    with pytest.raises(IntegrityError):
        with session_scope(engine) as session:
            session.add(Account(external_id="A1", name="Orphan", territory_id=999))


def test_session_scope_is_all_or_nothing(engine):
    with pytest.raises(RuntimeError):
        with session_scope(engine) as session:
            session.add(Territory(external_id="T1", name="North"))
            session.flush()
            raise RuntimeError("crash after the first write")
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from territory")).scalar() == 0


def test_upgrade_in_place_keeps_data(db_url):
    """A database at the first revision, with data, upgrades to head and keeps every row."""
    engine = get_engine(db_url)
    cfg = _alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
    # Rows written as the first revision knows them (today's models have columns it lacks).
    with engine.begin() as connection:
        connection.execute(text("insert into territory (id, external_id, name) values (1, 'T1', 'North')"))
        connection.execute(
            text(
                "insert into account (id, external_id, name, territory_id, strategic, locked) "
                "values (1, 'A1', 'Acme', 1, false, false)"
            )
        )
        connection.execute(
            text("insert into revenuemonth (account_id, month, amount) values (1, :month, 10.0)"),
            {"month": date(2026, 1, 1)},
        )
    upgrade_schema(engine)
    upgrade_schema(engine)  # idempotent
    assert schema_is_current(engine)
    with engine.connect() as connection:
        assert connection.execute(text("select name from account")).scalar() == "Acme"
        assert connection.execute(text("select amount from revenuemonth")).scalar() == 10.0
