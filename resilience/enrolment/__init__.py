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
from .applying import (TOKEN, active_application, application_by_token, check_can_apply, email_key,
                       repeated_submission, submit_application)
from .audit import record, record_alone, signed_in
from .cohorts import (SLUG, Availability, all_cohorts, availabilities, availability, closed_reason, cohort_by_slug,
                      local_today, lock_cohort, open_cohorts, save_cohort, upcoming_cohorts)
from .decisions import CONFIRM_DAYS, add_note, allowed_changes, change_status, confirm_by_date
from .meetings import REMINDER_WINDOW, change_meeting, move_meetings, send_reminders
from .notifications import application_received, status_changed
from .seats import (first_in_line, participants, seat_holders_by_cohort, seats_taken, seats_taken_by_cohort,
                    status_counts_by_cohort, waitlists_by_cohort)

__all__ = [
    "ApplicationRefused", "RefusedChange", "TOKEN", "active_application", "application_by_token",
    "check_can_apply", "email_key", "repeated_submission", "submit_application", "record", "record_alone",
    "signed_in", "SLUG", "Availability", "all_cohorts", "availabilities", "availability", "closed_reason",
    "cohort_by_slug", "local_today", "lock_cohort", "open_cohorts", "save_cohort", "upcoming_cohorts",
    "CONFIRM_DAYS", "add_note", "allowed_changes", "change_status", "confirm_by_date", "REMINDER_WINDOW",
    "change_meeting", "move_meetings", "send_reminders", "application_received", "status_changed",
    "first_in_line", "participants", "seat_holders_by_cohort", "seats_taken", "seats_taken_by_cohort",
    "status_counts_by_cohort", "waitlists_by_cohort",
]
