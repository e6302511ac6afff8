"""A lost status link: the applicant gives the address they applied with, and we email it
every status link it has. The page answers the same whether or not we know the address,
so it never tells anyone who has applied."""
import time

from flask import current_app, render_template, request

from .. import enrolment
from ..extensions import limiter
from . import bp
from .forms import ResendForm


@bp.route("/status/resend", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def resend_status():
    form = ResendForm()
    if request.method == "POST" and form.validate():
        started = time.monotonic()
        enrolment.send_status_links(form.email.data)
        time.sleep(max(0.0, current_app.config["RESEND_ANSWER_SECONDS"] - (time.monotonic() - started)))
        # A fresh, empty form: nothing on the page may differ between a known address and an unknown one.
        return render_template("public/resend.html", form=ResendForm(formdata=None), sent=True)
    return render_template("public/resend.html", form=form, sent=False), 422 if form.errors else 200
