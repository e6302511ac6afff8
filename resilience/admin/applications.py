"""Applications: the filterable list and decisions on several at once, one application with
its answers and history, decisions that show what they will do first, notes, and who looks
after it."""
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import contains_eager, defer, selectinload

from .. import clock, content, enrolment, htmx, questions
from ..extensions import db
from ..models import Application, AuditEvent, Cohort
from ..status import Status
from . import PER_PAGE, bp, clinicians, page_number
from .forms import SORTS, ApplicationFilters, AssignForm, BulkForm, DecisionForm, MessageForm, NoteForm
from .screening import slot_forms


@bp.get("/applications")
def applications():
    form = ApplicationFilters(enrolment.all_cohorts(), clinicians())
    filters = form.chosen()
    page = db.paginate(_matching(filters).order_by(*SORTS[filters["sort"]][1]), page=page_number(),
                       per_page=PER_PAGE, error_out=False)
    return htmx.render("admin/applications.html", "admin/_application_results.html",
                       page=page, filters=filters, form=form, bulk_form=BulkForm(formdata=None))


def _matching(filters: dict[str, str]) -> sa.Select:
    query = (sa.select(Application).join(Application.cohort)
             .options(contains_eager(Application.cohort), defer(Application.answers),
                      selectinload(Application.assigned_to)))
    if filters["cohort"]:
        query = query.where(Cohort.slug == filters["cohort"])
    if filters["status"]:
        query = query.where(Application.status == filters["status"])
    if filters["attention"]:
        query = query.where(Application.attention > 0 if filters["attention"] == "yes" else Application.attention == 0)
    if filters["clinician"]:
        query = query.where(Application.assigned_admin_id == {"mine": current_user.id, "none": None}.get(
            filters["clinician"], int(filters["clinician"]) if filters["clinician"].isdigit() else -1))
    if filters["q"]:
        words = filters["q"].lower()
        query = query.where(sa.or_(*(sa.func.lower(column).contains(words, autoescape=True) for column in (
            Application.first_name + " " + Application.last_name, Application.email))))
    return query


APPLICATION = "/applications/<int(max=2147483647):application_id>"


@bp.get(APPLICATION)
def application(application_id):
    application = db.get_or_404(Application, application_id)
    return render_template("admin/application.html", **page_context(application))


def page_context(application: Application, refusal: str | None = None, done: str | None = None) -> dict:
    """What an application's page shows (its forms empty); refusal or done: a decision's outcome."""
    cohort = application.cohort
    decisions = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.application_id == application.id, AuditEvent.action == "status")
        .options(selectinload(AuditEvent.admin)).order_by(AuditEvent.at, AuditEvent.id)).all()
    messages = enrolment.messages_for(application)
    # Decisions and messages in time order (a decision's own message is told with the decision).
    history = sorted([(event.at, "decision", event) for event in decisions]
                     + [(message.created_at, "message", message) for message in messages if message.decision is None],
                     key=lambda item: item[0])
    return {
        "application": application,
        "cohort": cohort,
        "sections": questions.answered_sections(application.answers),
        "agreed": content.agreed_words(application.agreed_texts),
        "attention": questions.attention_rows(application.answers),
        "history": [(kind, entry) for _, kind, entry in history],
        "messages": messages,
        "message_form": MessageForm(formdata=None),
        "note_form": NoteForm(formdata=None),
        "allowed": enrolment.allowed_changes(application),
        "refusal": refusal,
        "done": done,
        "holders": enrolment.seat_holders_by_cohort([cohort.id])[cohort.id],
        "acquaintances": enrolment.acquaintances(application),
        "assign_form": AssignForm(formdata=None, clinicians=clinicians(),
                                  data={"clinician": str(application.assigned_admin_id or "")}),
        "conversations": enrolment.conversations(application),
        "attendance": enrolment.attendance_of(application),
        "asks_evaluation": enrolment.asks_evaluation(application),
        "waitlist_position": enrolment.waitlist_position(application),
        "open_slot_count": len(enrolment.open_slots()),
        "slot_forms": slot_forms,
        "conversation_missed": enrolment.conversation_missed,
        "now": clock.now(),
    }


@bp.get(APPLICATION + "/decide")
def decide(application_id):
    """What a decision will do, asked before it is made: a dialog with htmx, a page without."""
    application = db.get_or_404(Application, application_id)
    to_status = request.args.get("status", "")
    if to_status not in enrolment.allowed_changes(application):  # a page left open: decided meanwhile
        refusal = _not_possible(application, to_status)
        if htmx.is_htmx():  # the decision as it stands now, in place of the dialog
            response = _decision_response(application, refusal, None)
            response.headers["HX-Retarget"] = "#decision"
            response.headers["HX-Reswap"] = "outerHTML"
            return response
        flash(refusal, "error")
        return redirect(url_for(".application", application_id=application.id), 303)
    form = DecisionForm(formdata=None, data={"status": to_status})
    return htmx.render("admin/decide.html", "admin/_decide.html", **_decide_context(application, form))


def _decide_context(application: Application, form: DecisionForm, refusal: str | None = None) -> dict:
    to_status = Status(form.status.data)
    return {"application": application, "cohort": application.cohort, "form": form, "to_status": to_status,
            "preview": enrolment.preview_decision(application.id, to_status, current_user),
            "asks_evaluation": to_status == Status.ACCEPTED and enrolment.asks_evaluation(application),
            "refusal": refusal}


@bp.post(APPLICATION + "/status")
def change_status(application_id):
    db.get_or_404(Application, application_id)
    form = DecisionForm()
    refusal = done = None
    if not form.validate():
        refusal = "Please check the message below. Nothing was changed."
    else:
        to_status = Status(form.status.data)
        try:
            changed = enrolment.change_status(application_id, to_status, admin=current_user,
                                              evaluated=form.evaluated.data, message=form.message.data or None)
        except enrolment.RefusedChange as refused:
            refusal = refused.message
        else:
            done = f"{changed.full_name}: {to_status.done}. Now {changed.status.label.lower()}."
            if form.message.data:
                done += " Your message went with the email."
    application = db.get_or_404(Application, application_id)
    if refusal and form.status.data in enrolment.allowed_changes(application):
        return _ask_again(application, form, refusal)  # still possible: the question again, nothing typed lost
    if refusal and not form.status.errors and form.errors:  # not possible any more, whatever was typed
        refusal = _not_possible(application, form.status.data)
    elif form.status.errors:
        refusal = "That decision was not understood. Nothing was changed."
    if htmx.is_htmx():
        return _decision_response(application, refusal, done)
    flash(refusal or done, "error" if refusal else "success")
    return redirect(url_for(".application", application_id=application_id), 303)


def _not_possible(application: Application, to_status: str) -> str:
    """Why a decision cannot be made now (the application was decided on meanwhile, say)."""
    if to_status not in [status.value for status in Status]:
        return "That decision was not understood. Nothing was changed."
    return enrolment.RefusedChange("not_allowed", status=application.status, to=Status(to_status)).message


def _decision_response(application: Application, refusal: str | None, done: str | None):
    """The decision panel as it is now, with the outcome; the seats and messages beside it too."""
    response = current_app.make_response(render_template("admin/_decision_response.html",
                                                         **page_context(application, refusal, done)))
    response.headers["HX-Trigger"] = "decision-made, seats-changed" if done else "decision-made"
    return response


def _ask_again(application: Application, form: DecisionForm, refusal: str):
    """The confirmation again, with the reason and what was typed: in the dialog with htmx."""
    context = _decide_context(application, form, refusal)
    if not htmx.is_htmx():
        return render_template("admin/decide.html", **context), 422
    response = current_app.make_response((render_template("admin/_decide.html", **context), 422))
    response.headers["HX-Retarget"] = "#decision-dialog"
    response.headers["HX-Reswap"] = "innerHTML"
    return response


@bp.post("/applications/bulk")
def bulk():
    """The same decision for several applications ticked in the list: first what it will do,
    then (confirmed) each one through the same rules, and what became of each."""
    form = BulkForm()
    if not form.validate():
        flash(" ".join(form.application_id.errors or form.status.errors or
                       ["That was not understood. Nothing was changed."]), "error")
        return redirect(request.referrer if _own_page(request.referrer) else url_for(".applications"), 303)
    to_status = Status(form.status.data)
    chosen = db.session.scalars(sa.select(Application).where(Application.id.in_(form.application_id.data))
                                .options(defer(Application.answers))
                                .order_by(Application.last_name, Application.first_name)).all()
    if not chosen:
        flash("None of the ticked applications exists any more. Nothing was changed.", "error")
        return redirect(url_for(".applications"), 303)
    if not form.confirmed.data:
        return render_template("admin/bulk.html", to_status=to_status, chosen=chosen,
                               missing=len(set(form.application_id.data)) - len(chosen),
                               previews={a.id: enrolment.preview_decision(a.id, to_status, current_user)
                                         for a in chosen},
                               back=request.referrer if _own_page(request.referrer) else None)
    outcomes = enrolment.change_many(form.application_id.data, to_status, current_user)
    return render_template("admin/bulk_done.html", to_status=to_status, outcomes=outcomes,
                           missing=len(set(form.application_id.data)) - len(outcomes))


def _own_page(url: str | None) -> bool:
    """A link back to the list the clinician came from (with its filters), never anywhere else."""
    parts = urlsplit(url or "")
    return parts.netloc == request.host and parts.path == url_for(".applications")


@bp.post(APPLICATION + "/assign")
def assign(application_id):
    application = db.get_or_404(Application, application_id)
    form = AssignForm(clinicians=clinicians())
    valid = form.validate()
    if valid:
        enrolment.assign(application.id, form.clinicians.get(form.clinician.data), current_user)
        who = application.assigned_to.display_name if application.assigned_to else "no one in particular"
        message = f"Now looked after by {who}."
    else:
        message = "That clinician was not found. Nothing was changed."
    if htmx.is_htmx():
        return render_template("admin/_assign.html", application=application, assign_form=form,
                               assigned=message), 200 if valid else 422
    flash(message, "success" if valid else "error")
    return redirect(url_for(".application", application_id=application.id), 303)


@bp.post(APPLICATION + "/notes")
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
    return render_template("admin/application.html", **{**page_context(application), "note_form": form}), 422
