"""Defects found in review, each pinned by a test that failed before its fix."""
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from conftest import NOW, applications
from resilience import enrolment, outbox
from resilience.extensions import db
from resilience.models import OutboxMessage


def test_an_email_with_an_accent_in_the_local_part_is_refused_clearly(app, client, make_cohort, form_data):
    slug = make_cohort()
    response = client.post("/apply", data=form_data(slug, email="zoë@example.org"))
    assert response.status_code == 422
    assert "Please enter an email address like name@example.com." in response.get_data(as_text=True)
    assert applications(app) == []


def test_a_message_the_mail_library_cannot_encode_fails_alone_and_the_rest_go_out(app, make_cohort):
    make_cohort()
    with app.app_context():
        for n, address in enumerate(["zoë@example.org", "sam@example.org"]):
            db.session.add(OutboxMessage(kind="received", dedupe_key=f"k{n}", to_address=address, subject="Hello",
                                         text_body="Hi", html_body="<p>Hi</p>", next_attempt_at=NOW, created_at=NOW))
        db.session.commit()
        report = outbox.deliver_due()
        assert (report.sent, report.failed) == (1, 1)
        failed = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.status == "failed"))
        assert failed.to_address == "zoë@example.org" and "Error" in failed.last_error


def test_an_expired_claim_past_the_attempt_limit_is_failed_not_sent_again(app, make_cohort):
    make_cohort()
    with app.app_context():
        db.session.add(OutboxMessage(kind="received", dedupe_key="k", to_address="sam@example.org", subject="Hello",
                                     text_body="Hi", html_body="<p>Hi</p>", status="sending",
                                     attempts=outbox.MAX_ATTEMPTS, locked_until=NOW - timedelta(minutes=1),
                                     next_attempt_at=NOW, created_at=NOW))
        db.session.commit()
        report = outbox.deliver_due()
        assert report.sent == 0
        assert db.session.scalar(sa.select(OutboxMessage.status)) == "failed"


def test_inline_validation_does_not_reveal_who_has_applied(htmx_client, make_cohort, make_application, form_data):
    slug = make_cohort()
    make_application(slug, email="alex@example.org")
    html = htmx_client.post("/apply/validate?field=email", data=form_data(slug)).get_data(as_text=True)
    assert "already" not in html and "field--error" not in html


def test_a_duplicate_submission_sends_the_real_owner_their_status_link(app, client, make_cohort, make_application,
                                                                      form_data):
    slug = make_cohort()
    first = make_application(slug, email="alex@example.org")
    response = client.post("/apply", data=form_data(slug, email="Alex@Example.org"))
    assert response.status_code == 422
    assert "emailed the private status link to that address" in response.get_data(as_text=True)
    with app.app_context():
        [reminder] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "status_link")).all()
        assert reminder.to_address == "alex@example.org" and reminder.application_id == first
    assert len(applications(app)) == 1


def test_back_button_resubmission_with_a_changed_cohort_is_a_new_application(app, client, make_cohort, form_data):
    first, second = make_cohort(), make_cohort()
    data = form_data(first)
    one = client.post("/apply", data=data)
    two = client.post("/apply", data={**data, "cohort": second})
    assert one.status_code == two.status_code == 303
    assert one.headers["Location"] != two.headers["Location"]
    assert sorted(a.cohort_id for a in applications(app)) == [1, 2]


@pytest.mark.parametrize("referer", ["http://[oops", "http://[::1", "https://x]/"])
def test_a_malformed_referer_is_ignored(client, make_cohort, referer):
    make_cohort()
    assert client.get("/apply", headers={"Referer": referer}).status_code == 200


def test_subjects_are_plain_text_not_html(app, make_cohort, make_application):
    slug = make_cohort(title="Partners & Parents' cohort")
    application_id = make_application(slug)
    app.config["ADMIN_EMAILS"] = ["ana@practice.example"]
    with app.app_context():
        application = db.session.get(__import__("resilience.models", fromlist=["Application"]).Application,
                                     application_id)
        enrolment.notify(application, "received")
        db.session.commit()
        subjects = db.session.scalars(sa.select(OutboxMessage.subject).order_by(OutboxMessage.id)).all()
    assert subjects == ["We have your application", "New application for the Partners & Parents' cohort"]


def test_deadline_is_counted_in_the_cohorts_own_time_zone(app, client, make_cohort):
    slug = make_cohort(application_deadline=date(2026, 12, 1), timezone="America/Los_Angeles")
    # 03:00 UTC on December 2 is still 7 pm on December 1 in Los Angeles: open
    app.config["NOW"] = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)
    assert f'href="/apply?cohort={slug}"' in client.get("/").get_data(as_text=True)
    # 08:30 UTC is 00:30 on December 2 there: closed
    app.config["NOW"] = datetime(2026, 12, 2, 8, 30, tzinfo=timezone.utc)
    assert "The application deadline for this cohort has passed." in client.get("/").get_data(as_text=True)
