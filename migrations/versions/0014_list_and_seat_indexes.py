"""Indexes for what the pages filter and sort by, so they cost the same with 50 or 50,000
applications.

- application_cohort_status (cohort_id, status): seats taken, waitlists, counts by status,
  offers, a cohort's participants; the list filtered by cohort and status.
- application_created (created_at, id): the list newest or oldest first.
- application_status_created (status, created_at, id): the list filtered by status, by date.
- application_cohort_created (cohort_id, created_at, id): the list filtered by cohort, by date.
- application_name (last_name, first_name, id): the list by last name.
  (Most to check first uses the index on attention that is already there.)

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

INDEXES = {
    "application_cohort_status": ["cohort_id", "status"],
    "application_created": ["created_at", "id"],
    "application_status_created": ["status", "created_at", "id"],
    "application_cohort_created": ["cohort_id", "created_at", "id"],
    "application_name": ["last_name", "first_name", "id"],
}


def upgrade():
    for name, columns in INDEXES.items():
        op.create_index(name, "application", columns)


def downgrade():
    for name in INDEXES:
        op.drop_index(name, table_name="application")
