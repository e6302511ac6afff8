"""A cohort's applications as a CSV file a spreadsheet opens safely."""
import csv
import io

import sqlalchemy as sa

from . import questions
from .extensions import db
from .models import Application, Cohort

CONTACT_COLUMNS = ["id", "status", "applied_at", "status_changed_at", "first_name", "last_name", "pronouns",
                   "email", "phone", "home_area", "referral"]
# People they know first, as the export has always had it (spreadsheets built on it rely on the order).
ANSWER_COLUMNS = ["knows_applicants", *(name for name in questions.SEALED_FIELDS if name != "knows_applicants")]


def applications_csv(cohort: Cohort, with_answers: bool) -> tuple[str, int]:
    """The cohort's applications, oldest first: contact fields, and the answers only when asked.
    Returns the CSV text and how many applications it holds."""
    applications = db.session.scalars(sa.select(Application).where(Application.cohort_id == cohort.id)
                                      .order_by(Application.created_at, Application.id)).all()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CONTACT_COLUMNS + (ANSWER_COLUMNS if with_answers else []))
    for a in applications:
        row = [a.id, a.status, a.created_at.isoformat(), a.status_changed_at.isoformat(), a.first_name,
               a.last_name, a.pronouns or "", a.email, a.phone, a.home_area, a.referral or ""]
        if with_answers:
            row += [a.answers.get(name, "") for name in ANSWER_COLUMNS]
        writer.writerow([spreadsheet_safe(value) for value in row])
    return buffer.getvalue(), len(applications)


def spreadsheet_safe(value) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text
