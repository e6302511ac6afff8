"""Who, how much, what if: the clinicians, fees, payment and refunds, insurance, stopping,
online meetings and how to reach the practice (texts the clinicians edit, resilience/content.py),
and the clinicians' photos."""
from flask import abort, render_template, send_from_directory

from .. import content, enrolment
from . import bp


@bp.app_template_global()
def site_texts() -> content.Texts:
    """The site's current texts, for any template (pages and emails alike)."""
    return content.current()


@bp.get("/practice")
def practice():
    cohorts = enrolment.upcoming_cohorts(with_meetings=False)  # (their fees only)
    return render_template("public/practice.html", texts=content.current(),
                           priced=[cohort for cohort in cohorts if cohort.fee_text])


@bp.get("/photos/<name>")
def photo(name):
    if not content.PHOTO_NAME.fullmatch(name):
        abort(404)
    # A photo's name is random and never reused: it can be kept for a year.
    return send_from_directory(content.photo_folder(), name, max_age=365 * 24 * 3600, mimetype="image/jpeg")
