"""Messages: writing to one applicant from their page, and to every enrolled participant of
a cohort after a preview of the email and of who receives it."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import enrolment, htmx
from ..extensions import db
from ..models import Application, Cohort
from . import bp
from .applications import page_context
from .forms import CohortMessageForm, MessageForm


@bp.post("/applications/<int(max=2147483647):application_id>/messages")
def write_to_applicant(application_id):
    application = db.get_or_404(Application, application_id)
    form = MessageForm()
    sent = False
    if form.validate():
        try:
            enrolment.write_to_applicant(application.id, current_user, form.message_body.data)
        except enrolment.RefusedChange as refused:
            form.message_body.errors.append(refused.message)
        else:
            sent = True
    if sent and not htmx.is_htmx():
        flash(f"Message sent to {application.first_name}.", "success")
        return redirect(url_for(".application", application_id=application.id, _anchor="messages"), 303)
    context = {"application": application, "messages": enrolment.messages_for(application),
               "message_form": MessageForm(formdata=None) if sent else form, "message_sent": sent}
    if htmx.is_htmx():
        return render_template("admin/_message_form.html", **context), 200 if sent else 422
    # Without JavaScript, the application page again, the words kept beside what to fix.
    return render_template("admin/application.html", **{**page_context(application), **context}), 422


@bp.route("/cohorts/<slug>/message", methods=["GET", "POST"])
def write_to_participants(slug):
    """Write, preview (the email as the first participant gets it, and everyone it goes to),
    then send: the send button exists only on a preview, and carries who was previewed."""
    cohort = enrolment.cohort_by_slug(slug) or abort(404)
    if request.method == "GET":
        return _cohort_page(cohort, CohortMessageForm(formdata=None))
    form = CohortMessageForm()
    if not form.validate():
        return _cohort_page(cohort, form, status=422)
    if form.action.data == "edit":
        return _cohort_page(cohort, form)
    if form.action.data == "send" and form.previewed() is not None:
        try:
            message = enrolment.write_to_participants(cohort.id, current_user, form.message_body.data,
                                                      expected=form.previewed())
        except enrolment.RefusedChange as refused:
            # Who receives it changed: the new preview, to look at before sending again.
            return _cohort_page(cohort, form, refusal=refused.message, status=409,
                                preview=refused.reason == "participants_changed")
        flash(f"Sent to {message.recipients} participant{'s' if message.recipients != 1 else ''}.", "success")
        return redirect(url_for(".write_to_participants", slug=cohort.slug, _anchor="earlier-messages"), 303)
    return _cohort_page(cohort, form, preview=True)


def _cohort_page(cohort: Cohort, form: CohortMessageForm, refusal: str | None = None, status: int = 200,
                 preview: bool = False):
    people = enrolment.enrolled_participants(cohort)
    email = None
    if preview and people:
        email = enrolment.message_preview(current_user, people[0], form.message_body.data)
        form.recipients.data = ",".join(str(person.id) for person in people)
    if not people and request.method == "POST":
        status = 409  # no one to send to: the page says so
    return render_template("admin/cohort_message.html", cohort=cohort, form=form, people=people, email=email,
                           refusal=refusal, earlier=enrolment.cohort_messages(cohort)), status
