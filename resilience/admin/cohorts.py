"""Cohorts: their waitlist order, creating and editing cohorts, and moving their meetings."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import enrolment, formatting
from ..models import Cohort
from . import bp
from .forms import CohortForm, MeetingsForm, WaitlistMoveForm


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
    cohorts = enrolment.all_cohorts()
    return render_template("admin/cohorts.html", cohorts=cohorts, seats=enrolment.availabilities(cohorts))


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
    cohort = _cohort_or_404(slug)
    if request.method == "GET":
        form = MeetingsForm(formdata=None, data={"meetings": [
            {"meeting_id": m.id, "date": m.local_start.date(), "starts": m.local_start.time(),
             "ends": m.local_end.time(), "location": m.location, "join_url": m.join_url} for m in cohort.meetings]})
    else:
        form = MeetingsForm()
    if request.method == "POST" and form.validate():
        try:
            changed = enrolment.move_meetings(cohort, form.changes(), current_user)
        except enrolment.RefusedChange as refused:
            flash(refused.message, "error")
        else:
            flash(f"{changed} meeting{'s' if changed != 1 else ''} changed; everyone holding a seat gets an "
                  "updated calendar invite." if changed else "Nothing was changed.", "success")
        return redirect(url_for(".meetings", slug=cohort.slug), 303)
    by_id = {str(meeting.id): meeting for meeting in cohort.meetings}
    rows = [(by_id.get(str(row.meeting_id.data)), row) for row in form.meetings]
    return render_template("admin/meetings.html", form=form, cohort=cohort, rows=rows), 422 if form.errors else 200
