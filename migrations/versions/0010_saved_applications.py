"""Forms saved to finish later.

- application_draft: what a person typed before saving the form for later, sealed with the
  data key like the answers (the address included), the SHA-256 of the private link emailed
  to them (never the link), a SHA-256 of the address last emailed, when it was saved and when
  it expires (then `periodic` deletes it). No clinician page reads this table.

No existing row changes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "application_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("emailed_to", sa.String(length=64), nullable=False),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_draft")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_application_draft_key_hash")),
    )
    op.create_index(op.f("ix_application_draft_expires_at"), "application_draft", ["expires_at"])


def downgrade():
    op.drop_index(op.f("ix_application_draft_expires_at"), table_name="application_draft")
    op.drop_table("application_draft")
