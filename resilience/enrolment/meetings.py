"""Meetings and reminders: moving a meeting tells everyone holding a seat; each enrolled
participant is reminded 48 hours before every meeting."""
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from .. import clock, database, formatting
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


@dataclass(frozen=True)
class MeetingChange:
    """One meeting as a clinician's meetings form would leave it: the meeting as it is now,
    and its new time (UTC), place and join link. Reads like a meeting (local_start, online…)
    so the moved-meeting email can be shown before anything is sent."""

    meeting: Meeting
    starts_at: datetime
    ends_at: datetime
    location: str
    join_url: str | None

    @property
    def moved(self) -> bool:
        """Its time or place changes: everyone holding a seat is emailed an updated invite."""
        meeting = self.meeting
        return (meeting.starts_at, meeting.ends_at, meeting.location) != (self.starts_at, self.ends_at, self.location)

    @property
    def link_changed(self) -> bool:
        """Only shown on the participants' status pages: no email."""
        return self.join_url != self.meeting.join_url

    @property
    def time_changed(self) -> bool:
        return (self.meeting.starts_at, self.meeting.ends_at) != (self.starts_at, self.ends_at)

    @property
    def place_changed(self) -> bool:
        return self.meeting.location != self.location

    @property
    def local_start(self) -> datetime:
        return self.meeting.cohort.local(self.starts_at)

    @property
    def local_end(self) -> datetime:
        return self.meeting.cohort.local(self.ends_at)

    @property
    def name(self) -> str:
        return self.meeting.name

    @property
    def neutral_name(self) -> str:
        return self.meeting.neutral_name

    @property
    def online(self) -> bool:
        return self.location.strip().lower() == "online"


def meeting_changes(cohort: Cohort, changes: dict[int, tuple[date, time, time, str, str | None, int | None]]) -> list[MeetingChange]:
    """What saving the meetings form would change, meeting by meeting in time order (only
    those with a new time, place or join link). Writes nothing: the preview a clinician sees
    before anyone is emailed. Refuses as move_meetings does (a stale form, a meeting that
    would end before it starts)."""
    return [change for change in _planned(cohort.id, changes) if change.moved or change.link_changed]


def _planned(cohort_id: int, changes: dict[int, tuple[date, time, time, str, str | None, int | None]]) -> list[MeetingChange]:
    """Every meeting of the cohort with what the form gives it, in time order."""
    meetings = db.session.scalars(sa.select(Meeting).where(Meeting.cohort_id == cohort_id)).all()
    if {meeting.id for meeting in meetings} != set(changes):
        raise RefusedChange("meetings_changed")
    planned = []
    for meeting in sorted(meetings, key=lambda m: m.starts_at):
        day, starts, ends, location, join_url, revision = changes[meeting.id]
        if revision != meeting.revision:  # moved by someone else since the form was shown
            raise RefusedChange("meetings_changed")
        zone = meeting.cohort.zone
        change = MeetingChange(meeting, _utc(day, starts, zone), _utc(day, ends, zone), location, join_url)
        if change.ends_at <= change.starts_at:
            raise RefusedChange("ends_before_start")
        planned.append(change)
    return planned


def change_meeting(meeting: Meeting, starts_at: datetime, ends_at: datetime, location: str | None = None,
                   admin: Admin | None = None) -> bool:
    """Give a meeting a new time or place and send everyone holding a seat an updated invite.
    The audit log says from what to what, in the cohort's time.

    Returns False (and changes nothing) when nothing is different. The caller opens the
    write transaction (database.begin_write) and commits, so several meetings change together.
    """
    if ends_at <= starts_at:
        raise RefusedChange("ends_before_start")
    location = location if location is not None else meeting.location
    before = (meeting.starts_at, meeting.ends_at, meeting.location)
    if before == (starts_at, ends_at, location):
        return False
    detail = moved_detail(meeting, starts_at, ends_at, location)
    meeting.starts_at, meeting.ends_at, meeting.location = starts_at, ends_at, location
    meeting.revision += 1
    audit.record("meeting changed", admin=admin, cohort=meeting.cohort, detail=detail)
    db.session.flush()
    notifications.meeting_moved(meeting, seats.participants(meeting.cohort), before=before)
    return True


PLACE_LENGTH = 80  # of each place in the audit detail, which holds 300 characters in all


def moved_detail(meeting: Meeting, starts_at: datetime, ends_at: datetime, location: str) -> str:
    """For the audit log: "Preparation meeting 2: Tue, Jan 5, 6:00 – 7:30 pm EST → Wed, Jan 6,
    6:30 – 8:00 pm EST; Room 2 → Online" (the cohort's local time; only what changed)."""
    parts = []
    if (meeting.starts_at, meeting.ends_at) != (starts_at, ends_at):
        parts.append(f"{_when(meeting, meeting.starts_at, meeting.ends_at)} → {_when(meeting, starts_at, ends_at)}")
    if meeting.location != location:
        parts.append(f"{_place(meeting.location)} → {_place(location)}")
    return f"{meeting.name}: " + "; ".join(parts)


def _when(meeting: Meeting, starts_at: datetime, ends_at: datetime) -> str:
    start, end = meeting.cohort.local(starts_at), meeting.cohort.local(ends_at)
    return f"{formatting.short_date(start)}, {formatting.time_range(start, end)}"


def _place(location: str) -> str:
    return location if len(location) <= PLACE_LENGTH else location[:PLACE_LENGTH - 1] + "…"


def move_meetings(cohort: Cohort, changes: dict[int, tuple[date, time, time, str, str | None, int | None]], admin: Admin) -> int:
    """Set the cohort's meetings to the dates, times (the cohort's local time), places and join
    links given by meeting id; returns how many moved, and everyone holding a seat hears of each
    move. A new join link alone is shown on the participants' status pages, with no email.

    Refuses, changing nothing, when the ids are not exactly the cohort's meetings (the
    meetings changed while the clinician was editing) or a meeting would end before it starts.
    """
    cohort_id = cohort.id
    database.begin_write()
    with database.rollback_on(RefusedChange):
        changed = 0
        for change in _planned(cohort_id, changes):
            meeting = change.meeting
            changed += change_meeting(meeting, change.starts_at, change.ends_at, change.location, admin=admin)
            if change.link_changed:
                meeting.join_url = change.join_url
                audit.record("join link changed", admin=admin, cohort=meeting.cohort, detail=meeting.name)
    db.session.commit()
    return changed


def _utc(day: date, at: time, zone) -> datetime:
    return datetime.combine(day, at, zone).astimezone(UTC)
