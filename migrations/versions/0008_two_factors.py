"""Two-step sign-in for clinicians: an authenticator app's codes and one-time recovery codes.

- admin.totp_secret: the authenticator's secret, sealed with RESILIENCE_DATA_KEY like the
  answers (empty: two-step sign-in is off);
- admin.two_factor_on_at: when two-step sign-in was turned on (empty while a new secret
  waits for its first code);
- admin.totp_last_step: the last accepted 30-second step, so no code is accepted twice;
- recovery_code: a clinician's one-time recovery codes, only their SHA-256 hashes, and
  when each was used.

No existing row changes: every clinician keeps signing in with just a password until they
turn two-step sign-in on (or RESILIENCE_REQUIRE_2FA asks them to).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("admin") as batch:
        batch.add_column(sa.Column("totp_secret", sa.Text(), nullable=True))
        batch.add_column(sa.Column("two_factor_on_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))

    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["admin_id"], ["admin.id"], name=op.f("fk_recovery_code_admin_id_admin")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_code_code_hash")),
    )
    op.create_index(op.f("ix_recovery_code_admin_id"), "recovery_code", ["admin_id"])


def downgrade():
    op.drop_index(op.f("ix_recovery_code_admin_id"), table_name="recovery_code")
    op.drop_table("recovery_code")
    with op.batch_alter_table("admin") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("two_factor_on_at")
        batch.drop_column("totp_secret")
