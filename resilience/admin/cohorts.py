"""Cohorts: their waitlist order, creating and editing cohorts, downloading their applications,
and moving their meetings (with a preview of who is emailed what, before anything is sent)."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import enrolment, formatting
from ..extensions import db
from ..models import Cohort
from . import PER_PAGE, bp, page_number
from .forms import CohortForm, ExportForm, MeetingsForm, WaitlistMoveForm


@bp.post("/cohorts/<slug>/waitlist")
def move_in_waitlist(slug):
    """Move one person up or down the cohort's waitlist (the order the clinicians see and
    applicants are told), then back to the seats."""
    cohort = _cohort_or_404(slug)
    form = WaitlistMoveForm()
    if not form.validate():
        flash("That change to the waitlist was not understood. Nothing was changed.", "error")
    else:
        try:
            place = enrolment.move_in_waitlist(cohort.id, int(form.application_id.data),
                                               -1 if form.move.data == "up" else 1, current_user)
        except enrolment.RefusedChange as refused:
            flash(refused.message, "error")
        else:
            flash(f"Moved to {formatting.ordinal(place)} in line on the {cohort.title} waitlist.", "success")
    return redirect(url_for(".dashboard", _anchor=f"waitlist-{cohort.slug}"), 303)


@bp.get("/cohorts")
def cohorts():
    """Every cohort, the latest first, a page at a time."""
    page = db.paginate(enrolment.all_cohorts_query(), page=page_number(), per_page=PER_PAGE, error_out=False)
    if not page.items and page.page > 1:  # past the end (an old link): the last page
        page = db.paginate(enrolment.all_cohorts_query(), page=page.pages, per_page=PER_PAGE)
    cohorts = page.items
    return render_template("admin/cohorts.html", page=page, cohorts=cohorts, seats=enrolment.availabilities(cohorts),
                           exports={cohort.id: ExportForm(cohort) for cohort in cohorts})


@bp.route("/cohorts/new", methods=["GET", "POST"])
def new_cohort():
    form = CohortForm()
    if form.validate_on_submit():
        cohort = enrolment.save_cohort(None, form.fields_for_cohort(), current_user)
        flash(f"{cohort.title} created with ten meetings planned from its first date. Check them below.", "success")
        return redirect(url_for(".meetings", slug=cohort.slug), 303)
    return render_template("admin/cohort_form.html", form=form, cohort=None), 422 if form.errors else 200


def _cohort_or_404(slug: str) -> Cohort:
    return enrolment.cohort_by_slug(slug) or abort(404)


@bp.route("/cohorts/<slug>/edit", methods=["GET", "POST"])
def edit_cohort(slug):
    cohort = _cohort_or_404(slug)
    form = CohortForm(cohort=cohort)
    if form.validate_on_submit():
        try:
            cohort = enrolment.save_cohort(cohort, form.fields_for_cohort(), current_user)
        except enrolment.RefusedChange as refused:
            form.capacity.errors.append(refused.message)
        else:
            flash(f"{cohort.title} saved.", "success")
            return redirect(url_for(".cohorts"), 303)
    return render_template("admin/cohort_form.html", form=form, cohort=cohort), 422 if form.errors else 200


@bp.route("/cohorts/<slug>/meetings", methods=["GET", "POST"])
def meetings(slug):
    """The cohort's ten meetings. Saving shows what would change, who would be emailed and the
    email itself; only "Send the changes" (confirm) moves the meetings and emails anyone."""
    cohort = _cohort_or_404(slug)
    if request.method == "GET":
        form = MeetingsForm(formdata=None, data={"meetings": [
            {"meeting_id": m.id, "revision": m.revision, "date": m.local_start.date(), "starts": m.local_start.time(),
             "ends": m.local_end.time(), "location": m.location, "join_url": m.join_url} for m in cohort.meetings]})
        return _meetings_form(cohort, form)
    form = MeetingsForm()
    if "back" in request.form:  # from the preview: the form again, as it was typed
        return _meetings_form(cohort, form)
    if not form.validate():
        return _meetings_form(cohort, form)
    try:
        planned = enrolment.meeting_changes(cohort, form.changes())
        if planned and "confirm" not in request.form:
            return _meetings_preview(cohort, form, planned)
        moved = enrolment.move_meetings(cohort, form.changes(), current_user) if planned else 0
    except enrolment.RefusedChange as refused:
        flash(refused.message, "error")
    else:
        if moved:
            flash(f"{moved} meeting{'s' if moved != 1 else ''} changed; everyone holding a seat gets an updated "
                  "calendar invite by email.", "success")
        elif planned:
            flash("The join link was saved. Participants see it on their status page; no one was emailed.", "success")
        else:
            flash("Nothing was changed.", "success")
    return redirect(url_for(".meetings", slug=cohort.slug), 303)


def _meetings_form(cohort: Cohort, form: MeetingsForm):
    # Each row's meeting, and its place in the cohort by time (1–10: how its roster is found).
    by_id = {str(meeting.id): (meeting, number) for number, meeting in enumerate(cohort.meetings, 1)}
    rows = []
    for row in form.meetings:
        meeting, number = by_id.get(str(row.meeting_id.data), (None, None))
        rows.append((meeting, row, number))
    return render_template("admin/meetings.html", form=form, cohort=cohort, rows=rows), 422 if form.errors else 200


def _meetings_preview(cohort: Cohort, form: MeetingsForm, planned: list):
    """What saving would do, before it is done: each change from → to, who is emailed, and the
    email as the first of them will read it. Nothing is saved or queued."""
    moved = [change for change in planned if change.moved]
    holders, emails = enrolment.meeting_moves_preview(cohort, moved)
    return render_template("admin/meetings_preview.html", form=form, cohort=cohort, planned=planned, moved=moved,
                           holders=holders, emails=emails)
