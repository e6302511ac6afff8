"""The waitlist's order: people join at its end and the clinicians may reorder it; a
waitlisted person is told honestly where they are in line and whether seats are open."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW

from resilience import enrolment
from resilience.extensions import db
from resilience.models import Admin, Application, AuditEvent, OutboxMessage


def waitlist(app, application_id) -> str:
    """A clinician waitlists the application; returns the email's text, as read."""
    with app.app_context():
        enrolment.change_status(application_id, "waitlisted", actor="admin")
        body = db.session.scalar(sa.select(OutboxMessage.text_body).where(
            OutboxMessage.application_id == application_id, OutboxMessage.kind == "waitlisted")
            .order_by(OutboxMessage.id.desc()).limit(1))
    return " ".join(body.split())


def in_line(app, make_application, slug, count) -> list[int]:
    """`count` people applied an hour apart and were waitlisted in that order."""
    people = [make_application(slug, created_at=NOW + timedelta(hours=n)) for n in range(count)]
    for application_id in people:
        waitlist(app, application_id)
    return people


def positions(app, *application_ids) -> list[int | None]:
    with app.app_context():
        return [enrolment.waitlist_position(db.session.get(Application, i)) for i in application_ids]


def move(app, application_id, steps, admin_id):
    with app.app_context():
        application = db.session.get(Application, application_id)
        return enrolment.move_in_waitlist(application.cohort_id, application_id, steps,
                                          db.session.get(Admin, admin_id))


def test_people_are_in_line_in_the_order_they_joined_it(app, make_cohort, make_application):
    slug = make_cohort()
    first, second = in_line(app, make_application, slug, 2)
    pending = make_application(slug, status="pending")
    assert positions(app, first, second, pending) == [1, 2, None]
    # Applied before both, waitlisted after them: no one already waiting moves back.
    early_bird = make_application(slug, created_at=NOW - timedelta(days=3))
    waitlist(app, early_bird)
    assert positions(app, first, second, early_bird) == [1, 2, 3]


def test_the_status_page_says_where_in_line_the_applicant_is(app, client, make_cohort, make_application):
    _, second = in_line(app, make_application, make_cohort(), 2)
    with app.app_context():
        token = db.session.get(Application, second).token
    page = " ".join(client.get(f"/status/{token}").get_data(as_text=True).split())
    assert "You are <strong>2nd in line</strong>." in page


def test_the_waitlisted_email_says_the_place_in_line_and_that_seats_are_still_open(
        app, make_cohort, make_application):
    slug = make_cohort()
    make_application(slug, status="accepted")
    in_line(app, make_application, slug, 1)
    text = waitlist(app, make_application(slug, status="screening"))
    assert "You are 2nd in line." in text
    assert "5 of 6 seats are not taken yet" in text
    assert "All 6 seats are taken" not in text


def test_the_waitlisted_email_says_so_when_the_cohort_is_full(app, make_cohort, make_application):
    slug = make_cohort(capacity=2)
    make_application(slug, status="accepted")
    make_application(slug, status="enrolled")
    text = waitlist(app, make_application(slug, status="pending"))
    assert "You are 1st in line." in text
    assert "All 2 seats are taken right now." in text
    assert "not taken yet" not in text


def test_clinicians_reorder_the_line_and_it_is_audited(app, make_admin, make_cohort, make_application):
    admin_id = make_admin()
    first, second, third = in_line(app, make_application, make_cohort(), 3)
    assert move(app, third, -2, admin_id) == 1
    assert positions(app, first, second, third) == [2, 3, 1]
    assert move(app, first, +5, admin_id) == 3  # as far down as the line goes
    assert positions(app, first, second, third) == [3, 2, 1]
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "waitlist reordered")
                                    .order_by(AuditEvent.id)).all()
        assert [(e.application_id, e.admin.display_name, e.detail) for e in events] == [
            (third, "Dr. Ana Reyes", "now 1 of 3"), (first, "Dr. Ana Reyes", "now 3 of 3")]


def test_newcomers_join_after_the_people_the_clinicians_ranked(app, make_admin, make_cohort, make_application):
    admin_id = make_admin()
    slug = make_cohort()
    first, second = in_line(app, make_application, slug, 2)
    move(app, second, -1, admin_id)
    newcomer = make_application(slug, created_at=NOW - timedelta(days=3))
    waitlist(app, newcomer)
    assert positions(app, second, first, newcomer) == [1, 2, 3]


def test_someone_no_longer_waiting_cannot_be_moved(app, make_admin, make_cohort, make_application):
    admin_id = make_admin()
    accepted = make_application(make_cohort(), status="accepted")
    with pytest.raises(enrolment.RefusedChange) as refused:
        move(app, accepted, -1, admin_id)
    assert refused.value.message == "This application is no longer on the waitlist. Nothing was changed."
