"""What leaves the panel, and the record of it: CSV downloads and the audit log, both in the
clinicians' words and local times."""
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Response, abort, current_app, render_template, request
from flask_login import current_user
from sqlalchemy.orm import selectinload

from .. import enrolment, spreadsheet
from ..extensions import db
from ..models import Admin, Application, AuditEvent
from ..status import Status
from . import bp, page_number
from .forms import AuditFilters

# The audit log's actions as the clinicians read them (the stored action strings stay as
# they are). An action missing here shows as its stored words, capitalised.
ACTION_WORDS = {
    "signed in": "Signed in",
    "status": "Decision",
    "note": "Private note added",
    "assigned": "Assigned to a clinician",
    "export": "CSV downloaded",
    "cohort created": "Cohort created",
    "cohort changed": "Cohort edited",
    "meeting changed": "Meeting moved",
    "join link changed": "Join link changed",
    "waitlist reordered": "Waitlist reordered",
    "screening slots added": "Screening times added",
    "screening slot removed": "Screening time removed",
    "screening booked": "Conversation booked",
    "screening moved": "Conversation moved",
    "screening cancelled": "Conversation cancelled",
    "screening held": "Conversation held",
    "status links sent": "Status link sent again",
    "message": "Message sent",
    "attendance": "Attendance marked",
    "data key rotated": "Data key rotated",
    "signed out other sessions": "Other sessions signed out",
    "erased on request": "Erased on request",
    "purged": "Old data erased (retention)",
    "two-step sign-in turned on": "Two-step sign-in turned on",
    "two-step sign-in turned off": "Two-step sign-in turned off",
    "recovery codes renewed": "New recovery codes made",
    "recovery code used": "Signed in with a recovery code",
    "two-step sign-in reset": "Two-step sign-in reset by the operator",
    "site text changed": "Site text changed",
    "site text restored": "Site text restored (an earlier version)",
}


def action_words(action: str) -> str:
    return ACTION_WORDS.get(action) or action.replace("_", " ").capitalize()


@bp.get("/cohorts/<slug>/applications.csv")
def export(slug):
    """Contact fields and attendance by default; the answers only when explicitly asked for;
    everyone, or one status (?status=enrolled is the group's roster). Always audited."""
    cohort = enrolment.cohort_by_slug(slug) or abort(404)
    with_answers = request.args.get("include") == "answers"
    chosen = request.args.get("status", "")
    if chosen and chosen not in {status.value for status in Status}:
        return render_template(
            "errors/error.html", code=400, title="There is no such status to export",
            message="Nothing was downloaded. Please choose “Everyone” or one of the statuses: "
                    + ", ".join(status.label for status in Status) + "."), 400
    status = Status(chosen) if chosen else None
    text, count = spreadsheet.applications_csv(cohort, with_answers, status)
    enrolment.record_alone("export", admin=current_user, cohort=cohort, detail=(
        f"{count} application{'s' if count != 1 else ''}, "
        f"{f'{status.label} only' if status else 'every status'}, "
        f"{'with answers' if with_answers else 'contact fields'}"))
    name = f"{cohort.slug}-{status.value if status else 'applications'}{'-with-answers' if with_answers else ''}.csv"
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def local_time(event: AuditEvent, practice_zone: ZoneInfo) -> datetime:
    """When it happened, in its cohort's time; in the practice's time when no cohort is concerned."""
    cohort = event.cohort or (event.application.cohort if event.application else None)
    return event.at.astimezone(cohort.zone if cohort else practice_zone)


@bp.get("/audit")
def audit():
    actions = db.session.scalars(sa.select(AuditEvent.action).distinct()).all()
    form = AuditFilters(sorted(((action, action_words(action)) for action in actions), key=lambda pair: pair[1]),
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
    practice_zone = ZoneInfo(current_app.config["PRACTICE_TIMEZONE"])
    events = [(event, local_time(event, practice_zone), action_words(event.action)) for event in page.items]
    return render_template("admin/audit.html", page=page, events=events, filters=filters, form=form,
                           practice_zone=practice_zone.key)
