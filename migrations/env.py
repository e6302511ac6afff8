"""Alembic's environment for `flask --app resilience db …` and `init-db`.

The whole upgrade runs in one transaction (SQLite and PostgreSQL both roll DDL back), so
a failed upgrade leaves the database as it was. A database the release before migrations
created is recognised and stamped as the baseline first (resilience/database.py).
"""
import logging

from alembic import context
from flask import current_app
from sqlalchemy.exc import OperationalError

from resilience import database

log = logging.getLogger("alembic.env")
_alembic = logging.getLogger("alembic")
if not current_app.testing and all(isinstance(h, logging.NullHandler) for h in _alembic.handlers):
    # Say what is being done when run from the command line (Alembic itself only adds a NullHandler).
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(message)s"))
    _handler.addFilter(lambda record: not record.getMessage().startswith(("Context impl", "Will assume")))
    _alembic.addHandler(_handler)
    _alembic.setLevel(logging.INFO)


def render_item(type_, obj, autogen_context):
    """New revisions spell the site's own column types as what they store, so they stay frozen."""
    if type_ == "type" and obj.__class__.__module__ == "resilience.models":
        return f"sa.{obj.impl!r}"
    return False


def run_migrations_online():
    migrate = current_app.extensions["migrate"]
    with migrate.db.engine.connect() as connection:
        database.before_migrations(connection)
        try:
            context.configure(connection=connection, target_metadata=migrate.db.metadata,
                              transactional_ddl=True, render_item=render_item, **migrate.configure_args)
            with context.begin_transaction():
                database.one_upgrade_at_a_time(connection)
                migration_context = context.get_context()
                database.check_known_revisions(migration_context, context.script)
                context.config.attributes["before"] = migration_context.get_current_revision()
                # Which command runs decides what a database of the previous release needs.
                command = getattr(migration_context.opts.get("fn"), "__name__", "")
                if command == "upgrade" and database.adopt_previous_release(migration_context, context.script):
                    log.info("Recognised a database of the release before migrations; "
                             "checked it and marked it as revision %s.", database.BASELINE)
                    context.config.attributes["adopted"] = True
                elif command == "do_stamp":
                    database.refuse_to_stamp_previous_release(migration_context)
                dangling = database.dangling_rows(connection)
                context.run_migrations()
                database.check_after_migrations(connection, dangling)
        except OperationalError as error:
            if "locked" not in str(error):
                raise
            raise database.SchemaError("Another upgrade of this database is running, or the site is busy writing "
                                       "to it. Nothing was changed: run the upgrade again in a moment.") from None
        finally:
            database.after_migrations(connection)


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported: run them against the database.")
run_migrations_online()
