"""Signing in and out. Every page of the panel but the sign-in page needs a clinician
signed in and active, with a session the server still holds (admin_sessions.py): signing
out, an hour without activity in the panel, the absolute lifetime, "sign out my other
sessions" or a disabled account ends it, and every copy of its cookie with it."""
import math
import secrets
import time
from datetime import timedelta
from functools import lru_cache
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Response, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.security import check_password_hash, generate_password_hash

from .. import admin_sessions, enrolment, errors
from ..extensions import db, limiter, login_manager
from ..models import Admin
from . import bp
from .forms import DecisionForm, LoginForm, sign_in_email

# The Flask session's entry holding the key to the server's record of this session.
SESSION_KEY = "admin_session"


@login_manager.user_loader
def load_admin(admin_id: str):
    admin = db.session.get(Admin, int(admin_id)) if admin_id.isdigit() else None
    return admin if admin is not None and admin.active else None


@bp.before_request
def require_sign_in():
    """The session is checked, and idle time counted, here, on the panel's own pages only:
    a public page left open (the seats badge polls every 15 s) must not keep a clinician's
    session alive."""
    g.admin_session = _current_session()
    if g.admin_session is not None or request.endpoint == "admin.login":
        return None
    return _to_sign_in()


def idle_time() -> timedelta:
    return current_app.permanent_session_lifetime


def max_lifetime() -> timedelta:
    return timedelta(hours=float(current_app.config["SESSION_MAX_HOURS"]))


ENDED = {  # why a session ended, as the clinician is told on the sign-in page
    admin_sessions.IDLE: lambda: f"You were signed out after {idle_minutes()} minutes without activity.",
    admin_sessions.EXPIRED: lambda: f"You were signed out because a session lasts at most {max_hours()} hours.",
    admin_sessions.SIGNED_OUT_ELSEWHERE: lambda: "You were signed out from another browser.",
    admin_sessions.DISABLED: lambda: "This account can no longer sign in.",
}


def _current_session():
    """The server's record of this browser's session while it is active; otherwise the
    browser is signed out (and told why, unless it is signing in afresh)."""
    if SESSION_KEY not in session and not current_user.is_authenticated:  # (the record first: see check)
        return None
    found = admin_sessions.check(session.get(SESSION_KEY), idle_time(), max_lifetime())
    if found.session is not None and current_user.is_authenticated and found.session.admin_id == current_user.id:
        return found.session
    if found.session is not None:  # a record of another account: never expected; end it
        admin_sessions.end(session.get(SESSION_KEY))
    logout_user()
    if request.endpoint == "admin.login" and request.method == "POST":
        session.pop(SESSION_KEY, None)  # keep the form's token: this browser is signing in
        return None
    session.clear()
    if found.ended in ENDED:
        flash(f"{ENDED[found.ended]()} Please sign in again.")
    else:
        flash("Your session has ended. Please sign in again.")
    return None


def _to_sign_in():
    login_url = url_for("admin.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if request.headers.get("HX-Request") == "true":
        return Response(status=401, headers={"HX-Redirect": login_url})
    return redirect(login_url)


def idle_minutes() -> int:
    return int(idle_time().total_seconds() // 60)


def max_hours() -> str:
    return f"{float(current_app.config['SESSION_MAX_HOURS']):g}"


@bp.context_processor
def panel_facts():
    return {"idle_minutes": idle_minutes(), "max_hours": max_hours()}


@bp.errorhandler(CSRFError)
def expired_form(error):
    """A form sent after the session ended: sign in again (htmx is told to go there too)."""
    if _current_session() is None:  # (CSRF is checked before require_sign_in has run)
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
    """The per-account limit's key: the address exactly as the account lookup reads it, so
    no spelling of it (case, spaces, control characters) gets a fresh budget of tries."""
    return "login:" + sign_in_email(request.form.get("email", ""))[:254]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"])
@limiter.limit("20 per hour", methods=["POST"], key_func=_login_email)
def login():
    if g.admin_session is not None and request.method == "GET":
        return redirect(url_for(".dashboard"))  # (a form sent after the idle time signs in afresh)
    form = LoginForm()
    if form.validate_on_submit():
        admin = db.session.scalar(sa.select(Admin).where(sa.func.lower(Admin.email) == sign_in_email(form.email.data)))
        password_ok = (admin.check_password(form.password.data) if admin else
                       check_password_hash(_nobody(current_app.config["PASSWORD_HASH_METHOD"]), form.password.data))
        if admin is not None and admin.active and password_ok:
            if g.admin_session is not None:  # signed in again in this browser: the old session ends
                admin_sessions.end(session.get(SESSION_KEY))
            session.clear()
            key = admin_sessions.start(admin, request.user_agent.string, request.remote_addr)
            login_user(admin)
            session.permanent = True
            session[SESSION_KEY] = key
            enrolment.signed_in(admin)
            return redirect(_safe_next(request.args.get("next")), 303)
        form.password.errors.append("That email and password do not match an active account.")
    return render_template("admin/login.html", form=form), 422 if form.errors else 200


@bp.errorhandler(429)
def sign_in_paused(error):
    """Too many sign-in attempts (the panel's only limits): say which limit, for how long,
    and what to do, on the sign-in page itself so the clinician can try again after."""
    window = limiter.current_limit
    seconds = window.reset_at - time.time() if window is not None else 3600
    wait = "a minute" if seconds <= 60 else f"{math.ceil(seconds / 60)} minutes"
    account = getattr(getattr(error, "limit", None), "key_func", None) is _login_email
    return render_template("admin/login.html", form=LoginForm(), paused="account" if account else "connection",
                           wait=wait), 429


def _safe_next(target: str | None) -> str:
    """Only ever return to a page of the panel itself."""
    if target:
        parts = urlsplit(target)
        if (not parts.scheme and not parts.netloc and parts.path.startswith("/admin/") and "\\" not in target
                and target.isprintable()):  # no line breaks: a Location header holds one line
            return target
    return url_for(".dashboard")


@bp.post("/logout")
def logout():
    DecisionForm()  # CSRF is checked globally; nothing else to read
    admin_sessions.end(session.get(SESSION_KEY))
    logout_user()
    session.clear()
    flash("You have signed out.")
    return redirect(url_for(".login"), 303)
