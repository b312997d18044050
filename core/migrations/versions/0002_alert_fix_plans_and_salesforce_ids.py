"""alert fix plans and Salesforce ids

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 02:50:00

A balance episode remembers the draft plan prepared to fix it (``alertepisode.fix_plan_id``, no
foreign key so that the column is added in place on every backend); reps, territories and accounts
carry their Salesforce ids for the CRM-ready exports (``territory plans export --format owners|etm``).
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SALESFORCE_TABLES = ("rep", "territory", "account")


def upgrade() -> None:
    with op.batch_alter_table("alertepisode", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fix_plan_id", sa.Integer(), nullable=True))
    for table in SALESFORCE_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("salesforce_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_salesforce_id"), ["salesforce_id"], unique=False)


def downgrade() -> None:
    for table in reversed(SALESFORCE_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_salesforce_id"))
            batch_op.drop_column("salesforce_id")
    with op.batch_alter_table("alertepisode", schema=None) as batch_op:
        batch_op.drop_column("fix_plan_id")
