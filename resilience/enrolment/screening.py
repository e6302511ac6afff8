"""Screening conversations: clinicians publish times; an applicant invited to talk books
one on their status page. A slot holds one person: booking locks the slot's row (an
immediate transaction on SQLite), so two people clicking the same time at once cannot
both have it. Either side may move or cancel; the clinician records the conversation as
held, with a private note, and then decides."""
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from .. import clock, database
from ..extensions import db
from ..models import Admin, Application, Note, ScreeningSlot
from ..refusals import RefusedChange
from ..status import Status
from . import audit, notifications
from .cohorts import local_today
from .seats import lock_application

RECENT = timedelta(days=14)  # how far back the clinicians' list reaches, for recording conversations


def add_slots(clinician: Admin, starts_at: datetime, minutes: int, count: int, mode: str, place: str | None,
              timezone: str, admin: Admin) -> list[ScreeningSlot]:
    """Publish `count` back-to-back slots of `minutes` each, the first at starts_at. If no time
    was open, those invited who are still waiting for one are told (their page promised it)."""
    database.begin_write()
    none_open = not open_slots()
    slots = [ScreeningSlot(admin=clinician, starts_at=starts_at + timedelta(minutes=minutes * n), minutes=minutes,
                           mode=mode, place=place or None, timezone=timezone, created_at=clock.now())
             for n in range(count)]
    db.session.add_all(slots)
    db.session.flush()
    audit.record("screening slots added", admin=admin,
                 detail=f"{count} × {minutes} min from {slots[0].local_start:%Y-%m-%d %H:%M} ({clinician.display_name})")
    if none_open:
        for application in waiting_for_a_time():
            notifications.times_open(application)
    db.session.commit()
    return slots


def waiting_for_a_time() -> list[Application]:
    """Applicants invited to talk, for cohorts still ahead, who have never booked a time."""
    booked = sa.select(ScreeningSlot.id).where(ScreeningSlot.application_id == Application.id).exists()
    invited = db.session.scalars(sa.select(Application).join(Application.cohort)
                                 .where(Application.status == Status.SCREENING, ~booked)
                                 .options(selectinload(Application.cohort)))
    return [application for application in invited if local_today(application.cohort) < application.cohort.starts_on]


def open_slots() -> list[ScreeningSlot]:
    """Times an invited applicant may book: not yet booked, still ahead, soonest first."""
    return list(db.session.scalars(
        sa.select(ScreeningSlot).where(ScreeningSlot.application_id.is_(None), ScreeningSlot.starts_at > clock.now())
        .options(selectinload(ScreeningSlot.admin)).order_by(ScreeningSlot.starts_at, ScreeningSlot.id)))


def slots_for_clinicians() -> list[ScreeningSlot]:
    """Every slot from two weeks ago on (past ones wait to be recorded as held), soonest first."""
    return list(db.session.scalars(
        sa.select(ScreeningSlot).where(ScreeningSlot.starts_at > clock.now() - RECENT)
        .options(selectinload(ScreeningSlot.admin), selectinload(ScreeningSlot.application))
        .order_by(ScreeningSlot.starts_at, ScreeningSlot.id)))


def conversations_ahead_by_cohort(cohort_ids: list[int]) -> dict[int, list[ScreeningSlot]]:
    """Each cohort's booked screening conversations still ahead (or under way), soonest first."""
    ahead = {cohort_id: [] for cohort_id in cohort_ids}
    for slot in db.session.scalars(
            sa.select(ScreeningSlot).join(ScreeningSlot.application)
            .where(ScreeningSlot.held_at.is_(None), ScreeningSlot.starts_at > clock.now() - timedelta(hours=3),
                   Application.cohort_id.in_(cohort_ids))  # (the screening_slot_ahead index: the slots to come)
            .options(selectinload(ScreeningSlot.admin), selectinload(ScreeningSlot.application)
                     .defer(Application.answers))
            .order_by(ScreeningSlot.starts_at, ScreeningSlot.id)):
        if slot.ends_at > clock.now():
            ahead[slot.application.cohort_id].append(slot)
    return ahead


def conversations(application: Application) -> list[ScreeningSlot]:
    """Every slot this application has booked, held or not, in time order."""
    return list(db.session.scalars(
        sa.select(ScreeningSlot).where(ScreeningSlot.application_id == application.id)
        .order_by(ScreeningSlot.starts_at)))


def booking(application: Application) -> ScreeningSlot | None:
    """The conversation this application has booked that is still ahead (or under way), if any."""
    now = clock.now()
    return next((slot for slot in conversations(application) if slot.held_at is None and slot.ends_at > now), None)


def conversations_had(application: Application) -> list[ScreeningSlot]:
    """The booked conversations whose time has passed, recorded as held or not."""
    now = clock.now()
    return [slot for slot in conversations(application) if slot.ends_at <= now]


def conversation_held(application: Application) -> bool:
    return any(slot.held_at is not None for slot in conversations(application))


def book(application_id: int, slot_id: int) -> ScreeningSlot:
    """The applicant books a slot (moving from the one they had, if any)."""
    database.begin_write()
    with database.rollback_on(RefusedChange):
        application = lock_application(application_id)
        if application is None or application.status != Status.SCREENING:
            raise RefusedChange("not_screening")
        if conversation_held(application):
            raise RefusedChange("conversation_held")
        slot = _slot(slot_id)
        if slot.application_id == application.id:
            db.session.rollback()
            return slot
        if slot.application_id is not None:
            raise RefusedChange("slot_taken")
        if slot.starts_at <= clock.now():
            raise RefusedChange("slot_past")
    previous = booking(application)
    if previous is not None:  # moving: the old time's clinician is told; the applicant hears below
        _release(previous, by=None, tell_applicant=False)
    slot.application, slot.booked_at = application, clock.now()
    slot.revision += 1
    db.session.flush()
    audit.record("screening booked", actor="applicant", application=application, detail=_when(slot))
    notifications.conversation_booked(slot, previous)
    db.session.commit()
    return slot


def cancel_booking(slot_id: int, *, application_id: int | None = None, admin: Admin | None = None) -> None:
    """The applicant (their own booking, still ahead) or a clinician (a booking still ahead, or
    one that did not take place) cancels a booked conversation; both sides are told."""
    database.begin_write()
    with database.rollback_on(RefusedChange):
        slot = _locked(slot_id)
        if slot.application_id is None or (application_id is not None and slot.application_id != application_id):
            raise RefusedChange("not_your_booking" if application_id else "not_booked")
        if slot.held_at is not None:
            raise RefusedChange("slot_held")
        if slot.starts_at <= clock.now() and not (application_id is None and conversation_missed(slot)):
            raise RefusedChange("slot_past")
    _release(slot, by=admin)
    db.session.commit()


def release_bookings(application: Application, admin: Admin | None) -> None:
    """An application leaves screening: its booked conversation still ahead is cancelled
    (in the caller's transaction, which holds the application's lock)."""
    slot = booking(application)
    if slot is not None and slot.starts_at > clock.now():  # not one under way
        _release(slot, by=admin)


def _release(slot: ScreeningSlot, by: Admin | None, tell_applicant: bool = True) -> None:
    slot.revision += 1  # the cancellation replaces the invitation in both calendars
    audit.record("screening cancelled", admin=by, actor=None if by else "applicant", application=slot.application,
                 detail=_when(slot))
    notifications.conversation_cancelled(slot, by_clinician=by is not None, tell_applicant=tell_applicant)
    slot.application, slot.booked_at = None, None
    db.session.flush()


def move_slot(slot_id: int, starts_at: datetime, admin: Admin) -> ScreeningSlot:
    """A clinician gives a slot a new time; the applicant who booked it is told the old and new."""
    database.begin_write()
    with database.rollback_on(RefusedChange):
        slot = _locked(slot_id)
        if slot.held_at is not None:
            raise RefusedChange("slot_held")
        if starts_at <= clock.now():
            raise RefusedChange("slot_past")
    before = slot.local_start
    if slot.starts_at != starts_at:
        slot.starts_at = starts_at
        slot.revision += 1
        audit.record("screening moved", admin=admin, application=slot.application, detail=_when(slot))
        if slot.application is not None:
            notifications.conversation_moved(slot, before)
    db.session.commit()
    return slot


def remove_slot(slot_id: int, admin: Admin) -> None:
    """A clinician takes back a time; a booking on it is cancelled and both sides are told."""
    database.begin_write()
    with database.rollback_on(RefusedChange):
        slot = _locked(slot_id)
        if slot.held_at is not None:
            raise RefusedChange("slot_held")
    if slot.application is not None:
        _release(slot, by=admin)
    audit.record("screening slot removed", admin=admin, detail=_when(slot))
    db.session.delete(slot)
    db.session.commit()


def record_held(slot_id: int, admin: Admin, note: str) -> ScreeningSlot:
    """The conversation took place: say so, with the clinician's private note."""
    database.begin_write()
    with database.rollback_on(RefusedChange):
        slot = _locked(slot_id)
        if slot.application is None:
            raise RefusedChange("not_booked")
    if slot.held_at is None:
        slot.held_at = clock.now()
        if note:
            db.session.add(Note(application=slot.application, admin=admin, body=note, created_at=slot.held_at))
        audit.record("screening held", admin=admin, application=slot.application, detail=_when(slot))
    db.session.commit()
    return slot


def conversation_missed(slot: ScreeningSlot) -> bool:
    """A clinician may say a booked conversation did not take place (so the applicant, still
    invited, books again): its time is over and it is not recorded as held."""
    return (slot.application is not None and slot.ends_at <= clock.now() and slot.held_at is None
            and slot.application.status == Status.SCREENING)


def _locked(slot_id: int) -> ScreeningSlot:
    """The slot, locked after the cohort and application of whoever booked it: the order every
    change takes its locks (see seats.lock_application)."""
    holder = db.session.scalar(sa.select(ScreeningSlot.application_id).where(ScreeningSlot.id == slot_id))
    if holder is not None:
        lock_application(holder)
    slot = _slot(slot_id)
    if slot.application_id != holder:  # booked or cancelled between the two reads
        raise RefusedChange("slot_changed")
    return slot


def _slot(slot_id: int) -> ScreeningSlot:
    slot = db.session.get(ScreeningSlot, slot_id, populate_existing=True, with_for_update=True)
    if slot is None:
        raise RefusedChange("slot_missing")
    return slot


def _when(slot: ScreeningSlot) -> str:
    return f"{slot.local_start:%Y-%m-%d %H:%M} {slot.timezone}, {slot.mode_name.lower()}"
