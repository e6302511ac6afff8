"""Calendar files (.ics) for a cohort's meetings and for screening conversations, neutral
enough to sit in a shared calendar.

Each event keeps one UID for its whole life. A file is PUBLISH (a copy to add), REQUEST
(an invitation: sent with enrolment and when a meeting moves) or CANCEL (the same UIDs
with a higher SEQUENCE, so calendars remove the events). The SEQUENCE of a meeting for one
person is the meeting's revision plus that person's calendar_sequence, and both only grow.
"""
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from icalendar import Alarm, Calendar, Event, vCalAddress

from . import clock
from .models import Application, Cohort, Meeting, ScreeningSlot
from .status import Status

PUBLISH, REQUEST, CANCEL = "PUBLISH", "REQUEST", "CANCEL"


def content_type(method: str) -> str:
    return f"text/calendar; charset=utf-8; method={method}"


def _host() -> str:
    return urlsplit(current_app.config["PUBLIC_URL"]).hostname or "localhost"


def event_uid(meeting: Meeting) -> str:
    """Stable for the life of the meeting, so an updated invite replaces the old event."""
    return f"meeting-{meeting.id}@{_host()}"


def event_title(meeting: Meeting) -> str:
    return f"{current_app.config['PRACTICE_NAME']}: {meeting.neutral_name}"


def _people(event: Event, attendee: Application | None) -> None:
    """An invitation or cancellation names who sends it and to whom (RFC 5546)."""
    if attendee is None:
        return
    organizer = vCalAddress(f"mailto:{current_app.config['CONTACT_EMAIL']}")
    organizer.params["cn"] = current_app.config["PRACTICE_NAME"]
    event.add("organizer", organizer)
    person = vCalAddress(f"mailto:{attendee.email}")
    person.params.update({"cn": attendee.first_name, "role": "REQ-PARTICIPANT", "rsvp": "FALSE"})
    event.add("attendee", person)


def meeting_event(meeting: Meeting, method: str = PUBLISH, attendee: Application | None = None) -> Event:
    event = Event()
    event.add("uid", event_uid(meeting))
    event.add("sequence", meeting.revision + (attendee.calendar_sequence if attendee else 0))
    event.add("dtstamp", clock.now())
    event.add("dtstart", meeting.local_start)
    event.add("dtend", meeting.local_end)
    event.add("summary", event_title(meeting))
    event.add("location", meeting.location)
    _people(event, attendee if method != PUBLISH else None)
    if method == CANCEL:
        event.add("status", "CANCELLED")
        return event
    notes = ["Please arrive ten minutes early."] if not meeting.online else []
    if meeting.kind == "ketamine":
        notes.append("A sober adult you trust must take you home afterwards; "
                     "no driving until the next day.")
    if meeting.online and meeting.join_url and attendee is not None and attendee.status == Status.ENROLLED:
        notes.append(f"Join: {meeting.join_url}")
    notes.append(f"Questions: {current_app.config['CONTACT_EMAIL']}")
    event.add("description", "\n".join(notes))

    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"Tomorrow: {event_title(meeting)}")
    alarm.add("trigger", timedelta(days=-1))
    event.add_component(alarm)
    return event


def _calendar(name: str, method: str, events: list[Event], first_day) -> str:
    calendar = Calendar()
    calendar.add("prodid", "-//Rediscovering Resilience//Cohort meetings//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    calendar.add("x-wr-calname", " ".join(name.split()))  # one line: a title stored with a line break would fail
    for event in events:
        calendar.add_component(event)
    calendar.add_missing_timezones(first_date=first_day - timedelta(days=366), last_date=first_day + timedelta(days=366))
    return calendar.to_ical().decode()


def calendar_file(cohort: Cohort, meetings: list[Meeting], method: str = PUBLISH,
                  attendee: Application | None = None) -> str:
    """An .ics document with one event per meeting, in the cohort's time zone."""
    return _calendar(f"{current_app.config['PRACTICE_NAME']}: {cohort.title}", method,
                     [meeting_event(m, method, attendee) for m in meetings],
                     min(m.local_start.date() for m in meetings))


def attachment(cohort: Cohort, meetings: list[Meeting] | None = None, filename: str = "meetings.ics",
               method: str = PUBLISH, attendee: Application | None = None) -> dict:
    return {
        "filename": filename,
        "content_type": content_type(method),
        "content": calendar_file(cohort, meetings if meetings is not None else cohort.meetings, method, attendee),
    }


def screening_attachment(slot: ScreeningSlot, application: Application, method: str, for_clinician: bool,
                         filename: str = "conversation.ics") -> dict:
    """A screening conversation as one event: REQUEST when booked or moved, CANCEL when cancelled."""
    event = Event()
    event.add("uid", f"screening-{slot.id}-{application.id}@{_host()}")
    event.add("sequence", slot.revision)
    event.add("dtstamp", clock.now())
    event.add("dtstart", slot.local_start)
    event.add("dtend", slot.local_end)
    practice = current_app.config["PRACTICE_NAME"]
    event.add("summary", f"Screening conversation: {application.first_name}" if for_clinician
              else f"{practice}: conversation with {slot.admin.display_name}")
    event.add("location", slot.place or slot.mode_name)
    _people(event, application)
    if method == CANCEL:
        event.add("status", "CANCELLED")
    else:
        event.add("description", f"{slot.mode_name}. Questions: {current_app.config['CONTACT_EMAIL']}")
    return {
        "filename": filename,
        "content_type": content_type(method),
        "content": _calendar(f"{practice}: conversation", method, [event], slot.local_start.date()),
    }
