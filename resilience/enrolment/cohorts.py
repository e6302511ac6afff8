"""Cohorts: which take applications, finding one by its slug, creating and changing them."""
import re
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from .. import clock, database, program
from ..extensions import db
from ..models import Admin, Cohort, Meeting
from ..refusals import RefusedChange
from . import audit, seats

# What slugs look like. Anything else is not looked up at all: PostgreSQL refuses some
# characters (NUL) and over-long values.
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")


def local_today(cohort: Cohort) -> date:
    """Today's date where the cohort meets."""
    return clock.now().astimezone(cohort.zone).date()


def closed_reason(cohort: Cohort) -> str | None:
    """Why the cohort takes no new applications ("closed", "deadline", "started"), or None.

    The deadline is inclusive: applications are taken until the end of that day in the
    cohort's own time zone.
    """
    today = local_today(cohort)
    if not cohort.applications_open:
        return "closed"
    if today >= cohort.starts_on:
        return "started"
    if cohort.application_deadline is not None and today > cohort.application_deadline:
        return "deadline"
    return None


def stage(cohort: Cohort) -> str:
    """Where the cohort's program stands: "before" its first meeting, "during", or "after" its last."""
    now = clock.now()
    if not cohort.meetings or now < cohort.meetings[0].starts_at:
        return "before"
    return "after" if now >= cohort.meetings[-1].ends_at else "during"


@dataclass(frozen=True)
class Phase:
    """Where a cohort is in the program's time, as the dashboard shows it: "taking"
    applications, applications "closed", "full", "running" (in its week-th week), "finished"."""

    name: str
    week: int | None = None


def phase(cohort: Cohort, seats_taken: int) -> Phase:
    """The cohort's phase now, given how many of its seats are taken."""
    where = stage(cohort)
    if where == "during":
        return Phase("running", (local_today(cohort) - cohort.meetings[0].local_start.date()).days // 7 + 1)
    if where == "after":
        return Phase("finished")
    if seats_taken >= cohort.capacity:
        return Phase("full")
    return Phase("closed" if closed_reason(cohort) else "taking")


def next_meeting(cohort: Cohort) -> Meeting | None:
    """The meeting under way or coming next, if any."""
    now = clock.now()
    return next((meeting for meeting in cohort.meetings if meeting.ends_at > now), None)


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


def availability(cohort: Cohort, seats_taken: int | None = None) -> Availability:
    """Seats and openness of one cohort (pass seats_taken when already counted in bulk)."""
    if seats_taken is None:
        seats_taken = seats.seats_taken(cohort)
    reason = closed_reason(cohort)
    return Availability(cohort.capacity, seats_taken, reason is None, reason)


def availabilities(cohorts: list[Cohort]) -> dict[int, Availability]:
    taken = seats.seats_taken_by_cohort([c.id for c in cohorts])
    return {c.id: availability(c, taken[c.id]) for c in cohorts}


def cohort_by_slug(slug: str | None) -> Cohort | None:
    if not slug or not SLUG.fullmatch(slug):
        return None
    return db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))


def upcoming_cohorts() -> list[Cohort]:
    """Cohorts that have not started yet, soonest first (open or not), with their meetings."""
    cohorts = db.session.scalars(sa.select(Cohort).options(selectinload(Cohort.meetings))
                                 .order_by(Cohort.starts_on, Cohort.id)).all()
    return [c for c in cohorts if local_today(c) < c.starts_on]


def open_cohorts() -> list[Cohort]:
    """Cohorts that take applications now, soonest first."""
    return [c for c in upcoming_cohorts() if closed_reason(c) is None]


def all_cohorts(with_meetings: bool = False) -> list[Cohort]:
    """Every cohort, the latest first (for the clinicians); with_meetings loads them in one query."""
    query = sa.select(Cohort).order_by(Cohort.starts_on.desc(), Cohort.id)
    return list(db.session.scalars(query.options(selectinload(Cohort.meetings)) if with_meetings else query))


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
        audit.record("cohort created", admin=admin, cohort=cohort, detail=cohort.title)
        db.session.commit()
        return cohort

    cohort_id = cohort.id
    database.begin_write()
    cohort = seats.lock_cohort(cohort_id)
    taken = seats.seats_taken(cohort)
    with database.rollback_on(RefusedChange):
        if fields["capacity"] < taken:
            raise RefusedChange("below_seats_taken", taken=taken)
    for name, value in fields.items():
        setattr(cohort, name, value)
    audit.record("cohort changed", admin=admin, cohort=cohort, detail=cohort.title)
    db.session.commit()
    return cohort
