"""Messages: a clinician's words to one applicant, or to every enrolled participant of a
cohort, sent by email through the outbox (one recipient per email; replies reach the
practice's address). The words are encrypted at rest, in the message and in the outbox;
the audit log says who wrote to whom, never what.
"""
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from .. import clock, database
from ..extensions import db
from ..models import Admin, Application, Cohort, Message
from ..refusals import RefusedChange
from ..status import Status
from . import audit, notifications, seats

LONGEST = 4000  # characters; the form says so before the rule has to
# The same words to the same people again within this time are a double click, not a new message.
REPEAT_WINDOW = timedelta(minutes=10)


def write_to_applicant(application_id: int, admin: Admin, body: str) -> Message:
    """Send a clinician's words to one applicant, whatever their status (a declined or
    withdrawn person may still be written to), or raise RefusedChange and send nothing.

    Stores the message (sealed), queues one email and writes an audit event, in one
    transaction.
    """
    body = _clean(body)
    database.begin_write()
    with database.rollback_on(RefusedChange):
        application = seats.lock_application(application_id)  # a double click waits, then finds the first
        if application is None:
            raise RefusedChange("missing")
        if application.erased_at is not None:  # no one to write to
            raise RefusedChange("erased")
        _check(body, Message.application_id == application.id)
    message = Message(admin=admin, cohort=application.cohort, application=application, body=body, recipients=1,
                      created_at=clock.now())
    db.session.add(message)
    db.session.flush()  # its id names its email
    notifications.message_sent(message, application)
    audit.record("message", admin=admin, application=application, detail="to the applicant")
    db.session.commit()
    return message


def write_to_participants(cohort_id: int, admin: Admin, body: str, expected: set[int] | None = None) -> Message:
    """Send a clinician's words to every enrolled participant of a cohort, one email each,
    or raise RefusedChange and send nothing: when no one is enrolled, or (given `expected`,
    the application ids a clinician saw in the preview) when who is enrolled has changed
    since. One message row records it, with how many it reached.
    """
    body = _clean(body)
    database.begin_write()
    with database.rollback_on(RefusedChange):
        cohort = seats.lock_cohort(cohort_id)  # no one enrols or leaves while the list is read
        if cohort is None:
            raise RefusedChange("cohort_missing")
        people = enrolled_participants(cohort)
        if not people:
            raise RefusedChange("no_participants", cohort=cohort)
        if expected is not None and {person.id for person in people} != set(expected):
            raise RefusedChange("participants_changed", cohort=cohort)
        _check(body, Message.cohort_id == cohort.id, Message.application_id.is_(None))
    message = Message(admin=admin, cohort=cohort, application=None, body=body, recipients=len(people),
                      created_at=clock.now())
    db.session.add(message)
    db.session.flush()
    for person in people:
        notifications.message_sent(message, person)
    audit.record("message", admin=admin, cohort=cohort,
                 detail=f"to {len(people)} participant{'s' if len(people) != 1 else ''}")
    db.session.commit()
    return message


def _clean(body: str) -> str:
    return (body or "").replace("\r\n", "\n").strip()


def _check(body: str, *to_whom) -> None:
    if not body:
        raise RefusedChange("empty_message")
    if len(body) > LONGEST:
        raise RefusedChange("message_too_long", longest=LONGEST)
    recent = db.session.scalars(sa.select(Message).where(*to_whom, Message.decision.is_(None),
                                                         Message.created_at >= clock.now() - REPEAT_WINDOW))
    if any(message.body == body for message in recent):
        raise RefusedChange("message_repeated")


def enrolled_participants(cohort: Cohort) -> list[Application]:
    """Who a message to the cohort would reach now: its enrolled participants."""
    return seats.participants(cohort, statuses=(Status.ENROLLED,))


def message_preview(admin: Admin, application: Application, body: str) -> dict:
    """The email this person would receive (subject, text_body, html_body), rendered and not
    queued, with their private status link hidden: it is theirs, not the panel's."""
    email = notifications.message_email(admin, application, _clean(body))
    return {part: text.replace(application.token, "…") for part, text in email.items()}


def messages_for(application: Application) -> list[Message]:
    """The messages this person received, oldest first, for their history: those written to
    them (with a decision or on their own), and the cohort's messages sent while they were
    enrolled (from enrolment until they withdrew)."""
    to_the_group = sa.false()
    if application.enrolled_at is not None:
        to_the_group = sa.and_(Message.application_id.is_(None), Message.cohort_id == application.cohort_id,
                               Message.created_at >= application.enrolled_at)
        if application.status == Status.WITHDRAWN and application.withdrawn_at is not None:
            to_the_group = sa.and_(to_the_group, Message.created_at < application.withdrawn_at)
    return list(db.session.scalars(
        sa.select(Message).where(sa.or_(Message.application_id == application.id, to_the_group))
        .options(selectinload(Message.admin)).order_by(Message.created_at, Message.id)))


def cohort_messages(cohort: Cohort) -> list[Message]:
    """The messages written to a cohort's participants, newest first."""
    return list(db.session.scalars(
        sa.select(Message).where(Message.cohort_id == cohort.id, Message.application_id.is_(None))
        .options(selectinload(Message.admin)).order_by(Message.created_at.desc(), Message.id.desc())))
