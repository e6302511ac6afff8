"""Meetings and reminders: moving a meeting tells everyone holding a seat; each enrolled
participant is reminded 48 hours before every meeting."""
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from .. import clock, database
from ..extensions import db
from ..models import Admin, Cohort, Meeting
from ..refusals import RefusedChange
from ..status import Status
from . import audit, notifications, seats

REMINDER_WINDOW = timedelta(hours=48)


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
    queued = sum(notifications.reminder(meeting, application)
                 for meeting in meetings
                 for application in seats.participants(meeting.cohort, statuses=(Status.ENROLLED,)))
    db.session.commit()
    return queued


def change_meeting(meeting: Meeting, starts_at: datetime, ends_at: datetime, location: str | None = None,
                   admin: Admin | None = None) -> bool:
    """Give a meeting a new time or place and send everyone holding a seat an updated invite.

    Returns False (and changes nothing) when nothing is different. The caller opens the
    write transaction (database.begin_write) and commits, so several meetings change together.
    """
    if ends_at <= starts_at:
        raise RefusedChange("ends_before_start")
    location = location if location is not None else meeting.location
    before = (meeting.starts_at, meeting.ends_at, meeting.location)
    if before == (starts_at, ends_at, location):
        return False
    meeting.starts_at, meeting.ends_at, meeting.location = starts_at, ends_at, location
    meeting.revision += 1
    audit.record("meeting changed", admin=admin, cohort=meeting.cohort, detail=meeting.name)
    db.session.flush()
    notifications.meeting_moved(meeting, seats.participants(meeting.cohort), before=before[0])
    return True


def move_meetings(cohort: Cohort, changes: dict[int, tuple[date, time, time, str, str | None]], admin: Admin) -> int:
    """Set the cohort's meetings to the dates, times (the cohort's local time), places and join
    links given by meeting id; returns how many moved, and everyone holding a seat hears of each
    move. A new join link alone is shown on the participants' status pages, with no email.

    Refuses, changing nothing, when the ids are not exactly the cohort's meetings (the
    meetings changed while the clinician was editing) or a meeting would end before it starts.
    """
    cohort_id = cohort.id
    database.begin_write()
    meetings = db.session.scalars(sa.select(Meeting).where(Meeting.cohort_id == cohort_id)).all()
    with database.rollback_on(RefusedChange):
        if {meeting.id for meeting in meetings} != set(changes):
            raise RefusedChange("meetings_changed")
        changed = 0
        for meeting in sorted(meetings, key=lambda m: m.starts_at):
            day, starts, ends, location, join_url = changes[meeting.id]
            zone = meeting.cohort.zone
            changed += change_meeting(meeting, _utc(day, starts, zone), _utc(day, ends, zone), location, admin=admin)
            if join_url != meeting.join_url:
                meeting.join_url = join_url
                audit.record("join link changed", admin=admin, cohort=meeting.cohort, detail=meeting.name)
    db.session.commit()
    return changed


def _utc(day: date, at: time, zone) -> datetime:
    return datetime.combine(day, at, zone).astimezone(timezone.utc)
