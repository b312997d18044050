"""scheduled plans, quota adjustments that follow moved accounts, move-by-move plan edits

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 05:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_text = sqlmodel.sql.sqltypes.AutoString
_when = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("rebalanceplan", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheduled_at", _when(), nullable=True))
        batch_op.add_column(sa.Column("scheduled_by", _text(), nullable=True))
        batch_op.add_column(sa.Column("quota_method", _text(), nullable=True))
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))

    op.create_table(
        "planedit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", _text(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("territory_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("actor", _text(), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["rebalanceplan.id"]),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["territory_id"], ["territory.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("planedit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_planedit_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "quotaadjustment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("method", _text(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", _text(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(["rep_id"], ["rep.id"]),
        sa.ForeignKeyConstraint(["territory_id"], ["territory.id"]),
        sa.ForeignKeyConstraint(["plan_id"], ["rebalanceplan.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quotaadjustment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quotaadjustment_rep_id"), ["rep_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_quotaadjustment_effective_date"), ["effective_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_quotaadjustment_plan_id"), ["plan_id"], unique=False)


def downgrade() -> None:
    op.drop_table("quotaadjustment")
    op.drop_table("planedit")
    with op.batch_alter_table("rebalanceplan", schema=None) as batch_op:
        for column in ("revision", "quota_method", "scheduled_by", "scheduled_at"):
            batch_op.drop_column(column)
