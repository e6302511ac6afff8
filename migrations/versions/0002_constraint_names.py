"""Name every constraint as the naming convention says, in a database the last release created.

That release let each database name its unique, foreign-key and primary-key constraints
(SQLite leaves them unnamed; PostgreSQL says cohort_slug_key, meeting_cohort_id_fkey…)
and called its CHECKs meeting_kind, application_status and outbox_status. Later revisions
find constraints by the convention's names, so they are given those names here. A
database that 0001 created has them already and is left alone.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The convention as it stood at this revision (resilience/extensions.py may change later),
# for the constraints SQLite left unnamed. CHECKs are renamed one by one below.
CONVENTION = {
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
TABLES = ("admin", "cohort", "meeting", "application", "note", "audit_event", "outbox_message")
CHECKS = {"meeting_kind": "ck_meeting_kind", "application_status": "ck_application_status",
          "outbox_status": "ck_outbox_message_status"}


def expected_names(inspector, table) -> dict[str, str]:
    """Each constraint's name now -> its name under the convention (unnamed ones under "")."""
    names = {}
    primary = inspector.get_pk_constraint(table)
    names[primary["name"] or ""] = f"pk_{table}"
    for unique in inspector.get_unique_constraints(table):
        names[unique["name"] or ""] = f"uq_{table}_{'_'.join(unique['column_names'])}"
    for key in inspector.get_foreign_keys(table):
        names[key["name"] or ""] = f"fk_{table}_{key['constrained_columns'][0]}_{key['referred_table']}"
    for check in inspector.get_check_constraints(table):
        names[check["name"]] = CHECKS.get(check["name"], check["name"])
    return {old: new for old, new in names.items() if old != new}


def upgrade():
    bind = op.get_bind()
    for table in TABLES:
        renames = expected_names(sa.inspect(bind), table)
        if not renames:
            continue
        if bind.dialect.name == "postgresql":
            for old, new in renames.items():
                op.execute(f'ALTER TABLE {table} RENAME CONSTRAINT "{old}" TO "{new}"')
        else:
            # SQLite cannot rename a constraint: the table is copied, and the copy's unnamed
            # constraints are named by the convention; the old CHECK gives way to a named one.
            checks = {c["name"]: c["sqltext"] for c in sa.inspect(bind).get_check_constraints(table)}
            with op.batch_alter_table(table, recreate="always", naming_convention=CONVENTION) as batch:
                for old, new in renames.items():
                    if old in CHECKS:
                        batch.drop_constraint(op.f(old), type_="check")
                        batch.create_check_constraint(op.f(new), sa.text(checks[old]))


def downgrade():
    pass  # the convention's names serve the previous release just as well
