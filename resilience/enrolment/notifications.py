"""Who is told what. Every email an event owes people is queued here, in the caller's
transaction, so it is sent exactly when the change it reports is stored.

Each dedupe key names the event and its moment: repeating a request never mails twice,
while a later, real change (accepted again after a reopen) mails again. Emails carry
what they need to say (the application, the cohort); the outbox builds the links.
"""
from datetime import datetime

from .. import calendar, clock, outbox
from ..models import Application, Meeting, ScreeningSlot
from ..status import SEAT_HOLDING, Status
from . import seats


def application_received(application: Application, just_stored: bool = False) -> None:
    """The applicant gets their status link; each clinician, a link to the application (once:
    just_stored=True, for an application stored in this very transaction, skips looking for
    earlier copies, as there can be none)."""
    key = f"application:{application.id}:received:{application.created_at.isoformat()}"
    outbox.enqueue("received", application.email, key, application=application, new_event=just_stored)
    outbox.enqueue_for_clinicians("new_application", key, application=application, new_event=just_stored)


def status_changed(application: Application, previous: Status, **personal) -> bool:
    """The applicant hears of every decision (reopening only when it takes back an offered
    place), with the clinician's personal message if there is one. Calendars follow the
    seat: the offer brings the dates, enrolment an invitation, and losing the seat a
    cancellation. A seat given up tells the clinicians who is next. True if the applicant
    is emailed."""
    to = application.status
    key = f"application:{application.id}:{to}:{application.status_changed_at.isoformat()}"
    lost_seat = previous in SEAT_HOLDING and to not in SEAT_HOLDING
    attachments = []
    if application.cohort.meetings and (to in SEAT_HOLDING or lost_seat):
        application.calendar_sequence += 1  # each calendar sent replaces the one before
        method = {Status.ACCEPTED: calendar.PUBLISH, Status.ENROLLED: calendar.REQUEST}.get(to, calendar.CANCEL)
        filename = "cancelled-meetings.ics" if method == calendar.CANCEL else "meetings.ics"
        attachments.append(calendar.attachment(application.cohort, filename=filename, method=method,
                                               attendee=application))
    kind = "offer_reopened" if to == Status.PENDING else to
    emailed = to != Status.PENDING or previous == Status.ACCEPTED
    if emailed:
        outbox.enqueue(kind, application.email, key, application=application, attachments=attachments,
                       previous=previous, **_waitlist_facts(application), **personal)
    if lost_seat:
        cohort = application.cohort
        first = seats.first_in_line(cohort)
        outbox.enqueue_for_clinicians("seat_freed", f"{key}:seat", cohort=cohort, next_in_line=first,
                                      freed_by=application)
    return emailed


def _waitlist_facts(application: Application) -> dict:
    """What a waitlisted person is told honestly: their place in line and whether seats are open."""
    if application.status != Status.WAITLISTED:
        return {}
    cohort = application.cohort
    return {"position": seats.waitlist_position(application),
            "seats_left": max(cohort.capacity - seats.seats_taken(cohort), 0)}


def offer_reminder(application: Application) -> bool:
    """The offered place lapses within 48 hours: one kind reminder per offer; True if queued now."""
    key = f"application:{application.id}:offer_reminder:{application.confirm_by_at.isoformat()}"
    return outbox.enqueue("offer_reminder", application.email, key, application=application) is not None


def status_link(application: Application, day: str) -> None:
    """Someone applied again with this application's address: its owner gets the link (once a day)."""
    outbox.enqueue("status_link", application.email, f"application:{application.id}:status_link:{day}",
                   application=application)


def meeting_moved(meeting: Meeting, holders: list[Application], before: tuple[datetime, datetime, str]) -> None:
    """Everyone holding a seat gets the old and the new time and place (before: start, end,
    place), with the updated event: an invitation for those enrolled, a copy for those still
    to confirm."""
    for application in holders:
        method = calendar.REQUEST if application.status == Status.ENROLLED else calendar.PUBLISH
        invite = calendar.attachment(meeting.cohort, [meeting], filename="meeting-update.ics", method=method,
                                     attendee=application)
        key = f"meeting:{meeting.id}:revision:{meeting.revision}:application:{application.id}"
        outbox.enqueue("meeting_moved", application.email, key, application=application, meeting=meeting,
                       **moved_from(meeting.cohort, before), attachments=[invite])


def meeting_moves_preview(cohort, moved: list) -> tuple[list[Application], list[tuple]]:
    """Who would hear of these planned moves (meetings.MeetingChange), and each moved-meeting
    email as the first of them would read it: rendered, queuing nothing."""
    holders = seats.participants(cohort) if moved else []
    emails = [(change, outbox.compose("meeting_moved", application=holders[0], meeting=change, **moved_from(
        cohort, (change.meeting.starts_at, change.meeting.ends_at, change.meeting.location))))
        for change in moved if holders]
    return holders, emails


def moved_from(cohort, before: tuple[datetime, datetime, str]) -> dict:
    """What the moved-meeting email says the meeting was: its start, end (local) and place."""
    return {"before": cohort.local(before[0]), "before_end": cohort.local(before[1]), "before_location": before[2]}


def reminder(meeting: Meeting, application: Application) -> bool:
    """A participant is reminded of a meeting once per time it is scheduled; True if queued now."""
    key = f"reminder:meeting:{meeting.id}:{meeting.starts_at.isoformat()}:application:{application.id}"
    return outbox.enqueue("reminder", application.email, key, application=application, meeting=meeting) is not None


# --- Screening conversations: the applicant and the slot's clinician both hear, with an .ics each.

def _conversation(kind: str, slot: ScreeningSlot, application: Application, event: str, method: str,
                  extra: list[dict] = (), tell_applicant: bool = True, **context) -> None:
    key = f"slot:{slot.id}:{event}:{slot.revision}:application:{application.id}"
    if tell_applicant:
        outbox.enqueue(kind, application.email, key, application=application, slot=slot, for_clinician=False,
                       attachments=[calendar.screening_attachment(slot, application, method, False), *extra],
                       **context)
    outbox.enqueue(kind, slot.admin.email, f"{key}:clinician", cohort=application.cohort, person=application,
                   slot=slot, for_clinician=True,
                   attachments=[calendar.screening_attachment(slot, application, method, True)], **context)


def times_open(application: Application) -> bool:
    """New times to talk are published: someone invited who has not booked hears of it, once a day."""
    key = f"application:{application.id}:times_open:{clock.now().date().isoformat()}"
    return outbox.enqueue("times_open", application.email, key, application=application) is not None


def conversation_booked(slot: ScreeningSlot, previous: ScreeningSlot | None) -> None:
    """A time is booked (perhaps instead of an earlier one, whose event is cancelled too)."""
    application = slot.application
    extra = [calendar.screening_attachment(previous, application, calendar.CANCEL, False,
                                           filename="cancelled-conversation.ics")] if previous else []
    _conversation("conversation_booked", slot, application, "booked", calendar.REQUEST, extra,
                  before=previous.local_start if previous else None)


def conversation_moved(slot: ScreeningSlot, before: datetime) -> None:
    _conversation("conversation_moved", slot, slot.application, "moved", calendar.REQUEST, before=before)


def conversation_cancelled(slot: ScreeningSlot, by_clinician: bool, tell_applicant: bool = True) -> None:
    """Cancelled ahead of time, or (a clinician's word) it did not take place: missed."""
    _conversation("conversation_cancelled", slot, slot.application, "cancelled", calendar.CANCEL,
                  tell_applicant=tell_applicant, by_clinician=by_clinician, missed=slot.starts_at <= clock.now())


def missed_meeting(meeting: Meeting, application: Application) -> None:
    """A participant was marked absent: each clinician hears once per person and meeting
    (marking them absent again, or changing the mark, sends nothing more), to reach out."""
    key = f"meeting:{meeting.id}:missed:application:{application.id}"
    outbox.enqueue_for_clinicians("missed_meeting", key, cohort=meeting.cohort, meeting=meeting, person=application)


# --- A clinician's words (enrolment/messages.py): one email per person, replies to the practice.

def message_sent(message, application: Application) -> None:
    """A clinician's message reaches one person (the applicant, or one participant of a
    cohort message): a neutral subject, their first name, the words, the clinician's name
    and their status link. Nothing else, and never their answers."""
    key = f"message:{message.id}:application:{application.id}"
    outbox.enqueue("message", application.email, key, **_message_context(message.admin, application, message.body))


def message_email(admin, application: Application, body: str) -> dict:
    """The email message_sent would queue for this person, rendered (subject, text_body,
    html_body), queuing nothing: what a clinician checks before sending."""
    return outbox.compose("message", **_message_context(admin, application, body))


def _message_context(admin, application: Application, body: str) -> dict:
    # The words go in as "words", not "personal_message": the email layouts add a decision's
    # personal message by themselves, and here the words are the email, said once.
    return {"application": application, "words": body, "clinician": admin.display_name}
