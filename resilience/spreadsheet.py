"""A cohort's applications as a CSV file a spreadsheet opens safely, in the clinicians' words:
statuses by their labels, times in the cohort's own time to the minute, a column per meeting
with its attendance, and the answers (only when asked) as the clinicians read them.
A clinician's notes are never exported."""
import csv
import io
import re
from datetime import datetime

import sqlalchemy as sa

from . import questions
from .extensions import db
from .models import Application, Attendance, Cohort, Meeting
from .status import Status

# Their answers in the form's order, but people they know first: what a clinician planning groups looks for.
ANSWER_COLUMNS = ["knows_applicants", *(name for name in questions.SEALED_FIELDS if name != "knows_applicants")]
OPTIONAL = " (optional)"


def contact_headers(cohort: Cohort) -> list[str]:
    return ["Application number", "Status", f"Applied ({cohort.timezone})", f"Status changed ({cohort.timezone})",
            "First name", "Last name", "Pronouns", "Email", "Phone", "Lives in", "Came from"]


def meeting_header(meeting: Meeting) -> str:
    """"Ketamine session 1 (2027-03-09)": the meeting's name and its date in the cohort's time."""
    return f"{meeting.name} ({meeting.local_start:%Y-%m-%d})"


def answer_header(name: str) -> str:
    question = questions.QUESTIONS[name]
    if question.follows:
        return f"{answer_header(question.follows)} (a few words)"
    return question.label.removesuffix(OPTIONAL)


def applications_csv(cohort: Cohort, with_answers: bool, status: Status | None = None) -> tuple[str, int]:
    """The cohort's applications (only those in `status`, if given: enrolled makes a roster),
    oldest first: contact fields, attendance at each meeting, and the answers only when asked.
    Returns the CSV text and how many applications it holds."""
    query = sa.select(Application).where(Application.cohort_id == cohort.id)
    if status is not None:
        query = query.where(Application.status == status)
    applications = db.session.scalars(query.order_by(Application.created_at, Application.id)).all()
    meetings = list(cohort.meetings)
    marks = {(mark.meeting_id, mark.application_id): mark.mark for mark in db.session.scalars(
        sa.select(Attendance).join(Meeting, Attendance.meeting_id == Meeting.id).where(Meeting.cohort_id == cohort.id))}

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(contact_headers(cohort) + [meeting_header(m) for m in meetings]
                    + ([answer_header(name) for name in ANSWER_COLUMNS] if with_answers else []))
    for a in applications:
        row = [a.id, a.status.label, _local(cohort, a.created_at), _local(cohort, a.status_changed_at),
               a.full_name if a.erased_at else a.first_name, a.last_name, a.pronouns or "", a.email, a.phone, a.home_area, a.referral or ""]
        row += [mark.label if (mark := marks.get((m.id, a.id))) else "" for m in meetings]
        if with_answers:
            row += [questions.shown(name, value) if (value := a.answers.get(name)) else "" for name in ANSWER_COLUMNS]
        writer.writerow([spreadsheet_safe(value) for value in row])
    return buffer.getvalue(), len(applications)


def _local(cohort: Cohort, moment: datetime | None) -> str:
    """"2026-12-03 14:05": the cohort's time, to the minute (the zone is in the column's header)."""
    return "" if moment is None else f"{cohort.local(moment):%Y-%m-%d %H:%M}"


# A formula can start a cell, or start what a spreadsheet splitting on ";", "|" or tabs takes for one.
_FORMULA_AFTER_SEPARATOR = re.compile(r"([,;|\t]\s*)(?=[=+\-@])")


def spreadsheet_safe(value) -> str:
    """A cell a spreadsheet will show as text, never run as a formula, whichever separator it
    splits on: "=2+3" becomes "'=2+3", and "Portland;=2+3" becomes "Portland;'=2+3"."""
    text = _FORMULA_AFTER_SEPARATOR.sub(r"\1'", "" if value is None else str(value))
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text
