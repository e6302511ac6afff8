"""Running the group: each meeting's roster, where the clinicians mark who attended, was
absent or was excused, and its printable sign-in sheet."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import enrolment, htmx
from ..models import Cohort, Meeting
from ..status import AttendanceMark
from . import bp
from .forms import AttendanceForm

NOT_UNDERSTOOD = "That mark was not understood. Nothing was changed."


def _meeting_or_404(slug: str, number: int) -> tuple[Cohort, Meeting]:
    """The cohort's meeting at this position (1 for its first meeting, by time)."""
    cohort = enrolment.cohort_by_slug(slug) or abort(404)
    if not 1 <= number <= len(cohort.meetings):
        abort(404)
    return cohort, cohort.meetings[number - 1]


def _roster(cohort: Cohort, meeting: Meeting, number: int, **extra) -> dict:
    return {
        "cohort": cohort,
        "meeting": meeting,
        "number": number,
        "previous": cohort.meetings[number - 2] if number > 1 else None,
        "next": cohort.meetings[number] if number < len(cohort.meetings) else None,
        "roster": enrolment.roster(meeting),
        "marking_open": enrolment.marking_open(meeting),
        "marks": list(AttendanceMark),
        **extra,
    }


@bp.route("/cohorts/<slug>/meetings/<int:number>/attendance", methods=["GET", "POST"])
def attendance(slug, number):
    """The meeting's roster (or, with ?sheet=1, its sign-in sheet to print); a POST marks
    one person and answers with their row (htmx) or goes back to it."""
    cohort, meeting = _meeting_or_404(slug, number)
    if request.method == "GET":
        sheet = request.args.get("sheet") == "1"
        return render_template("admin/attendance.html", **_roster(cohort, meeting, number, sheet=sheet))

    form = AttendanceForm()
    application_id = refusal = done = None
    if not form.validate():
        refusal = NOT_UNDERSTOOD
    else:
        application_id = int(form.application_id.data)
        try:
            record = enrolment.mark_attendance(meeting.id, application_id, AttendanceMark(form.mark.data),
                                               current_user)
        except enrolment.RefusedChange as refused:
            refusal = refused.message
        else:
            done = f"{record.application.full_name}: {record.mark.label.lower()}."

    if htmx.is_htmx():
        context = _roster(cohort, meeting, number, refusal=refusal, done=done)
        row = next((row for row in context["roster"] if row[0].id == application_id), None)
        response = current_app.make_response((render_template("admin/_roster_response.html", row=row, **context),
                                              422 if refusal else 200))
        if row is None:  # not on the roster: nothing to replace, only the message to show
            response.headers["HX-Reswap"] = "none"
        return response
    flash(refusal or done, "error" if refusal else "success")
    anchor = f"person-{application_id}" if application_id else "roster"
    return redirect(url_for(".attendance", slug=cohort.slug, number=number, _anchor=anchor), 303)
