"""The database: settings that make SQLite a safe embedded default, and upgrades of the
schema (Alembic revisions under migrations/, run by `db upgrade` and `init-db`)."""
import sqlalchemy as sa
from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app

from .extensions import db


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_on_connect)
            # pysqlite's own BEGIN handling is replaced by ours (SQLAlchemy's documented
            # recipe), so that a transaction can start with BEGIN IMMEDIATE.
            sa.event.listen(engine, "begin", _sqlite_on_begin)


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "memory":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_on_begin(connection) -> None:
    # A caller that must hold the write lock from its first read asks with
    # db.session.connection(execution_options={"sqlite_begin": "BEGIN IMMEDIATE"}).
    connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))


def begin_write() -> None:
    """Start the session's next transaction already holding the write lock.

    On SQLite a transaction that reads and then writes can fail at once with
    "database is locked" when another writer got in between; BEGIN IMMEDIATE takes
    the lock first and waits its turn instead. Any read-only transaction the request
    has open is ended first. Other databases start an ordinary transaction.
    """
    db.session.commit()
    db.session.connection(execution_options={"sqlite_begin": "BEGIN IMMEDIATE"})


# --- Upgrading the schema ------------------------------------------------------------------

class SchemaError(RuntimeError):
    """The database is not one this release can upgrade. Nothing was changed."""


BASELINE = "0001"  # migrations/versions/0001_baseline.py

# What the last release before migrations created with create_all (and never altered).
# A database with these tables and no alembic_version table is that release's: it is
# checked against this, stamped as the baseline, then upgraded like any other.
PREVIOUS_RELEASE = {
    "admin": {"id", "email", "display_name", "password_hash", "active", "created_at", "last_login_at"},
    "cohort": {"id", "slug", "title", "capacity", "starts_on", "timezone", "location", "application_deadline",
               "applications_open", "fee_text", "created_at"},
    "meeting": {"id", "cohort_id", "kind", "sequence", "starts_at", "ends_at", "location", "revision"},
    "application": {"id", "cohort_id", "token", "submission_id", "first_name", "last_name", "email", "email_key",
                    "phone", "pronouns", "home_area", "answers", "consent_version", "consented_at",
                    "health_consent_at", "knows_applicants", "referral", "status", "created_at",
                    "status_changed_at", "accepted_at", "waitlisted_at", "declined_at", "enrolled_at",
                    "withdrawn_at", "confirm_by"},
    "outbox_message": {"id", "kind", "dedupe_key", "to_address", "subject", "text_body", "html_body", "attachments",
                       "application_id", "status", "attempts", "next_attempt_at", "locked_until", "claimed_by",
                       "last_error", "created_at", "sent_at"},
    "note": {"id", "application_id", "admin_id", "body", "created_at"},
    "audit_event": {"id", "at", "actor", "admin_id", "action", "application_id", "cohort_id", "from_status",
                    "to_status", "detail"},
}


def alembic_config():
    return current_app.extensions["migrate"].migrate.get_config()


def upgrade() -> bool:
    """Create the schema, or bring it up to this release's newest revision.

    The same as `flask --app resilience db upgrade`. Returns True when the database was
    the previous release's and was recognised on the way; raises SchemaError (nothing
    changed) for a database this release does not recognise.
    """
    config = alembic_config()
    command.upgrade(config, "head")
    return bool(config.attributes.get("adopted"))


def current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def before_migrations(connection: sa.Connection) -> None:
    """SQLite rebuilds a table to alter it: foreign keys must not act while the old copy is dropped."""
    if connection.dialect.name == "sqlite":
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")


def check_after_migrations(connection: sa.Connection) -> None:
    """Refuse to commit an upgrade that left a row pointing nowhere (SQLite cannot check during it)."""
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise SchemaError(f"The upgrade would leave {len(broken)} rows pointing at missing rows "
                              f"(first in table {broken[0][0]}). Nothing was changed.")


def after_migrations(connection: sa.Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def check_known_revisions(migration_context: MigrationContext, script: ScriptDirectory) -> None:
    for head in migration_context.get_current_heads():
        try:
            script.get_revision(head)
        except Exception:
            raise SchemaError(
                f"This database is at schema revision {head!r}, which this release does not know: a newer "
                "release has upgraded it. Nothing was changed. Run that release (or a newer one), or restore "
                "the backup taken before that upgrade."
            ) from None


def adopt_previous_release(migration_context: MigrationContext, script: ScriptDirectory) -> bool:
    """Stamp a database the release before migrations created as the baseline (True), after
    checking that its tables and columns are exactly that release's.

    A database with none of our tables is new (False). Anything else raises SchemaError.
    """
    connection = migration_context.connection
    if migration_context.get_current_heads():
        return False
    tables = set(sa.inspect(connection).get_table_names())
    if not tables & PREVIOUS_RELEASE.keys():
        return False
    differences = previous_release_differences(connection)
    if differences:
        raise SchemaError(
            "This database has tables but no record of schema migrations, and they are not the tables of the "
            "release before migrations (" + "; ".join(differences) + "). Nothing was changed. Check that "
            "RESILIENCE_SQLALCHEMY_DATABASE_URI names this site's database, or restore it from a backup."
        )
    migration_context.stamp(script, BASELINE)
    return True


def previous_release_differences(connection: sa.Connection) -> list[str]:
    inspector = sa.inspect(connection)
    tables = set(inspector.get_table_names())
    differences = []
    for table, expected in PREVIOUS_RELEASE.items():
        if table not in tables:
            differences.append(f"no table {table}")
            continue
        found = {column["name"] for column in inspector.get_columns(table)}
        differences += [f"no column {table}.{name}" for name in sorted(expected - found)]
        differences += [f"an unexpected column {table}.{name}" for name in sorted(found - expected)]
    return differences
