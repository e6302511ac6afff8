"""Baseline: the schema of the last release before migrations (created by create_all).

A database that release created has no alembic_version table; `db upgrade` checks it
against this revision's tables and columns, stamps it 0001 and carries on from here
(see resilience/database.py). Frozen: never edit a revision once released.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ACTIVE = "status IN ('pending', 'waitlisted', 'accepted', 'enrolled')"


def upgrade():
    op.create_table(
        "admin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin")),
        sa.UniqueConstraint("email", name=op.f("uq_admin_email")),
    )
    op.create_table(
        "cohort",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=False),
        sa.Column("application_deadline", sa.Date(), nullable=True),
        sa.Column("applications_open", sa.Boolean(), nullable=False),
        sa.Column("fee_text", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohort")),
        sa.UniqueConstraint("slug", name=op.f("uq_cohort_slug")),
    )
    op.create_table(
        "application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("submission_id", sa.String(length=64), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("pronouns", sa.String(length=60), nullable=True),
        sa.Column("home_area", sa.String(length=200), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("consent_version", sa.String(length=40), nullable=False),
        sa.Column("consented_at", sa.DateTime(), nullable=False),
        sa.Column("health_consent_at", sa.DateTime(), nullable=False),
        sa.Column("knows_applicants", sa.Text(), nullable=True),
        sa.Column("referral", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("waitlisted_at", sa.DateTime(), nullable=True),
        sa.Column("declined_at", sa.DateTime(), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("confirm_by", sa.Date(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'waitlisted', 'accepted', 'enrolled', 'declined', 'withdrawn')",
                           name=op.f("ck_application_status")),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"], name=op.f("fk_application_cohort_id_cohort")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application")),
        sa.UniqueConstraint("submission_id", name=op.f("uq_application_submission_id")),
        sa.UniqueConstraint("token", name=op.f("uq_application_token")),
    )
    op.create_index(op.f("ix_application_cohort_id"), "application", ["cohort_id"])
    op.create_index(op.f("ix_application_email_key"), "application", ["email_key"])
    op.create_index("one_active_application_per_email", "application", ["cohort_id", "email_key"], unique=True,
                    sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))
    op.create_table(
        "meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('preparation', 'ketamine', 'integration')", name=op.f("ck_meeting_kind")),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"], name=op.f("fk_meeting_cohort_id_cohort")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting")),
        sa.UniqueConstraint("cohort_id", "kind", "sequence", name=op.f("uq_meeting_cohort_id_kind_sequence")),
    )
    op.create_index(op.f("ix_meeting_cohort_id"), "meeting", ["cohort_id"])
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=20), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("cohort_id", sa.Integer(), nullable=True),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["admin_id"], ["admin.id"], name=op.f("fk_audit_event_admin_id_admin")),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"],
                                name=op.f("fk_audit_event_application_id_application")),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"], name=op.f("fk_audit_event_cohort_id_cohort")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    for column in ("action", "admin_id", "application_id", "at", "cohort_id"):
        op.create_index(op.f(f"ix_audit_event_{column}"), "audit_event", [column])
    op.create_table(
        "note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["admin_id"], ["admin.id"], name=op.f("fk_note_admin_id_admin")),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"], name=op.f("fk_note_application_id_application")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note")),
    )
    op.create_index(op.f("ix_note_application_id"), "note", ["application_id"])
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("dedupe_key", sa.String(length=300), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed')", name=op.f("ck_outbox_message_status")),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"],
                                name=op.f("fk_outbox_message_application_id_application"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_message_dedupe_key")),
    )
    op.create_index(op.f("ix_outbox_message_application_id"), "outbox_message", ["application_id"])
    op.create_index("outbox_due", "outbox_message", ["status", "next_attempt_at"])


def downgrade():
    for table in ("outbox_message", "note", "audit_event", "meeting", "application", "cohort", "admin"):
        op.drop_table(table)
