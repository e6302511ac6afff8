"""Attendance: each meeting's roster of enrolled participants, the mark a clinician gives
each of them (attended, absent or excused), and what needs the clinicians afterwards:
absences to follow up, and meetings that are over with no mark for someone.

Only enrolled participants are marked, and only from the moment the meeting starts. An
absence is flagged to every clinician once per person and meeting, however often the mark
changes afterwards.
"""
import sqlalchemy as sa
from sqlalchemy.orm import defer

from .. import clock, database
from ..extensions import db
from ..models import Admin, Application, Attendance, Meeting
from ..refusals import RefusedChange
from ..status import AttendanceMark, Status
from . import audit, notifications
from .seats import lock_application

ROSTER_ORDER = (sa.func.lower(Application.last_name), sa.func.lower(Application.first_name), Application.id)


def marking_open(meeting: Meeting) -> bool:
    """Attendance can be marked from the moment the meeting starts."""
    return clock.now() >= meeting.starts_at


def roster(meeting: Meeting) -> list[tuple[Application, Attendance | None]]:
    """The meeting's roster, by last name: the cohort's enrolled participants, and anyone
    already marked for this meeting (someone who withdrew afterwards keeps their mark), each
    with their mark or None."""
    marks = {record.application_id: record for record in db.session.scalars(
        sa.select(Attendance).where(Attendance.meeting_id == meeting.id))}
    people = db.session.scalars(
        sa.select(Application)  # (only this cohort's participants are ever marked for its meetings)
        .where(sa.or_(sa.and_(Application.cohort_id == meeting.cohort_id, Application.status == Status.ENROLLED),
                      Application.id.in_(list(marks))))  # (each half of the OR read from its own index)
        .order_by(*ROSTER_ORDER)
        .options(defer(Application.answers)))  # (names only: the answers stay sealed)
    return [(person, marks.get(person.id)) for person in people]


def mark_attendance(meeting_id: int, application_id: int, mark: AttendanceMark, admin: Admin) -> Attendance:
    """Record (or change) one participant's mark for one meeting, or raise RefusedChange and
    change nothing: the meeting or the person does not exist, the person is not enrolled in
    the meeting's cohort, or the meeting has not started yet.

    Runs under the cohort's lock (so a withdrawal at the same moment is seen), audits the
    change, and when the mark is "absent" emails the clinicians, once per person and meeting.
    Pressing the mark a person already has changes nothing.
    """
    mark = AttendanceMark(mark)
    database.begin_write()
    with database.rollback_on(RefusedChange):
        meeting = db.session.get(Meeting, meeting_id)
        if meeting is None:
            raise RefusedChange("meeting_missing")
        application = lock_application(application_id)
        if application is None:
            raise RefusedChange("missing")
        if application.erased_at is not None:  # their marks stay as they were, anonymous
            raise RefusedChange("erased")
        if application.cohort_id != meeting.cohort_id or application.status != Status.ENROLLED:
            raise RefusedChange("not_enrolled", application=application, cohort=meeting.cohort)
        if not marking_open(meeting):
            raise RefusedChange("meeting_not_started", meeting=meeting)

    record = db.session.scalar(sa.select(Attendance).where(
        Attendance.meeting_id == meeting.id, Attendance.application_id == application.id))
    previous = record.mark if record else None
    if previous == mark:
        db.session.commit()  # ends the write transaction; nothing to record
        return record
    if record is None:
        record = Attendance(meeting=meeting, application=application)
        db.session.add(record)
    record.mark, record.admin, record.marked_at = mark, admin, clock.now()
    was = f" (was {previous.label.lower()})" if previous else ""
    audit.record("attendance", admin=admin, application=application,
                 detail=f"{meeting.name}: {mark.label.lower()}{was}")
    if mark == AttendanceMark.ABSENT:
        notifications.missed_meeting(meeting, application)
    db.session.commit()
    return record


def attendance_of(application: Application) -> list[tuple[Meeting, AttendanceMark | None]]:
    """Every meeting of the application's cohort, in order, with the person's mark or None."""
    marks = dict(db.session.execute(
        sa.select(Attendance.meeting_id, Attendance.mark).where(Attendance.application_id == application.id)).all())
    return [(meeting, marks.get(meeting.id)) for meeting in application.cohort.meetings]


def missed(cohort_ids: list[int]) -> dict[int, list[tuple[Meeting, Application]]]:
    """Each cohort's absences (marked absent, not excused), by meeting, then by last name."""
    found = {cohort_id: [] for cohort_id in cohort_ids}
    if cohort_ids:
        rows = db.session.execute(
            sa.select(Meeting, Application)
            .join(Attendance, Attendance.meeting_id == Meeting.id)
            .join(Application, Application.id == Attendance.application_id)
            .where(Meeting.cohort_id.in_(cohort_ids), Attendance.mark == AttendanceMark.ABSENT)
            .order_by(Meeting.starts_at, *ROSTER_ORDER)
            .options(defer(Application.answers)))  # (names only: the answers stay sealed)
        for meeting, application in rows:
            found[meeting.cohort_id].append((meeting, application))
    return found


def unmarked(cohort_ids: list[int]) -> dict[int, list[Meeting]]:
    """Each cohort's meetings that are over while someone enrolled has no mark for them:
    attendance not taken (or not finished)."""
    found = {cohort_id: [] for cohort_id in cohort_ids}
    if cohort_ids:
        # Correlated two levels deep: the meeting of the outer query, the person of the middle one.
        marked = (sa.select(Attendance.id)
                  .where(Attendance.meeting_id == Meeting.id, Attendance.application_id == Application.id)
                  .correlate(Meeting, Application))
        someone_unmarked = (sa.select(Application.id)
                            .where(Application.cohort_id == Meeting.cohort_id,
                                   Application.status == Status.ENROLLED, ~marked.exists()))
        meetings = db.session.scalars(
            sa.select(Meeting)
            .where(Meeting.cohort_id.in_(cohort_ids), Meeting.ends_at <= clock.now(), someone_unmarked.exists())
            .order_by(Meeting.starts_at, Meeting.id))
        for meeting in meetings:
            found[meeting.cohort_id].append(meeting)
    return found
