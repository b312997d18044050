"""users, sessions, audit events and the plan review columns (sign-in, roles, approval workflow)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 02:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_text = sqlmodel.sql.sqltypes.AutoString
_when = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", _text(), nullable=False),
        sa.Column("name", _text(), nullable=False),
        sa.Column("role", _text(), nullable=False),
        sa.Column("password_hash", _text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("failed_signins", sa.Integer(), nullable=False),
        sa.Column("locked_until", _when(), nullable=True),
        sa.Column("last_signin_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_email"), ["email"], unique=True)

    op.create_table(
        "usersession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", _text(), nullable=True),
        sa.Column("ticket_hash", _text(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=False),
        sa.Column("ended_at", _when(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("usersession", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usersession_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_usersession_token_hash"), ["token_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_usersession_ticket_hash"), ["ticket_hash"], unique=True)

    op.create_table(
        "sitesecret",
        sa.Column("name", _text(), nullable=False),
        sa.Column("value", _text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.Column("actor", _text(), nullable=False),
        sa.Column("action", _text(), nullable=False),
        sa.Column("what", sa.Text(), nullable=True),
        sa.Column("source", _text(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_plan_id"), ["plan_id"], unique=False)

    with op.batch_alter_table("rebalanceplan", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submitted_at", _when(), nullable=True))
        batch_op.add_column(sa.Column("submitted_by", _text(), nullable=True))
        batch_op.add_column(sa.Column("rejected_at", _when(), nullable=True))
        batch_op.add_column(sa.Column("rejected_by", _text(), nullable=True))
        batch_op.add_column(sa.Column("review_comment", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rebalanceplan", schema=None) as batch_op:
        for column in ("review_comment", "rejected_by", "rejected_at", "submitted_by", "submitted_at"):
            batch_op.drop_column(column)
    op.drop_table("audit_event")
    op.drop_table("sitesecret")
    op.drop_table("usersession")
    op.drop_table("users")
