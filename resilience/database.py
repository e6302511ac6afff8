"""Connection settings that make SQLite a safe embedded default."""
import sqlalchemy as sa
from flask import Flask

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


def create_tables() -> None:
    from . import models  # noqa: F401  (registers the tables)

    db.create_all()
