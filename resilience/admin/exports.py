"""What leaves the panel, and the record of it: CSV downloads and the audit log."""
import sqlalchemy as sa
from flask import Response, abort, render_template, request
from flask_login import current_user
from sqlalchemy.orm import selectinload

from .. import enrolment, spreadsheet
from ..extensions import db
from ..models import Admin, Application, AuditEvent
from . import bp, page_number
from .forms import AuditFilters


@bp.get("/cohorts/<slug>/applications.csv")
def export(slug):
    """Contact fields by default; the answers only when explicitly asked for. Always audited."""
    cohort = enrolment.cohort_by_slug(slug) or abort(404)
    with_answers = request.args.get("include") == "answers"
    text, count = spreadsheet.applications_csv(cohort, with_answers)
    enrolment.record_alone("export", admin=current_user, cohort=cohort,
                           detail=f"{count} applications, {'with answers' if with_answers else 'contact fields'}")
    name = f"{cohort.slug}-applications{'-with-answers' if with_answers else ''}.csv"
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/audit")
def audit():
    form = AuditFilters(db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all(),
                        db.session.scalars(sa.select(Admin).order_by(Admin.display_name)).all())
    filters = form.chosen()
    query = sa.select(AuditEvent).options(selectinload(AuditEvent.admin), selectinload(AuditEvent.cohort),
                                          selectinload(AuditEvent.application).defer(Application.answers))
    if filters["action"]:
        query = query.where(AuditEvent.action == filters["action"])
    if filters["admin"]:
        query = query.where(AuditEvent.admin_id == int(filters["admin"]))
    if filters["application"]:
        query = query.where(AuditEvent.application_id == int(filters["application"]))
    page = db.paginate(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()), page=page_number(),
                       per_page=50, error_out=False)
    return render_template("admin/audit.html", page=page, filters=filters, form=form)
