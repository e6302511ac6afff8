"""Offers that wait for the applicant: a reminder 48 hours before the time to confirm, and
an offer that lapses when it passes (freeing the seat), all done by `periodic`."""
import re
from datetime import timedelta

from conftest import NOW, mail, sign_in
from icalendar import Calendar

from resilience import enrolment
from resilience.extensions import db
from resilience.models import Application

CONFIRM_BY = NOW + timedelta(days=5)  # Tuesday, December 1, 2026, 10:00 am in New York
CLINICIANS = ["ana@practice.example", "ben@practice.example"]


def offer(app, application_id):
    """A clinician offers a place now (after the medical evaluation)."""
    with app.app_context():
        enrolment.change_status(application_id, "accepted", actor="admin", evaluated=True)


def status_of(app, application_id) -> str:
    with app.app_context():
        return db.session.get(Application, application_id).status


def status_path(app, application_id) -> str:
    with app.app_context():
        return f"/status/{db.session.get(Application, application_id).token}"


def periodic(app, runner, at):
    app.config["NOW"] = at
    result = runner.invoke(args=["periodic"])
    assert result.exit_code == 0, result.output
    return result.output


def page_of(client, path) -> str:
    return " ".join(client.get(path).get_data(as_text=True).split())


def seats_left(client, slug) -> int:
    html = client.get(f"/cohorts/{slug}/availability").get_data(as_text=True)
    return int(re.search(r'data-seats-left="(\d+)"', html)[1])


def test_the_applicant_is_reminded_once_48_hours_before_the_time_to_confirm(
        app, runner, make_cohort, make_application):
    application_id = make_application(make_cohort(), email="maya@example.org", first_name="Maya")
    offer(app, application_id)

    periodic(app, runner, CONFIRM_BY - timedelta(hours=49))
    assert mail(app, "offer_reminder") == []
    periodic(app, runner, CONFIRM_BY - timedelta(hours=48))
    periodic(app, runner, CONFIRM_BY - timedelta(hours=20))
    [reminder] = mail(app, "offer_reminder")
    assert reminder["to"] == "maya@example.org"
    assert reminder["subject"] == "A reminder about the place offered to you"
    assert "yours to confirm until Tuesday, December 1, 2026 at 10:00 am EST" in reminder["text"]
    assert status_path(app, application_id) in reminder["text"]


def test_an_offer_made_with_less_than_48_hours_to_confirm_gets_no_reminder(
        app, runner, make_cohort, make_application):
    slug = make_cohort(starts_on=NOW.date() + timedelta(days=2), application_deadline=None)
    offer(app, make_application(slug))  # confirm by the first meeting, under two days away
    periodic(app, runner, NOW + timedelta(hours=1))
    assert mail(app, "offer_reminder") == []


def test_an_offer_not_confirmed_in_time_lapses_frees_the_seat_and_tells_everyone(
        app, client, runner, make_cohort, make_application):
    app.config["ADMIN_EMAILS"] = CLINICIANS
    slug = make_cohort(capacity=1, title="Winter 2027 cohort")
    application_id = make_application(slug, email="maya@example.org", first_name="Maya")
    make_application(slug, status="waitlisted", first_name="Zed", last_name="Young", created_at=NOW)
    make_application(slug, status="waitlisted", first_name="Yara", last_name="Quinn",
                     created_at=NOW - timedelta(days=1))
    offer(app, application_id)
    assert seats_left(client, slug) == 0

    periodic(app, runner, CONFIRM_BY - timedelta(minutes=1))
    assert status_of(app, application_id) == "accepted"
    periodic(app, runner, CONFIRM_BY)
    assert status_of(app, application_id) == "lapsed"
    assert seats_left(client, slug) == 1
    page = page_of(client, status_path(app, application_id))
    assert "The time to confirm has passed" in page and "Put me back on the waitlist" in page

    [lapsed] = mail(app, "lapsed", "maya@example.org")
    assert lapsed["subject"] == "About the place we offered you"
    assert "passed on Tuesday, December 1, 2026 at 10:00 am EST" in lapsed["text"]
    [cancellation] = [a for a in lapsed["attachments"] if a["filename"] == "cancelled-meetings.ics"]
    calendar = Calendar.from_ical(cancellation["content"])
    assert calendar["method"] == "CANCEL" and len(calendar.walk("VEVENT")) == 10
    for clinician in CLINICIANS:
        [freed] = mail(app, "seat_freed", clinician)
        assert freed["subject"] == "A seat is free in the Winter 2027 cohort"
        assert "Maya T. did not confirm in time, so the offer lapsed" in freed["text"]
        assert "First in line on the waitlist: Yara Q." in freed["text"] and "Zed" not in freed["text"]

    sent = mail(app)
    periodic(app, runner, CONFIRM_BY + timedelta(minutes=5))
    assert mail(app) == sent


def test_confirming_after_the_time_has_passed_is_refused_even_before_periodic_runs(
        app, client, make_cohort, make_application):
    application_id = make_application(make_cohort())
    offer(app, application_id)
    path = status_path(app, application_id)
    app.config["NOW"] = CONFIRM_BY + timedelta(minutes=1)
    response = client.post(path, data={"action": "confirm"})
    assert response.status_code == 303
    page = page_of(client, response.headers["Location"])
    assert "The time to confirm this place has passed, so the offer has lapsed. Nothing was changed." in page
    assert status_of(app, application_id) == "accepted"
    assert mail(app, "enrolled") == []


def test_after_a_lapse_the_applicant_can_go_back_on_the_waitlist(app, client, runner, make_cohort,
                                                                  make_application):
    application_id = make_application(make_cohort(), email="maya@example.org")
    offer(app, application_id)
    periodic(app, runner, CONFIRM_BY)
    path = status_path(app, application_id)
    response = client.post(path, data={"action": "wait"})
    page = page_of(client, response.headers["Location"])
    assert "You are back on the waitlist." in page and "On the waitlist" in page
    assert status_of(app, application_id) == "waitlisted"
    [waitlisted] = mail(app, "waitlisted", "maya@example.org")
    assert "you are back on the waitlist" in waitlisted["text"]


def test_a_clinician_may_offer_a_lapsed_place_again_with_a_new_time_to_confirm(
        app, make_admin, runner, make_cohort, make_application):
    make_admin()
    application_id = make_application(make_cohort(starts_on=NOW.date() + timedelta(days=45)))
    offer(app, application_id)
    periodic(app, runner, CONFIRM_BY)
    clinician = app.test_client()
    assert sign_in(clinician).status_code == 303
    # The medical evaluation was already done before the first offer: no need to say so again.
    clinician.post(f"/admin/applications/{application_id}/status", data={"status": "accepted"})
    with app.app_context():
        application = db.session.get(Application, application_id)
        assert application.status == "accepted"
        assert application.confirm_by_at == CONFIRM_BY + timedelta(days=5)
    assert len(mail(app, "accepted")) == 2


def test_a_clinician_cannot_let_an_offer_lapse_by_hand(app, admin_client, make_cohort, make_application):
    application_id = make_application(make_cohort())
    offer(app, application_id)
    response = admin_client.post(f"/admin/applications/{application_id}/status", data={"status": "lapsed"})
    page = " ".join(admin_client.get(response.headers["Location"]).get_data(as_text=True).split())
    assert "An offer lapses by itself when its time to confirm passes. Nothing was changed." in page
    assert status_of(app, application_id) == "accepted"


def test_the_periodic_command_says_what_it_did(app, runner, make_cohort, make_application):
    slug = make_cohort()
    offer(app, make_application(slug))
    offer(app, make_application(slug))
    assert periodic(app, runner, CONFIRM_BY - timedelta(hours=47)) == (
        "2026-11-29 16:00 UTC: 0 meeting reminder(s), 2 confirm-by reminder(s) queued; 0 offer(s) lapsed.\n")
    assert periodic(app, runner, CONFIRM_BY) == (
        "2026-12-01 15:00 UTC: 0 meeting reminder(s), 0 confirm-by reminder(s) queued; 2 offer(s) lapsed.\n")


def test_going_back_on_the_waitlist_from_an_old_page_does_not_give_up_a_new_offer(
        app, client, runner, make_cohort, make_application):
    """The lapsed page was left open; meanwhile a clinician offered the place again."""
    application_id = make_application(make_cohort(), email="maya@example.org")
    offer(app, application_id)
    periodic(app, runner, CONFIRM_BY)
    offer(app, application_id)
    response = client.post(status_path(app, application_id), data={"action": "wait"})
    assert "Nothing was changed" in page_of(client, response.headers["Location"])
    assert status_of(app, application_id) == "accepted"
    assert mail(app, "waitlisted") == []


def test_an_applicant_cannot_put_themselves_on_the_waitlist_before_a_decision(app, client, make_cohort,
                                                                              make_application):
    application_id = make_application(make_cohort(), status="pending")
    response = client.post(status_path(app, application_id), data={"action": "wait"})
    assert "Nothing was changed" in page_of(client, response.headers["Location"])
    assert status_of(app, application_id) == "pending"
    assert mail(app) == []


def test_a_failing_part_of_periodic_does_not_hold_up_the_others(app, runner, make_cohort, make_application,
                                                                 monkeypatch, caplog):
    """Reminders that keep failing (a broken template, say) must not stop offers from lapsing."""
    from sqlalchemy.exc import OperationalError

    from resilience.enrolment import meetings

    def broken():
        raise OperationalError("SELECT …", {}, Exception("database is locked"))

    monkeypatch.setattr(meetings, "send_reminders", broken)
    application_id = make_application(make_cohort(), status="accepted", accepted_at=NOW - timedelta(days=6),
                                      confirm_by_at=NOW - timedelta(days=1))
    result = runner.invoke(args=["periodic"])
    assert result.exit_code == 1  # cron tells the operator
    assert "1 offer(s) lapsed; failed: meeting reminders (see the log)" in result.output
    assert "Periodic meeting reminders failed" in caplog.text
    with app.app_context():
        assert db.session.get(Application, application_id).status == "lapsed"


def test_the_periodic_loop_keeps_going_until_stopped(app, runner, monkeypatch):
    import time

    calls = []

    def sleep(seconds):
        calls.append(seconds)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C during the second wait

    monkeypatch.setattr(time, "sleep", sleep)
    result = runner.invoke(args=["periodic", "--loop", "--every", "7"])
    assert result.exit_code == 0 and calls == [7, 7] and result.output.endswith("Stopped.\n")
