"""Offers that lapse: an offered place waits a few days (the cohort's offer_days) for the
applicant's confirmation; 48 hours before that time they are reminded; when it passes the
offer lapses and the seat is free again. Nothing is given away automatically: the
clinicians are told who is next on the waitlist and decide."""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import defer

from .. import clock, database
from ..extensions import db
from ..models import Application
from ..refusals import RefusedChange
from ..status import Status
from . import decisions, notifications

REMINDER_BEFORE = timedelta(hours=48)


def open_offers_by_cohort(cohort_ids: list[int]) -> dict[int, list[Application]]:
    """Each cohort's offers awaiting the applicant's confirmation, the soonest to lapse first
    (one whose time has passed lapses at the next periodic run)."""
    offers = {cohort_id: [] for cohort_id in cohort_ids}
    for application in db.session.scalars(
            sa.select(Application).where(Application.cohort_id.in_(cohort_ids), Application.status == Status.ACCEPTED)
            .options(defer(Application.answers))
            .order_by(Application.confirm_by_at.is_(None), Application.confirm_by_at, Application.id)):
        offers[application.cohort_id].append(application)
    return offers


def remind_offers() -> int:
    """Remind each applicant whose offer lapses within 48 hours, once per offer; returns how many."""
    database.begin_write()
    now = clock.now()
    due = db.session.scalars(sa.select(Application).where(
        Application.status == Status.ACCEPTED, Application.confirm_by_at > now,
        Application.confirm_by_at <= now + REMINDER_BEFORE)).all()
    # An offer made inside the last 48 hours needs no reminder: its email said the time.
    queued = sum(notifications.offer_reminder(application) for application in due
                 if application.accepted_at < application.confirm_by_at - REMINDER_BEFORE)
    db.session.commit()
    return queued


def lapse_offers() -> int:
    """Let every offer whose confirm-by time has passed lapse (freeing its seat); returns how many."""
    due = db.session.scalars(sa.select(Application.id).where(
        Application.status == Status.ACCEPTED, Application.confirm_by_at <= clock.now())).all()
    lapsed = 0
    for application_id in due:
        try:
            decisions.change_status(application_id, Status.LAPSED, actor="system")
        except RefusedChange:  # confirmed or changed a moment ago
            continue
        except Exception:
            db.session.rollback()
            current_app.logger.exception("lapse failed: %s", application_id)
            continue
        lapsed += 1
    return lapsed
