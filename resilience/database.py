"""The database: settings that make SQLite a safe embedded default, and upgrades of the
schema (Alembic revisions under migrations/, run by `db upgrade` and `init-db`)."""
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import Flask, abort, current_app, request

from .extensions import db


def init_app(app: Flask) -> None:
    app.before_request(refuse_while_behind)
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


def outbox_worker_commits() -> None:
    """For an outbox worker's process alone, on SQLite: its commits stop waiting for the disk
    (synchronous=NORMAL in WAL mode: the database stays whole; a power cut may undo its last
    few records of emails sent, which are then sent again, with the same Message-ID, as after
    a crash between sending and recording). The site's own writes, such as an application just
    sent, keep waiting for the disk."""
    engine = db.engine
    if engine.dialect.name == "sqlite":
        engine.dispose()  # connections opened from now on
        sa.event.listen(engine, "connect", lambda connection, _record: connection.execute("PRAGMA synchronous=NORMAL"))


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


@contextmanager
def rollback_on(*errors):
    """Roll the transaction back (ending it and its locks) when one of these is raised, then raise it:
    a refused change changes nothing."""
    try:
        yield
    except errors:
        db.session.rollback()
        raise


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


@dataclass(frozen=True)
class Upgrade:
    before: str | None  # the revision found (once no other upgrade was running)
    adopted: bool       # a database of the release before migrations, recognised on the way


def upgrade() -> Upgrade:
    """Create the schema, or bring it up to this release's newest revision.

    The same as `flask --app resilience db upgrade`; raises SchemaError (nothing changed)
    for a database this release does not recognise.
    """
    config = alembic_config()
    command.upgrade(config, "head")
    return Upgrade(config.attributes.get("before"), bool(config.attributes.get("adopted")))


def current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_is_current() -> bool:
    """Whether the database is at this release's newest revision (remembered once it is)."""
    if current_app.extensions.get("schema_is_current"):
        return True
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    current_app.extensions["schema_is_current"] = current_revision() == head
    return current_app.extensions["schema_is_current"]


def refuse_while_behind():
    """Between installing a release and `db upgrade`, the site answers every request with a
    calm "being updated" page: new code never writes into the old tables."""
    if (current_app.config["CHECK_SCHEMA"] and request.endpoint not in ("static", "health.healthz")
            and not schema_is_current()):
        abort(503)


def before_migrations(connection: sa.Connection) -> None:
    """Ready a connection for an upgrade: on SQLite, foreign keys must not act while a table's
    old copy is dropped, and the upgrade takes the write lock before it reads anything."""
    if connection.dialect.name == "sqlite":
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        connection.execution_options(sqlite_begin="BEGIN IMMEDIATE")


MIGRATION_LOCK = 7_374_101  # any number of our own: PostgreSQL's lock for "an upgrade is running"


def one_upgrade_at_a_time(connection: sa.Connection) -> None:
    """A second upgrade started meanwhile waits, then finds the work done (SQLite: BEGIN IMMEDIATE)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")


def dangling_rows(connection: sa.Connection) -> int:
    """Rows pointing at missing rows (SQLite cannot check them while an upgrade runs)."""
    if connection.dialect.name != "sqlite":
        return 0
    return len(connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall())


def check_after_migrations(connection: sa.Connection, dangling_before: int) -> None:
    """Refuse to commit an upgrade that left more rows pointing nowhere than it found."""
    broken = dangling_rows(connection)
    if broken > dangling_before:
        raise SchemaError(f"The upgrade would leave {broken - dangling_before} more rows pointing at missing rows. "
                          "Nothing was changed.")


def after_migrations(connection: sa.Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def check_known_revisions(migration_context: MigrationContext, script: ScriptDirectory) -> None:
    for head in migration_context.get_current_heads():
        try:
            script.get_revision(head)
        except CommandError:
            raise SchemaError(
                f"This database is at schema revision {head!r}, which this release does not know: a newer "
                "release has upgraded it. Nothing was changed. Run that release (or a newer one), or restore "
                "the backup taken before that upgrade."
            ) from None


def refuse_to_stamp_previous_release(migration_context: MigrationContext) -> None:
    """Stamping a database of the release before migrations would skip what its rows need."""
    if not migration_context.get_current_heads() and _has_previous_release_tables(migration_context.connection):
        raise SchemaError("This database was made by the release before migrations: `flask --app resilience db "
                          "upgrade` recognises it and upgrades its rows too, which stamping would skip. "
                          "Nothing was changed.")


def _has_previous_release_tables(connection: sa.Connection) -> bool:
    return bool(set(sa.inspect(connection).get_table_names()) & PREVIOUS_RELEASE.keys())


def adopt_previous_release(migration_context: MigrationContext, script: ScriptDirectory) -> bool:
    """Stamp a database the release before migrations created as the baseline (True), after
    checking that its tables and columns are exactly that release's.

    A database with none of our tables is new (False). Anything else raises SchemaError.
    """
    connection = migration_context.connection
    if migration_context.get_current_heads() or not _has_previous_release_tables(connection):
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
