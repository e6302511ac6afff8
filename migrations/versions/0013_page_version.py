"""Numbers the site raises with the changes they follow, for caching what depends on them.

- page_version: one row (id 1). Its version is raised in the same transaction as any change
  to cohorts, meetings, seats or the site's texts; pages rendered for a number are served
  again until it moves. Its applications number is raised when an application is added or
  erased (the dashboard's count of where applicants came from). See resilience/page_cache.py.

No existing row changes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    page_version = op.create_table(
        "page_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("applications", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_version")),
    )
    op.bulk_insert(page_version, [{"id": 1, "version": 0, "applications": 0}])


def downgrade():
    op.drop_table("page_version")
