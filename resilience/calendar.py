"""Calendar files (.ics) for a cohort's meetings, neutral enough to sit in a shared calendar."""
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from icalendar import Alarm, Calendar, Event

from . import clock
from .models import Cohort, Meeting

CONTENT_TYPE = "text/calendar; charset=utf-8; method=PUBLISH"


def event_uid(meeting: Meeting) -> str:
    """Stable for the life of the meeting, so an updated invite replaces the old event."""
    host = urlsplit(current_app.config["PUBLIC_URL"]).hostname or "localhost"
    return f"meeting-{meeting.id}@{host}"


def event_title(meeting: Meeting) -> str:
    return f"{current_app.config['PRACTICE_NAME']}: {meeting.neutral_name}"


def meeting_event(meeting: Meeting) -> Event:
    event = Event()
    event.add("uid", event_uid(meeting))
    event.add("sequence", meeting.revision)
    event.add("dtstamp", clock.now())
    event.add("dtstart", meeting.local_start)
    event.add("dtend", meeting.local_end)
    event.add("summary", event_title(meeting))
    event.add("location", meeting.location)
    notes = ["Please arrive ten minutes early."] if not meeting.online else []
    if meeting.kind == "ketamine":
        notes.append("A sober adult you trust must take you home afterwards; "
                     "no driving until the next day.")
    notes.append(f"Questions: {current_app.config['CONTACT_EMAIL']}")
    event.add("description", "\n".join(notes))

    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"Tomorrow: {event_title(meeting)}")
    alarm.add("trigger", timedelta(days=-1))
    event.add_component(alarm)
    return event


def calendar_file(cohort: Cohort, meetings: list[Meeting]) -> str:
    """An .ics document with one event per meeting, in the cohort's time zone."""
    calendar = Calendar()
    calendar.add("prodid", "-//Rediscovering Resilience//Cohort meetings//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{current_app.config['PRACTICE_NAME']}: {cohort.title}")
    for meeting in meetings:
        calendar.add_component(meeting_event(meeting))
    first = min(m.local_start.date() for m in meetings)
    calendar.add_missing_timezones(first_date=first - timedelta(days=366), last_date=first + timedelta(days=366))
    return calendar.to_ical().decode()


def attachment(cohort: Cohort, meetings: list[Meeting] | None = None, filename: str = "meetings.ics") -> dict:
    return {
        "filename": filename,
        "content_type": CONTENT_TYPE,
        "content": calendar_file(cohort, meetings if meetings is not None else cohort.meetings),
    }
