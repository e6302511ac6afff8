"""The clinician's own account: who they are, where they are signed in, and signing out
every other browser (a lost phone, a shared computer left signed in)."""
import re
from zoneinfo import ZoneInfo

from flask import current_app, flash, g, redirect, render_template, url_for
from flask_login import current_user

from .. import admin_sessions, htmx
from . import bp
from .auth import idle_time, max_lifetime
from .forms import DecisionForm

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
    return render_template("admin/account.html", **_sessions_context())


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
