"""The clinicians' day: messages, attendance, assignment, and answers that need attention.

- message: a clinician's words to an applicant or to a cohort's participants (the body
  sealed with the data key, like the answers);
- attendance: per meeting and enrolled participant, attended / absent / excused;
- application.assigned_admin_id: the clinician looking after an application (none yet);
- application.attention: how many answers need a clinician's attention, counted now for
  every stored application by opening its answers with RESILIENCE_DATA_KEY (which answers
  they are stays sealed).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op
from cryptography.fernet import InvalidToken
from flask import current_app

from resilience import questions, sealing
from resilience.database import SchemaError

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PAGE = 500
application = sa.table("application", sa.column("id", sa.Integer), sa.column("answers", sa.Text),
                       sa.column("attention", sa.Integer))


def upgrade():
    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("decision", sa.Enum(
            "pending", "screening", "waitlisted", "accepted", "enrolled", "lapsed", "declined", "withdrawn",
            name="decision", native_enum=False, length=20, create_constraint=False), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["admin_id"], ["admin.id"], name=op.f("fk_message_admin_id_admin")),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"],
                                name=op.f("fk_message_application_id_application")),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"], name=op.f("fk_message_cohort_id_cohort")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
    )
    op.create_index(op.f("ix_message_admin_id"), "message", ["admin_id"])
    op.create_index(op.f("ix_message_application_id"), "message", ["application_id"])
    op.create_index(op.f("ix_message_cohort_id"), "message", ["cohort_id"])

    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("mark", sa.String(length=10), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("marked_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("mark IN ('attended', 'absent', 'excused')", name=op.f("ck_attendance_mark")),
        sa.ForeignKeyConstraint(["admin_id"], ["admin.id"], name=op.f("fk_attendance_admin_id_admin")),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"],
                                name=op.f("fk_attendance_application_id_application")),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"], name=op.f("fk_attendance_meeting_id_meeting")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint("meeting_id", "application_id", name=op.f("uq_attendance_meeting_id_application_id")),
    )
    op.create_index(op.f("ix_attendance_application_id"), "attendance", ["application_id"])
    op.create_index(op.f("ix_attendance_meeting_id"), "attendance", ["meeting_id"])

    with op.batch_alter_table("application") as batch:
        batch.add_column(sa.Column("attention", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("assigned_admin_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_application_assigned_admin_id_admin"), "admin",
                                 ["assigned_admin_id"], ["id"])
        batch.create_index(op.f("ix_application_attention"), ["attention"])
        batch.create_index(op.f("ix_application_assigned_admin_id"), ["assigned_admin_id"])
    _count_attention(op.get_bind(), current_app.config["DATA_KEY"])


def _count_attention(bind, keys):
    last = 0
    while rows := bind.execute(sa.select(application.c.id, application.c.answers).where(application.c.id > last)
                               .order_by(application.c.id).limit(PAGE)).all():
        for row in rows:
            try:
                answers = questions.open_answers(sealing.unseal(row.answers, keys))
            except InvalidToken:
                raise SchemaError(f"RESILIENCE_DATA_KEY cannot open the answers of application {row.id}. Nothing "
                                  "was changed. Set the data key this database was written with, then upgrade "
                                  "again.") from None
            count = questions.attention_count(answers)
            if count:
                bind.execute(application.update().where(application.c.id == row.id).values(attention=count))
        last = rows[-1].id


def downgrade():
    """Back to 0004: messages, attendance, assignments and the attention counts are dropped."""
    with op.batch_alter_table("application") as batch:
        batch.drop_index(op.f("ix_application_assigned_admin_id"))
        batch.drop_index(op.f("ix_application_attention"))
        batch.drop_constraint(op.f("fk_application_assigned_admin_id_admin"), type_="foreignkey")
        batch.drop_column("assigned_admin_id")
        batch.drop_column("attention")
    op.drop_table("attendance")
    op.drop_table("message")
