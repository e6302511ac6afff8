"""Decisions: moving an application from one status to another, under the cohort's lock,
so that two clinicians clicking "Accept" at once can never seat a seventh person; what a
decision would do, shown before it is made; several at once; notes and who looks after whom."""
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from .. import clock, database, outbox
from ..extensions import db
from ..models import Admin, Application, Cohort, Message, Note
from ..refusals import RefusedChange
from ..status import APPLICANT_MAY, ONLY_BY, SEAT_HOLDING, TRANSITIONS, Status
from . import audit, notifications, screening, seats
from .seats import lock_application

# When each status was last reached.
STATUS_TIMESTAMPS = {Status.SCREENING: "invited_at", Status.ACCEPTED: "accepted_at",
                     Status.WAITLISTED: "waitlisted_at", Status.DECLINED: "declined_at",
                     Status.ENROLLED: "enrolled_at", Status.LAPSED: "lapsed_at", Status.WITHDRAWN: "withdrawn_at"}

SHORTEST_OFFER = timedelta(hours=24)


def allowed_changes(application: Application, actor: str = "admin") -> tuple[Status, ...]:
    """Where this actor may move the application now (nowhere, once its person is erased)."""
    if application.erased_at is not None:
        return ()
    return tuple(status for status in TRANSITIONS.get(application.status, ())
                 if ONLY_BY.get(status, actor) == actor and _may(actor, application.status, status))


def _may(actor: str, previous: Status, to_status: Status) -> bool:
    return actor != "applicant" or previous in APPLICANT_MAY.get(to_status, ())


def change_status(application_id: int, to_status: Status, *, admin: Admin | None = None,
                  actor: str | None = None, evaluated: bool = False, message: str | None = None) -> Application:
    """Move an application to a new status, or raise RefusedChange and change nothing.

    The seat check and the change happen in one transaction that holds the cohort's
    lock. A clinician accepts only after a screening conversation recorded as held, or
    saying (evaluated=True) that the medical evaluation took place another way. A clinician's
    short personal message goes into the email the decision sends (refused when it sends
    none) and is kept, sealed, as a Message. Writes an audit event and queues the emails in
    the same transaction.
    """
    database.begin_write()
    application = _decide(application_id, Status(to_status), admin, actor or ("admin" if admin else "system"),
                          evaluated, message)
    db.session.commit()
    return application


def _decide(application_id: int, to_status: Status, admin: Admin | None, actor: str, evaluated: bool,
            message: str | None) -> Application:
    with database.rollback_on(RefusedChange):
        application = lock_application(application_id)
        if application is None:
            raise RefusedChange("missing")
        previous = application.status
        _check(application, previous, to_status, actor, evaluated)

    now = clock.now()
    application.status = to_status
    application.status_changed_at = now
    if to_status in STATUS_TIMESTAMPS:
        setattr(application, STATUS_TIMESTAMPS[to_status], now)
    if to_status == Status.ACCEPTED:
        application.confirm_by_at = confirm_by(application.cohort, now)
    elif to_status not in (Status.ENROLLED, Status.LAPSED):  # a lapsed offer keeps the time it lapsed at
        application.confirm_by_at = None
    if to_status == Status.WAITLISTED:  # joins the end of the line: no one already waiting moves back
        application.waitlist_rank = seats.last_rank(application.cohort_id) + 1
    if previous == Status.SCREENING:
        screening.release_bookings(application, admin=admin)
    detail = "evaluation confirmed" if evaluated and to_status == Status.ACCEPTED else None
    if message:
        detail = "; ".join(filter(None, (detail, "personal message added")))  # never its words
    audit.record("status", admin=admin, actor=actor, application=application, from_status=previous,
                 to_status=to_status, detail=detail)
    personal = {"personal_message": message, "clinician": admin.display_name} if message else {}
    emailed = notifications.status_changed(application, previous, **personal)
    with database.rollback_on(RefusedChange):
        if message and not emailed:
            raise RefusedChange("message_not_sent", status=to_status.action.lower())
    if message:
        db.session.add(Message(admin=admin, cohort=application.cohort, application=application, decision=to_status,
                               body=message, recipients=1, created_at=now))
    return application


@dataclass(frozen=True)
class Email:
    """One email a decision would send."""
    to: str
    subject: str
    attachments: tuple[str, ...]
    to_applicant: bool


@dataclass(frozen=True)
class DecisionPreview:
    """What a decision would do if made now: refused (and why), or the seats and emails."""
    to_status: Status
    refusal: RefusedChange | None = None
    emails: tuple[Email, ...] = ()
    seats_taken: int = 0        # after the decision
    capacity: int = 0
    takes_seat: bool = False
    frees_seat: bool = False
    confirm_by_at: datetime | None = None

    @property
    def emails_applicant(self) -> bool:
        return any(email.to_applicant for email in self.emails)


def preview_decision(application_id: int, to_status: Status, admin: Admin) -> DecisionPreview:
    """What this decision would do now: who is emailed (each subject and attachment) and the
    seats after it. Found by making the change and rolling it back, so the preview lists the
    emails the decision would queue. The medical evaluation is assumed confirmed: the
    clinician is asked for it beside the decision. (On PostgreSQL the rolled-back rows still
    use up ids, so audit event ids may have gaps.)"""
    to_status = Status(to_status)
    database.begin_write()
    previous = db.session.scalar(sa.select(Application.status).where(Application.id == application_id))
    with outbox.collecting() as queued:
        try:
            application = _decide(application_id, to_status, admin, "admin", True, None)
        except RefusedChange as refused:  # already rolled back
            return DecisionPreview(to_status, refusal=refused)
        db.session.flush()
    cohort = application.cohort
    preview = DecisionPreview(
        to_status,
        emails=tuple(Email(m.to_address, m.subject, tuple(a["filename"] for a in m.attachments),
                           m.to_address == application.email) for m in queued),
        seats_taken=seats.seats_taken(cohort), capacity=cohort.capacity,
        takes_seat=to_status in SEAT_HOLDING and previous not in SEAT_HOLDING,
        frees_seat=previous in SEAT_HOLDING and to_status not in SEAT_HOLDING,
        confirm_by_at=application.confirm_by_at)
    db.session.rollback()
    return preview


# What a clinician may do to several applications at once (each still through change_status).
BULK_DECISIONS = (Status.SCREENING, Status.WAITLISTED, Status.DECLINED)


@dataclass(frozen=True)
class Outcome:
    """What one of several decisions did: the application as it is now, and the refusal if any."""
    application: Application
    refusal: RefusedChange | None


def change_many(application_ids: list[int], to_status: Status, admin: Admin) -> list[Outcome]:
    """The same decision for several applications, each in its own transaction under the same
    rules as one decision: a refusal for one (already declined, say) leaves the others."""
    to_status = Status(to_status)
    if to_status not in BULK_DECISIONS:
        raise RefusedChange("not_in_bulk", status=to_status.action.lower())
    outcomes = []
    for application_id in dict.fromkeys(application_ids):  # each once, in the order chosen
        try:
            application = change_status(application_id, to_status, admin=admin)
        except RefusedChange as refused:
            application = db.session.get(Application, application_id)
            if application is None:
                continue
            outcomes.append(Outcome(application, refused))
        else:
            outcomes.append(Outcome(application, None))
    return outcomes


def _check(application: Application, previous: Status, to_status: Status, actor: str, evaluated: bool) -> None:
    if application.erased_at is not None:  # nobody to decide about, or to tell
        raise RefusedChange("erased")
    if ONLY_BY.get(to_status, actor) != actor:
        raise RefusedChange(f"only_by_{ONLY_BY[to_status]}")
    if to_status == Status.ENROLLED and previous == Status.LAPSED:  # a page left open past its time
        raise RefusedChange("offer_lapsed")
    if to_status not in TRANSITIONS[previous] or not _may(actor, previous, to_status):
        raise RefusedChange("not_allowed", status=previous, to=to_status)
    if to_status == Status.ENROLLED and offer_passed(application):
        raise RefusedChange("offer_lapsed")
    if to_status == Status.LAPSED and not offer_passed(application):
        raise RefusedChange("not_due")
    if to_status == Status.ACCEPTED and not evaluated and asks_evaluation(application):
        raise RefusedChange("evaluation_needed")
    cohort = application.cohort
    if to_status in SEAT_HOLDING and previous not in SEAT_HOLDING and seats.seats_taken(cohort) >= cohort.capacity:
        raise RefusedChange("full", cohort=cohort)


def offer_passed(application: Application) -> bool:
    """The time to confirm the place offered has passed (the offer lapses at the next periodic run)."""
    return application.confirm_by_at is not None and clock.now() >= application.confirm_by_at


def asks_evaluation(application: Application) -> bool:
    """Accepting needs the clinician's word that the medical evaluation took place: no screening
    conversation is recorded as held (an offer that lapsed was evaluated before it was made)."""
    return application.status != Status.LAPSED and not screening.conversation_held(application)


def confirm_by(cohort: Cohort, now: datetime) -> datetime:
    """When an offer made now lapses: the cohort's number of days from now, rounded up to the
    hour, but no later than the first meeting, and never less than a day away."""
    deadline = now + timedelta(days=cohort.offer_days)
    if deadline != deadline.replace(minute=0, second=0, microsecond=0):
        deadline = deadline.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if cohort.meetings:
        deadline = min(deadline, cohort.meetings[0].starts_at)
    return max(deadline, now + SHORTEST_OFFER)


def add_note(application_id: int, admin: Admin, body: str) -> Note:
    """A clinician's private note on an application (sealed like the answers), audited."""
    database.begin_write()
    application = db.session.get(Application, application_id)
    note = Note(application=application, admin=admin, body=body, created_at=clock.now())
    db.session.add(note)
    audit.record("note", admin=admin, application=application)
    db.session.commit()
    return note


def assign(application_id: int, clinician: Admin | None, admin: Admin) -> Application:
    """Say which clinician looks after an application (None: no one in particular), audited."""
    database.begin_write()
    application = db.session.get(Application, application_id)
    with database.rollback_on(RefusedChange):
        if application is None:
            raise RefusedChange("missing")
    if application.assigned_admin_id != (clinician.id if clinician else None):
        application.assigned_to = clinician
        audit.record("assigned", admin=admin, application=application,
                     detail=f"to {clinician.display_name}" if clinician else "to no one")
    db.session.commit()
    return application
