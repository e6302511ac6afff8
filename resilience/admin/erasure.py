"""Erasing a person's data on their request, asked twice: a page that says what goes and what
stays and lists every application from their address; its button (the first confirmation)
opens a page that asks for the word ERASE and how many applications; sent with it, the rules
erase (enrolment.erase_on_request). Only that last step changes anything, so only it is a POST."""
from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import HiddenField, StringField
from wtforms.validators import InputRequired, Regexp, ValidationError

from .. import enrolment
from ..extensions import db
from ..forms import SiteForm
from ..models import Application
from . import bp
from .applications import APPLICATION

TYPE_ERASE = "Please type ERASE to confirm. Nothing was erased."


class EraseConfirmForm(SiteForm):
    """The second confirmation: the applications the clinician was shown, and the word typed."""

    applications = HiddenField(validators=[
        InputRequired("The applications to erase were not sent. Nothing was erased."),
        Regexp(r"[0-9]{1,9}(,[0-9]{1,9}){0,99}", message="The applications to erase were not understood. "
                                                          "Nothing was erased.")])
    confirmation = StringField("Type ERASE to confirm", validators=[InputRequired(TYPE_ERASE)],
                               description="In capital letters or not. This cannot be undone.",
                               render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"})

    def validate_confirmation(self, field):
        if field.data.strip().upper() != "ERASE":
            raise ValidationError(TYPE_ERASE)

    @property
    def ids(self) -> set[int]:
        return {int(part) for part in self.applications.data.split(",")}


@bp.app_template_global()
def erasure_of(application: Application):
    """For an erased application's page: the erasure on request (who, when), or None (the retention rules)."""
    return enrolment.erasure_event(application)


def _already_erased(application: Application):
    flash(enrolment.RefusedChange("erased").message.replace("Nothing was changed.", "Nothing more to erase."), "error")
    return redirect(url_for(".application", application_id=application.id), 303)


def _first_page(application: Application, plan, status: int = 200):
    return render_template("admin/erase.html", application=application, plan=plan), status


def _second_page(application: Application, plan, form: EraseConfirmForm, status: int = 200, changed: str | None = None):
    form.applications.data = ",".join(map(str, plan.ids))  # what the page lists is what is confirmed
    return render_template("admin/erase_confirm.html", application=application, plan=plan, form=form,
                           changed=changed), status


@bp.get(APPLICATION + "/erase")
def erase(application_id):
    """What erasing this person's data would do, and which applications it concerns."""
    application = db.get_or_404(Application, application_id)
    if application.erased_at is not None:
        return _already_erased(application)
    plan = enrolment.erasure(application)
    return _first_page(application, plan, 409 if plan.refusal else 200)


@bp.get(APPLICATION + "/erase/confirm")
def confirm_erasure(application_id):
    """The first confirmation given: how many applications, and the word to type."""
    application = db.get_or_404(Application, application_id)
    if application.erased_at is not None:
        return _already_erased(application)
    plan = enrolment.erasure(application)
    if plan.refusal is not None:
        return _first_page(application, plan, 409)
    return _second_page(application, plan, EraseConfirmForm(formdata=None))


@bp.post(APPLICATION + "/erase/confirm")
def erase_data(application_id):
    """The second confirmation: erased, or the page again saying why not (nothing erased)."""
    application = db.get_or_404(Application, application_id)
    if application.erased_at is not None:
        return _already_erased(application)
    form = EraseConfirmForm()
    if not form.validate():
        return _second_page(application, enrolment.erasure(application), form, 422)
    try:
        erased = enrolment.erase_on_request(application.id, current_user, expected=form.ids)
    except enrolment.RefusedChange as refused:  # rolled back: the page again, as things are now
        plan = enrolment.erasure(application)
        if refused.reason == "erase_seat_holder":
            return _first_page(application, plan, 409)
        if refused.reason == "erasure_changed":
            return _second_page(application, plan, EraseConfirmForm(formdata=None), 409, refused.message)
        flash(refused.message.replace("Nothing was changed.", "Nothing was erased."), "error")
        return redirect(url_for(".application", application_id=application_id), 303)
    flash(f"Erased the data of {len(erased)} application{'s' if len(erased) != 1 else ''}.", "success")
    return redirect(url_for(".application", application_id=application_id), 303)
