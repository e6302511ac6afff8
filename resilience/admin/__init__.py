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
import re

import sqlalchemy as sa
from flask import Blueprint, request

from ..extensions import db
from ..models import Admin

bp = Blueprint("admin", __name__, url_prefix="/admin")

PER_PAGE = 25
NUMBER = re.compile(r"[0-9]{1,9}")  # ids people type: plain digits, small enough for any database


def clinicians() -> list[Admin]:
    """The clinicians who can sign in, by name: whom a slot or an application can be given to."""
    return db.session.scalars(sa.select(Admin).where(Admin.active).order_by(Admin.display_name)).all()


def page_number() -> int:
    page = request.args.get("page", "1")
    return int(page) if NUMBER.fullmatch(page) and int(page) > 0 else 1


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
