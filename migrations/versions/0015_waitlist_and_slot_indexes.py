"""Indexes for the dashboard, so it costs the same with 50 or 50,000 applications.

- application_waitlist_line (cohort_id, status, waitlist_rank, created_at, id): a waitlist's
  first in line, in the clinicians' order, read from the index without sorting the whole line.
  It starts with (cohort_id, status), so it replaces application_cohort_status (0014): one
  index fewer to write for every application sent.
- screening_slot_ahead (held_at, starts_at): the conversations still to come, found from the
  slots' times rather than from every applicant of the cohorts shown.

Indexes only: no row changes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27
"""
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("application_waitlist_line", "application",
                    ["cohort_id", "status", "waitlist_rank", "created_at", "id"])
    op.drop_index("application_cohort_status", table_name="application")
    op.create_index("screening_slot_ahead", "screening_slot", ["held_at", "starts_at"])


def downgrade():
    op.drop_index("screening_slot_ahead", table_name="screening_slot")
    op.create_index("application_cohort_status", "application", ["cohort_id", "status"])
    op.drop_index("application_waitlist_line", table_name="application")
