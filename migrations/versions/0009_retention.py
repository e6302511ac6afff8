"""Retention and erasure on request.

- application.erased_at: when the person's data was erased (by `purge`, or by a clinician on
  their request); empty for every existing row, which stays exactly as it was. An erased row
  keeps its cohort, status, dates and attention count for the counts; its contact fields are
  empty text (they stay NOT NULL, so every other row reads as before).
- The index that allows one active application per person and cohort leaves erased rows out:
  the erased participants of one finished cohort all have the same (empty) address.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('pending', 'screening', 'waitlisted', 'accepted', 'enrolled', 'lapsed')"
NOT_ERASED = ACTIVE + " AND erased_at IS NULL"


def _one_active_application_per_email(where: str) -> None:
    op.drop_index("one_active_application_per_email", table_name="application")
    op.create_index("one_active_application_per_email", "application", ["cohort_id", "email_key"], unique=True,
                    sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def upgrade():
    with op.batch_alter_table("application") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))
    _one_active_application_per_email(NOT_ERASED)


def downgrade():
    # Erased rows stay erased (their data is gone); only the column that says so goes. Two erased
    # participants of one cohort would break the older index, so their empty addresses become
    # distinct first.
    op.execute(sa.text("UPDATE application SET email_key = 'erased-' || CAST(id AS VARCHAR(20)) "
                       "WHERE erased_at IS NOT NULL"))
    _one_active_application_per_email(ACTIVE)
    with op.batch_alter_table("application") as batch:
        batch.drop_column("erased_at")
