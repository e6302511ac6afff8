"""The dashboard: each cohort at a glance, in the program's time."""
from flask import render_template

from .. import enrolment, outbox
from . import bp


@bp.get("/")
def dashboard():
    cohorts = enrolment.all_cohorts(with_meetings=True)
    ids = [c.id for c in cohorts]
    return render_template(
        "admin/dashboard.html",
        cohorts=cohorts,
        holders=enrolment.seat_holders_by_cohort(ids),
        counts=enrolment.status_counts_by_cohort(ids),
        waitlists=enrolment.waitlists_by_cohort(ids),
        closed={cohort.id: enrolment.closed_reason(cohort) for cohort in cohorts},
        stages={cohort.id: enrolment.stage(cohort) for cohort in cohorts},
        failed_messages=outbox.failed_messages(),
        outbox_counts=outbox.backlog(),
    )
