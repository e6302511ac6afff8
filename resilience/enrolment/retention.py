"""Retention and erasure: how long the site keeps a person's data, and erasing it on request.

Erasing an application keeps the row for the anonymous counts (its cohort, status, dates, how
many answers needed a look, attendance marks) and removes everything that is the person:
their name, email address, phone, pronouns and home area, their answers (sealed empty, with
where they came from: a link's ?ref= is free text), the clinicians' notes on it, the messages
written to them, every email to them or about them in the outbox (waiting or sent: the sealed
copies of what was said) and the .eml files the development mail transport wrote of those, a
form they saved to finish later, their booked conversations still ahead (the time is offered
again; one held stays with the anonymous row) and their form's submission id. The status link is replaced, so the old one
finds nothing. The audit log keeps its events, which name no applicant.

`purge` (the `purge` command, and part of `periodic`) erases applications declined or
withdrawn more than RETENTION_DAYS ago and every application of a cohort whose last meeting
ended more than FINISHED_COHORT_RETENTION_DAYS ago, in batches, and forgets clinicians'
session records older than 90 days. A clinician erases one person on request: every
application from their address, unless one holds a seat in a cohort not yet finished.
"""
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import InvalidToken
from flask import current_app
from sqlalchemy.orm import defer, selectinload

from .. import clock, database, sealing
from ..extensions import db
from ..models import (
    Admin,
    Application,
    ApplicationDraft,
    AuditEvent,
    Cohort,
    Meeting,
    Message,
    Note,
    OutboxMessage,
    ScreeningSlot,
    new_token,
)
from ..outbox import _eml_name
from ..refusals import RefusedChange, SettingRefused
from ..status import ACTIVE, SEAT_HOLDING, Status
from . import audit, people_you_know
from .seats import lock_cohort

# The settings (RESILIENCE_RETENTION_DAYS, RESILIENCE_FINISHED_COHORT_RETENTION_DAYS) and their
# defaults: half a year for someone who did not join a group; a year after a group ends, for the
# follow-up care and for a person applying again (the practice's clinical record is kept elsewhere).
DEFAULT_DAYS = {"RETENTION_DAYS": 180, "FINISHED_COHORT_RETENTION_DAYS": 365}
MOST_DAYS = 36_500
SESSION_RECORDS_KEPT = timedelta(days=90)
BATCH = 100  # applications erased per transaction
_KEYS_PER_QUERY = 50  # application ids per outbox query (three LIKEs each)


def configure(config) -> None:
    """Check the retention settings and keep them as numbers of days; SettingRefused names the
    one that is not a whole number of days from 1 to MOST_DAYS."""
    for name in DEFAULT_DAYS:
        config[name] = days(config, name)


def days(config, name: str) -> int:
    """A retention setting as a number of days (text of digits is read as one)."""
    value = config.get(name, DEFAULT_DAYS[name])
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MOST_DAYS:
        raise SettingRefused("days", name=name, value=value, most=MOST_DAYS)
    return value


def finished(cohort: Cohort, now: datetime | None = None) -> bool:
    """Whether the cohort's last meeting has ended (a cohort without meetings never has)."""
    return bool(cohort.meetings) and max(meeting.ends_at for meeting in cohort.meetings) <= (now or clock.now())


# --- Purge -------------------------------------------------------------------------------------

@dataclass
class Purge:
    """What one purge did."""
    closed: int = 0         # applications declined or withdrawn longer ago than closed_days
    finished: int = 0       # applications of cohorts finished longer ago than finished_days
    sessions: int = 0       # clinicians' session records forgotten
    closed_days: int = 0
    finished_days: int = 0

    @property
    def erased(self) -> int:
        return self.closed + self.finished

    def __bool__(self) -> bool:
        return bool(self.erased or self.sessions)


def purge(batch: int = BATCH) -> Purge:
    """Erase the applications whose time is up, a batch per transaction, and forget old session
    records; one audit event of counts when anything was done. Idempotent: an erased
    application is never picked again. Raises SettingRefused for a setting that is no number of days."""
    from .. import admin_sessions  # (it imports the rules itself)

    done = Purge(closed_days=days(current_app.config, "RETENTION_DAYS"),
                 finished_days=days(current_app.config, "FINISHED_COHORT_RETENTION_DAYS"))
    now = clock.now()
    done.closed = _erase_all(closed_before(now - timedelta(days=done.closed_days)), batch, now)
    done.finished = _erase_all(in_cohorts_finished_before(now - timedelta(days=done.finished_days)), batch, now)
    done.sessions = admin_sessions.forget_ended(SESSION_RECORDS_KEPT)
    if done:
        audit.record_alone("purged", actor="system", detail=(
            f"declined/withdrawn {done.closed} (>{done.closed_days}d); "
            f"finished cohorts {done.finished} (>{done.finished_days}d); sessions {done.sessions}"))
    return done


def closed_before(cutoff: datetime) -> sa.ColumnElement[bool]:
    """Declined or withdrawn before the cutoff (by when that happened; for rows of an older
    release without that time, by their last change of status)."""
    return sa.or_(*(sa.and_(Application.status == status, sa.func.coalesce(when, Application.status_changed_at) < cutoff)
                    for status, when in ((Status.DECLINED, Application.declined_at),
                                         (Status.WITHDRAWN, Application.withdrawn_at))))


def in_cohorts_finished_before(cutoff: datetime) -> sa.ColumnElement[bool]:
    """In a cohort whose last meeting ended before the cutoff."""
    return Application.cohort_id.in_(sa.select(Meeting.cohort_id).group_by(Meeting.cohort_id)
                                     .having(sa.func.max(Meeting.ends_at) < cutoff))


def _erase_all(which: sa.ColumnElement[bool], batch: int, now: datetime) -> int:
    erased = 0
    while True:
        database.begin_write()
        # Locked as read: a decision at the same moment waits, or is seen (and the row left).
        applications = db.session.scalars(
            sa.select(Application).where(which, Application.erased_at.is_(None))
            .options(defer(Application.answers), selectinload(Application.cohort))
            .order_by(Application.id).limit(batch).with_for_update(of=Application)
            .execution_options(populate_existing=True)).all()
        if not applications:
            db.session.commit()
            return erased
        files = _erase(applications, now)
        db.session.commit()
        _forget_files(files)
        erased += len(applications)


# --- Erasure on request ------------------------------------------------------------------------

@dataclass(frozen=True)
class Erasure:
    """What erasing a person's data on request would do now (nothing is changed by asking)."""
    applications: list[Application]  # every application from the person's address, oldest first
    refusal: RefusedChange | None     # why it cannot be done now (a seat held in a cohort not finished)
    withdrawn: list[Application]      # still in play: withdrawn by the erasure, without an email
    bookings: list[ScreeningSlot]     # conversations ahead: cancelled without emailing anyone
    named_by: list[Application]       # others whose answers name the person (their answers stay)

    @property
    def ids(self) -> list[int]:
        return [application.id for application in self.applications]


def erasure(application: Application) -> Erasure:
    """What erasing this application's person would do: which applications, what is refused."""
    now = clock.now()
    theirs = _same_person(application)
    holder = next((a for a in theirs if a.status in SEAT_HOLDING and not finished(a.cohort, now)), None)
    named_by = {other.application.id: other.application for mine in theirs
                for other in people_you_know.acquaintances(mine) if other.named_by_them}
    return Erasure(
        applications=theirs,
        refusal=RefusedChange("erase_seat_holder", cohort=holder.cohort) if holder else None,
        withdrawn=[a for a in theirs if _in_play(a, now)],
        bookings=[slot for slot in _bookings([a.id for a in theirs]) if slot.starts_at > now],
        named_by=sorted(named_by.values(), key=lambda other: other.id))


def erase_on_request(application_id: int, admin: Admin, expected: set[int]) -> list[Application]:
    """Erase the data of the person behind this application, on their request: every
    application from the same address (`expected`: the ones the clinician was shown; a
    different set now is refused). Refused for a seat held in a cohort not yet finished (withdraw
    first). Applications still in play are withdrawn, with no email. Audited per application,
    with no detail that names the person. Returns the erased applications."""
    now = clock.now()
    database.begin_write()
    with database.rollback_on(RefusedChange):
        application = db.session.get(Application, application_id, options=[defer(Application.answers)])
        if application is None:
            raise RefusedChange("missing")
        if application.erased_at is not None:
            raise RefusedChange("erased")
        for cohort_id in sorted({a.cohort_id for a in _same_person(application)}):
            lock_cohort(cohort_id)  # cohorts first, then applications, as every decision does
        theirs = _same_person(application, lock=True)
        if {a.id for a in theirs} != set(expected):
            raise RefusedChange("erasure_changed")
        holder = next((a for a in theirs if a.status in SEAT_HOLDING and not finished(a.cohort, now)), None)
        if holder is not None:
            raise RefusedChange("erase_seat_holder", cohort=holder.cohort)
    for mine in theirs:
        previous = mine.status
        withdrawing = _in_play(mine, now)
        if withdrawing:
            mine.status, mine.withdrawn_at, mine.status_changed_at, mine.confirm_by_at = (
                Status.WITHDRAWN, now, now, None)
        audit.record("erased on request", admin=admin, application=mine,
                     from_status=previous if withdrawing else None, to_status=Status.WITHDRAWN if withdrawing else None)
    files = _erase(theirs, now)
    db.session.commit()
    _forget_files(files)
    return theirs


def erasure_event(application: Application) -> AuditEvent | None:
    """The audit event of an erasure on request (None: the retention rules erased it)."""
    return db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.application_id == application.id, AuditEvent.action == "erased on request")
        .options(selectinload(AuditEvent.admin)).order_by(AuditEvent.id.desc()).limit(1))


def _same_person(application: Application, lock: bool = False) -> list[Application]:
    """Every application not yet erased from this application's address, oldest first."""
    query = (sa.select(Application).where(Application.erased_at.is_(None),
                                          sa.or_(Application.id == application.id,
                                                 Application.email_key == application.email_key))
             .options(defer(Application.answers), selectinload(Application.cohort).selectinload(Cohort.meetings))
             .order_by(Application.created_at, Application.id))
    if lock:
        query = query.with_for_update(of=Application).execution_options(populate_existing=True)
    return list(db.session.scalars(query))


def _in_play(application: Application, now: datetime) -> bool:
    """Still waiting for a decision or a seat in a cohort not yet finished: erasing withdraws it."""
    return (application.status in ACTIVE and application.status not in SEAT_HOLDING
            and not finished(application.cohort, now))


def _bookings(application_ids: list[int]) -> list[ScreeningSlot]:
    return list(db.session.scalars(
        sa.select(ScreeningSlot).where(ScreeningSlot.application_id.in_(application_ids),
                                       ScreeningSlot.held_at.is_(None))
        .options(selectinload(ScreeningSlot.admin)).order_by(ScreeningSlot.starts_at)))


# --- Erasing: one transaction, the caller's -----------------------------------------------------

def _erase(applications: list[Application], now: datetime) -> list[str]:
    """Remove the people from these applications (locked by the caller); returns the names of
    the .eml files to remove once the transaction is committed."""
    ids = [application.id for application in applications]
    gone = _people_gone(applications)
    emails = _emails_about(applications, gone)
    # A form they saved to finish later is known by its address's SHA-256 (drafts.py).
    drafts = {hashlib.sha256(application.email_key.encode()).hexdigest() for application in gone}
    if drafts:
        db.session.execute(sa.delete(ApplicationDraft).where(ApplicationDraft.emailed_to.in_(drafts)),
                           execution_options={"synchronize_session": False})
    files = [_eml_name(row) for row in emails]
    for chunk in _chunks([row.id for row in emails], 500):
        db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.id.in_(chunk)),
                           execution_options={"synchronize_session": False})
    db.session.execute(sa.delete(Note).where(Note.application_id.in_(ids)),
                       execution_options={"synchronize_session": False})
    db.session.execute(sa.delete(Message).where(Message.application_id.in_(ids)),
                       execution_options={"synchronize_session": False})
    # A conversation that did not take place is nobody's now; one held stays, anonymous.
    db.session.execute(sa.update(ScreeningSlot).where(ScreeningSlot.application_id.in_(ids),
                                                      ScreeningSlot.held_at.is_(None))
                       .values(application_id=None, booked_at=None, revision=ScreeningSlot.revision + 1),
                       execution_options={"synchronize_session": False})
    for application in applications:
        attention = application.attention  # kept for the counts; which answers it was goes
        application.first_name = application.last_name = application.email = application.email_key = ""
        application.phone = application.home_area = ""
        application.pronouns = None
        application.answers = {}
        application.attention = attention
        application.token = new_token()  # the old status link finds nothing
        application.submission_id = None
        application.erased_at = now
    db.session.flush()
    return files


def _emails_about(applications: list[Application], gone: list[Application]) -> list:
    """The outbox rows (id, created_at, kind) to these applications or about them: by the
    application they carry or their event's key; for the people `gone` (no application from
    their address left), those to their address and the clinicians' emails that name them."""
    ids = [application.id for application in applications]
    found = {}
    about = [OutboxMessage.application_id.in_(ids)]
    columns = (OutboxMessage.id, OutboxMessage.created_at, OutboxMessage.kind)
    addresses = {application.email_key for application in gone}
    if addresses:
        about.append(sa.func.lower(OutboxMessage.to_address).in_(addresses))
    for row in db.session.execute(sa.select(*columns).where(sa.or_(*about))):
        found[row.id] = row
    # Every event key naming an application ends with it or has it between colons
    # ("application:12:received:…", "slot:3:booked:1:application:12:clinician").
    for chunk in _chunks(ids, _KEYS_PER_QUERY):
        keys = [OutboxMessage.dedupe_key.like(pattern) for application_id in chunk
                for pattern in (f"application:{application_id}:%", f"%:application:{application_id}:%",
                                f"%:application:{application_id}")]
        for row in db.session.execute(sa.select(*columns).where(sa.or_(*keys))):
            found[row.id] = row
    mentions = {mention for application in gone for mention in _mentions(application)}
    if mentions:
        clinicians = {address.casefold() for address in current_app.config["ADMIN_EMAILS"]}
        clinicians |= {address.casefold() for address in db.session.scalars(sa.select(Admin.email))}
        for row in db.session.execute(
                sa.select(*columns, OutboxMessage.subject, sa.type_coerce(OutboxMessage.text_body, sa.Text),
                          sa.type_coerce(OutboxMessage.html_body, sa.Text))
                .where(sa.func.lower(OutboxMessage.to_address).in_(clinicians))):
            if row.id not in found:
                words = _words(row.subject, *row[4:])
                if any(mention in words for mention in mentions):
                    found[row.id] = row
    return list(found.values())


def _people_gone(applications: list[Application]) -> list[Application]:
    """These applications whose address has no other application left that is not erased."""
    ids = [application.id for application in applications]
    keys = {application.email_key for application in applications if application.email_key}
    live = set(db.session.scalars(sa.select(Application.email_key).where(
        Application.email_key.in_(keys), Application.erased_at.is_(None), Application.id.not_in(ids)))) if keys else set()
    return [application for application in applications if application.email_key and application.email_key not in live]


def _mentions(application: Application) -> set[str]:
    """How the clinicians' emails name a person: "Quinn Lee", "Quinn L.", the address."""
    first, last = " ".join(application.first_name.split()), " ".join(application.last_name.split())
    return {text.casefold() for text in (f"{first} {last}", f"{first} {last[:1]}.", application.email_key)
            if len(text.strip(" .")) > 1}


def _words(subject: str, *sealed: str) -> str:
    texts = [subject or ""]
    for text in sealed:
        try:
            texts.append(sealing.unseal(text))
        except (InvalidToken, UnicodeEncodeError, ValueError, TypeError):
            continue  # sealed with a key no longer set: nothing can be read, or sent, from it
    return " ".join(" ".join(str(text) for text in texts).casefold().split())


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _forget_files(names: list[str]) -> None:
    """Remove the .eml copies the development mail transport wrote of the removed emails."""
    folder = Path(current_app.instance_path) / "outbox"
    for name in names:
        for path in (folder / name, folder / f"{name}.partial"):
            path.unlink(missing_ok=True)
