"""Applications: the filterable list, one application with its answers and history,
decisions and private notes."""
import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy.orm import contains_eager, defer, selectinload

from .. import clock, enrolment, htmx, questions
from ..extensions import db
from ..models import Application, AuditEvent, Cohort
from ..status import Status
from . import PER_PAGE, bp, page_number
from .forms import SORTS, ApplicationFilters, DecisionForm, NoteForm
from .screening import slot_forms


@bp.get("/applications")
def applications():
    form = ApplicationFilters(enrolment.all_cohorts())
    filters = form.chosen()
    page = db.paginate(_matching(filters).order_by(*SORTS[filters["sort"]][1]), page=page_number(),
                       per_page=PER_PAGE, error_out=False)
    return htmx.render("admin/applications.html", "admin/_application_results.html",
                       page=page, filters=filters, form=form)


def _matching(filters: dict[str, str]) -> sa.Select:
    query = (sa.select(Application).join(Application.cohort)
             .options(contains_eager(Application.cohort), defer(Application.answers)))
    if filters["cohort"]:
        query = query.where(Cohort.slug == filters["cohort"])
    if filters["status"]:
        query = query.where(Application.status == filters["status"])
    if filters["q"]:
        words = filters["q"].lower()
        query = query.where(sa.or_(*(sa.func.lower(column).contains(words, autoescape=True) for column in (
            Application.first_name + " " + Application.last_name, Application.email))))
    return query


@bp.get("/applications/<int(max=2147483647):application_id>")
def application(application_id):
    application = db.get_or_404(Application, application_id)
    return render_template("admin/application.html", **_detail(application), note_form=NoteForm(formdata=None))


def _detail(application: Application, refusal: str | None = None, done: str | None = None) -> dict:
    cohort = application.cohort
    history = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.application_id == application.id, AuditEvent.action == "status")
        .options(selectinload(AuditEvent.admin)).order_by(AuditEvent.at, AuditEvent.id)).all()
    return {
        "application": application,
        "cohort": cohort,
        "sections": questions.answered_sections(application.answers),
        "history": history,
        "allowed": enrolment.allowed_changes(application),
        "refusal": refusal,
        "done": done,
        "holders": enrolment.seat_holders_by_cohort([cohort.id])[cohort.id],
        "acquaintances": enrolment.acquaintances(application),
        "decision_form": DecisionForm(formdata=None),
        "conversations": enrolment.conversations(application),
        "asks_evaluation": enrolment.asks_evaluation(application),
        "waitlist_position": enrolment.waitlist_position(application),
        "open_slot_count": len(enrolment.open_slots()),
        "slot_forms": slot_forms,
        "conversation_missed": enrolment.conversation_missed,
        "now": clock.now(),
    }


@bp.post("/applications/<int(max=2147483647):application_id>/status")
def change_status(application_id):
    db.get_or_404(Application, application_id)
    form = DecisionForm()
    refusal = done = None
    if not form.validate():
        refusal = "That decision was not understood. Nothing was changed."
    else:
        to_status = Status(form.status.data)
        try:
            changed = enrolment.change_status(application_id, to_status, admin=current_user,
                                              evaluated=form.evaluated.data)
        except enrolment.RefusedChange as refused:
            refusal = refused.message
        else:
            done = f"{changed.full_name}: {to_status.done}. Now {changed.status.label.lower()}."
    if htmx.is_htmx():
        application = db.get_or_404(Application, application_id)
        response = current_app.make_response(render_template("admin/_decision_response.html",
                                                             **_detail(application, refusal, done)))
        if done:
            response.headers["HX-Trigger"] = "seats-changed"
        return response
    flash(refusal or done, "error" if refusal else "success")
    return redirect(url_for(".application", application_id=application_id), 303)


@bp.post("/applications/<int(max=2147483647):application_id>/notes")
def add_note(application_id):
    application = db.get_or_404(Application, application_id)
    form = NoteForm()
    saved = form.validate()
    if saved:
        enrolment.add_note(application.id, current_user, form.body.data.strip())
        form = NoteForm(formdata=None)
    if htmx.is_htmx():
        return render_template("admin/_notes.html", application=application, note_form=form, saved=saved)
    if saved:
        flash("Note added.", "success")
        return redirect(url_for(".application", application_id=application.id, _anchor="notes"), 303)
    return render_template("admin/application.html", **_detail(application), note_form=form), 422
