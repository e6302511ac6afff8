"""Decisions: moving an application from one status to another, under the cohort's lock,
so that two clinicians clicking "Accept" at once can never seat a seventh person."""
from datetime import date, timedelta

import sqlalchemy as sa

from .. import clock, database
from ..extensions import db
from ..models import Admin, Application, Note
from ..refusals import RefusedChange
from ..status import SEAT_HOLDING, TRANSITIONS, Status
from . import audit, notifications, seats
from .cohorts import local_today, lock_cohort

# When each status was last reached.
STATUS_TIMESTAMPS = {Status.ACCEPTED: "accepted_at", Status.WAITLISTED: "waitlisted_at",
                     Status.DECLINED: "declined_at", Status.ENROLLED: "enrolled_at", Status.WITHDRAWN: "withdrawn_at"}
CONFIRM_DAYS = 7


def allowed_changes(application: Application) -> tuple[Status, ...]:
    return TRANSITIONS.get(application.status, ())


def change_status(application_id: int, to_status: Status, *, admin: Admin | None = None,
                  actor: str | None = None) -> Application:
    """Move an application to a new status, or raise RefusedChange and change nothing.

    The seat check and the change happen in one transaction that holds the cohort's
    lock. Writes an audit event and queues the emails in the same transaction.
    """
    to_status = Status(to_status)
    database.begin_write()
    try:
        application, previous = _locked(application_id)
        _check(application, previous, to_status, actor)
    except RefusedChange:
        db.session.rollback()
        raise

    now = clock.now()
    application.status = to_status
    application.status_changed_at = now
    if to_status in STATUS_TIMESTAMPS:
        setattr(application, STATUS_TIMESTAMPS[to_status], now)
    if to_status == Status.ACCEPTED:
        application.confirm_by = confirm_by_date(application.cohort)
    elif to_status != Status.ENROLLED:
        application.confirm_by = None
    audit.record("status", admin=admin, actor=actor, application=application, from_status=previous,
                 to_status=to_status)
    notifications.status_changed(application, previous)
    db.session.commit()
    return application


def _locked(application_id: int) -> tuple[Application, Status]:
    """The application and its status, read only once its cohort is locked: a request that
    waited for the lock judges the status as it is, not as it was before waiting."""
    cohort_id = db.session.scalar(sa.select(Application.cohort_id).where(Application.id == application_id))
    if cohort_id is None:
        raise RefusedChange("missing")
    lock_cohort(cohort_id)
    application = db.session.get(Application, application_id, populate_existing=True, with_for_update=True)
    return application, application.status


def _check(application: Application, previous: Status, to_status: Status, actor: str | None) -> None:
    if to_status == Status.ENROLLED and actor != "applicant":
        raise RefusedChange("only_the_applicant")
    if to_status not in TRANSITIONS[previous]:
        raise RefusedChange("not_allowed", status=previous, to=to_status)
    cohort = application.cohort
    if to_status in SEAT_HOLDING and previous not in SEAT_HOLDING and seats.seats_taken(cohort) >= cohort.capacity:
        raise RefusedChange("full", cohort=cohort)


def confirm_by_date(cohort) -> date:
    """A week to confirm an offered place, but never later than the day before the start."""
    today = local_today(cohort)
    return max(today, min(today + timedelta(days=CONFIRM_DAYS), cohort.starts_on - timedelta(days=1)))


def add_note(application_id: int, admin: Admin, body: str) -> Note:
    """A clinician's private note on an application (sealed like the answers), audited."""
    database.begin_write()
    application = db.session.get(Application, application_id)
    note = Note(application=application, admin=admin, body=body, created_at=clock.now())
    db.session.add(note)
    audit.record("note", admin=admin, application=application)
    db.session.commit()
    return note
