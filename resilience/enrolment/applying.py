"""Applying: who may apply when, one active application per person and cohort, and a
form sent twice that stores one application."""
import re
from collections import Counter
from collections.abc import Iterator

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from .. import clock, database, page_cache
from ..extensions import db
from ..models import IN_PLAY, Application, Cohort
from ..refusals import ApplicationRefused
from ..status import Status
from . import notifications
from .cohorts import closed_reason, local_today

# What status tokens and form submission ids look like; anything else is never looked up.
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def application_by_token(token: str) -> Application | None:
    if not TOKEN.fullmatch(token):
        return None
    return db.session.scalar(sa.select(Application).where(Application.token == token))


def email_key(email: str) -> str:
    return email.strip().lower()


# Still in play for this person and cohort (answered from the index made for it, see IN_PLAY),
# or stored from this very form: built once, with the values as parameters, on the table's own
# columns (no row is made of what it reads: nearly always nothing).
_TABLE = Application.__table__
_IN_PLAY_FOR = sa.and_(_TABLE.c.cohort_id == sa.bindparam("cohort_id"),
                       _TABLE.c.email_key == sa.bindparam("email_key"), sa.text(IN_PLAY))
_STORED_BEFORE = sa.select(_TABLE.c.id, _TABLE.c.submission_id, _IN_PLAY_FOR.label("in_play")).where(
    sa.or_(_TABLE.c.submission_id == sa.bindparam("submission_id"), _IN_PLAY_FOR))


def stored_before(submission_id: str | None, cohort: Cohort, email: str) -> tuple[Application | None,
                                                                                Application | None]:
    """In one query, each from its own index: (the application this form's id was stored with,
    the application still in play for this person and cohort), either None when there is none
    (an application found, seldom, is then read by its id)."""
    looked_up = submission_id if TOKEN.fullmatch(submission_id or "") else None  # (None matches no row)
    earlier = existing = None
    for found in db.session.execute(
            _STORED_BEFORE, {"submission_id": looked_up, "cohort_id": cohort.id, "email_key": email_key(email)}).all():
        if looked_up and found.submission_id == looked_up:
            earlier = db.session.get(Application, found.id)
        if found.in_play:
            existing = db.session.get(Application, found.id)
    return earlier, existing


def check_can_apply(cohort: Cohort) -> None:
    """Raise ApplicationRefused if this cohort takes no applications now."""
    reason = closed_reason(cohort)
    if reason is not None:
        raise ApplicationRefused(reason)


def submit_application(cohort: Cohort, *, submission_id: str | None, answers: dict, referral: str | None,
                       **fields) -> tuple[Application, bool]:
    """Store a new pending application; returns (application, created).

    `answers` are the sealed answers (referral is sealed with them); `fields` the contact
    fields and consent version. A repeated submission of the same form for the same cohort
    and email (a double click, a resent POST) returns the application the first one stored,
    with created=False. An application already in progress for this email and cohort is
    refused, and its owner is emailed their status link. Any refusal raises
    ApplicationRefused and stores no application.
    """
    database.begin_write()
    earlier, existing = stored_before(submission_id, cohort, fields["email"])
    if _repeats(earlier, cohort, fields["email"]):
        db.session.rollback()
        return earlier, False
    with database.rollback_on(ApplicationRefused):  # releases the write lock
        check_can_apply(cohort)
    if existing is not None and submission_id and existing.submission_id == submission_id:
        db.session.rollback()  # this very form, whose first copy was stored a moment ago
        return existing, False
    if existing is not None:
        notifications.status_link(existing, local_today(cohort).isoformat())
        db.session.commit()
        raise ApplicationRefused("duplicate")
    # A form whose id is already stored, for another cohort or email, came back with the Back
    # button: this application is stored without the id.
    new_id = submission_id if TOKEN.fullmatch(submission_id or "") and earlier is None else None
    now = clock.now()
    try:
        application = _store(
            cohort_id=cohort.id, submission_id=new_id, email_key=email_key(fields["email"]),
            answers={**answers, "referral": referral}, status=Status.PENDING,
            created_at=now, status_changed_at=now, consented_at=now, health_consent_at=now, **fields,
        )
        notifications.application_received(application, just_stored=True)
        db.session.commit()
    except IntegrityError:
        # Another request got there first: the same form twice (looked up by the id it was
        # sent with, even if the first request committed just now), or the same person.
        db.session.rollback()
        earlier = repeated_submission(submission_id, cohort, fields["email"])
        if earlier is not None:
            return earlier, False
        raise ApplicationRefused("duplicate") from None
    return application, True


def _store(**values) -> Application:
    """Store a new application with one plain INSERT and return it as a row of the session, as if
    just loaded (the ORM's flush of a new row cost more than all the rest of storing it). Every
    column is given (its model's default where `values` has none), so nothing is read back; the
    page numbers follow the INSERT (page_cache)."""
    given = {**_defaults(), **values}
    answers = given.pop("answers")
    application = Application(**given)
    application.answers = answers  # (set last: it also counts the answers that need attention)
    row = {column.key: getattr(application, column.key) for column in _COLUMNS}
    application.id = db.session.execute(_INSERT, row).inserted_primary_key[0]
    make_transient_to_detached(application)
    db.session.add(application)
    return application


def _defaults() -> dict:
    """Each column's default as the model declares it (computed now, as an INSERT would), or None."""
    return {column.key: None if column.default is None
            else column.default.arg(None) if column.default.is_callable else column.default.arg
            for column in _COLUMNS}


_INSERT = sa.insert(_TABLE)
_COLUMNS = [column for column in _TABLE.columns if not column.primary_key]


def repeated_submission(submission_id: str | None, cohort: Cohort | None, email: str | None) -> Application | None:
    """The application this very form already stored, if it is sent again unchanged.

    Only a repeat for the same cohort and email counts: a form brought back with the
    Back button and sent for another cohort is a new application.
    """
    if cohort is None or not email:
        return None
    earlier = _by_submission(submission_id)
    return earlier if _repeats(earlier, cohort, email) else None


def _repeats(earlier: Application | None, cohort: Cohort, email: str) -> bool:
    return earlier is not None and earlier.cohort_id == cohort.id and earlier.email_key == email_key(email)


def _by_submission(submission_id: str | None) -> Application | None:
    if not submission_id or not TOKEN.fullmatch(submission_id):
        return None
    return db.session.scalar(sa.select(Application).where(Application.submission_id == submission_id))


def sources_by_cohort(cohort_ids: list[int]) -> dict[int, list[tuple[str | None, int]]]:
    """Where each cohort's applicants came from (the blog link's ?ref=, or the referring
    site; None where not known or erased), with how many, most first.

    "Where they came from" is sealed with the answers. Each application's is opened once per
    process and kept in memory only (application id → where from; never written anywhere;
    dropped once erased or no longer shown),
    and the counts are kept until an application is added or erased (a number raised in the
    same transaction), so the dashboard costs one small query until then."""
    return page_cache.kept_until_changed("sources", ("applications",), tuple(cohort_ids),
                                         lambda: _count_sources(cohort_ids))


def _count_sources(cohort_ids: list[int]) -> dict[int, list[tuple[str | None, int]]]:
    known = current_app.extensions.setdefault("referrals", {})
    rows = db.session.execute(sa.select(Application.id, Application.cohort_id, Application.erased_at)
                              .where(Application.cohort_id.in_(cohort_ids))).all()
    missing = [row.id for row in rows if row.id not in known and row.erased_at is None]
    for application_id, answers in answers_by_id(missing):
        known[application_id] = answers.get("referral") or None
    counts = {cohort_id: Counter() for cohort_id in cohort_ids}
    for row in rows:
        counts[row.cohort_id][None if row.erased_at else known.get(row.id)] += 1
    # Only what these counts need stays in memory: nothing of an erased application, nor of
    # cohorts no longer shown.
    current_app.extensions["referrals"] = {row.id: known[row.id] for row in rows if row.id in known and not row.erased_at}
    return {cohort_id: sorted(counted.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
            for cohort_id, counted in counts.items()}


def answers_by_id(application_ids: list[int]) -> Iterator[tuple[int, dict]]:
    """(id, opened answers) of these applications, however many (a few queries at most)."""
    for start in range(0, len(application_ids), _OPENED_AT_ONCE):
        yield from db.session.execute(sa.select(Application.id, Application.answers)
                                      .where(Application.id.in_(application_ids[start:start + _OPENED_AT_ONCE])))


_OPENED_AT_ONCE = 30_000  # ids in one query (SQLite takes up to 32,766)
