"""The clinicians' panel: sign-in, seats at a glance, applications, decisions, cohorts, audit."""
import csv
import io
import re
import secrets
from datetime import datetime, timezone
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (Response, abort, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm import contains_eager, defer, selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from . import bp
from .forms import CohortForm, DecisionForm, LoginForm, MeetingsForm, NoteForm
from .. import clock, database, enrolment, errors, htmx, outbox
from ..extensions import db, limiter, login_manager
from ..models import STATUSES, Admin, Application, AuditEvent, Cohort
from ..public.forms import ApplicationForm, clean_text

PER_PAGE = 25
NUMBER = re.compile(r"[0-9]{1,9}")  # ids people type: plain digits, small enough for any database


def _page_number() -> int:
    page = request.args.get("page", "1")
    return int(page) if NUMBER.fullmatch(page) and int(page) > 0 else 1
SORTS = {
    "newest": (Application.created_at.desc(), Application.id.desc()),
    "oldest": (Application.created_at, Application.id),
    "name": (Application.last_name, Application.first_name, Application.id),
    "status": (Application.status, Application.created_at),
}


@login_manager.user_loader
def load_admin(admin_id: str):
    admin = db.session.get(Admin, int(admin_id)) if admin_id.isdigit() else None
    return admin if admin is not None and admin.active else None


@bp.before_request
def require_sign_in():
    """Every page of the panel but the sign-in page needs a clinician signed in and active.

    Idle time is counted here, on the panel's own pages only: a public page left open
    (the seats badge polls every 15 s) must not keep a clinician's session alive.
    """
    if request.endpoint == "admin.login":
        return None
    if current_user.is_authenticated:
        now = clock.now().timestamp()
        if now - session.get("admin_seen", 0) <= current_app.permanent_session_lifetime.total_seconds():
            session["admin_seen"] = now
            return None
        logout_user()
        session.clear()
        flash(f"You were signed out after {_idle_minutes()} minutes without activity. Please sign in again.")
    return _to_sign_in()


def _to_sign_in():
    login_url = url_for("admin.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if request.headers.get("HX-Request") == "true":
        return Response(status=401, headers={"HX-Redirect": login_url})
    return redirect(login_url)


def _idle_minutes() -> int:
    return int(current_app.permanent_session_lifetime.total_seconds() // 60)


@bp.errorhandler(CSRFError)
def expired_form(error):
    """A form sent after the session ended: sign in again (htmx is told to go there too)."""
    if not current_user.is_authenticated:
        return _to_sign_in()
    response = current_app.make_response(errors.expired_page())
    if request.headers.get("HX-Request") == "true":
        response.headers["HX-Refresh"] = "true"  # reload the page, with a fresh token
    return response


@bp.after_request
def keep_private(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.context_processor
def panel_words():
    return {"status_labels": enrolment.STATUS_LABELS, "decisions": enrolment.DECISIONS,
            "closed_reasons": enrolment.CLOSED_MESSAGES,
            "idle_minutes": _idle_minutes()}


# --- Signing in and out -----------------------------------------------------------------

# Checked when the email is unknown, so a wrong email takes as long as a wrong password.
_NOBODY = generate_password_hash(secrets.token_hex(16), method="scrypt")


def _login_email() -> str:
    return "login:" + request.form.get("email", "").strip().lower()[:254]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"])
@limiter.limit("20 per hour", methods=["POST"], key_func=_login_email)
def login():
    if current_user.is_authenticated:
        return redirect(url_for(".dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        admin = db.session.scalar(sa.select(Admin).where(sa.func.lower(Admin.email) == form.email.data.strip().lower()))
        password_ok = (admin.check_password(form.password.data) if admin
                       else check_password_hash(_NOBODY, form.password.data))
        if admin is not None and admin.active and password_ok:
            session.clear()
            login_user(admin)
            session.permanent = True
            session["admin_seen"] = clock.now().timestamp()
            enrolment.signed_in(admin)
            return redirect(_safe_next(request.args.get("next")), 303)
        form.password.errors.append("That email and password do not match an active account.")
    return render_template("admin/login.html", form=form), 422 if form.errors else 200


def _safe_next(target: str | None) -> str:
    """Only ever return to a page of the panel itself."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/admin/") and "\\" not in target:
            return target
    return url_for(".dashboard")


@bp.post("/logout")
def logout():
    DecisionForm()  # CSRF is checked globally; nothing else to read
    logout_user()
    session.clear()
    flash("You have signed out.")
    return redirect(url_for(".login"), 303)


# --- Seats at a glance ----------------------------------------------------------------------

@bp.get("/")
def dashboard():
    cohorts = db.session.scalars(sa.select(Cohort).order_by(Cohort.starts_on.desc(), Cohort.id)).all()
    ids = [c.id for c in cohorts]
    return render_template(
        "admin/dashboard.html",
        cohorts=cohorts,
        holders=enrolment.seat_holders_by_cohort(ids),
        counts=enrolment.status_counts_by_cohort(ids),
        waitlists=enrolment.waitlists_by_cohort(ids),
        failed_messages=outbox.failed_messages(),
        outbox_counts=outbox.backlog(),
    )


# --- Applications -----------------------------------------------------------------------------

@bp.get("/applications")
def applications():
    cohorts = db.session.scalars(sa.select(Cohort).order_by(Cohort.starts_on.desc())).all()
    filters = {
        "cohort": request.args.get("cohort", "") if enrolment.SLUG.fullmatch(request.args.get("cohort", "")) else "",
        "status": request.args.get("status", "") if request.args.get("status") in STATUSES else "",
        "q": clean_text(request.args.get("q", ""))[:100],
        "sort": request.args.get("sort") if request.args.get("sort") in SORTS else "newest",
    }
    query = (sa.select(Application).join(Application.cohort).options(contains_eager(Application.cohort),
                                                                      defer(Application.answers)))
    if filters["cohort"]:
        query = query.where(Cohort.slug == filters["cohort"])
    if filters["status"]:
        query = query.where(Application.status == filters["status"])
    if filters["q"]:
        words = filters["q"].lower()
        query = query.where(sa.or_(*(sa.func.lower(column).contains(words, autoescape=True) for column in (
            Application.first_name + " " + Application.last_name, Application.email))))
    page = db.paginate(query.order_by(*SORTS[filters["sort"]]), page=_page_number(), per_page=PER_PAGE,
                       error_out=False)
    return htmx.render("admin/applications.html", "admin/_application_results.html",
                       page=page, filters=filters, cohorts=cohorts, statuses=STATUSES, sorts=list(SORTS))


def _application_or_404(application_id: int) -> Application:
    return db.get_or_404(Application, application_id)


@bp.get("/applications/<int(max=2147483647):application_id>")
def application(application_id):
    application = _application_or_404(application_id)
    return render_template("admin/application.html", **_detail_context(application),
                           note_form=NoteForm(formdata=None))


def _detail_context(application: Application, refusal: str | None = None) -> dict:
    cohort = application.cohort
    history = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.application_id == application.id, AuditEvent.action == "status")
        .options(selectinload(AuditEvent.admin)).order_by(AuditEvent.at, AuditEvent.id)).all()
    return {
        "application": application,
        "cohort": cohort,
        "sections": answer_sections(application),
        "history": history,
        "allowed": enrolment.allowed_changes(application),
        "refusal": refusal,
        "seat_cohort": cohort,
        "holders": enrolment.seat_holders_by_cohort([cohort.id])[cohort.id],
        "decision_form": DecisionForm(formdata=None),
    }


def answer_sections(application: Application) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """The sealed answers laid out under the form's own section titles and questions,
    each with whether it needs the clinician's attention."""
    questions = ApplicationForm(formdata=None, meta={"csrf": False})
    answers = application.answers or {}
    sections = []
    for _, title, names in ApplicationForm.SECTIONS:
        rows = []
        for name in names:
            if name not in ApplicationForm.ANSWER_FIELDS:
                continue
            field = questions[name]
            value = answers.get(name)
            attention = value in ApplicationForm.NEEDS_ATTENTION.get(name, ())
            if hasattr(field, "choices") and field.choices:
                value = dict((c.value, c.label) for c in field.choices).get(value, value)
            rows.append((field.label.text, value or "—", attention))
        if rows:
            sections.append((title, rows))
    return sections


@bp.post("/applications/<int(max=2147483647):application_id>/status")
def change_status(application_id):
    _application_or_404(application_id)
    form = DecisionForm()
    refusal = None
    if not form.validate():
        refusal = "That decision was not understood. Nothing was changed."
    else:
        try:
            changed = enrolment.change_status(application_id, form.status.data, admin=current_user)
        except enrolment.RefusedChange as refused:
            refusal = refused.message
        else:
            message = (f"{changed.full_name}: {enrolment.DECISIONS[form.status.data][1]}. "
                       f"Now {enrolment.STATUS_LABELS[changed.status].lower()}.")
    application = _application_or_404(application_id)
    if htmx.is_htmx():
        context = _detail_context(application, refusal=refusal)
        context["done"] = None if refusal else message
        response = current_app.make_response(render_template("admin/_decision_response.html", **context))
        if not refusal:
            response.headers["HX-Trigger"] = "seats-changed"
        return response
    flash(refusal or message, "error" if refusal else "success")
    return redirect(url_for(".application", application_id=application_id), 303)


@bp.post("/applications/<int(max=2147483647):application_id>/notes")
def add_note(application_id):
    application = _application_or_404(application_id)
    form = NoteForm()
    if form.validate():
        enrolment.add_note(application.id, current_user, form.body.data.strip())
        form = NoteForm(formdata=None)
        saved = True
    else:
        saved = False
    if htmx.is_htmx():
        return render_template("admin/_notes.html", application=application, note_form=form, saved=saved)
    if saved:
        flash("Note added.", "success")
        return redirect(url_for(".application", application_id=application.id, _anchor="notes"), 303)
    return render_template("admin/application.html", **_detail_context(application), note_form=form), 422


# --- Cohorts ------------------------------------------------------------------------------------

@bp.get("/cohorts")
def cohorts():
    cohorts = db.session.scalars(sa.select(Cohort).order_by(Cohort.starts_on.desc())).all()
    return render_template("admin/cohorts.html", cohorts=cohorts,
                           seats=enrolment.availabilities(cohorts))


@bp.route("/cohorts/new", methods=["GET", "POST"])
def new_cohort():
    form = CohortForm()
    if form.validate_on_submit():
        cohort = enrolment.save_cohort(None, form.fields_for_cohort(), current_user)
        flash(f"{cohort.title} created with ten meetings planned from its first date. Check them below.", "success")
        return redirect(url_for(".meetings", slug=cohort.slug), 303)
    return render_template("admin/cohort_form.html", form=form, cohort=None), 422 if form.errors else 200


def _cohort_or_404(slug: str) -> Cohort:
    return enrolment.cohort_by_slug(slug) or abort(404)


@bp.route("/cohorts/<slug>/edit", methods=["GET", "POST"])
def edit_cohort(slug):
    cohort = _cohort_or_404(slug)
    form = CohortForm(cohort=cohort)
    if form.validate_on_submit():
        try:
            cohort = enrolment.save_cohort(cohort, form.fields_for_cohort(), current_user)
        except enrolment.RefusedChange as refused:
            form.capacity.errors.append(refused.message)
        else:
            flash(f"{cohort.title} saved.", "success")
            return redirect(url_for(".cohorts"), 303)
    return render_template("admin/cohort_form.html", form=form, cohort=cohort), 422 if form.errors else 200


@bp.route("/cohorts/<slug>/meetings", methods=["GET", "POST"])
def meetings(slug):
    cohort = _cohort_or_404(slug)
    if request.method == "GET":
        form = MeetingsForm(formdata=None, data={"meetings": [
            {"date": m.local_start.date(), "starts": m.local_start.time(), "ends": m.local_end.time(),
             "location": m.location} for m in cohort.meetings]})
    else:
        form = MeetingsForm()
    if request.method == "POST" and form.validate():
        changed = 0
        database.begin_write()
        for meeting, row in zip(cohort.meetings, form.meetings.data):
            starts_at = datetime.combine(row["date"], row["starts"], cohort.zone).astimezone(timezone.utc)
            ends_at = datetime.combine(row["date"], row["ends"], cohort.zone).astimezone(timezone.utc)
            changed += enrolment.change_meeting(meeting, starts_at, ends_at, row["location"].strip(),
                                                admin=current_user)
        db.session.commit()
        flash(f"{changed} meeting{'s' if changed != 1 else ''} changed; everyone holding a seat gets an "
              "updated calendar invite." if changed else "Nothing was changed.", "success")
        return redirect(url_for(".meetings", slug=cohort.slug), 303)
    return (render_template("admin/meetings.html", form=form, cohort=cohort, rows=zip(cohort.meetings, form.meetings)),
            422 if form.errors else 200)


@bp.get("/cohorts/<slug>/applications.csv")
def export(slug):
    """Contact fields by default; the answers only when explicitly asked for. Always audited."""
    cohort = _cohort_or_404(slug)
    with_answers = request.args.get("include") == "answers"
    applications = db.session.scalars(sa.select(Application).where(Application.cohort_id == cohort.id)
                                      .order_by(Application.created_at, Application.id)).all()
    header = ["id", "status", "applied_at", "status_changed_at", "first_name", "last_name", "pronouns",
              "email", "phone", "home_area", "referral"]
    if with_answers:
        header += ["knows_applicants", *ApplicationForm.ANSWER_FIELDS]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for a in applications:
        row = [a.id, a.status, a.created_at.isoformat(), a.status_changed_at.isoformat(), a.first_name,
               a.last_name, a.pronouns or "", a.email, a.phone, a.home_area, a.referral or ""]
        if with_answers:
            row += [a.knows_applicants or "", *((a.answers or {}).get(name, "") for name in ApplicationForm.ANSWER_FIELDS)]
        writer.writerow([spreadsheet_safe(value) for value in row])
    enrolment.record_alone("export", admin=current_user, cohort=cohort,
                           detail=f"{len(applications)} applications, "
                                  f"{'with answers' if with_answers else 'contact fields'}")
    name = f"{cohort.slug}-applications{'-with-answers' if with_answers else ''}.csv"
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def spreadsheet_safe(value) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


# --- Audit -----------------------------------------------------------------------------------------

@bp.get("/audit")
def audit():
    actions = db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    admins = db.session.scalars(sa.select(Admin).order_by(Admin.display_name)).all()
    filters = {"action": request.args.get("action", ""), "admin": request.args.get("admin", ""),
               "application": request.args.get("application", "").strip()}
    query = sa.select(AuditEvent).options(selectinload(AuditEvent.admin), selectinload(AuditEvent.cohort),
                                          selectinload(AuditEvent.application).defer(Application.answers))
    if filters["action"] in actions:
        query = query.where(AuditEvent.action == filters["action"])
    if NUMBER.fullmatch(filters["admin"]):
        query = query.where(AuditEvent.admin_id == int(filters["admin"]))
    if NUMBER.fullmatch(filters["application"]):
        query = query.where(AuditEvent.application_id == int(filters["application"]))
    page = db.paginate(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()), page=_page_number(),
                       per_page=50, error_out=False)
    return render_template("admin/audit.html", page=page, filters=filters, actions=actions, admins=admins)
