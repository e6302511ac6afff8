"""Signing in and out. Every page of the panel but the sign-in pages needs a clinician
signed in and active, with a session the server still holds (admin_sessions.py): signing
out, an hour without activity in the panel, the absolute lifetime, "sign out my other
sessions" or a disabled account ends it, and every copy of its cookie with it.

A clinician with two-step sign-in (two_factor.py) gives a code after the password: until
then the browser is only "half signed in", a note in its session cookie for five minutes
that opens the code page and nothing else; the server's session starts after the code.
Wrong codes count against the same per-account limit as wrong passwords. With
RESILIENCE_REQUIRE_2FA a clinician without it can only set it up, or sign out."""
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

from .. import admin_sessions, clock, enrolment, errors, two_factor
from ..extensions import db, limiter, login_manager
from ..models import Admin
from . import bp
from .forms import DecisionForm, LoginForm, SignInCodeForm, sign_in_email

# The Flask session's entry holding the key to the server's record of this session.
SESSION_KEY = "admin_session"
# …and the one of a browser past the password, waiting for its second factor (no access yet).
HALF_SIGNED_IN = "two_factor_pending"
# The pages a browser reaches without a session, and all a clinician who must set up
# two-step sign-in can reach before it is on.
SIGN_IN_PAGES = {"admin.login", "admin.login_code"}
WHILE_SETTING_UP = {"admin.two_factor", "admin.two_factor_begin", "admin.two_factor_confirm",
                    "admin.two_factor_cancel", "admin.logout", "admin.login"}


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
    if g.admin_session is None:
        return None if request.endpoint in SIGN_IN_PAGES else _to_sign_in()
    if two_factor_due() and request.endpoint not in WHILE_SETTING_UP:
        return _to_two_factor_setup()
    return None


def two_factor_due() -> bool:
    """The practice requires two-step sign-in and this clinician has not set it up yet."""
    return (current_user.is_authenticated and two_factor.required(current_app.config)
            and not current_user.two_factor_on)


def _to_two_factor_setup():
    setup_url = url_for("admin.two_factor")
    if request.headers.get("HX-Request") == "true":
        return Response("Please set up two-step sign-in first.", headers={"HX-Redirect": setup_url})
    flash("Please set up two-step sign-in first: the practice asks every clinician to use it.")
    return redirect(setup_url, 303)


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
    return {"idle_minutes": idle_minutes(), "max_hours": max_hours(), "two_factor_due": two_factor_due()}


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
    no spelling of it (case, spaces, control characters) gets a fresh budget of tries. At
    the code step, the address of the account whose code is asked for."""
    if request.endpoint == "admin.login_code":
        state = session.get(HALF_SIGNED_IN)
        return "login:" + (state.get("account", "") if isinstance(state, dict) else "")
    return "login:" + sign_in_email(request.form.get("email", ""))[:254]


# One budget of tries per account for passwords and codes together.
per_account = limiter.shared_limit("20 per hour", scope="sign-in per account", methods=["POST"],
                                   key_func=_login_email)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"])
@per_account
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
            target = _safe_next(request.args.get("next"))
            if admin.two_factor_on:
                session[HALF_SIGNED_IN] = {"admin": admin.id, "account": sign_in_email(admin.email)[:254],
                                           "since": clock.now().timestamp(), "next": target}
                return redirect(url_for(".login_code"), 303)
            return _signed_in(admin, target)
        form.password.errors.append("That email and password do not match an active account.")
    return render_template("admin/login.html", form=form), 422 if form.errors else 200


def _signed_in(admin: Admin, target: str):
    """Both factors given (or the only one the account has): the server's session starts."""
    session.clear()
    key = admin_sessions.start(admin, request.user_agent.string, request.remote_addr)
    login_user(admin)
    session.permanent = True
    session[SESSION_KEY] = key
    enrolment.signed_in(admin)
    return redirect(target, 303)


def _half_signed_in() -> tuple[Admin | None, dict | None]:
    """The clinician this browser gave the password of, while their five minutes last (and
    the note as it is, to say why not when they are over)."""
    state = session.get(HALF_SIGNED_IN)
    if not isinstance(state, dict) or not isinstance(state.get("admin"), int) or \
            not isinstance(state.get("since"), (int, float)):
        return None, None
    waited = clock.now().timestamp() - state["since"]
    if not 0 <= waited <= two_factor.HALF_SIGN_IN.total_seconds():
        return None, state
    admin = db.session.get(Admin, state["admin"])
    if admin is None or not admin.active or not admin.two_factor_on:
        return None, state
    return admin, state


def _took_too_long(state: dict) -> bool:
    return clock.now().timestamp() - state["since"] > two_factor.HALF_SIGN_IN.total_seconds()


WRONG_CODE = {
    None: "That code did not work. Please type the code your app shows now (a new one comes every 30 seconds).",
    two_factor.ALREADY_USED: "That code was already used. Please wait for the next one your app shows, then "
                             "type it.",
}
WRONG_RECOVERY_CODE = "That recovery code did not work: it may have been used already. Please check it, or try " \
                      "another."


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"])
@per_account
def login_code():
    """The second step: the code from the app, or a recovery code."""
    if g.admin_session is not None and request.method == "GET":
        return redirect(url_for(".dashboard"))
    admin, state = _half_signed_in()
    if admin is None:
        session.pop(HALF_SIGNED_IN, None)
        if state is not None and _took_too_long(state):
            flash(f"Signing in took longer than {two_factor_minutes()} minutes, so it has to start again. "
                  "Please sign in again.")
        target = state.get("next") if isinstance(state, dict) and isinstance(state.get("next"), str) else None
        login_url = url_for(".login", next=_safe_next(target) if target else None)
        if request.headers.get("HX-Request") == "true":
            return Response(status=401, headers={"HX-Redirect": login_url})
        return redirect(login_url, 303)
    form = SignInCodeForm()
    recovery = form.with_recovery_code()
    if form.validate_on_submit():
        field = form.recovery_code if recovery else form.code
        if not two_factor.typed_code(field.data):
            field.errors.append("Please type a recovery code." if recovery else
                                "Please type the 6-digit code your authenticator app shows.")
        else:
            result = two_factor.second_factor(admin, field.data, recovery=recovery)
            if result in (two_factor.CODE, two_factor.RECOVERY):
                return _signed_in(admin, _safe_next(state.get("next")))
            field.errors.append(WRONG_RECOVERY_CODE if recovery or result is None and
                                two_factor.looks_like_recovery_code(field.data) else WRONG_CODE[result])
    return render_template("admin/login_code.html", form=form, recovery_open=recovery and bool(form.errors),
                           admin=admin), 422 if form.errors else 200


def two_factor_minutes() -> int:
    return int(two_factor.HALF_SIGN_IN.total_seconds() // 60)


@bp.errorhandler(429)
def sign_in_paused(error):
    """Too many sign-in attempts (the panel's only limits): say which limit, for how long,
    and what to do, on the sign-in page itself so the clinician can try again after."""
    window = limiter.current_limit
    seconds = window.reset_at - time.time() if window is not None else 3600
    wait = "a minute" if seconds <= 60 else f"{math.ceil(seconds / 60)} minutes"
    account = getattr(getattr(error, "limit", None), "key_func", None) is _login_email
    paused = "account" if account else "connection"
    if request.endpoint == "admin.login_code":
        return render_template("admin/login_code.html", form=SignInCodeForm(formdata=None), paused=paused,
                               wait=wait, recovery_open=False), 429
    return render_template("admin/login.html", form=LoginForm(), paused=paused, wait=wait), 429


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
