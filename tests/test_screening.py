"""Screening conversations: a clinician invites an applicant to talk, the applicant books one
of the clinicians' times on their status page, either side moves or cancels it, and the
clinician records it as held before deciding."""
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW, mail, sign_in
from icalendar import Calendar

from resilience import enrolment
from resilience.extensions import db
from resilience.models import Admin, Application, ScreeningSlot
from resilience.status import Status

MONDAY_9AM = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 9:00 am in New York
MONDAY_9AM_WORDS = "Monday, November 30, 2026, 9:00 – 9:30 am EST"


def clinician(email="ana@practice.example") -> Admin:
    admin = db.session.scalar(sa.select(Admin).where(Admin.email == email))
    assert admin is not None, "sign a clinician in first (admin_client or make_admin)"
    return admin


def publish(app, count=2, starts_at=MONDAY_9AM, mode="video", place=None) -> list[int]:
    """Dr. Ana Reyes offers `count` back-to-back half hours."""
    with app.app_context():
        ana = clinician()
        slots = enrolment.add_slots(ana, starts_at, 30, count, mode, place, "America/New_York", ana)
        return [slot.id for slot in slots]


def invited(app, make_cohort, make_application, **fields) -> tuple[int, str]:
    """An application invited to talk; returns its id and its status page's path."""
    application_id = make_application(make_cohort(), status="screening", invited_at=NOW, **fields)
    return application_id, status_path(app, application_id)


def status_path(app, application_id) -> str:
    with app.app_context():
        return f"/status/{db.session.get(Application, application_id).token}"


def slot_holder(app, slot_id) -> int | None:
    with app.app_context():
        return db.session.scalar(sa.select(ScreeningSlot.application_id).where(ScreeningSlot.id == slot_id))


def ics(message, filename="conversation.ics") -> Calendar:
    [found] = [a for a in message["attachments"] if a["filename"] == filename]
    return Calendar.from_ical(found["content"])


def page_of(client, path) -> str:
    """The page as a reader sees it: the words, with the template's line breaks as spaces."""
    return " ".join(client.get(path).get_data(as_text=True).split())


def book(client, path, slot_id, **kwargs):
    return client.post(path, data={"action": "book", "slot": str(slot_id)}, **kwargs)


def test_inviting_to_talk_emails_the_applicant_the_status_link(app, admin_client, make_cohort, make_application):
    application_id = make_application(make_cohort(), first_name="Maya", email="maya@example.org")
    response = admin_client.post(f"/admin/applications/{application_id}/status", data={"status": "screening"})
    assert response.status_code == 303
    path = status_path(app, application_id)
    [invitation] = mail(app, to="maya@example.org")
    assert invitation["kind"] == "screening" and invitation["subject"] == "An invitation to talk with us"
    assert f"http://127.0.0.1:5000{path}" in invitation["text"]
    assert "Hello Maya," in invitation["text"]


def test_the_status_page_lists_the_open_times_to_choose_from(app, make_admin, client, make_cohort,
                                                            make_application):
    make_admin()
    first, second = publish(app, count=2)
    _, path = invited(app, make_cohort, make_application)
    page = page_of(client, path)
    assert "Invited to a conversation" in page and "Choose a time to talk" in page
    for slot_id, words in ((first, MONDAY_9AM_WORDS), (second, "Monday, November 30, 2026, 9:30 – 10:00 am EST")):
        label = re.search(rf'<input id="([\w-]+)" name="slot"[^>]* value="{slot_id}">\s*<label for="\1">([^<]+)</label>',
                          page)
        assert label, f"no choice for slot {slot_id}"
        assert words in label[2] and "video call" in label[2].lower() and "Dr. Ana Reyes" in label[2]
    assert "Book this time" in page


def test_booking_a_time_without_javascript_shows_it_and_emails_both_sides_an_invitation(
        app, make_admin, client, make_cohort, make_application):
    make_admin()
    first, _ = publish(app)
    application_id, path = invited(app, make_cohort, make_application, email="maya@example.org")
    response = book(client, path, first)
    assert response.status_code == 303 and response.headers["Location"] == path
    page = page_of(client, path)
    assert "Thank you: your conversation is booked for Monday, November 30, 2026 at 9:00 am EST." in page
    assert f"Your conversation with Dr. Ana Reyes is on <strong>{MONDAY_9AM_WORDS}</strong>" in page
    assert slot_holder(app, first) == application_id

    [to_applicant] = mail(app, "conversation_booked", "maya@example.org")
    [to_clinician] = mail(app, "conversation_booked", "ana@practice.example")
    assert MONDAY_9AM_WORDS in to_applicant["text"] and MONDAY_9AM_WORDS in to_clinician["text"]
    for message in (to_applicant, to_clinician):
        calendar = ics(message)
        assert calendar["method"] == "REQUEST"
        [event] = calendar.walk("VEVENT")
        assert event.decoded("dtstart") == MONDAY_9AM
        assert str(event["attendee"]) == "mailto:maya@example.org"


def test_booking_with_htmx_answers_with_the_updated_page(app, make_admin, htmx_client, make_cohort,
                                                         make_application):
    make_admin()
    first, _ = publish(app)
    application_id, path = invited(app, make_cohort, make_application)
    response = book(htmx_client, path, first, follow_redirects=True)
    page = " ".join(response.get_data(as_text=True).split())
    assert response.status_code == 200
    assert f"Your conversation with Dr. Ana Reyes is on <strong>{MONDAY_9AM_WORDS}</strong>" in page
    assert slot_holder(app, first) == application_id


def test_a_time_someone_else_booked_is_refused_clearly_and_nothing_changes(
        app, make_admin, client, make_cohort, make_application):
    make_admin()
    first, _ = publish(app)
    someone, someone_path = invited(app, make_cohort, make_application)
    _, my_path = invited(app, make_cohort, make_application)
    book(client, someone_path, first)
    emails_before = mail(app)
    page = client.get(book(client, my_path, first).headers["Location"]).get_data(as_text=True)
    assert "Someone else booked that time a moment ago. Please choose another." in page
    assert "Choose a time to talk" in page
    assert slot_holder(app, first) == someone
    assert mail(app) == emails_before


def test_two_people_booking_the_same_time_at_once_only_one_gets_it(app, make_admin, make_cohort, make_application):
    make_admin()
    [slot] = publish(app, count=1)
    people = [invited(app, make_cohort, make_application) for _ in range(2)]
    start = threading.Barrier(len(people))
    pages = []

    def press_book(path):
        client = app.test_client()
        start.wait()
        pages.append(book(client, path, slot, follow_redirects=True).get_data(as_text=True))

    threads = [threading.Thread(target=press_book, args=(path,)) for _, path in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert slot_holder(app, slot) in {application_id for application_id, _ in people}
    assert sum("your conversation is booked" in page for page in pages) == 1
    assert sum("Someone else booked that time a moment ago" in page for page in pages) == 1
    assert len(mail(app, "conversation_booked")) == 2  # the winner and the clinician


def test_no_one_can_cancel_someone_elses_booking_with_their_own_link(
        app, make_admin, client, make_cohort, make_application):
    make_admin()
    first, _ = publish(app)
    bookers_id, bookers_path = invited(app, make_cohort, make_application)
    _, my_path = invited(app, make_cohort, make_application)
    book(client, bookers_path, first)
    response = client.post(my_path, data={"action": "cancel", "slot": str(first)})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "That time is not booked by you, so it cannot be cancelled here." in page
    assert slot_holder(app, first) == bookers_id
    assert mail(app, "conversation_cancelled") == []


def test_an_applicant_not_invited_to_talk_cannot_book(app, make_admin, client, make_cohort, make_application):
    make_admin()
    first, _ = publish(app)
    path = status_path(app, make_application(make_cohort(), status="pending"))
    assert "Choose a time to talk" not in client.get(path).get_data(as_text=True)
    page = client.get(book(client, path, first).headers["Location"]).get_data(as_text=True)
    assert "Nothing was changed" in page
    assert slot_holder(app, first) is None and mail(app) == []


def test_choosing_another_time_frees_the_first_and_cancels_its_event(
        app, make_admin, client, make_cohort, make_application):
    make_admin()
    first, second = publish(app)
    application_id, path = invited(app, make_cohort, make_application, email="maya@example.org")
    book(client, path, first)
    book(client, path, second)
    page = page_of(client, path)
    assert "Monday, November 30, 2026, 9:30 – 10:00 am EST</strong>" in page
    assert (slot_holder(app, first), slot_holder(app, second)) == (None, application_id)
    with app.app_context():
        assert first in [slot.id for slot in enrolment.open_slots()]

    moved = mail(app, "conversation_booked", "maya@example.org")[-1]
    assert "instead of Monday, November 30, 2026 at 9:00 am" in moved["text"]
    assert ics(moved)["method"] == "REQUEST"
    cancelled = ics(moved, "cancelled-conversation.ics")
    assert cancelled["method"] == "CANCEL"
    [event] = cancelled.walk("VEVENT")
    [first_event] = ics(mail(app, "conversation_booked", "maya@example.org")[0]).walk("VEVENT")
    assert str(event["uid"]) == str(first_event["uid"]) and event["status"] == "CANCELLED"
    assert event["sequence"] > first_event["sequence"]
    # The clinician's calendar loses the old time too.
    [to_clinician] = mail(app, "conversation_cancelled", "ana@practice.example")
    assert ics(to_clinician)["method"] == "CANCEL"


def test_a_clinician_moving_a_booked_time_tells_the_applicant_the_old_and_new_time(
        app, make_admin, client, make_cohort, make_application):
    make_admin()
    first, _ = publish(app)
    _, path = invited(app, make_cohort, make_application, email="maya@example.org")
    book(client, path, first)
    with app.app_context():
        enrolment.move_slot(first, MONDAY_9AM + timedelta(days=1, hours=5), clinician())

    [moved] = mail(app, "conversation_moved", "maya@example.org")
    assert "It was: Monday, November 30, 2026 at 9:00 am" in moved["text"]
    assert "It is now: Tuesday, December 1, 2026, 2:00 – 2:30 pm EST" in moved["text"]
    [booked] = mail(app, "conversation_booked", "maya@example.org")
    [before], [after] = ics(booked).walk("VEVENT"), ics(moved).walk("VEVENT")
    assert after["uid"] == before["uid"] and after["sequence"] > before["sequence"]
    assert "Tuesday, December 1, 2026, 2:00 – 2:30 pm EST" in page_of(client, path)
    assert len(mail(app, "conversation_moved", "ana@practice.example")) == 1


def test_a_clinician_removing_a_booked_time_cancels_it_for_both(app, make_admin, client, make_cohort,
                                                              make_application):
    make_admin()
    first, _ = publish(app)
    _, path = invited(app, make_cohort, make_application, email="maya@example.org")
    book(client, path, first)
    with app.app_context():
        enrolment.remove_slot(first, clinician())
        assert db.session.get(ScreeningSlot, first) is None

    [cancelled] = mail(app, "conversation_cancelled", "maya@example.org")
    assert f"on {MONDAY_9AM_WORDS} is cancelled: we are sorry for the change" in cancelled["text"]
    assert "Please choose another time on your status page" in cancelled["text"]
    assert ics(cancelled)["method"] == "CANCEL"
    assert len(mail(app, "conversation_cancelled", "ana@practice.example")) == 1
    assert "Choose a time to talk" in client.get(path).get_data(as_text=True)


def test_a_conversation_recorded_as_held_lets_the_clinician_accept(app, make_admin, client, make_cohort,
                                                                   make_application):
    make_admin()
    first, _ = publish(app)
    application_id, path = invited(app, make_cohort, make_application)
    book(client, path, first)
    app.config["NOW"] = MONDAY_9AM + timedelta(hours=1)
    with app.app_context():
        enrolment.record_held(first, clinician(), "Talked it through; no concerns.")
    admin_client = app.test_client()
    assert sign_in(admin_client).status_code == 303
    admin_client.post(f"/admin/applications/{application_id}/status", data={"status": "accepted"})
    with app.app_context():
        assert db.session.get(Application, application_id).status == "accepted"


def test_a_booked_conversation_not_yet_held_is_not_an_evaluation(app, make_admin, client, make_cohort,
                                                                 make_application):
    make_admin()
    first, _ = publish(app)
    application_id, path = invited(app, make_cohort, make_application)
    book(client, path, first)
    with app.app_context():
        with pytest.raises(enrolment.RefusedChange) as refused:
            enrolment.change_status(application_id, "accepted", admin=clinician())
        assert "evaluation" in refused.value.message
        assert db.session.get(Application, application_id).status == "screening"
    assert slot_holder(app, first) == application_id


def test_declining_an_invited_applicant_cancels_their_upcoming_conversation(
        app, admin_client, client, make_cohort, make_application):
    first, _ = publish(app)
    application_id, path = invited(app, make_cohort, make_application, email="maya@example.org")
    book(client, path, first)
    admin_client.post(f"/admin/applications/{application_id}/status", data={"status": "declined"})
    assert slot_holder(app, first) is None
    kinds = [message["kind"] for message in mail(app, to="maya@example.org")]
    assert kinds == ["conversation_booked", "conversation_cancelled", "declined"]
    [cancelled] = mail(app, "conversation_cancelled", "maya@example.org")
    assert ics(cancelled)["method"] == "CANCEL"
    assert "choose another time" not in cancelled["text"]  # there is nothing left to book
    assert "Choose a time to talk" not in client.get(path).get_data(as_text=True)


def test_booking_a_new_time_after_the_booked_one_was_removed_is_emailed(
        app, make_admin, client, make_cohort, make_application):
    make_admin()
    [first] = publish(app, count=1)
    _, path = invited(app, make_cohort, make_application, email="maya@example.org")
    book(client, path, first)
    with app.app_context():
        enrolment.remove_slot(first, clinician())
    app.config["NOW"] = NOW + timedelta(hours=1)  # later that day the clinician offers a new time
    [new] = publish(app, count=1, starts_at=MONDAY_9AM + timedelta(hours=2))
    book(client, path, new)
    assert "Monday, November 30, 2026, 11:00 – 11:30 am EST</strong>" in page_of(client, path)
    booked = mail(app, "conversation_booked", "maya@example.org")
    assert len(booked) == 2
    [cancelled] = mail(app, "conversation_cancelled", "maya@example.org")
    [gone], [event] = ics(cancelled).walk("VEVENT"), ics(booked[-1]).walk("VEVENT")
    assert event["uid"] != gone["uid"] or event["sequence"] > gone["sequence"]


def test_after_the_conversation_the_status_page_thanks_them_and_offers_no_more_times(
        app, make_admin, client, make_cohort, make_application):
    make_admin()
    first, _ = publish(app)
    _, path = invited(app, make_cohort, make_application)
    book(client, path, first)
    app.config["NOW"] = NOW + timedelta(days=5)  # the conversation took place; not yet recorded
    page = " ".join(page_of(client, path).split())
    assert "Thank you for talking with Dr. Ana Reyes on Monday, November 30, 2026." in page
    assert "Choose a time to talk" not in page and 'name="slot"' not in page


@pytest.mark.skipif(not __import__("conftest").TEST_DATABASE_URL,
                    reason="SQLite serialises whole transactions; the race needs PostgreSQL's row locks")
def test_withdrawing_while_a_clinician_cancels_the_booking_never_deadlocks(
        app, make_admin, make_cohort, make_application, monkeypatch):
    """Both take the cohort, the application and then the slot, in that order."""
    import time

    from resilience.enrolment import screening

    make_admin()
    [slot_id] = publish(app, count=1)
    application_id, _ = invited(app, make_cohort, make_application)
    with app.app_context():
        enrolment.book(application_id, slot_id)
    real_release = screening.release_bookings

    def slow_release(application, admin):  # the withdrawal holds its locks a moment before freeing the slot
        time.sleep(0.5)
        return real_release(application, admin)

    monkeypatch.setattr(screening, "release_bookings", slow_release)
    failures = []

    def run(change):
        with app.app_context():
            try:
                change()
            except enrolment.RefusedChange:
                pass  # the booking was already gone: refused, nothing changed
            except Exception as error:  # noqa: BLE001  (any error in a racing thread is a failure to report)
                failures.append(repr(error))

    applicant = threading.Thread(target=run, args=(
        lambda: enrolment.change_status(application_id, Status.WITHDRAWN, actor="applicant"),))
    clinician = threading.Thread(target=run, args=(
        lambda: enrolment.cancel_booking(slot_id, admin=clinician_admin(app)),))
    applicant.start()
    time.sleep(0.2)
    clinician.start()
    applicant.join()
    clinician.join()
    assert failures == []
    assert slot_holder(app, slot_id) is None
    with app.app_context():
        assert db.session.get(Application, application_id).status == Status.WITHDRAWN


def clinician_admin(app):
    return db.session.scalar(sa.select(Admin))


def test_a_page_left_open_cannot_cancel_a_past_conversation_or_book_a_second_after_a_held_one(
        app, make_admin, client, make_cohort, make_application):
    make_admin()
    first, second = publish(app, count=2)
    application_id, path = invited(app, make_cohort, make_application)
    book(client, path, first)
    app.config["NOW"] = NOW + timedelta(days=5)  # the conversation's time has passed
    client.post(path, data={"action": "cancel", "slot": str(first)})
    assert slot_holder(app, first) == application_id
    with app.app_context():
        enrolment.record_held(first, clinician_admin(app), "")
        with pytest.raises(enrolment.RefusedChange, match="conversation_held"):
            enrolment.book(application_id, second)
    assert slot_holder(app, second) is None


def test_publishing_times_when_none_were_open_tells_those_still_waiting_for_one(
        app, make_admin, client, make_cohort, make_application):
    make_admin()
    _, path = invited(app, make_cohort, make_application, email="waiting@example.org")
    assert "We will email you as soon as new ones are added." in page_of(client, path)
    make_application(make_cohort(starts_on=NOW.date() - timedelta(days=120), application_deadline=None),
                     status="screening", email="finished@example.org")  # a cohort long over: not told
    publish(app, count=1)
    assert [(m["to"], m["subject"]) for m in mail(app, "times_open")] == [
        ("waiting@example.org", "New times to talk with us")]
    publish(app, count=1, starts_at=MONDAY_9AM + timedelta(hours=3))  # times were open already: no more
    app.config["NOW"] = NOW + timedelta(days=1)
    publish(app, count=1, starts_at=MONDAY_9AM + timedelta(hours=5))
    assert len(mail(app, "times_open")) == 1


def test_a_conversation_that_did_not_take_place_lets_the_applicant_book_again(
        app, make_admin, client, make_cohort, make_application):
    make_admin()
    first, _ = publish(app, count=2)
    _, path = invited(app, make_cohort, make_application, email="maya@example.org")
    book(client, path, first)
    app.config["NOW"] = NOW + timedelta(days=4, hours=18)  # after Monday's time, before Tuesday's
    with app.app_context():
        enrolment.cancel_booking(first, admin=clinician_admin(app))
    [missed] = mail(app, "conversation_cancelled", "maya@example.org")
    assert "We did not manage to talk on Monday, November 30, 2026, and that is all right" in missed["text"]
    assert "Choose a time to talk" in page_of(client, path)


def test_only_a_conversation_that_is_over_for_someone_still_invited_can_be_called_missed(
        app, make_admin, client, make_cohort, make_application):
    make_admin()
    [first] = publish(app, count=1)
    application_id, path = invited(app, make_cohort, make_application)
    book(client, path, first)
    app.config["NOW"] = MONDAY_9AM + timedelta(minutes=10)  # under way
    with app.app_context(), pytest.raises(enrolment.RefusedChange, match="slot_past"):
        enrolment.cancel_booking(first, admin=clinician_admin(app))
    app.config["NOW"] = MONDAY_9AM + timedelta(hours=2)
    with app.app_context():
        enrolment.change_status(application_id, Status.WAITLISTED, admin=clinician_admin(app))
        with pytest.raises(enrolment.RefusedChange, match="slot_past"):
            enrolment.cancel_booking(first, admin=clinician_admin(app))
    assert slot_holder(app, first) == application_id
