"""The blog badge: a tiny page for an iframe in a blog post, with the cohort's dates and its
seats left, kept live while it is open. Framable only by RESILIENCE_EMBED_ORIGINS."""
from flask import abort, current_app

from .. import enrolment, htmx, page_cache, security
from . import bp


@bp.get("/embed/cohorts/<slug>")
@page_cache.cached
def embed(slug):
    cohort = enrolment.cohort_by_slug(slug) or abort(404)
    page = htmx.render("public/embed.html", "public/_embed_badge.html",
                       cohort=cohort, seats=enrolment.availability(cohort))
    return security.framable_by(current_app.make_response(page), current_app.config["EMBED_ORIGINS"])
