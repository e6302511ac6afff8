"""Lookups made on every application sent use the index made for them, however many
applications there are (SQLite's plan; PostgreSQL's planner chooses by its statistics)."""
import pytest
import sqlalchemy as sa

from resilience import enrolment
from resilience.enrolment import applying
from resilience.extensions import db


def plan(app, call) -> str:
    """The query plan of the one statement `call` runs."""
    seen = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's query plan")
        sa.event.listen(db.engine, "before_cursor_execute", remember)
        try:
            call()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", remember)
        statement, parameters = seen[-1]
        rows = db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        return " / ".join(row[-1] for row in rows)


def test_finding_someones_application_in_play_uses_the_one_per_person_index(app, make_cohort):
    slug = make_cohort()

    def find():
        applying.active_application(enrolment.cohort_by_slug(slug), "alex@example.org")

    assert "one_active_application_per_email" in plan(app, find)
