"""Clinicians' sessions kept on the server.

- admin_session: one row per sign-in: the clinician, the SHA-256 of the random key the
  session cookie carries (never the key), when it started and was last used (written at
  most once a minute), when and why it ended (signed out, idle, expired, signed out
  elsewhere, account disabled), the browser and the address it came from.

No existing row changes. Sessions signed in before this upgrade have no record, so every
clinician signs in once more after it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "admin_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_reason", sa.String(length=30), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("ip_address", sa.String(length=45), nullable=False),
        sa.CheckConstraint("ended_reason IN ('signed out', 'idle', 'expired', 'signed out elsewhere', "
                           "'account disabled')", name=op.f("ck_admin_session_ended_reason")),
        sa.ForeignKeyConstraint(["admin_id"], ["admin.id"], name=op.f("fk_admin_session_admin_id_admin")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_session")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_admin_session_key_hash")),
    )
    op.create_index(op.f("ix_admin_session_admin_id"), "admin_session", ["admin_id"])


def downgrade():
    op.drop_index(op.f("ix_admin_session_admin_id"), table_name="admin_session")
    op.drop_table("admin_session")
