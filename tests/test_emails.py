"""Every email kind, delivered through the outbox to a real SMTP server on loopback."""
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import flask_login
import pytest
import sqlalchemy as sa
from conftest import ADMINS, NOW, applications, deliver, emailed_status_path, over_smtp
from icalendar import Calendar

from resilience import enrolment, outbox
from resilience.extensions import db
from resilience.models import Admin, Application, Cohort
from resilience.status import Status

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def app_config(app_config, smtp):
    return over_smtp(app_config, smtp)


def parts(message) -> tuple[str, str]:
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


def attachment(message, filename):
    [found] = [part for part in message.iter_attachments() if part.get_filename() == filename]
    return found


def assert_house_rules(message, to):
    """What every email must do: one recipient, neutral subject, both parts, the emergency footer."""
    assert message["To"] == to and "," not in message["To"]
    assert "ketamine" not in message["Subject"].lower()
    assert message["From"] == "Rediscovering Resilience <hello@example.org>"
    text, html = parts(message)
    for body in (text, html):
        assert "not watched for emergencies" in body
        assert "988" in body


def apply(client, make_cohort, form_data, **overrides):
    slug = make_cohort(title="Winter 2027 cohort", starts_on=date(2027, 1, 12))
    response = client.post("/apply", data=form_data(slug, **overrides))
    assert response.status_code == 303
    return slug, emailed_status_path(client.application)


def change_status(app, application_id, status):
    """A decision through the rules, as a clinician's click makes it."""
    with app.app_context():
        enrolment.change_status(application_id, Status(status), actor="admin", evaluated=True)


def test_received_email_reaches_the_applicant_with_a_working_status_link(app, client, smtp, make_cohort, form_data):
    _, status_path = apply(client, make_cohort, form_data, medications="Sertraline 50mg",
                           intention="My private reasons")
    assert smtp.messages == []  # nothing is sent inside the web request
    assert deliver(app).sent == 3

    [message] = smtp.to("alex@example.org")
    assert_house_rules(message, "alex@example.org")
    assert message["Subject"] == "We have your application"
    text, html = parts(message)
    # Nothing typed into the form goes to an address not yet known to be the applicant's.
    assert text.startswith("Hello,") and "Alex" not in text + html and "Morgan" not in text + html
    link = f"https://resilience.example{status_path}"
    assert link in text and f'href="{link}"' in html
    assert "Applying is not acceptance" in text
    for body in (text, html):
        assert "Sertraline" not in body and "My private reasons" not in body and "Rivera" not in body
    assert "Thank you, Alex." in client.get(link.removeprefix("https://resilience.example")).get_data(as_text=True)


def test_each_admin_gets_a_link_to_the_application_and_no_answers(app, client, smtp, make_cohort, form_data):
    apply(client, make_cohort, form_data, medications="Sertraline 50mg")
    deliver(app)
    [application] = applications(app)
    for admin in ADMINS:
        [message] = smtp.to(admin)
        assert_house_rules(message, admin)
        assert message["Subject"] == "New application for the Winter 2027 cohort"
        text, html = parts(message)
        assert f"https://resilience.example/admin/applications/{application.id}" in text
        for body in (text, html):
            assert "Sertraline" not in body and "Alex" not in body and "alex@example.org" not in body


def test_links_never_come_from_the_request_host(app, client, smtp, make_cohort, form_data):
    slug = make_cohort()
    client.post("/apply", data=form_data(slug), headers={"Host": "evil.example"})
    deliver(app)
    [message] = smtp.to("alex@example.org")
    assert "evil.example" not in parts(message)[0]


def test_an_email_reads_the_same_whoever_is_signed_in_when_it_is_written(app, make_admin, make_cohort,
                                                                        make_application):
    """An email shows only what it is given: nothing of the request it was written in (the
    clinician signed in, the page's own facts), so a clinician's action and the scheduled run
    write the same words."""
    application_id = make_application(make_cohort())
    admin_id = make_admin()
    written = []
    for signed_in in (False, True):
        with app.test_request_context("/admin/"):
            if signed_in:
                flask_login.login_user(db.session.get(Admin, admin_id))
            parts = outbox.compose("received", application=db.session.get(Application, application_id))
            written.append((parts["subject"], parts["text_body"], parts["html_body"]))
    assert written[0] == written[1]


def test_accepted_email_lists_ten_meetings_confirm_by_and_ride_home_with_an_ics(
        app, client, smtp, make_cohort, form_data):
    apply(client, make_cohort, form_data)
    [application] = applications(app)
    change_status(app, application.id, "accepted")  # five days to confirm: December 1, 10 am in New York
    deliver(app)

    [accepted] = [m for m in smtp.to("alex@example.org") if m["Subject"].startswith("A place")]
    assert_house_rules(accepted, "alex@example.org")
    assert accepted["Subject"] == "A place is offered to you in the Winter 2027 cohort"
    text, html = parts(accepted)
    assert "by Tuesday, December 1, 2026 at 10:00 am EST" in text
    assert "Tue, Jan 12, 6:00 – 8:00 pm EST: Preparation meeting 1 (online)" in text
    assert "Sat, Jan 23, 9:30 am – 1:30 pm EST: Session day 1" in text
    assert text.count("\n- ") == 10
    assert "a sober adult you trust must take you home" in " ".join(text.split())
    assert "Session day 1" in html and "sober adult" in html

    ics = attachment(accepted, "meetings.ics")
    assert ics.get_content_type() == "text/calendar"
    calendar = Calendar.from_ical(ics.get_content())
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 10
    first = events[0]
    assert first.decoded("dtstart") == datetime(2027, 1, 12, 18, 0, tzinfo=NEW_YORK)
    assert first.decoded("dtstart").tzinfo.key == "America/New_York"
    assert events[3].decoded("dtstart") == datetime(2027, 1, 23, 9, 30, tzinfo=NEW_YORK)
    assert len({str(e["uid"]) for e in events}) == 10
    assert all("ketamine" not in str(e["summary"]).lower() for e in events)
    assert str(events[3]["summary"]) == "Rediscovering Resilience: Session day 1"
    [alarm] = list(first.walk("VALARM"))
    assert alarm.decoded("trigger") == timedelta(days=-1)
    assert calendar.walk("VTIMEZONE")[0]["tzid"] == "America/New_York"


def test_waitlisted_email_is_honest_and_says_how_to_withdraw(app, client, smtp, make_cohort, form_data):
    apply(client, make_cohort, form_data)
    [application] = applications(app)
    change_status(app, application.id, "waitlisted")
    deliver(app)
    [message] = [m for m in smtp.to("alex@example.org") if "waitlist" in m["Subject"]]
    assert_house_rules(message, "alex@example.org")
    text, _ = parts(message)
    assert "We cannot promise a place" in text
    assert "you can withdraw at any time" in text


def test_declined_email_is_kind_and_carries_no_clinical_detail(app, client, smtp, make_cohort, form_data):
    apply(client, make_cohort, form_data, psychosis="yes", psychosis_detail="Bipolar II, stable since 2019",
          health_notes="History of mania")
    [application] = applications(app)
    change_status(app, application.id, "declined")
    deliver(app)
    [message] = [m for m in smtp.to("alex@example.org") if m["Subject"] == "About your application"]
    assert_house_rules(message, "alex@example.org")
    text, html = parts(message)
    assert "not a judgement of you" in text and "1-800-662-4357" in text
    for body in (text, html):
        for clinical in ("mania", "psychosis", "bipolar", "blood pressure", "medication", "contraindicat"):
            assert clinical not in body.lower()


def test_withdrawal_of_a_seat_holder_tells_admins_who_is_first_on_the_waitlist(
        app, client, smtp, make_cohort, make_application, form_data):
    slug, _ = apply(client, make_cohort, form_data)
    [holder] = applications(app)
    later = make_application(slug, status="waitlisted", first_name="Zed", last_name="Young",
                             created_at=NOW + timedelta(hours=2))
    earlier = make_application(slug, status="waitlisted", first_name="Yara", last_name="Quinn",
                               created_at=NOW + timedelta(hours=1))
    change_status(app, holder.id, "accepted")
    change_status(app, holder.id, "withdrawn")
    smtp.messages.clear()
    deliver(app)

    [withdrawn] = [m for m in smtp.to("alex@example.org") if "withdrawn" in m["Subject"]]
    assert_house_rules(withdrawn, "alex@example.org")
    for admin in ADMINS:
        [freed] = [m for m in smtp.to(admin) if m["Subject"] == "A seat is free in the Winter 2027 cohort"]
        assert_house_rules(freed, admin)
        text, _ = parts(freed)
        assert "Yara Q." in text and "Zed" not in text
        assert f"/admin/applications/{earlier}" in text and f"/admin/applications/{later}" not in text


def test_withdrawal_while_pending_does_not_tell_admins_about_a_seat(app, client, smtp, make_cohort, form_data):
    apply(client, make_cohort, form_data)
    deliver(app)
    smtp.messages.clear()
    [application] = applications(app)
    change_status(app, application.id, "withdrawn")
    deliver(app)
    assert [m["Subject"] for _, m in smtp.messages] == ["Your application has been withdrawn"]


def test_the_same_event_never_mails_twice(app, client, smtp, make_cohort, form_data):
    apply(client, make_cohort, form_data)
    [application] = applications(app)
    with app.app_context():
        application = db.session.get(Application, application.id)
        enrolment.application_received(application)
        enrolment.application_received(application)
        db.session.commit()
    deliver(app)
    assert len(smtp.to("alex@example.org")) == 1


def test_reminders_go_to_enrolled_participants_once_48_hours_ahead(app, smtp, runner, make_cohort, make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    enrolled = make_application(slug, status="enrolled", email="enrolled@example.org")
    make_application(slug, status="accepted", email="accepted@example.org")
    make_application(slug, status="pending", email="pending@example.org")
    # 40 hours before the first ketamine session (Sat, Jan 23, 9:30 am EST = 14:30 UTC)
    app.config["NOW"] = datetime(2027, 1, 21, 22, 30, tzinfo=UTC)

    assert "Queued 1 reminder." in runner.invoke(args=["send-reminders"]).output
    assert "Queued 0 reminders." in runner.invoke(args=["send-reminders"]).output
    deliver(app)
    [reminder] = smtp.to("enrolled@example.org")
    assert_house_rules(reminder, "enrolled@example.org")
    assert reminder["Subject"] == "Reminder: session day 1 on Sat, Jan 23"
    text, _ = parts(reminder)
    assert "Saturday, January 23, 2027, 9:30 am – 1:30 pm EST" in text
    assert "a sober adult you trust must take you home" in " ".join(text.split())
    assert smtp.to("accepted@example.org") == smtp.to("pending@example.org") == []
    with app.app_context():
        assert db.session.get(Application, enrolled).email == "enrolled@example.org"


def test_evening_meeting_reminder_has_no_ride_home_rule(app, smtp, runner, make_cohort, make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    make_application(slug, status="enrolled", email="enrolled@example.org")
    app.config["NOW"] = datetime(2027, 1, 11, 12, 0, tzinfo=UTC)
    runner.invoke(args=["send-reminders"])
    deliver(app)
    [reminder] = smtp.to("enrolled@example.org")
    assert reminder["Subject"] == "Reminder: preparation meeting 1 on Tue, Jan 12"
    assert "sober adult" not in parts(reminder)[0]


def test_moving_a_meeting_sends_an_updated_invite_with_the_same_uid(app, smtp, make_cohort, make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    make_application(slug, status="enrolled", email="enrolled@example.org")
    make_application(slug, status="accepted", email="accepted@example.org")
    make_application(slug, status="waitlisted", email="waiting@example.org")
    with app.app_context():
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))
        meeting = next(m for m in cohort.meetings if m.kind == "ketamine")
        new_start = datetime(2027, 1, 24, 10, 0, tzinfo=NEW_YORK).astimezone(UTC)
        enrolment.change_meeting(meeting, new_start, new_start + timedelta(hours=4))
        db.session.commit()
        original_uid = f"meeting-{meeting.id}@resilience.example"
    deliver(app)

    for address in ("enrolled@example.org", "accepted@example.org"):
        [message] = smtp.to(address)
        assert_house_rules(message, address)
        assert message["Subject"] == "New time for session day 1"
        assert "Sunday, January 24, 2027, 10:00 am – 2:00 pm EST" in parts(message)[0]
        [event] = Calendar.from_ical(attachment(message, "meeting-update.ics").get_content()).walk("VEVENT")
        assert str(event["uid"]) == original_uid
        assert event["sequence"] == 1
        assert event.decoded("dtstart") == datetime(2027, 1, 24, 10, 0, tzinfo=NEW_YORK)
    assert smtp.to("waiting@example.org") == []


@pytest.mark.parametrize("kind, subject, words", [
    ("status_link", "Your application is already with us", "Your application is already with us"),
    ("enrolled", "Your place in the Winter 2027 cohort is confirmed", "The first meeting is on Tuesday, January 12, 2027"),
    ("offer_reopened", "About the place we offered you", "one of them will be in touch"),
])
def test_the_other_applicant_emails_follow_the_house_rules(app, smtp, make_cohort, make_application,
                                                            kind, subject, words):
    slug = make_cohort(title="Winter 2027 cohort", starts_on=date(2027, 1, 12))
    application_id = make_application(slug, email="maya@example.org", first_name="Maya", last_name="Okafor")
    with app.app_context():
        application = db.session.get(Application, application_id)
        outbox.enqueue(kind, application.email, f"test:{kind}", application=application)
        db.session.commit()
        token = application.token
    deliver(app)
    [message] = smtp.to("maya@example.org")
    assert_house_rules(message, "maya@example.org")
    assert message["Subject"] == subject
    text, html = parts(message)
    assert "Hello Maya," in text and "Okafor" not in text and "Okafor" not in html
    assert words in " ".join(text.split())
    assert f"https://resilience.example/status/{token}" in text


def test_subjects_are_plain_text_not_html(app, client, smtp, make_cohort, form_data):
    slug = make_cohort(title="Partners & Parents' cohort")
    client.post("/apply", data=form_data(slug))
    deliver(app)
    assert sorted({m["Subject"] for _, m in smtp.messages}) == [
        "New application for the Partners & Parents' cohort", "We have your application"]
