"""Seats and the waitlist: who holds a cohort's seats, who waits, how many are taken.

Only a clinician's acceptance takes a seat: pending and waitlisted applications never
count against a cohort's capacity. Each function answers for many cohorts in one query,
so a page of cohorts costs the same however many there are.
"""
import functools

import sqlalchemy as sa
from sqlalchemy.orm import defer

from .. import database, page_cache
from ..extensions import db
from ..models import Admin, Application, Cohort
from ..refusals import RefusedChange
from ..status import SEAT_HOLDING, Status
from . import audit

_SUMMARY_COLUMNS = (Application.id, Application.cohort_id, Application.first_name, Application.last_name,
                    Application.status, Application.created_at, Application.accepted_at, Application.erased_at)


def lock_cohort(cohort_id: int) -> Cohort:
    """The cohort row, locked until commit (PostgreSQL); SQLite is already in BEGIN IMMEDIATE."""
    return db.session.scalar(sa.select(Cohort).where(Cohort.id == cohort_id).with_for_update())


def lock_application(application_id: int) -> Application | None:
    """The application, locked after its cohort: every change takes the cohort, then the
    application, then (for screening) the slot, so two requests never wait on each other in
    a circle. Read only once locked, so a request that waited judges the application as it is now."""
    cohort_id = db.session.scalar(sa.select(Application.cohort_id).where(Application.id == application_id))
    if cohort_id is None:
        return None
    lock_cohort(cohort_id)
    return db.session.get(Application, application_id, populate_existing=True, with_for_update=True)


def seats_taken_by_cohort(cohort_ids: list[int]) -> dict[int, int]:
    """Seats held (accepted or enrolled) for each cohort."""
    taken = dict.fromkeys(cohort_ids, 0)
    if cohort_ids:
        taken.update(db.session.execute(
            sa.select(Application.cohort_id, sa.func.count())
            .where(Application.cohort_id.in_(cohort_ids), Application.status.in_(SEAT_HOLDING))
            .group_by(Application.cohort_id)
        ).all())
    return taken


def seats_taken(cohort: Cohort) -> int:
    return seats_taken_by_cohort([cohort.id])[cohort.id]


def _summaries_by_cohort(cohort_ids: list[int], statuses, order_by) -> dict[int, list]:
    found = {cohort_id: [] for cohort_id in cohort_ids}
    if cohort_ids:
        for row in db.session.execute(
                sa.select(*_SUMMARY_COLUMNS)
                .where(Application.cohort_id.in_(cohort_ids), Application.status.in_(statuses))
                .order_by(*order_by)):
            found[row.cohort_id].append(row)
    return found


def seat_holders_by_cohort(cohort_ids: list[int]) -> dict[int, list]:
    """Who holds each cohort's seats (offered or confirmed), in the order they were offered."""
    return _summaries_by_cohort(cohort_ids, SEAT_HOLDING, (Application.accepted_at, Application.id))


# Waitlist order: everyone joins at the end (so no one's place worsens when others join), and
# the clinicians may reorder it; anyone without a rank follows, by time of application.
WAITLIST_ORDER = (Application.waitlist_rank.is_(None), Application.waitlist_rank, Application.created_at,
                  Application.id)


def waitlists_by_cohort(cohort_ids: list[int], first: int | None = None) -> dict[int, list]:
    """Each cohort's waitlist, first in line first; with first=n, only the first n of each
    (the rest are not read: status_counts_by_cohort says how many wait)."""
    if first is None:
        return _summaries_by_cohort(cohort_ids, (Status.WAITLISTED,), WAITLIST_ORDER)
    found = {cohort_id: [] for cohort_id in cohort_ids}
    if cohort_ids:
        rows = db.session.execute(_waitlist_heads(len(cohort_ids), first),
                                  {f"cohort_{n}": cohort_id for n, cohort_id in enumerate(cohort_ids)}).all()
        for row in sorted(rows, key=lambda r: (r.waitlist_rank is None, r.waitlist_rank or 0, r.created_at, r.id)):
            if len(found[row.cohort_id]) < first:
                found[row.cohort_id].append(row)
    return found


@functools.lru_cache(maxsize=64)
def _waitlist_heads(cohorts: int, first: int) -> sa.CompoundSelect:
    """The first few of each of so many cohorts' waitlists, in one statement (the cohorts are
    its parameters, cohort_0, cohort_1…). Those the clinicians ranked come first, then the rest
    by time of application: each part is a few entries of the application_waitlist_line index.
    Built once for each number of cohorts: building twenty parts took longer than running them."""
    return sa.union_all(*(
        sa.select(sa.select(*_SUMMARY_COLUMNS, Application.waitlist_rank)
                  .where(Application.cohort_id == sa.bindparam(f"cohort_{n}"),
                         Application.status == Status.WAITLISTED, ranked)
                  .order_by(*WAITLIST_ORDER[1:]).limit(first).subquery())
        for n in range(cohorts)
        for ranked in (Application.waitlist_rank.is_not(None), Application.waitlist_rank.is_(None))))


def last_rank(cohort_id: int) -> int:
    """The rank of the last person on the cohort's waitlist (0 when no one is ranked)."""
    return db.session.scalar(sa.select(sa.func.max(Application.waitlist_rank)).where(
        Application.cohort_id == cohort_id, Application.status == Status.WAITLISTED)) or 0


def waitlist_position(application: Application) -> int | None:
    """1 for the first in line; None when the application is not on the waitlist."""
    if application.status != Status.WAITLISTED:
        return None
    line = db.session.scalars(sa.select(Application.id).where(
        Application.cohort_id == application.cohort_id, Application.status == Status.WAITLISTED)
        .order_by(*WAITLIST_ORDER)).all()  # ids only, through the (cohort_id, status) index
    return line.index(application.id) + 1 if application.id in line else None


def first_in_line(cohort: Cohort):
    """The first person on the cohort's waitlist, or None."""
    return next(iter(waitlists_by_cohort([cohort.id], first=1)[cohort.id]), None)


def status_counts_by_cohort(cohort_ids: list[int]) -> dict[int, dict[Status, int]]:
    """How many applications each cohort has in each status.

    Counted in the database, then kept in this process until the page numbers move: every
    application added or erased, every change of status or cohort raises one of them in its own
    transaction (page_cache's flush hook), so a reload after nothing changed reads one row,
    however many applications the cohorts have."""
    counted = page_cache.kept_until_changed("status counts", ("version", "applications"), tuple(cohort_ids),
                                            lambda: _count_statuses(cohort_ids))
    return {cohort_id: dict(counts) for cohort_id, counts in counted.items()}


def _count_statuses(cohort_ids: list[int]) -> dict[int, dict[Status, int]]:
    counts = {cohort_id: dict.fromkeys(Status, 0) for cohort_id in cohort_ids}
    if cohort_ids:
        for cohort_id, status, count in db.session.execute(
                sa.select(Application.cohort_id, Application.status, sa.func.count())
                .where(Application.cohort_id.in_(cohort_ids))
                .group_by(Application.cohort_id, Application.status)):
            counts[cohort_id][status] = count
    return counts


def participants(cohort: Cohort, statuses=SEAT_HOLDING) -> list[Application]:
    """The cohort's applications in these statuses (by default, everyone holding a seat), the
    people emails reach: an erased participant is nobody's, and is left out. (Their answers stay
    sealed: no email carries them.)"""
    found = db.session.scalars(
        sa.select(Application)
        .where(Application.cohort_id == cohort.id, Application.status.in_(statuses), Application.erased_at.is_(None))
        .options(defer(Application.answers))
    )
    # Put in order here: ORDER BY id would have SQLite read every applicant to the cohort in
    # that order rather than the few holding these statuses from their index.
    return sorted(found, key=lambda application: application.id)


def move_in_waitlist(cohort_id: int, application_id: int, steps: int, admin: Admin) -> int:
    """A clinician moves someone up (steps < 0) or down the cohort's waitlist, under the
    cohort's lock; everyone on it is then ranked in the new order. Returns the new place."""
    database.begin_write()
    lock_cohort(cohort_id)
    line = [person.id for person in waitlists_by_cohort([cohort_id])[cohort_id]]
    with database.rollback_on(RefusedChange):
        if application_id not in line:
            raise RefusedChange("not_waitlisted")
    place = min(max(line.index(application_id) + steps, 0), len(line) - 1)
    line.remove(application_id)
    line.insert(place, application_id)
    ranked = {row.id: row for row in db.session.scalars(sa.select(Application).where(Application.id.in_(line)))}
    for rank, person_id in enumerate(line, start=1):
        ranked[person_id].waitlist_rank = rank
    moved = ranked[application_id]
    audit.record("waitlist reordered", admin=admin, application=moved, detail=f"now {place + 1} of {len(line)}")
    db.session.commit()
    return place + 1
