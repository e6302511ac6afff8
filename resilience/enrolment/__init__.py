"""The rules of the program, one module per concern. Views, CLI commands and tests ask
these functions; nothing else decides a seat. Callers import from resilience.enrolment.

  cohorts        which cohorts take applications; availability; creating and changing cohorts
  seats          who holds a cohort's seats, the waitlist and its order, counts by status
  applying       storing an application; one active application per person and cohort
  decisions      moving an application between statuses under the cohort's lock; notes
  notifications  who is told what (every email is queued here)
  screening      screening slots: publishing, booking, moving, cancelling, recording as held
  offers         confirm-by reminders and offers that lapse
  meetings       moving meetings (what a move would change, first), 48-hour reminders
  periodic       everything time-driven, in one call for cron
  audit          the audit log
  links          a lost status link, sent again by email
  people_you_know  applicants to one cohort who may know each other
  attendance     each meeting's roster, marking attendance, absences and meetings not yet marked
  messages       a clinician's words to one applicant or to a cohort's enrolled participants
  retention      how long a person's data is kept (purge), and erasing it on their request

The rules hold no page wording (refusals carry a reason; resilience/refusals.py words it)
and build no links (the outbox does).
"""
from ..refusals import ApplicationRefused, RefusedChange
from .applying import (
    application_by_token,
    check_can_apply,
    repeated_submission,
    sources_by_cohort,
    submit_application,
)
from .attendance import attendance_of, mark_attendance, marking_open, missed, roster, unmarked
from .audit import record_alone, signed_in
from .cohorts import (
    all_cohorts,
    all_cohorts_query,
    availabilities,
    availability,
    closed_reason,
    cohort_by_slug,
    dashboard_cohorts,
    next_meeting,
    open_cohorts,
    phase,
    save_cohort,
    stage,
    upcoming_cohorts,
    upcoming_page,
)
from .decisions import (
    BULK_DECISIONS,
    add_note,
    allowed_changes,
    asks_evaluation,
    assign,
    change_many,
    change_status,
    offer_passed,
    preview_decision,
)
from .drafts import delete_expired_drafts, discard_draft, open_draft, save_draft
from .links import send_status_links
from .meetings import change_meeting, meeting_changes, move_meetings, send_reminders
from .messages import (
    cohort_messages,
    enrolled_participants,
    message_preview,
    messages_for,
    write_to_applicant,
    write_to_participants,
)
from .notifications import application_received, meeting_moves_preview
from .offers import open_offers_by_cohort
from .people_you_know import acquaintances
from .periodic import run_due_work
from .retention import erase_on_request, erasure, erasure_event, purge
from .screening import (
    add_slots,
    book,
    booking,
    cancel_booking,
    conversation_missed,
    conversations,
    conversations_ahead_by_cohort,
    conversations_had,
    move_slot,
    open_slots,
    record_held,
    remove_slot,
    slots_for_clinicians,
)
from .seats import (
    move_in_waitlist,
    seat_holders_by_cohort,
    status_counts_by_cohort,
    waitlist_position,
    waitlists_by_cohort,
)

# What views, commands and tests call; the modules hold more for each other.
__all__ = [
    "BULK_DECISIONS",
    "ApplicationRefused",
    "RefusedChange",
    "acquaintances",
    "add_note",
    "add_slots",
    "all_cohorts",
    "all_cohorts_query",
    "allowed_changes",
    "application_by_token",
    "application_received",
    "asks_evaluation",
    "assign",
    "attendance_of",
    "availabilities",
    "availability",
    "book",
    "booking",
    "cancel_booking",
    "change_many",
    "change_meeting",
    "change_status",
    "check_can_apply",
    "closed_reason",
    "cohort_by_slug",
    "cohort_messages",
    "conversation_missed",
    "conversations",
    "conversations_ahead_by_cohort",
    "conversations_had",
    "dashboard_cohorts",
    "delete_expired_drafts",
    "discard_draft",
    "enrolled_participants",
    "erase_on_request",
    "erasure",
    "erasure_event",
    "mark_attendance",
    "marking_open",
    "meeting_changes",
    "meeting_moves_preview",
    "message_preview",
    "messages_for",
    "missed",
    "move_in_waitlist",
    "move_meetings",
    "move_slot",
    "next_meeting",
    "offer_passed",
    "open_cohorts",
    "open_draft",
    "open_offers_by_cohort",
    "open_slots",
    "phase",
    "preview_decision",
    "purge",
    "record_alone",
    "record_held",
    "remove_slot",
    "repeated_submission",
    "roster",
    "run_due_work",
    "save_cohort",
    "save_draft",
    "seat_holders_by_cohort",
    "send_reminders",
    "send_status_links",
    "signed_in",
    "slots_for_clinicians",
    "sources_by_cohort",
    "stage",
    "status_counts_by_cohort",
    "submit_application",
    "unmarked",
    "upcoming_cohorts",
    "upcoming_page",
    "waitlist_position",
    "waitlists_by_cohort",
    "write_to_applicant",
    "write_to_participants",
]
