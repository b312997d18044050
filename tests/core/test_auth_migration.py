"""The sign-in migration creates exactly what the models declare (Alembic's own comparison)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

AUTH_TABLES = {"users", "usersession", "sitesecret", "audit_event"}


def test_the_auth_tables_and_plan_columns_match_the_models(engine):
    with engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": False}), SQLModel.metadata
        )
    ours = [
        d
        for d in diff
        if (getattr(d[1], "name", None) in AUTH_TABLES)
        or (len(d) > 2 and (d[2] in AUTH_TABLES or d[2] == "rebalanceplan"))
        or (hasattr(d[1], "table") and getattr(d[1].table, "name", None) in AUTH_TABLES)
    ]
    assert ours == []
