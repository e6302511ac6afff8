"""The dashboard: each cohort at a glance, in the program's time: its phase, what needs the
clinicians (offers awaiting confirmation, conversations coming up), its seats, counts in the
program's order, its waitlist and where its applicants came from; once it runs, the next
meeting's roster, attendance not yet taken and who missed a meeting. Only the cohorts that
matter now (enrolment.dashboard_cohorts) and each waitlist's first few: it costs the same
after years of cohorts and thousands of applications."""
from flask import render_template

from .. import clock, enrolment, outbox, program
from . import bp

WAITLIST_SHOWN = 5  # each waitlist's first in line; the list shows them all


@bp.get("/")
def dashboard():
    shown = enrolment.dashboard_cohorts()
    cohorts = shown.cohorts
    ids = [c.id for c in cohorts]
    holders = enrolment.seat_holders_by_cohort(ids)
    phases = {cohort.id: enrolment.phase(cohort, len(holders[cohort.id])) for cohort in cohorts}
    current = [cohort_id for cohort_id in ids if phases[cohort_id].name != "finished"]
    recruiting = [cohort_id for cohort_id in current if phases[cohort_id].name != "running"]
    return render_template(
        "admin/dashboard.html",
        cohorts=cohorts,
        phases=phases,
        holders=holders,
        counts=enrolment.status_counts_by_cohort(ids),
        waitlists=enrolment.waitlists_by_cohort(current, first=WAITLIST_SHOWN),
        offers=enrolment.open_offers_by_cohort(current),
        conversations=enrolment.conversations_ahead_by_cohort(current),
        sources=enrolment.sources_by_cohort(recruiting),
        missed=enrolment.missed(current),
        unmarked=enrolment.unmarked(current),
        next_meetings={cohort.id: enrolment.next_meeting(cohort) for cohort in cohorts},
        numbers={meeting.id: n for cohort in cohorts for n, meeting in enumerate(cohort.meetings, start=1)},
        closed={cohort.id: enrolment.closed_reason(cohort) for cohort in cohorts},
        failed_messages=outbox.failed_messages(),
        outbox_counts=outbox.backlog(),
        now=clock.now(),
        weeks=program.WEEKS,
        later=shown.later,
        earlier=shown.earlier,
    )
