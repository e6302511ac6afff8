"""Lookups made on every application sent use the index made for them, however many
applications there are (SQLite's plan; PostgreSQL's planner chooses by its statistics)."""
import pytest
import sqlalchemy as sa

from resilience import enrolment
from resilience.enrolment import applying, seats
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


def test_an_application_sent_looks_up_its_form_and_its_person_each_in_its_own_index(app, make_cohort):
    """Whether this very form was stored already, and whether this person has an application
    in play for this cohort: one statement, each half answered from its index."""
    slug = make_cohort()

    def find():
        applying.stored_before("f" * 32, enrolment.cohort_by_slug(slug), "alex@example.org")

    found = plan(app, find)
    assert "one_active_application_per_email" in found and "(submission_id=?)" in found and "SCAN" not in found


def test_the_first_few_in_each_waitlist_are_read_from_an_index_not_sorted(app, make_cohort):
    """The dashboard shows each waitlist's first five: a few index entries, however long the line."""
    slugs = [make_cohort(), make_cohort()]
    with app.app_context():
        cohort_ids = [enrolment.cohort_by_slug(slug).id for slug in slugs]
    found = plan(app, lambda: enrolment.waitlists_by_cohort(cohort_ids, first=5))
    assert "application_waitlist_line" in found and "TEMP B-TREE" not in found


def test_conversations_ahead_are_found_from_the_times_of_the_slots(app, make_cohort):
    """The dashboard's conversations to come: read from the slots ahead, not from every applicant."""
    slug = make_cohort()
    with app.app_context():
        cohort_ids = [enrolment.cohort_by_slug(slug).id]
    found = plan(app, lambda: enrolment.conversations_ahead_by_cohort(cohort_ids))
    assert found.startswith("SEARCH screening_slot USING INDEX screening_slot_ahead")


def test_a_meetings_roster_reads_its_participants_and_those_marked_not_the_whole_cohort(
        app, make_cohort, make_application, make_admin):
    """Enrolled people from the index of statuses, people marked by their ids: never every
    applicant to the cohort."""
    from conftest import NOW

    from resilience.models import Attendance, Meeting

    slug = make_cohort()
    person = make_application(slug, status="enrolled", accepted_at=NOW, enrolled_at=NOW)
    admin_id = make_admin()
    with app.app_context():
        meeting = db.session.scalar(sa.select(Meeting).where(Meeting.cohort_id == enrolment.cohort_by_slug(slug).id)
                                    .order_by(Meeting.starts_at).limit(1))
        db.session.add(Attendance(meeting_id=meeting.id, application_id=person, mark="attended", admin_id=admin_id))
        db.session.commit()
        meeting_id = meeting.id
    found = plan(app, lambda: enrolment.roster(db.session.get(Meeting, meeting_id)))
    assert "MULTI-INDEX OR" in found and "(cohort_id=? AND status=?)" in found and "(rowid=?)" in found


def test_a_cohorts_participants_are_read_from_the_index_of_statuses_not_the_whole_cohort(app, make_cohort):
    """Whom a cohort's emails reach (its seats): a few index entries, however many applied."""
    slug = make_cohort()
    found = plan(app, lambda: seats.participants(enrolment.cohort_by_slug(slug)))
    assert "application_waitlist_line (cohort_id=? AND status=?)" in found
