"""Every email kind, delivered through the outbox to a real SMTP server on loopback."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from conftest import NOW, applications
from resilience import enrolment, outbox
from resilience.extensions import db
from resilience.models import Application, Cohort, OutboxMessage

ADMINS = ["ana@practice.example", "ben@practice.example"]
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def app_config(app_config, smtp):
    return {**app_config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "ADMIN_EMAILS": ADMINS,
            "PUBLIC_URL": "https://resilience.example"}


def deliver(app) -> outbox.DeliveryReport:
    with app.app_context():
        return outbox.deliver_due()


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
    return slug, response.headers["Location"]


def change_status(app, application_id, status, **fields):
    """Set a status as the admin work will, then let the rules module queue its email."""
    with app.app_context():
        application = db.session.get(Application, application_id)
        previous = application.status
        application.status = status
        application.status_changed_at = NOW + timedelta(minutes=5)
        for name, value in fields.items():
            setattr(application, name, value)
        enrolment.notify(application, status, previous_status=previous)
        db.session.commit()


def test_received_email_reaches_the_applicant_with_a_working_status_link(app, client, smtp, make_cohort, form_data):
    _, status_path = apply(client, make_cohort, form_data, medications="Sertraline 50mg",
                           intention="My private reasons")
    assert smtp.messages == []  # nothing is sent inside the web request
    assert deliver(app).sent == 3

    [message] = smtp.to("alex@example.org")
    assert_house_rules(message, "alex@example.org")
    assert message["Subject"] == "We have your application"
    text, html = parts(message)
    assert text.startswith("Hello Alex,") and "Morgan" not in text and "Morgan" not in html
    link = f"https://resilience.example{status_path}"
    assert link in text and f'href="{link}"' in html
    assert "Applying is not acceptance" in text
    for body in (text, html):
        assert "Sertraline" not in body and "My private reasons" not in body and "Rivera" not in body
    assert client.get(link.removeprefix("https://resilience.example")).status_code == 200


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


def test_accepted_email_lists_ten_meetings_confirm_by_and_ride_home_with_an_ics(
        app, client, smtp, make_cohort, form_data):
    apply(client, make_cohort, form_data)
    [application] = applications(app)
    change_status(app, application.id, "accepted", confirm_by=date(2026, 12, 3))
    deliver(app)

    [accepted] = [m for m in smtp.to("alex@example.org") if m["Subject"].startswith("A place")]
    assert_house_rules(accepted, "alex@example.org")
    assert accepted["Subject"] == "A place is offered to you in the Winter 2027 cohort"
    text, html = parts(accepted)
    assert "by Thursday, December 3, 2026" in text
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
    apply(client, make_cohort, form_data, psychosis="yes", health_notes="History of mania")
    [application] = applications(app)
    change_status(app, application.id, "declined")
    deliver(app)
    [message] = [m for m in smtp.to("alex@example.org") if m["Subject"] == "About your application"]
    assert_house_rules(message, "alex@example.org")
    text, html = parts(message)
    assert "not a judgement of you" in text and "1-800-662-4357" in text
    for body in (text, html):
        for clinical in ("mania", "psychosis", "blood pressure", "medication", "contraindicat"):
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
        enrolment.notify(application, "received")
        enrolment.notify(application, "received")
        db.session.commit()
    deliver(app)
    assert len(smtp.to("alex@example.org")) == 1


def test_reminders_go_to_enrolled_participants_once_48_hours_ahead(app, smtp, runner, make_cohort, make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    enrolled = make_application(slug, status="enrolled", email="enrolled@example.org")
    make_application(slug, status="accepted", email="accepted@example.org")
    make_application(slug, status="pending", email="pending@example.org")
    # 40 hours before the first ketamine session (Sat, Jan 23, 9:30 am EST = 14:30 UTC)
    app.config["NOW"] = datetime(2027, 1, 21, 22, 30, tzinfo=timezone.utc)

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
    app.config["NOW"] = datetime(2027, 1, 11, 12, 0, tzinfo=timezone.utc)
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
        new_start = datetime(2027, 1, 24, 10, 0, tzinfo=NEW_YORK).astimezone(timezone.utc)
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


def test_a_dead_smtp_server_loses_nothing_and_each_message_arrives_once(app, client, smtp, make_cohort, form_data):
    slug = make_cohort()
    smtp.stop()
    for n in range(3):
        assert client.post("/apply", data=form_data(slug, email=f"person{n}@example.org")).status_code == 303

    report = deliver(app)
    assert (report.sent, report.retrying) == (0, 9)
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage)).all()
        assert len(rows) == 9
        assert {(r.status, r.attempts) for r in rows} == {("queued", 1)}
        assert all("Connection refused" in r.last_error or "Errno" in r.last_error for r in rows)
        assert {r.next_attempt_at for r in rows} == {NOW + timedelta(seconds=30)}
        assert outbox.backlog() == {"backlog": 9, "failed": 0}

    smtp.start()
    assert deliver(app).sent == 0  # not due yet: the back-off is respected
    app.config["NOW"] = NOW + timedelta(seconds=31)
    assert deliver(app).sent == 9
    assert deliver(app).sent == 0
    assert len(smtp.messages) == 9
    assert len({m["Message-ID"] for _, m in smtp.messages}) == 9
    assert sorted(r[0] for r, _ in smtp.messages).count("ana@practice.example") == 3
    with app.app_context():
        assert outbox.backlog() == {"backlog": 0, "failed": 0}


def test_back_off_doubles_and_a_message_that_keeps_failing_gives_up_visibly(
        app, client, smtp, make_cohort, form_data):
    assert [outbox.retry_delay(n).total_seconds() for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert sum(outbox.retry_delay(n).total_seconds() for n in range(1, outbox.MAX_ATTEMPTS)) > 12 * 3600
    slug = make_cohort()
    smtp.stop()
    client.post("/apply", data=form_data(slug))
    moment = NOW
    for _ in range(outbox.MAX_ATTEMPTS):
        report = deliver(app)
        moment += timedelta(hours=2)
        app.config["NOW"] = moment
    assert report.failed == 3
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage)).all()
        assert {(r.status, r.attempts) for r in rows} == {("failed", outbox.MAX_ATTEMPTS)}
        assert all(r.last_error for r in rows)
        assert outbox.backlog() == {"backlog": 0, "failed": 3}
    health = client.get("/healthz").get_json()
    assert health == {"status": "ok", "database": "ok", "outbox_backlog": 0, "outbox_failed": 3}


def test_an_address_the_server_refuses_for_good_fails_at_once(app, client, smtp, make_cohort, form_data):
    slug = make_cohort()
    smtp.refuse.add("nobody@example.org")
    client.post("/apply", data=form_data(slug, email="nobody@example.org"))
    report = deliver(app)
    assert (report.sent, report.failed) == (2, 1)
    with app.app_context():
        [failed] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.status == "failed")).all()
        assert failed.to_address == "nobody@example.org" and "550" in failed.last_error


def test_two_workers_deliver_200_messages_exactly_once(app, smtp, make_cohort):
    import threading

    make_cohort()
    with app.app_context():
        for n in range(200):
            outbox.enqueue("withdrawn", f"person{n}@example.org", f"load:{n}",
                           application=_stand_in_application(n))
        db.session.commit()

    reports = []
    start = threading.Barrier(2)

    def worker():
        with app.app_context():
            start.wait()
            reports.append(outbox.deliver_due(batch_size=10))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.sent for r in reports) == 200
    assert len(smtp.messages) == 200
    assert sorted(recipients[0] for recipients, _ in smtp.messages) == sorted(
        f"person{n}@example.org" for n in range(200))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.status == "sent")) == 200


def _stand_in_application(n):
    cohort = db.session.scalar(sa.select(Cohort))
    application = Application(cohort=cohort, first_name=f"P{n}", last_name="X", email=f"person{n}@example.org",
                              email_key=f"person{n}@example.org", phone="555 010 1000", home_area="ME",
                              answers={}, consent_version="t", consented_at=NOW, health_consent_at=NOW,
                              status="withdrawn", status_changed_at=NOW, created_at=NOW)
    db.session.add(application)
    db.session.flush()
    return application


def test_outbox_send_command_reports_what_it_did(app, client, smtp, runner, make_cohort, form_data):
    slug = make_cohort()
    client.post("/apply", data=form_data(slug))
    result = runner.invoke(args=["outbox", "send"])
    assert "Outbox: sent 3, will retry 0, failed 0. Waiting: 0, given up: 0." in result.output


def test_a_refused_sender_is_our_misconfiguration_so_every_message_waits_for_a_retry(
        app, client, smtp, make_cohort, form_data):
    slug = make_cohort()
    smtp.refuse_sender = True
    client.post("/apply", data=form_data(slug))
    report = deliver(app)
    assert (report.sent, report.failed, report.retrying) == (0, 0, 3)
    smtp.refuse_sender = False
    app.config["NOW"] = NOW + timedelta(minutes=1)
    assert deliver(app).sent == 3


def test_failed_messages_can_be_queued_again_after_fixing_the_cause(app, client, smtp, runner, make_cohort, form_data):
    slug = make_cohort()
    smtp.refuse.add("alex@example.org")
    client.post("/apply", data=form_data(slug))
    assert deliver(app).failed == 1
    smtp.refuse.clear()
    assert "Queued 1 failed email again." in runner.invoke(args=["outbox", "retry-failed"]).output
    assert deliver(app).sent == 1
    assert len(smtp.to("alex@example.org")) == 1


def test_a_worker_whose_claim_was_taken_over_does_not_send_or_record(app, smtp, make_cohort, make_application):
    slug = make_cohort()
    application_id = make_application(slug)
    with app.app_context():
        application = db.session.get(Application, application_id)
        outbox.enqueue("waitlisted", application.email, "takeover", application=application)
        db.session.commit()
        slow_claim, ids = outbox.claim(10)            # worker A claims, then stalls
        app.config["NOW"] = NOW + outbox.CLAIM_LEASE + timedelta(seconds=1)
        fast_claim, same_ids = outbox.claim(10)       # worker B takes the expired claim
        assert ids == same_ids
        assert outbox._deliver(fast_claim, same_ids).sent == 1
        assert outbox._deliver(slow_claim, ids).sent == 0   # A wakes up: not its message any more
    assert len(smtp.messages) == 1


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
