"""The rules of the program, one module per concern. Views, CLI commands and tests ask
these functions; nothing else decides a seat. Callers import from resilience.enrolment.

  cohorts        which cohorts take applications; availability; creating and changing cohorts
  seats          who holds a cohort's seats, the waitlist, counts by status
  applying       storing an application; one active application per person and cohort
  decisions      moving an application between statuses under the cohort's lock; notes
  notifications  who is told what (every email is queued here)
  meetings       moving meetings, 48-hour reminders
  audit          the audit log

The rules hold no page wording (refusals carry a reason; resilience/refusals.py words it)
and build no links (the outbox does).
"""
from ..refusals import ApplicationRefused, RefusedChange
from .applying import application_by_token, check_can_apply, repeated_submission, submit_application
from .audit import record_alone, signed_in
from .cohorts import (
    all_cohorts,
    availabilities,
    availability,
    closed_reason,
    cohort_by_slug,
    open_cohorts,
    save_cohort,
    upcoming_cohorts,
)
from .decisions import add_note, allowed_changes, change_status
from .meetings import change_meeting, move_meetings, send_reminders
from .notifications import application_received
from .seats import seat_holders_by_cohort, status_counts_by_cohort, waitlists_by_cohort

# What views, commands and tests call; the modules hold more for each other.
__all__ = [
    "ApplicationRefused",
    "RefusedChange",
    "add_note",
    "all_cohorts",
    "allowed_changes",
    "application_by_token",
    "application_received",
    "availabilities",
    "availability",
    "change_meeting",
    "change_status",
    "check_can_apply",
    "closed_reason",
    "cohort_by_slug",
    "move_meetings",
    "open_cohorts",
    "record_alone",
    "repeated_submission",
    "save_cohort",
    "seat_holders_by_cohort",
    "send_reminders",
    "signed_in",
    "status_counts_by_cohort",
    "submit_application",
    "upcoming_cohorts",
    "waitlists_by_cohort",
]
