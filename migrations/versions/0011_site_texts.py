"""The site's texts the clinicians edit.

- site_text: one row per version of one text (key, version, Markdown body, the clinician
  who saved it, the version it restored if any, when). A key with no rows shows the text
  shipped with the code (resilience/content.py).

No existing row changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "site_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=True),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["admin_id"], ["admin.id"], name=op.f("fk_site_text_admin_id_admin")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_text")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_site_text_key_version")),
    )


def downgrade():
    op.drop_table("site_text")
