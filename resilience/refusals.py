"""When the rules say no: the rules raise these with a reason and the facts, and the
sentences a person reads live here, not in the rules.
"""
from typing import ClassVar

# Why a cohort takes no applications (enrolment.closed_reason), as visitors read it.
CLOSED = {
    "closed": "Applications for this cohort are closed.",
    "deadline": "The application deadline for this cohort has passed.",
    "started": "This cohort has already begun, so it is no longer taking applications.",
}


class Refused(Exception):
    """A request the rules will not carry out; nothing was changed."""

    MESSAGES: ClassVar[dict[str, str]] = {}

    def __init__(self, reason: str, **facts):
        super().__init__(reason)
        self.reason = reason
        self.facts = facts

    @property
    def message(self) -> str:
        return self.MESSAGES[self.reason].format(**self.facts)


class ApplicationRefused(Refused):
    """An application the rules will not store; told to the applicant beside the field it concerns."""

    MESSAGES: ClassVar[dict[str, str]] = {
        **CLOSED,
        # The status link goes to the address itself, never to the page, so a stranger
        # typing someone's email learns no link.
        "duplicate": "An application for this cohort from this email address is already in progress, so we "
                     "have not stored a second one. We have emailed the private status link to that address.",
    }

    @property
    def field(self) -> str:
        return "email" if self.reason == "duplicate" else "cohort"


class RefusedChange(Refused):
    """A change a clinician (or an applicant) asked for that the rules will not make."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "missing": "That application does not exist.",
        # Messages (enrolment.write_to_applicant, write_to_participants)
        "empty_message": "Please write the message first.",
        "message_too_long": "Please keep the message under {longest:,} characters. Nothing was sent.",
        "message_repeated": "This message was sent a moment ago, so it was not sent again.",
        "cohort_missing": "That cohort does not exist. Nothing was sent.",
        "no_participants": "No one is enrolled in the {cohort.title} yet, so there is no one to write to. "
                           "Nothing was sent.",
        "participants_changed": "Who is enrolled in the {cohort.title} changed since the preview, so nothing was "
                                "sent. Please look at who receives it below, then send again.",
        "message_not_sent": "This decision ({status}) sends the applicant no email, so the personal message "
                            "could not go with it. Nothing was changed: decide without a message, or write to "
                            "them from their page.",
        "not_in_bulk": "“{status}” is decided one application at a time. Nothing was changed.",
        "only_by_applicant": "Only the applicant can confirm their place, from their status page. "
                             "Nothing was changed.",
        "only_by_system": "An offer lapses by itself when its time to confirm passes. Nothing was changed.",
        "not_due": "This offer’s time to confirm has not passed yet. Nothing was changed.",
        "offer_lapsed": "The time to confirm this place has passed, so the offer has lapsed. Nothing was changed.",
        "evaluation_needed": "Before accepting, please confirm that the medical evaluation took place (no "
                             "screening conversation is recorded as held). Nothing was changed.",
        "not_waitlisted": "This application is no longer on the waitlist. Nothing was changed.",
        "not_screening": "This application is not invited to a conversation now, so no time can be booked.",
        "slot_missing": "That time is no longer offered. Please choose another.",
        "slot_taken": "Someone else booked that time a moment ago. Please choose another.",
        "slot_past": "That time has already passed. Please choose another.",
        "not_your_booking": "That time is not booked by you, so it cannot be cancelled here.",
        "not_booked": "No one has booked that time.",
        "slot_held": "That conversation is recorded as held, so it cannot be changed.",
        "slot_changed": "That time was booked or cancelled a moment ago. Nothing was changed: please look again.",
        "conversation_held": "Your conversation has already taken place, so there is no need to book another. "
                             "The clinicians will write to you about what comes next.",
        "full": "The {cohort.title} is full: all {cohort.capacity} seats are taken. Nothing was changed. "
                "Waitlist this application, or free a seat first.",
        "below_seats_taken": "{taken} seats are already taken, so the capacity cannot be lower than {taken}. "
                             "Nothing was changed.",
        "ends_before_start": "A meeting must end after it starts.",
        "meetings_changed": "The meetings of this cohort changed while you were editing them. Nothing was saved: "
                            "please look at them again.",
        # Erasure (enrolment.retention): an erased application is nobody's, and changes no more.
        "erased": "This application was erased: nothing about the person is kept, so it cannot be changed. "
                  "Nothing was changed.",
        "erase_seat_holder": "This person holds a seat in the {cohort.title}, which has not finished. Withdraw "
                             "them first (they are told by email), then erase their data. Nothing was erased.",
        "erasure_changed": "The applications from this email address changed since you looked. Please check the "
                           "list again. Nothing was erased.",
        # Attendance (enrolment.mark_attendance)
        "meeting_missing": "That meeting does not exist. Nothing was changed.",
        "not_enrolled": "{application.full_name} is not enrolled in the {cohort.title}, so their attendance cannot "
                        "be marked. Nothing was changed.",
        "meeting_not_started": "{meeting.name} has not started yet, so attendance cannot be marked. Nothing was "
                               "changed. Marking opens when it starts.",
    }

    @property
    def message(self) -> str:
        if self.reason == "not_allowed":  # e.g. "This application is now “Declined”, so it cannot be accepted."
            return (f"This application is now “{self.facts['status'].label}”, so it cannot be "
                    f"{self.facts['to'].done}. Nothing was changed.")
        return super().message


class TwoFactorRefused(RefusedChange):
    """Two-step sign-in (two_factor.py) refused: a wrong code, a wrong password, or the
    practice requires it. Told beside the field it concerns."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "not_a_code": "Please type the 6-digit code your authenticator app shows.",
        "wrong_first_code": "That code did not work. Please check that the app shows this account, then type "
                            "the code it shows now (a new one comes every 30 seconds).",
        "not_begun": "Two-step sign-in is not being set up any more. Please start again.",
        "already_on": "Two-step sign-in is already on for your account.",
        "not_on": "Two-step sign-in is off for your account, so there is nothing to change.",
        "wrong_proof": "That did not match your password or the code your app shows now. Nothing was changed.",
        "required": "The practice requires two-step sign-in, so it cannot be turned off. To move it to a new "
                    "phone, ask the person who runs the site to reset it: you then set it up again as you sign in.",
    }


class SettingRefused(Refused):
    """A setting the rules cannot work with (the retention days, say); told to the operator when
    the site starts or a command runs."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "days": "RESILIENCE_{name} is {value!r}: it must be a whole number of days, from 1 to {most:,}.",
    }
