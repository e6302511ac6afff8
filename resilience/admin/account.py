"""The clinician's own account: who they are, where they are signed in, signing out every
other browser (a lost phone, a shared computer left signed in), and two-step sign-in:
setting it up with a QR code, recovery codes, turning it off."""
import re
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import current_app, flash, g, redirect, render_template, url_for
from flask_login import current_user
from markupsafe import Markup

from .. import admin_sessions, htmx, two_factor
from ..refusals import TwoFactorRefused
from . import bp
from .auth import idle_time, max_lifetime, two_factor_due
from .forms import DecisionForm, TwoFactorConfirmForm, TwoFactorProofForm

# (pattern in the User-Agent, the name people know), the first that matches wins: Edge and
# Opera say "Chrome" too, every iPhone browser says "Safari", Chrome says "Safari" as well.
BROWSERS = [(r"Edg(e|A|iOS)?/", "Edge"), (r"OPR/|Opera", "Opera"), (r"Firefox/|FxiOS/", "Firefox"),
            (r"CriOS/|Chrome/|Chromium/", "Chrome"), (r"Safari/", "Safari")]
SYSTEMS = [(r"iPhone", "iPhone"), (r"iPad", "iPad"), (r"Android", "Android"), (r"Windows", "Windows"),
           (r"Mac OS X|Macintosh", "macOS"), (r"CrOS", "ChromeOS"), (r"Linux", "Linux")]


def browser_name(user_agent: str) -> str:
    """"Firefox on Windows", "Safari on iPhone"; what the browser said when it is neither."""
    browser = next((name for pattern, name in BROWSERS if re.search(pattern, user_agent)), None)
    system = next((name for pattern, name in SYSTEMS if re.search(pattern, user_agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (user_agent[:60] if user_agent else "An unknown browser")


def _sessions_context(done: str | None = None) -> dict:
    zone = ZoneInfo(current_app.config["PRACTICE_TIMEZONE"])
    sessions = admin_sessions.active_sessions(current_user, idle_time(), max_lifetime())
    return {
        "sessions": [(record, browser_name(record.user_agent), record.created_at.astimezone(zone),
                      record.last_seen_at.astimezone(zone)) for record in sessions],
        "current_session": g.admin_session, "practice_zone": zone.key, "done": done,
    }


@bp.get("/account")
def account():
    return render_template("admin/account.html", **_sessions_context(), **_two_factor_context())


@bp.post("/account/sign-out-others")
def sign_out_others():
    DecisionForm()  # CSRF is checked globally; nothing else to read
    ended = admin_sessions.end_others(g.admin_session, current_user, idle_time(), max_lifetime())
    done = (f"Signed out of {ended} other session{'s' if ended != 1 else ''}." if ended
            else "There were no other sessions to sign out.")
    if htmx.is_htmx():
        return render_template("admin/_sessions.html", **_sessions_context(done))
    flash(done, "success")
    return redirect(url_for(".account"), 303)


# --- Two-step sign-in ----------------------------------------------------------------------

def _two_factor_context(confirm_form=None, off_form=None, renew_form=None) -> dict:
    """What the two-step sign-in section shows: off, being set up (the QR code, the secret
    to type by hand, a field for the first code) or on (recovery codes left, renewing,
    turning off)."""
    context = {
        "two_factor_required": two_factor.required(current_app.config),
        "confirm_form": confirm_form or TwoFactorConfirmForm(formdata=None),
        "off_form": off_form or TwoFactorProofForm(formdata=None, purpose="turn-off"),
        "renew_form": renew_form or TwoFactorProofForm(formdata=None, purpose="new-codes"),
        "pending_secret": None,
    }
    secret = two_factor.pending_secret(current_user)
    if secret is not None:
        uri = two_factor.provisioning_uri(current_user, current_app.config["PRACTICE_NAME"])
        context.update(pending_secret=two_factor.grouped(secret),
                       qr_code=Markup(two_factor.qr_svg(uri, "QR code for your authenticator app")))
    if current_user.two_factor_on:
        context["recovery_codes_left"] = two_factor.recovery_codes_left(current_user)
        context["two_factor_since"] = current_user.two_factor_on_at.astimezone(
            ZoneInfo(current_app.config["PRACTICE_TIMEZONE"]))
    return context


def _two_factor_page(status: int = 200, **forms):
    """The page the section is on: the account page, or the set-up page on its own while the
    practice requires it and it is not on yet."""
    if two_factor_due():
        return render_template("admin/two_factor.html", **_two_factor_context(**forms)), status
    return render_template("admin/account.html", **_sessions_context(), **_two_factor_context(**forms)), status


def _back_to_section():
    return redirect(url_for(".two_factor") if two_factor_due() else url_for(".account", _anchor="two-factor"), 303)


@bp.get("/account/two-factor", endpoint="two_factor")
def two_factor_setup():
    """Setting up two-step sign-in on a page of its own, while the practice requires it."""
    if not two_factor_due():
        return redirect(url_for(".account", _anchor="two-factor"), 303)
    return render_template("admin/two_factor.html", **_two_factor_context())


@bp.post("/account/two-factor/begin")
def two_factor_begin():
    DecisionForm()  # CSRF is checked globally; nothing else to read
    try:
        two_factor.begin(current_user)
    except TwoFactorRefused as refusal:
        flash(refusal.message, "error")
    else:
        flash("Nearly there: add your account to an authenticator app with the QR code below, then type the code "
              "it shows.", "success")
    return _back_to_section()


@bp.post("/account/two-factor/cancel")
def two_factor_cancel():
    DecisionForm()
    if two_factor.pending_secret(current_user) is None:
        flash("Two-step sign-in was not being set up.", "error")
        return _back_to_section()
    two_factor.cancel(current_user)
    flash("Setting up two-step sign-in was cancelled. Nothing changed in how you sign in.", "success")
    return _back_to_section()


@bp.post("/account/two-factor/confirm")
def two_factor_confirm():
    form = TwoFactorConfirmForm()
    if form.validate_on_submit():
        try:
            codes = two_factor.confirm(current_user, form.code.data)
        except TwoFactorRefused as refusal:
            if refusal.reason in ("not_begun", "already_on"):
                flash(refusal.message, "error")
                return _back_to_section()
            form.code.errors.append(refusal.message)
        else:
            return _recovery_codes_page(codes, turned_on=True)
    if two_factor.pending_secret(current_user) is None:  # (a form sent again after it was done)
        flash(TwoFactorRefused("already_on" if current_user.two_factor_on else "not_begun").message, "error")
        return _back_to_section()
    return _two_factor_page(422, confirm_form=form)


@bp.post("/account/two-factor/recovery-codes")
def two_factor_new_codes():
    form = TwoFactorProofForm(purpose="new-codes")
    if not current_user.two_factor_on:  # (its form is only drawn while it is on)
        flash(TwoFactorRefused("not_on").message, "error")
        return _back_to_section()
    if form.validate_on_submit():
        try:
            codes = two_factor.renew_recovery_codes(current_user, form.proof.data)
        except TwoFactorRefused as refusal:
            form.proof.errors.append(refusal.message)
        else:
            return _recovery_codes_page(codes, turned_on=False)
    return _two_factor_page(422, renew_form=form)


@bp.post("/account/two-factor/turn-off")
def two_factor_off():
    form = TwoFactorProofForm(purpose="turn-off")
    if not current_user.two_factor_on:  # (its form is only drawn while it is on)
        flash(TwoFactorRefused("not_on").message, "error")
        return _back_to_section()
    if form.validate_on_submit():
        try:
            two_factor.turn_off(current_user, form.proof.data, two_factor.required(current_app.config))
        except TwoFactorRefused as refusal:
            form.proof.errors.append(refusal.message)
        else:
            flash("Two-step sign-in is off: you sign in with your password alone. Your recovery codes no longer "
                  "work.", "success")
            return _back_to_section()
    return _two_factor_page(422, off_form=form)


def _recovery_codes_page(codes: list[str], turned_on: bool):
    """The recovery codes, shown this once (only their hashes are kept), with a text file of them."""
    name = current_app.config["PRACTICE_NAME"]
    text = (f"Recovery codes for signing in to {name} as {current_user.email}\n"
            "Each code works once, in place of the code from your authenticator app.\n\n"
            + "\n".join(codes) + "\n")
    return render_template("admin/two_factor_codes.html", codes=codes, turned_on=turned_on,
                           download="data:text/plain;charset=utf-8," + quote(text))
