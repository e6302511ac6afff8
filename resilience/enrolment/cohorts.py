"""Cohorts: which take applications, finding one by its slug, creating and changing them."""
import functools
import re
from dataclasses import dataclass
from datetime import date, timedelta

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
    return db.session.scalar(_BY_SLUG, {"slug": slug})


_BY_SLUG = sa.select(Cohort).where(Cohort.slug == sa.bindparam("slug"))  # (built once: asked on every form sent)


def _surely_upcoming(today_in_utc: date):
    """Cohorts starting after tomorrow (UTC) have not started anywhere on earth: every time
    zone's date is within a day of UTC's. Only the few starting today or tomorrow (UTC) need each
    zone's own date (local_today)."""
    return Cohort.starts_on > today_in_utc + timedelta(days=1)


def _edge_cohorts(today_in_utc: date) -> list[Cohort]:
    """Cohorts starting today or tomorrow (UTC) that have not started where they meet."""
    edge = db.session.scalars(sa.select(Cohort).where(
        Cohort.starts_on.between(today_in_utc - timedelta(days=1), today_in_utc + timedelta(days=1)))
        .order_by(Cohort.starts_on, Cohort.id)).all()
    return [c for c in edge if local_today(c) < c.starts_on]


def upcoming_cohorts(with_meetings: bool = True) -> list[Cohort]:
    """Cohorts that have not started yet, soonest first (open or not), with their meetings
    (with_meetings=False where one cohort's at most are read, e.g. an application sent).

    Read with a date bound: past cohorts are never loaded."""
    query = (sa.select(Cohort).where(Cohort.starts_on >= clock.now().date() - timedelta(days=1))
             .order_by(Cohort.starts_on, Cohort.id))
    cohorts = db.session.scalars(query.options(selectinload(Cohort.meetings)) if with_meetings else query).all()
    return [c for c in cohorts if local_today(c) < c.starts_on]


@dataclass(frozen=True)
class UpcomingPage:
    """One page of the upcoming cohorts (soonest first, with their meetings) and how many there are."""

    cohorts: list[Cohort]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return _pages(self.total, self.per_page)


def _pages(total: int, per_page: int) -> int:
    return max((total + per_page - 1) // per_page, 1)


def upcoming_page(page: int = 1, per_page: int = 10) -> UpcomingPage:
    """The page-th group of per_page upcoming cohorts (a page past the end is the last one):
    only those cohorts and their meetings are read, however many cohorts there are, past or to come."""
    today_in_utc = clock.now().date()
    edge = _edge_cohorts(today_in_utc)
    total = len(edge) + db.session.scalar(sa.select(sa.func.count()).where(_surely_upcoming(today_in_utc)))
    page = min(max(page, 1), _pages(total, per_page))
    start = (page - 1) * per_page
    shown = edge[start:start + per_page]
    ids = [c.id for c in shown]
    if len(shown) < per_page:
        ids += db.session.scalars(
            sa.select(Cohort.id).where(_surely_upcoming(today_in_utc)).order_by(Cohort.starts_on, Cohort.id)
            .offset(max(start - len(edge), 0)).limit(per_page - len(shown))).all()
    cohorts = db.session.scalars(sa.select(Cohort).where(Cohort.id.in_(ids)).options(selectinload(Cohort.meetings))
                                 .order_by(Cohort.starts_on, Cohort.id)).all() if ids else []
    return UpcomingPage(list(cohorts), total, page, per_page)


def open_cohorts(with_meetings: bool = True) -> list[Cohort]:
    """Cohorts that take applications now, soonest first."""
    return [c for c in upcoming_cohorts(with_meetings) if closed_reason(c) is None]


def all_cohorts_query(with_meetings: bool = True) -> sa.Select:
    """Every cohort, the latest first (for the clinicians), with their meetings loaded in one
    query (their dates show where they end); with_meetings=False where only names are needed."""
    query = sa.select(Cohort).order_by(Cohort.starts_on.desc(), Cohort.id)
    return query.options(selectinload(Cohort.meetings)) if with_meetings else query


def all_cohorts() -> list[Cohort]:
    """Every cohort, the latest first, without their meetings (where only names are needed)."""
    return list(db.session.scalars(all_cohorts_query(with_meetings=False)))


@dataclass(frozen=True)
class DashboardCohorts:
    """The cohorts the dashboard shows (the latest first, with their meetings), and how many
    later (upcoming) and earlier (finished) ones it leaves to the cohorts page."""

    cohorts: list[Cohort]
    later: int
    earlier: int


UPCOMING_ON_DASHBOARD = 6  # about half a year of cohorts: recruiting now, or soon
FINISHED_ON_DASHBOARD = 3  # the last to finish: their follow-up, attendance, messages


def dashboard_cohorts() -> DashboardCohorts:
    """The cohorts that matter now: every one under way, the next UPCOMING_ON_DASHBOARD to
    start and the last FINISHED_ON_DASHBOARD to finish (in the program's time, by their
    meetings, as stage() says). One query (and one for their meetings), however many cohorts
    there have been."""
    rows = db.session.execute(_dashboard_statement(), {"now": clock.now()}).all()
    shown = {"before": 0, "after": 0, "during": 0}
    total = dict(shown)
    for _, where_now, of in rows:
        shown[where_now] += 1
        total[where_now] = of
    return DashboardCohorts([cohort for cohort, _, _ in rows], total["before"] - shown["before"],
                            total["after"] - shown["after"])


@functools.cache
def _dashboard_statement() -> sa.Select:
    """dashboard_cohorts' one query (built once: building it cost more than running it)."""
    now = sa.bindparam("now")
    spans = (sa.select(Meeting.cohort_id, sa.func.min(Meeting.starts_at).label("first"),
                       sa.func.max(Meeting.ends_at).label("last"))
             .group_by(Meeting.cohort_id).subquery())
    where = sa.case((sa.or_(spans.c.first.is_(None), spans.c.first > now), "before"),
                    (spans.c.last <= now, "after"), else_="during")
    placed = (sa.select(Cohort.id, where.label("stage"),
                        sa.func.row_number().over(partition_by=where, order_by=(Cohort.starts_on, Cohort.id))
                        .label("soonest"),
                        sa.func.row_number().over(partition_by=where, order_by=(spans.c.last.desc(), Cohort.id))
                        .label("latest"),
                        sa.func.count().over(partition_by=where).label("of"))
              .outerjoin(spans, spans.c.cohort_id == Cohort.id).subquery())
    return (sa.select(Cohort, placed.c.stage, placed.c.of).join(placed, placed.c.id == Cohort.id)
            .where(sa.or_(placed.c.stage == "during",
                          sa.and_(placed.c.stage == "before", placed.c.soonest <= UPCOMING_ON_DASHBOARD),
                          sa.and_(placed.c.stage == "after", placed.c.latest <= FINISHED_ON_DASHBOARD)))
            .options(selectinload(Cohort.meetings)).order_by(Cohort.starts_on.desc(), Cohort.id))


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
