"""Indexes for what the pages filter and sort by, so they cost the same with 50 or 50,000
applications.

- application_waitlist_line (cohort_id, status, waitlist_rank, created_at, id): seats taken,
  counts by status, offers, a cohort's participants, the list filtered by cohort and status;
  and a waitlist's first in line, in the clinicians' order, read from the index without
  sorting the whole line.
- application_created (created_at, id): the list newest or oldest first.
- application_status_created (status, created_at, id): the list filtered by status, by date.
- application_cohort_created (cohort_id, created_at, id): the list filtered by cohort, by date.
- application_name (last_name, first_name, id): the list by last name.
  (Most to check first uses the index on attention that is already there.)
- screening_slot_ahead (held_at, starts_at): the conversations still to come, found from the
  slots' times rather than from every applicant of the cohorts shown.

Indexes only: no row changes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEXES = {  # on application
    "application_waitlist_line": ["cohort_id", "status", "waitlist_rank", "created_at", "id"],
    "application_created": ["created_at", "id"],
    "application_status_created": ["status", "created_at", "id"],
    "application_cohort_created": ["cohort_id", "created_at", "id"],
    "application_name": ["last_name", "first_name", "id"],
}


def upgrade():
    for name, columns in INDEXES.items():
        op.create_index(name, "application", columns)
    op.create_index("screening_slot_ahead", "screening_slot", ["held_at", "starts_at"])


def downgrade():
    op.drop_index("screening_slot_ahead", table_name="screening_slot")
    for name in INDEXES:
        op.drop_index(name, table_name="application")
