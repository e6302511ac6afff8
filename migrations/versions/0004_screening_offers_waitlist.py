"""Screening conversations, offers that lapse, a waitlist in order, join links.

- Two new statuses, screening and lapsed: the CHECK on application.status and the index
  that keeps one active application per person and cohort name them.
- screening_slot: the times clinicians offer for a screening conversation.
- An offer's confirm-by becomes a moment (confirm_by_at): an offer to confirm "by
  December 4" now lasts until the end of that day in the cohort's time zone, and an open
  offer at least three days from the upgrade; an offer in a cohort that starts sooner, or is
  under way, has no time limit.
- application: when invited and lapsed, the waitlist order (those already waiting are ranked
  by time of application), and the calendar sequence; cohort: how many days an offer waits
  (5); meeting: a join link.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from resilience import clock

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The statuses as they stand at this revision (resilience/status.py may change later).
BEFORE = ("pending", "waitlisted", "accepted", "enrolled", "declined", "withdrawn")
AFTER = ("pending", "screening", "waitlisted", "accepted", "enrolled", "lapsed", "declined", "withdrawn")
ACTIVE_BEFORE = ("pending", "waitlisted", "accepted", "enrolled")
ACTIVE_AFTER = ("pending", "screening", "waitlisted", "accepted", "enrolled", "lapsed")


def one_of(column, values):
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


application = sa.table("application", sa.column("id", sa.Integer), sa.column("cohort_id", sa.Integer),
                       sa.column("confirm_by", sa.Date), sa.column("confirm_by_at", sa.DateTime),
                       sa.column("status", sa.String), sa.column("created_at", sa.DateTime),
                       sa.column("waitlist_rank", sa.Integer))
cohort = sa.table("cohort", sa.column("id", sa.Integer), sa.column("timezone", sa.String))
meeting = sa.table("meeting", sa.column("cohort_id", sa.Integer), sa.column("starts_at", sa.DateTime))
PASSED_OFFER_GRACE = timedelta(days=3)


def _naive(value) -> datetime:
    """A stored UTC time as a naive datetime (SQLite hands back text from an aggregate)."""
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value.replace(tzinfo=None)


def statuses(allowed, active):
    """Set the CHECK on application.status and the one-active-application index."""
    with op.batch_alter_table("application") as batch:  # SQLite copies the table; PostgreSQL alters it
        batch.drop_constraint(op.f("ck_application_status"), type_="check")
        batch.create_check_constraint(op.f("ck_application_status"), sa.text(one_of("status", allowed)))
    op.drop_index("one_active_application_per_email", table_name="application")
    op.create_index("one_active_application_per_email", "application", ["cohort_id", "email_key"], unique=True,
                    sqlite_where=sa.text(one_of("status", active)), postgresql_where=sa.text(one_of("status", active)))


def upgrade():
    op.create_table(
        "screening_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("booked_at", sa.DateTime(), nullable=True),
        sa.Column("held_at", sa.DateTime(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("mode IN ('phone', 'video', 'in_person')", name=op.f("ck_screening_slot_mode")),
        sa.ForeignKeyConstraint(["admin_id"], ["admin.id"], name=op.f("fk_screening_slot_admin_id_admin")),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"],
                                name=op.f("fk_screening_slot_application_id_application")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_slot")),
        sqlite_autoincrement=True,  # a removed slot's id is never given to a new one
    )
    op.create_index(op.f("ix_screening_slot_admin_id"), "screening_slot", ["admin_id"])
    op.create_index(op.f("ix_screening_slot_application_id"), "screening_slot", ["application_id"])
    op.create_index(op.f("ix_screening_slot_starts_at"), "screening_slot", ["starts_at"])

    with op.batch_alter_table("application") as batch:
        batch.add_column(sa.Column("invited_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("lapsed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("confirm_by_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("waitlist_rank", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("calendar_sequence", sa.Integer(), server_default="0", nullable=False))

    # "Confirm by December 4" meant until that day ended where the cohort meets. Offers now
    # lapse by themselves, so none may lapse the moment the upgrade is done: an open offer gets
    # at least three more days (and its reminder), and one in a cohort that starts before then,
    # or is already under way (its person may be taking part), gets no time limit: the
    # clinicians settle it.
    bind, now = op.get_bind(), clock.now().replace(tzinfo=None)
    zones = dict(bind.execute(sa.select(cohort.c.id, cohort.c.timezone)).all())
    starts = dict(bind.execute(sa.select(meeting.c.cohort_id, sa.func.min(meeting.c.starts_at))
                               .group_by(meeting.c.cohort_id)).all())
    for row in bind.execute(sa.select(application.c.id, application.c.cohort_id, application.c.confirm_by,
                                      application.c.status).where(application.c.confirm_by.is_not(None))).all():
        end_of_day = datetime.combine(row.confirm_by + timedelta(days=1), time(0), ZoneInfo(zones[row.cohort_id]))
        confirm_by_at = end_of_day.astimezone(UTC).replace(tzinfo=None)
        if row.status == "accepted":  # an offer still open: it will lapse, but not on the spot
            first = starts.get(row.cohort_id)
            confirm_by_at = max(confirm_by_at, now + PASSED_OFFER_GRACE)
            if first is not None and _naive(first) < confirm_by_at:
                confirm_by_at = None  # the cohort is under way, or starts before the grace is over
        bind.execute(application.update().where(application.c.id == row.id).values(confirm_by_at=confirm_by_at))
    with op.batch_alter_table("application") as batch:
        batch.drop_column("confirm_by")
    statuses(AFTER, ACTIVE_AFTER)

    # Those already waiting keep their order (time of application) as ranks; newcomers join after them.
    rank = {}
    for row in bind.execute(sa.select(application.c.id, application.c.cohort_id)
                            .where(application.c.status == "waitlisted")
                            .order_by(application.c.cohort_id, application.c.created_at, application.c.id)).all():
        rank[row.cohort_id] = rank.get(row.cohort_id, 0) + 1
        bind.execute(application.update().where(application.c.id == row.id).values(waitlist_rank=rank[row.cohort_id]))

    with op.batch_alter_table("cohort") as batch:
        batch.add_column(sa.Column("offer_days", sa.Integer(), server_default="5", nullable=False))
    with op.batch_alter_table("meeting") as batch:
        batch.add_column(sa.Column("join_url", sa.String(length=500), nullable=True))


def downgrade():
    """Back to 0003. Screening and lapsed applications become pending and waitlisted again;
    the slots, join links and waitlist order are dropped."""
    op.execute("UPDATE application SET status = 'pending' WHERE status = 'screening'")
    op.execute("UPDATE application SET status = 'waitlisted' WHERE status = 'lapsed'")
    statuses(BEFORE, ACTIVE_BEFORE)
    with op.batch_alter_table("meeting") as batch:
        batch.drop_column("join_url")
    with op.batch_alter_table("cohort") as batch:
        batch.drop_column("offer_days")
    with op.batch_alter_table("application") as batch:
        batch.add_column(sa.Column("confirm_by", sa.Date(), nullable=True))
    bind = op.get_bind()
    zones = dict(bind.execute(sa.select(cohort.c.id, cohort.c.timezone)).all())
    for row in bind.execute(sa.select(application.c.id, application.c.cohort_id, application.c.confirm_by_at)
                            .where(application.c.confirm_by_at.is_not(None))).all():
        moment = row.confirm_by_at.replace(tzinfo=UTC).astimezone(ZoneInfo(zones[row.cohort_id]))
        bind.execute(application.update().where(application.c.id == row.id)
                     .values(confirm_by=(moment - timedelta(microseconds=1)).date()))
    with op.batch_alter_table("application") as batch:
        for column in ("calendar_sequence", "waitlist_rank", "confirm_by_at", "lapsed_at", "invited_at"):
            batch.drop_column(column)
    op.drop_table("screening_slot")
