"""Signing in and out. Every page of the panel but the sign-in page needs a clinician
signed in and active; an hour without activity in the panel signs them out."""
import secrets
from functools import lru_cache
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.security import check_password_hash, generate_password_hash

from .. import clock, enrolment, errors
from ..extensions import db, limiter, login_manager
from ..models import Admin
from . import bp
from .forms import DecisionForm, LoginForm


@login_manager.user_loader
def load_admin(admin_id: str):
    admin = db.session.get(Admin, int(admin_id)) if admin_id.isdigit() else None
    return admin if admin is not None and admin.active else None


@bp.before_request
def require_sign_in():
    """Idle time is counted here, on the panel's own pages only: a public page left open
    (the seats badge polls every 15 s) must not keep a clinician's session alive."""
    if request.endpoint == "admin.login":
        return None
    if current_user.is_authenticated:
        now = clock.now().timestamp()
        if now - session.get("admin_seen", 0) <= current_app.permanent_session_lifetime.total_seconds():
            session["admin_seen"] = now
            return None
        logout_user()
        session.clear()
        flash(f"You were signed out after {idle_minutes()} minutes without activity. Please sign in again.")
    return _to_sign_in()


def _to_sign_in():
    login_url = url_for("admin.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if request.headers.get("HX-Request") == "true":
        return Response(status=401, headers={"HX-Redirect": login_url})
    return redirect(login_url)


def idle_minutes() -> int:
    return int(current_app.permanent_session_lifetime.total_seconds() // 60)


@bp.context_processor
def panel_facts():
    return {"idle_minutes": idle_minutes()}


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


@lru_cache
def _nobody(method: str) -> str:
    """Checked when the email is unknown, so a wrong email takes as long as a wrong password."""
    return generate_password_hash(secrets.token_hex(16), method=method)


def _login_email() -> str:
    return "login:" + request.form.get("email", "").strip().lower()[:254]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"])
@limiter.limit("20 per hour", methods=["POST"], key_func=_login_email)
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for(".dashboard"))  # (a form sent after the idle time signs in afresh)
    form = LoginForm()
    if form.validate_on_submit():
        admin = db.session.scalar(sa.select(Admin).where(sa.func.lower(Admin.email) == form.email.data.strip().lower()))
        password_ok = (admin.check_password(form.password.data) if admin else
                       check_password_hash(_nobody(current_app.config["PASSWORD_HASH_METHOD"]), form.password.data))
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
