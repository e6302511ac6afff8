"""Decisions: moving an application from one status to another, under the cohort's lock,
so that two clinicians clicking "Accept" at once can never seat a seventh person."""
from datetime import datetime, timedelta

from .. import clock, database
from ..extensions import db
from ..models import Admin, Application, Cohort, Note
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
    """Where this actor may move the application now."""
    return tuple(status for status in TRANSITIONS.get(application.status, ())
                 if ONLY_BY.get(status, actor) == actor and _may(actor, application.status, status))


def _may(actor: str, previous: Status, to_status: Status) -> bool:
    return actor != "applicant" or previous in APPLICANT_MAY.get(to_status, ())


def change_status(application_id: int, to_status: Status, *, admin: Admin | None = None,
                  actor: str | None = None, evaluated: bool = False) -> Application:
    """Move an application to a new status, or raise RefusedChange and change nothing.

    The seat check and the change happen in one transaction that holds the cohort's
    lock. A clinician accepts only after a screening conversation recorded as held, or
    saying (evaluated=True) that the medical evaluation took place another way. Writes an
    audit event and queues the emails in the same transaction.
    """
    to_status = Status(to_status)
    actor = actor or ("admin" if admin else "system")
    database.begin_write()
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
    audit.record("status", admin=admin, actor=actor, application=application, from_status=previous,
                 to_status=to_status, detail=detail)
    notifications.status_changed(application, previous)
    db.session.commit()
    return application


def _check(application: Application, previous: Status, to_status: Status, actor: str, evaluated: bool) -> None:
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
