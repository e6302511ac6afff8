"""Who is told what. Every email an event owes people is queued here, in the caller's
transaction, so it is sent exactly when the change it reports is stored.

Each dedupe key names the event and its moment: repeating a request never mails twice,
while a later, real change (accepted again after a reopen) mails again. Emails carry
what they need to say (the application, the cohort); the outbox builds the links.
"""
from flask import current_app

from .. import calendar, outbox
from ..models import Application, Meeting
from ..status import SEAT_HOLDING, Status
from . import seats


def application_received(application: Application) -> None:
    """The applicant gets their status link; each clinician, a link to the application."""
    key = f"application:{application.id}:received:{application.created_at.isoformat()}"
    outbox.enqueue("received", application.email, key, application=application)
    for admin in current_app.config["ADMIN_EMAILS"]:
        outbox.enqueue("new_application", admin, f"{key}:{admin}", application=application)


def status_changed(application: Application, previous: Status) -> None:
    """The applicant hears of every decision; reopening tells them only when it takes back
    an offered place. A seat given up tells the clinicians who is first in line."""
    to = application.status
    key = f"application:{application.id}:{to}:{application.status_changed_at.isoformat()}"
    if to == Status.PENDING:
        if previous == Status.ACCEPTED:
            outbox.enqueue("offer_reopened", application.email, key, application=application)
    else:
        invite = [calendar.attachment(application.cohort)] if to == Status.ACCEPTED and application.cohort.meetings else []
        outbox.enqueue(to, application.email, key, application=application, attachments=invite)
    if previous in SEAT_HOLDING and to not in SEAT_HOLDING:
        cohort = application.cohort
        first = seats.first_in_line(cohort)
        for admin in current_app.config["ADMIN_EMAILS"]:
            outbox.enqueue("seat_freed", admin, f"{key}:seat:{admin}", cohort=cohort, next_in_line=first)


def status_link(application: Application, day: str) -> None:
    """Someone applied again with this application's address: its owner gets the link (once a day)."""
    outbox.enqueue("status_link", application.email, f"application:{application.id}:status_link:{day}",
                   application=application)


def meeting_moved(meeting: Meeting, holders: list[Application]) -> None:
    """Everyone holding a seat gets the meeting's new time as an updated calendar event."""
    invite = calendar.attachment(meeting.cohort, [meeting], filename="meeting-update.ics")
    for application in holders:
        key = f"meeting:{meeting.id}:revision:{meeting.revision}:application:{application.id}"
        outbox.enqueue("meeting_moved", application.email, key, application=application, meeting=meeting,
                       attachments=[invite])


def reminder(meeting: Meeting, application: Application) -> bool:
    """A participant is reminded of a meeting once per time it is scheduled; True if queued now."""
    key = f"reminder:meeting:{meeting.id}:{meeting.starts_at.isoformat()}:application:{application.id}"
    return outbox.enqueue("reminder", application.email, key, application=application, meeting=meeting) is not None
