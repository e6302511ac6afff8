"""The rules of the program: who may apply, how many seats are left, one application each.

Views, CLI commands and tests all ask this module; nothing else decides a seat.
Only a clinician's acceptance takes a seat: pending and waitlisted applications
never count against a cohort's capacity.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from . import calendar, clock, database, outbox, program
from .extensions import db
from .models import ACTIVE_STATUSES, Admin, Application, AuditEvent, Cohort, Meeting, Note

SEAT_HOLDING_STATUSES = ("accepted", "enrolled")


class ApplicationRefused(Exception):
    """An application the rules will not store; the message is written for the applicant."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Availability:
    """What a visitor may know about a cohort's seats right now."""

    capacity: int
    seats_taken: int
    accepting: bool
    closed_reason: str | None  # None, "closed", "deadline" or "started"

    @property
    def seats_left(self) -> int:
        return max(self.capacity - self.seats_taken, 0)

    @property
    def full(self) -> bool:
        return self.seats_left == 0


def local_today(cohort: Cohort) -> date:
    return clock.now().astimezone(cohort.zone).date()


def closed_reason(cohort: Cohort) -> str | None:
    """Why the cohort takes no new applications, or None when it does.

    The deadline is inclusive: applications are taken until the end of that day
    in the cohort's own time zone.
    """
    today = local_today(cohort)
    if not cohort.applications_open:
        return "closed"
    if today >= cohort.starts_on:
        return "started"
    if cohort.application_deadline is not None and today > cohort.application_deadline:
        return "deadline"
    return None


CLOSED_MESSAGES = {
    "closed": "Applications for this cohort are closed.",
    "deadline": "The application deadline for this cohort has passed.",
    "started": "This cohort has already begun, so it is no longer taking applications.",
}


def seats_taken_by_cohort(cohort_ids: list[int]) -> dict[int, int]:
    """Seats held (accepted or enrolled) for each cohort, in one query."""
    if not cohort_ids:
        return {}
    rows = db.session.execute(
        sa.select(Application.cohort_id, sa.func.count())
        .where(Application.cohort_id.in_(cohort_ids))
        .where(Application.status.in_(SEAT_HOLDING_STATUSES))
        .group_by(Application.cohort_id)
    )
    taken = {cohort_id: 0 for cohort_id in cohort_ids}
    taken.update({cohort_id: count for cohort_id, count in rows})
    return taken


def availability(cohort: Cohort, seats_taken: int | None = None) -> Availability:
    """Seats and openness of one cohort (pass seats_taken when already counted in bulk)."""
    if seats_taken is None:
        seats_taken = seats_taken_by_cohort([cohort.id])[cohort.id]
    reason = closed_reason(cohort)
    return Availability(cohort.capacity, seats_taken, reason is None, reason)


def availabilities(cohorts: list[Cohort]) -> dict[int, Availability]:
    taken = seats_taken_by_cohort([c.id for c in cohorts])
    return {c.id: availability(c, taken[c.id]) for c in cohorts}


def upcoming_cohorts() -> list[Cohort]:
    """Cohorts that have not started yet, soonest first (open or not)."""
    cohorts = db.session.scalars(sa.select(Cohort).options(selectinload(Cohort.meetings))
                                 .order_by(Cohort.starts_on, Cohort.id)).all()
    return [c for c in cohorts if local_today(c) < c.starts_on]


def open_cohorts() -> list[Cohort]:
    """Cohorts that take applications now, soonest first."""
    return [c for c in upcoming_cohorts() if closed_reason(c) is None]


# What slugs, status tokens and form submission ids look like. Anything else is not
# looked up at all: PostgreSQL refuses some characters (NUL) and over-long values.
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def cohort_by_slug(slug: str | None) -> Cohort | None:
    if not slug or not SLUG.fullmatch(slug):
        return None
    return db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))


def application_by_token(token: str) -> Application | None:
    if not TOKEN.fullmatch(token):
        return None
    return db.session.scalar(sa.select(Application).where(Application.token == token))


def email_key(email: str) -> str:
    return email.strip().lower()


def active_application(cohort: Cohort, email: str) -> Application | None:
    """The application still in play for this person and cohort, if any."""
    return db.session.scalar(
        sa.select(Application)
        .where(Application.cohort_id == cohort.id)
        .where(Application.email_key == email_key(email))
        .where(Application.status.in_(ACTIVE_STATUSES))
    )


# Said when the same email applies twice to one cohort. The status link goes to the
# address itself, never to the page, so a stranger typing someone's email learns no link.
DUPLICATE_MESSAGE = (
    "An application for this cohort from this email address is already in progress, so we "
    "have not stored a second one. We have emailed the private status link to that address."
)


def check_can_apply(cohort: Cohort) -> None:
    """Raise ApplicationRefused if this cohort takes no applications now."""
    reason = closed_reason(cohort)
    if reason is not None:
        raise ApplicationRefused(CLOSED_MESSAGES[reason], field="cohort")


def submit_application(cohort: Cohort, *, submission_id: str | None, **fields) -> tuple[Application, bool]:
    """Store a new pending application; returns (application, created).

    A repeated submission of the same form for the same cohort and email (a double
    click, a resent POST) returns the application the first one stored, with
    created=False. An application already in progress for this email and cohort is
    refused, and its owner is emailed their status link. Any refusal raises
    ApplicationRefused and stores no application.
    """
    database.begin_write()
    earlier = repeated_submission(submission_id, cohort, fields["email"])
    if earlier is not None:
        db.session.rollback()
        return earlier, False
    try:
        check_can_apply(cohort)
    except ApplicationRefused:
        db.session.rollback()  # release the write lock
        raise
    existing = active_application(cohort, fields["email"])
    if existing is not None:
        outbox.enqueue("status_link", existing.email,
                       f"application:{existing.id}:status_link:{local_today(cohort).isoformat()}",
                       application=existing)
        db.session.commit()
        raise ApplicationRefused(DUPLICATE_MESSAGE, field="email")
    if not submission_id or not TOKEN.fullmatch(submission_id) or _by_submission(submission_id) is not None:
        submission_id = None  # the Back button brought an old form back, for another cohort or email
    now = clock.now()
    application = Application(
        cohort=cohort,
        submission_id=submission_id,
        email_key=email_key(fields["email"]),
        status="pending",
        created_at=now,
        status_changed_at=now,
        consented_at=now,
        health_consent_at=now,
        **fields,
    )
    db.session.add(application)
    try:
        db.session.flush()
        notify(application, "received")
        db.session.commit()
    except IntegrityError:
        # Another request got there first: the same form twice, or the same person.
        db.session.rollback()
        earlier = repeated_submission(submission_id, cohort, fields["email"])
        if earlier is not None:
            return earlier, False
        raise ApplicationRefused(DUPLICATE_MESSAGE, field="email") from None
    return application, True


def repeated_submission(submission_id: str | None, cohort: Cohort | None, email: str | None) -> Application | None:
    """The application this very form already stored, if it is sent again unchanged.

    Only a repeat for the same cohort and email counts: a form brought back with the
    Back button and sent for another cohort is a new application.
    """
    if cohort is None or not email:
        return None
    earlier = _by_submission(submission_id)
    if earlier is not None and earlier.cohort_id == cohort.id and earlier.email_key == email_key(email):
        return earlier
    return None


def _by_submission(submission_id: str | None) -> Application | None:
    if not submission_id or not TOKEN.fullmatch(submission_id):
        return None
    return db.session.scalar(sa.select(Application).where(Application.submission_id == submission_id))



# --- Telling people ------------------------------------------------------------------

REMINDER_WINDOW = timedelta(hours=48)


def notify(application: Application, event: str, previous_status: str | None = None) -> None:
    """Queue every email an event owes people, in the caller's transaction.

    Events are "received" and the statuses an application moves to. The dedupe key
    carries the moment of the change, so repeating a request never mails twice while a
    later, real change (accepted again after a reopen) mails again. Reopening tells the
    applicant only when it takes back an offered place; any lost seat tells the admins.
    """
    cohort = application.cohort
    moment = (application.created_at if event == "received" else application.status_changed_at).isoformat()
    key = f"application:{application.id}:{event}:{moment}"
    attachments = [calendar.attachment(cohort)] if event == "accepted" and cohort.meetings else []
    if event == "pending":
        if previous_status == "accepted":
            outbox.enqueue("offer_reopened", application.email, key, application=application)
    else:
        outbox.enqueue(event, application.email, key, application=application, attachments=attachments)

    if event == "received":
        for admin in current_app.config["ADMIN_EMAILS"]:
            outbox.enqueue("new_application", admin, f"{key}:{admin}", application=application,
                           admin_url=outbox.admin_application_url(application))
    if previous_status in SEAT_HOLDING_STATUSES and event not in SEAT_HOLDING_STATUSES:
        first = next(iter(waitlists_by_cohort([cohort.id])[cohort.id]), None)
        for admin in current_app.config["ADMIN_EMAILS"]:
            outbox.enqueue("seat_freed", admin, f"{key}:seat:{admin}", cohort=cohort, next_in_line=first,
                           next_in_line_url=outbox.admin_application_url(first) if first else None)


# --- Seats at a glance, for many cohorts in a fixed number of queries ----------------

_SUMMARY_COLUMNS = (Application.id, Application.cohort_id, Application.first_name, Application.last_name,
                    Application.status, Application.created_at, Application.accepted_at)


def seat_holders_by_cohort(cohort_ids: list[int]) -> dict[int, list]:
    """Who holds each cohort's seats (accepted, then enrolled), in the order they were offered."""
    holders = {cohort_id: [] for cohort_id in cohort_ids}
    rows = db.session.execute(
        sa.select(*_SUMMARY_COLUMNS)
        .where(Application.cohort_id.in_(cohort_ids), Application.status.in_(SEAT_HOLDING_STATUSES))
        .order_by(Application.accepted_at, Application.id)
    ) if cohort_ids else []
    for row in rows:
        holders[row.cohort_id].append(row)
    return holders


def waitlists_by_cohort(cohort_ids: list[int]) -> dict[int, list]:
    """Each cohort's waitlist in waitlist order: the time of application."""
    waiting = {cohort_id: [] for cohort_id in cohort_ids}
    rows = db.session.execute(
        sa.select(*_SUMMARY_COLUMNS)
        .where(Application.cohort_id.in_(cohort_ids), Application.status == "waitlisted")
        .order_by(Application.created_at, Application.id)
    ) if cohort_ids else []
    for row in rows:
        waiting[row.cohort_id].append(row)
    return waiting


def status_counts_by_cohort(cohort_ids: list[int]) -> dict[int, dict[str, int]]:
    counts = {cohort_id: dict.fromkeys(TRANSITIONS, 0) for cohort_id in cohort_ids}
    rows = db.session.execute(
        sa.select(Application.cohort_id, Application.status, sa.func.count())
        .where(Application.cohort_id.in_(cohort_ids))
        .group_by(Application.cohort_id, Application.status)
    ) if cohort_ids else []
    for cohort_id, status, count in rows:
        counts[cohort_id][status] = count
    return counts


def participants(cohort: Cohort, statuses=SEAT_HOLDING_STATUSES) -> list[Application]:
    return list(db.session.scalars(
        sa.select(Application)
        .where(Application.cohort_id == cohort.id, Application.status.in_(statuses))
        .order_by(Application.id)
    ))


def send_reminders() -> int:
    """Queue a reminder for each enrolled participant of every meeting in the next 48 hours.

    Safe to run every few minutes: each (meeting, time, person) is reminded once.
    """
    database.begin_write()
    now = clock.now()
    meetings = db.session.scalars(
        sa.select(Meeting)
        .where(Meeting.starts_at > now, Meeting.starts_at <= now + REMINDER_WINDOW)
        .order_by(Meeting.starts_at)
    ).all()
    queued = 0
    for meeting in meetings:
        for application in participants(meeting.cohort, statuses=("enrolled",)):
            key = f"reminder:meeting:{meeting.id}:{meeting.starts_at.isoformat()}:application:{application.id}"
            if outbox.enqueue("reminder", application.email, key, application=application, meeting=meeting):
                queued += 1
    db.session.commit()
    return queued


def change_meeting(meeting: Meeting, starts_at: datetime, ends_at: datetime, location: str | None = None,
                   admin: Admin | None = None) -> bool:
    """Give a meeting a new time or place and send everyone holding a seat an updated invite.

    Returns False (and changes nothing) when nothing is different. The caller opens the
    write transaction (database.begin_write) and commits, so several meetings change together.
    """
    if ends_at <= starts_at:
        raise RefusedChange("A meeting must end after it starts.")
    location = location if location is not None else meeting.location
    if (meeting.starts_at, meeting.ends_at, meeting.location) == (starts_at, ends_at, location):
        return False
    meeting.starts_at, meeting.ends_at, meeting.location = starts_at, ends_at, location
    meeting.revision += 1
    record("meeting changed", admin=admin, cohort=meeting.cohort, detail=meeting.name)
    db.session.flush()
    invite = calendar.attachment(meeting.cohort, [meeting], filename="meeting-update.ics")
    for application in participants(meeting.cohort):
        key = f"meeting:{meeting.id}:revision:{meeting.revision}:application:{application.id}"
        outbox.enqueue("meeting_moved", application.email, key, application=application,
                       meeting=meeting, attachments=[invite])
    return True


# --- Decisions ---------------------------------------------------------------------------

# Who may move from which status to which. Acceptance is always a clinician's decision;
# "enrolled" is reached when the applicant confirms the place offered.
TRANSITIONS = {
    "pending": ("accepted", "waitlisted", "declined", "withdrawn"),
    "waitlisted": ("accepted", "declined", "pending", "withdrawn"),
    "accepted": ("enrolled", "pending", "withdrawn"),
    "enrolled": ("withdrawn",),
    "declined": ("pending",),
    "withdrawn": (),
}
STATUS_LABELS = {
    "pending": "Pending review",
    "waitlisted": "Waitlisted",
    "accepted": "Offered a place",
    "enrolled": "Enrolled",
    "declined": "Declined",
    "withdrawn": "Withdrawn",
}
# How a change is named on buttons and in messages.
DECISIONS = {
    "accepted": ("Accept", "accepted"),
    "waitlisted": ("Waitlist", "waitlisted"),
    "declined": ("Decline", "declined"),
    "pending": ("Reopen", "reopened"),
    "withdrawn": ("Withdraw", "withdrawn"),
    "enrolled": ("Confirm the place", "enrolled"),
}
STATUS_TIMESTAMPS = {"accepted": "accepted_at", "waitlisted": "waitlisted_at", "declined": "declined_at",
                     "enrolled": "enrolled_at", "withdrawn": "withdrawn_at"}
CONFIRM_DAYS = 7


class RefusedChange(Exception):
    """A change the rules will not make; nothing was changed. The message is for the clinician."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def record(action: str, *, admin: Admin | None = None, actor: str | None = None,
           application: Application | None = None, cohort: Cohort | None = None,
           from_status: str | None = None, to_status: str | None = None, detail: str | None = None) -> None:
    """Add an audit event to the current transaction (never with an applicant's answers)."""
    cohort = cohort or (application.cohort if application else None)
    db.session.add(AuditEvent(
        at=clock.now(), actor=actor or ("admin" if admin else "system"), admin_id=admin.id if admin else None,
        action=action, application_id=application.id if application else None,
        cohort_id=cohort.id if cohort else None,
        from_status=from_status, to_status=to_status, detail=detail[:300] if detail else None,
    ))


def record_alone(action: str, **details) -> None:
    """An audit event that is the whole change (an export, say), in its own transaction."""
    database.begin_write()
    record(action, **details)
    db.session.commit()


def signed_in(admin: Admin) -> None:
    database.begin_write()
    admin.last_login_at = clock.now()
    record("signed in", admin=admin)
    db.session.commit()


def lock_cohort(cohort_id: int) -> Cohort:
    """The cohort row, locked until commit (PostgreSQL); SQLite is already in BEGIN IMMEDIATE."""
    return db.session.scalar(sa.select(Cohort).where(Cohort.id == cohort_id).with_for_update())


def seats_taken(cohort: Cohort) -> int:
    return seats_taken_by_cohort([cohort.id])[cohort.id]


def allowed_changes(application: Application) -> tuple[str, ...]:
    return TRANSITIONS.get(application.status, ())


def change_status(application_id: int, to_status: str, *, admin: Admin | None = None,
                  actor: str | None = None) -> Application:
    """Move an application to a new status, or raise RefusedChange and change nothing.

    The seat check and the change happen in one transaction that holds the cohort's
    lock, so two clinicians clicking "Accept" at once can never seat a seventh person.
    Writes an audit event and queues the applicant's email in the same transaction.
    """
    database.begin_write()
    try:
        cohort_id = db.session.scalar(sa.select(Application.cohort_id).where(Application.id == application_id))
        if cohort_id is None:
            raise RefusedChange("That application does not exist.")
        cohort = lock_cohort(cohort_id)
        # Read the application only now, under the lock (and locked itself): a request that
        # waited for the lock must judge the status as it is, not as it was before waiting.
        application = db.session.get(Application, application_id, populate_existing=True, with_for_update=True)
        previous = application.status
        if to_status == "enrolled" and actor != "applicant":
            raise RefusedChange("Only the applicant can confirm their place, from their status page. "
                                "Nothing was changed.")
        if to_status not in TRANSITIONS.get(previous, ()):
            verb = DECISIONS.get(to_status, (None, to_status))[1]
            raise RefusedChange(
                f"This application is {STATUS_LABELS[previous].lower()}, so it cannot be {verb}. Nothing was changed."
            )
        if to_status in SEAT_HOLDING_STATUSES and previous not in SEAT_HOLDING_STATUSES:
            if seats_taken(cohort) >= cohort.capacity:
                raise RefusedChange(
                    f"The {cohort.title} is full: all {cohort.capacity} seats are taken. Nothing was changed. "
                    "Waitlist this application, or free a seat first."
                )
    except RefusedChange:
        db.session.rollback()
        raise

    now = clock.now()
    application.status = to_status
    application.status_changed_at = now
    if to_status in STATUS_TIMESTAMPS:
        setattr(application, STATUS_TIMESTAMPS[to_status], now)
    application.confirm_by = confirm_by_date(cohort) if to_status == "accepted" else (
        application.confirm_by if to_status == "enrolled" else None)
    record("status", admin=admin, actor=actor, application=application, from_status=previous, to_status=to_status)
    notify(application, to_status, previous_status=previous)
    db.session.commit()
    return application


def confirm_by_date(cohort: Cohort) -> date:
    """A week to confirm an offered place, but never later than the day before the start."""
    today = local_today(cohort)
    return max(today, min(today + timedelta(days=CONFIRM_DAYS), cohort.starts_on - timedelta(days=1)))


def add_note(application_id: int, admin: Admin, body: str) -> Note:
    database.begin_write()
    application = db.session.get(Application, application_id)
    note = Note(application=application, admin=admin, body=body, created_at=clock.now())
    db.session.add(note)
    record("note", admin=admin, application=application)
    db.session.commit()
    return note


# --- Cohorts --------------------------------------------------------------------------------

def save_cohort(cohort: Cohort | None, fields: dict, admin: Admin) -> Cohort:
    """Create a cohort (with the default ten meetings) or update one.

    Refuses a capacity below the seats already taken, checked under the cohort's lock.
    """
    if cohort is None:
        database.begin_write()
        cohort = Cohort(**fields, created_at=clock.now())
        for meeting in program.default_meetings(fields["starts_on"], fields["timezone"], fields["location"]):
            cohort.meetings.append(Meeting(**meeting))
        db.session.add(cohort)
        db.session.flush()
        record("cohort created", admin=admin, cohort=cohort, detail=cohort.title)
        db.session.commit()
        return cohort

    cohort_id = cohort.id
    database.begin_write()
    cohort = lock_cohort(cohort_id)
    taken = seats_taken(cohort)
    if fields["capacity"] < taken:
        db.session.rollback()
        raise RefusedChange(
            f"{taken} seats are already taken, so the capacity cannot be lower than {taken}. Nothing was changed."
        )
    for name, value in fields.items():
        setattr(cohort, name, value)
    record("cohort changed", admin=admin, cohort=cohort, detail=cohort.title)
    db.session.commit()
    return cohort
