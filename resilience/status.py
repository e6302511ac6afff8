"""The statuses, defined once: an application's (with what clinicians and applicants
read, how a change to each is named, and who may move where) and an email's in the outbox.

Everything else reads them from here: the rules, the database's CHECK constraints,
the templates (as `Status`), the CSS (by each status's tone).
"""
from enum import StrEnum


class Status(StrEnum):
    """Where an application stands. Only a clinician's acceptance takes a seat."""

    def __new__(cls, value, label, applicant_label, action, done, tone):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label                      # what clinicians read
        member.applicant_label = applicant_label  # what the applicant reads on their status page
        member.action = action                    # the button that moves an application here
        member.done = done                        # "… was accepted", "… cannot be reopened"
        member.tone = tone                        # how it looks (CSS), shared by similar statuses
        return member

    #            value         clinicians          applicant                                     action               done              tone
    PENDING =    "pending",    "Pending review",   "Received: waiting for a clinician’s review", "Reopen",            "reopened",       "new"
    SCREENING =  "screening",  "Invited to talk",  "Invited to a conversation",                   "Invite to talk",    "invited to talk", "talking"
    WAITLISTED = "waitlisted", "Waitlisted",       "On the waitlist",                             "Waitlist",          "waitlisted",     "waiting"
    ACCEPTED =   "accepted",   "Offered a place",  "A place is offered to you",                   "Accept",            "accepted",       "offered"
    ENROLLED =   "enrolled",   "Enrolled",         "You are in the group",                        "Confirm the place", "enrolled",       "confirmed"
    LAPSED =     "lapsed",     "Offer lapsed",     "The time to confirm has passed",              "Let the offer lapse", "lapsed",       "waiting"
    DECLINED =   "declined",   "Declined",         "Not this cohort",                             "Decline",           "declined",       "closed"
    WITHDRAWN =  "withdrawn",  "Withdrawn",        "Withdrawn",                                   "Withdraw",          "withdrawn",      "closed"


# Still in play for its cohort: one such application per person and cohort.
ACTIVE = (Status.PENDING, Status.SCREENING, Status.WAITLISTED, Status.ACCEPTED, Status.ENROLLED, Status.LAPSED)
# Holding one of the cohort's seats.
SEAT_HOLDING = (Status.ACCEPTED, Status.ENROLLED)

# Who may move from which status to which. Acceptance is always a clinician's decision;
# ENROLLED is reached only when the applicant confirms the place offered, and LAPSED only
# when the time to confirm passes (see ONLY_BY). Nothing here ever takes a seat by itself.
TRANSITIONS = {
    Status.PENDING: (Status.SCREENING, Status.ACCEPTED, Status.WAITLISTED, Status.DECLINED, Status.WITHDRAWN),
    Status.SCREENING: (Status.ACCEPTED, Status.WAITLISTED, Status.DECLINED, Status.WITHDRAWN),
    Status.WAITLISTED: (Status.SCREENING, Status.ACCEPTED, Status.DECLINED, Status.PENDING, Status.WITHDRAWN),
    Status.ACCEPTED: (Status.ENROLLED, Status.PENDING, Status.WAITLISTED, Status.LAPSED, Status.WITHDRAWN),
    Status.LAPSED: (Status.WAITLISTED, Status.ACCEPTED, Status.WITHDRAWN),
    Status.ENROLLED: (Status.WITHDRAWN,),
    Status.DECLINED: (Status.PENDING,),
    Status.WITHDRAWN: (),
}
# Statuses only one kind of actor may move an application to.
ONLY_BY = {Status.ENROLLED: "applicant", Status.LAPSED: "system"}
# What an applicant may do themselves, and from where: confirm the place offered, go back on
# the waitlist after an offer lapsed, withdraw. Every other change is a clinician's (a page
# left open, say on a lapsed offer a clinician has since offered again, changes nothing).
APPLICANT_MAY = {
    Status.ENROLLED: (Status.ACCEPTED,),
    Status.WAITLISTED: (Status.LAPSED,),
    Status.WITHDRAWN: tuple(status for status, targets in TRANSITIONS.items() if Status.WITHDRAWN in targets),
}


class AttendanceMark(StrEnum):
    """Whether an enrolled participant was at a meeting, as a clinician marked it."""

    def __new__(cls, value, label):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    ATTENDED = "attended", "Attended"
    ABSENT = "absent", "Absent"
    EXCUSED = "excused", "Excused"  # told the clinicians ahead, or a reason they accept


class OutboxStatus(StrEnum):
    """Where one email is on its way out."""

    QUEUED = "queued"    # waiting for its next attempt
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"
    FAILED = "failed"    # gave up; shown to the clinicians


BACKLOG = (OutboxStatus.QUEUED, OutboxStatus.SENDING)
