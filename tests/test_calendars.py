"""Calendars follow the seat: the offer brings a copy of the dates, enrolment an invitation,
losing the seat a cancellation of the same events; the join link is for participants only."""
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa
from conftest import applications
from icalendar import Calendar

from resilience import database, enrolment
from resilience.extensions import db
from resilience.models import Admin, Application, Cohort, OutboxMessage

JOIN_URL = "https://video.example/rooms/quiet-harbor-42"


def offer(app, application_id):
    with app.app_context():
        enrolment.change_status(application_id, "accepted", actor="admin", evaluated=True)


def status_path(app, application_id) -> str:
    [application] = [a for a in applications(app) if a.id == application_id]
    return f"/status/{application.token}"


def sent(app, kind) -> OutboxMessage:
    with app.app_context():
        [message] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == kind)).all()
        db.session.expunge(message)
        return message


def calendar_in(app, kind, filename) -> Calendar:
    [found] = [a for a in sent(app, kind).attachments if a["filename"] == filename]
    calendar = Calendar.from_ical(found["content"])
    assert found["content_type"].endswith(f"method={calendar['method']}")
    return calendar


def events(calendar) -> dict[str, object]:
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


@pytest.fixture
def enrolled(app, client, make_cohort, make_application):
    """Maya was offered a place and confirmed it on her status page; returns her application id."""
    application_id = make_application(make_cohort(), first_name="Maya", email="maya@example.org")
    offer(app, application_id)
    assert client.post(status_path(app, application_id), data={"action": "confirm"}).status_code == 303
    return application_id


def test_enrolment_sends_an_invitation_to_all_ten_meetings(app, enrolled):
    invitation = calendar_in(app, "enrolled", "meetings.ics")
    assert invitation["method"] == "REQUEST"
    assert len(events(invitation)) == 10
    for event in invitation.walk("VEVENT"):
        assert str(event["organizer"]) == "mailto:hello@example.org"
        assert str(event["attendee"]) == "mailto:maya@example.org"
    offered = calendar_in(app, "accepted", "meetings.ics")
    assert offered["method"] == "PUBLISH" and events(offered).keys() == events(invitation).keys()


def test_withdrawing_cancels_the_same_events_with_a_higher_sequence(app, client, enrolled):
    client.post(status_path(app, enrolled), data={"action": "withdraw", "sure": "y"})
    invited = events(calendar_in(app, "enrolled", "meetings.ics"))
    cancellation = calendar_in(app, "withdrawn", "cancelled-meetings.ics")
    assert cancellation["method"] == "CANCEL"
    cancelled = events(cancellation)
    assert cancelled.keys() == invited.keys() and len(cancelled) == 10
    for uid, event in cancelled.items():
        assert event["status"] == "CANCELLED"
        assert event["sequence"] > invited[uid]["sequence"]
        assert str(event["attendee"]) == "mailto:maya@example.org"


def test_taking_back_an_offer_cancels_the_dates_sent_with_it(app, make_cohort, make_application):
    application_id = make_application(make_cohort())
    offer(app, application_id)
    with app.app_context():
        enrolment.change_status(application_id, "pending", actor="admin")
    offered = events(calendar_in(app, "accepted", "meetings.ics"))
    cancellation = calendar_in(app, "offer_reopened", "cancelled-meetings.ics")
    assert cancellation["method"] == "CANCEL"
    cancelled = events(cancellation)
    assert cancelled.keys() == offered.keys()
    assert all(event["sequence"] > offered[uid]["sequence"] for uid, event in cancelled.items())


@pytest.mark.parametrize("status, found", [
    ("accepted", True), ("enrolled", True),
    ("pending", False), ("screening", False), ("waitlisted", False), ("lapsed", False), ("withdrawn", False),
])
def test_the_calendar_download_is_only_for_people_with_a_seat(app, client, make_cohort, make_application,
                                                              status, found):
    path = status_path(app, make_application(make_cohort(), status=status))
    response = client.get(f"{path}/calendar.ics")
    if not found:
        assert response.status_code == 404
        return
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Cache-Control"] == "no-store"
    assert len(events(Calendar.from_ical(response.get_data(as_text=True)))) == 10


def test_the_join_link_is_shown_only_once_the_place_is_confirmed(app, client, make_cohort, make_application):
    slug = make_cohort()
    with app.app_context():
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))
        online = [meeting for meeting in cohort.meetings if meeting.online]
        assert online, "the default program has online meetings"
        for meeting in online:
            meeting.join_url = JOIN_URL
        db.session.commit()
        online = len(online)
    application_id = make_application(slug)
    offer(app, application_id)
    path = status_path(app, application_id)

    page = " ".join(client.get(path).get_data(as_text=True).split())
    assert JOIN_URL not in page and "The links to join the online meetings appear here once you confirm" in page
    assert JOIN_URL not in client.get(f"{path}/calendar.ics").get_data(as_text=True)
    assert JOIN_URL not in calendar_in(app, "accepted", "meetings.ics").to_ical().decode()

    client.post(path, data={"action": "confirm"})
    page = client.get(path).get_data(as_text=True)
    assert page.count(f'<a href="{JOIN_URL}" rel="noopener noreferrer">join link</a>') == online
    downloaded = Calendar.from_ical(client.get(f"{path}/calendar.ics").get_data(as_text=True))
    assert sum(f"Join: {JOIN_URL}" in str(event["description"]) for event in downloaded.walk("VEVENT")) == online
    invitation = calendar_in(app, "enrolled", "meetings.ics")
    assert sum(f"Join: {JOIN_URL}" in str(event["description"]) for event in invitation.walk("VEVENT")) == online


def test_moving_a_meeting_tells_the_participant_the_old_and_the_new_time(app, make_admin, enrolled):
    admin_id = make_admin()
    with app.app_context():
        cohort = db.session.get(Application, enrolled).cohort
        zone, first = cohort.zone, cohort.meetings[0]
        old_day = first.local_start.date()
        new_day = old_day + timedelta(days=1)
        new_start = datetime.combine(new_day, time(17, 30), zone)
        database.begin_write()
        enrolment.change_meeting(first, new_start, datetime.combine(new_day, time(19, 30), zone),
                                 admin=db.session.get(Admin, admin_id))
        db.session.commit()

    moved = sent(app, "meeting_moved")
    assert moved.to_address == "maya@example.org"
    text = " ".join(moved.text_body.split())
    assert f"It was on {old_day:%A, %B} {old_day.day}, {old_day.year} at 6:00 pm EST." in text
    assert f"It is now on {new_day:%A, %B} {new_day.day}, {new_day.year}, 5:30 – 7:30 pm EST." in text
    update = calendar_in(app, "meeting_moved", "meeting-update.ics")
    assert update["method"] == "REQUEST"
    [(uid, event)] = events(update).items()
    invited = events(calendar_in(app, "enrolled", "meetings.ics"))
    assert event["sequence"] > invited[uid]["sequence"]  # or calendars would keep the old time
    assert event.decoded("dtstart") == new_start
