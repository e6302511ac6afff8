"""Save and finish later: the form's answers kept, sealed, for RESILIENCE_DRAFT_DAYS, with a
private link emailed to the person; no clinician sees them until the form is sent."""
from datetime import datetime

from flask import redirect, render_template, request, session, url_for

from .. import enrolment, questions
from ..extensions import limiter
from . import bp
from .forms import ApplicationForm
from .views import DRAFT_KEY, _address_and_email, render_apply

KEPT = (*ApplicationForm.QUESTIONS, "ref")
LONGEST = 5000  # characters of one answer kept (the longest question takes 3,000)


def typed_fields() -> dict:
    """What the form held, as typed (cleaned like every answer), for the draft."""
    fields = {}
    for name in KEPT:
        value = request.form.get(name)
        if isinstance(value, str) and value:
            fields[name] = questions.clean_text(value)[:LONGEST]
    return fields


@bp.post("/apply/save")
@limiter.limit("60 per hour")
@limiter.limit("10 per hour", key_func=_address_and_email)
def save_draft():
    form = ApplicationForm(cohorts=enrolment.open_cohorts())
    if not form.email.validate(form):  # the link goes to this address: nothing else needs to be right yet
        if not form.email.data:
            form.email.errors = ["To save your answers we need your email address, to send you the link."]
        return render_apply(form, status=422)
    key, expires_at = enrolment.save_draft(session.get(DRAFT_KEY), typed_fields(), form.email.data)
    session[DRAFT_KEY] = key
    session["saved"] = {"to": form.email.data, "until": expires_at.isoformat()}
    return redirect(url_for(".draft_saved"), 303)


@bp.get("/apply/saved")
def draft_saved():
    saved = session.get("saved")
    if not isinstance(saved, dict) or not isinstance(saved.get("until"), str):
        return redirect(url_for(".apply"), 303)
    return render_template("public/draft_saved.html", email=saved.get("to"),
                           until=datetime.fromisoformat(saved["until"]))


@bp.get("/apply/resume/<key>")
def resume_draft(key):
    draft = enrolment.open_draft(key)
    if draft is None:
        return render_template("public/draft_gone.html"), 404
    session[DRAFT_KEY] = key
    return redirect(url_for(".apply", cohort=draft.fields.get("cohort") or None), 303)
