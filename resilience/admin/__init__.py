"""The clinicians' panel (/admin), a module per concern on one blueprint:

  auth          signing in and out; every other page needs a signed-in clinician
  account       the clinician's own account: where they are signed in, signing out the others
  applications  the list, one application, decisions, notes
  dashboard     each cohort at a glance
  cohorts       cohorts, their waitlist order and their meetings
  screening     screening times: publishing, moving, cancelling, recording as held
  exports       CSV downloads and the audit log
  attendance    each meeting's roster: marking attendance, the printable sign-in sheet
  messages      writing to one applicant, or to a cohort's participants after a preview
  content       the site's texts the clinicians edit, their versions, and clinicians' photos
  erasure       erasing a person's data on their request, confirmed twice
"""

import sqlalchemy as sa
from flask import Blueprint, g, has_request_context, request, url_for

from ..extensions import db
from ..forms import NUMBER, page_number  # noqa: F401  (the panel's modules import them from here)
from ..models import Admin

bp = Blueprint("admin", __name__, url_prefix="/admin")

PER_PAGE = 25


@bp.app_template_global()
def application_url(application_id: int) -> str:
    """The link to an application's page, as url_for("admin.application", …) builds it, built
    once per request (and root the site is served under) and filled in: the dashboard and the
    lists link to a hundred applications and more, and each url_for cost about 10 µs in a template."""
    root = request.script_root if has_request_context() else None
    kept = g.get("application_url")
    if kept is None or kept[0] != root:
        g.application_url = kept = (root, url_for("admin.application", application_id=_ANY_ID).rpartition(str(_ANY_ID)))
    before, _, after = kept[1]
    return f"{before}{int(application_id)}{after}"


_ANY_ID = 2147483647  # (the largest id the route takes)


def clinicians() -> list[Admin]:
    """The clinicians who can sign in, by name: whom a slot or an application can be given to."""
    return db.session.scalars(sa.select(Admin).where(Admin.active).order_by(Admin.display_name)).all()


from . import (  # noqa: F401  (registers the routes)
    account,
    applications,
    attendance,
    auth,
    cohorts,
    content,
    dashboard,
    erasure,
    exports,
    messages,
    screening,
)
