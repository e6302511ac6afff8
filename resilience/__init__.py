"""Rediscovering Resilience: the program site, applications and the clinicians' panel."""
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import flask_login
from cryptography.fernet import Fernet
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import clock, extensions, refusals
from .status import Status

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigurationError(RuntimeError):
    """A setting the site cannot start without is missing or wrong."""


DEFAULTS = {
    "PRACTICE_NAME": "Rediscovering Resilience",
    "CONTACT_EMAIL": "hello@example.org",
    "CRISIS_LINE": "988",
    # The practice's own time zone: times not tied to a cohort (sign-ins, say) are shown in it.
    "PRACTICE_TIMEZONE": "America/New_York",
    "PROGRAM_PAGE_COHORTS": 3,  # upcoming cohorts shown on the program page; /cohorts lists them all
    "MAX_CONTENT_LENGTH": 256 * 1024,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "WTF_CSRF_TIME_LIMIT": None,  # a long, careful form must not expire while typed
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Answer every request with "being updated" (503) while the database is behind the code.
    "CHECK_SCHEMA": True,
    # How clinicians' passwords are hashed (werkzeug's method string); tests use a cheap one.
    "PASSWORD_HASH_METHOD": "scrypt",
    # A clinician's session ends after this long without a request.
    "PERMANENT_SESSION_LIFETIME": 60 * 60,
    "SESSION_MAX_HOURS": 12,  # …and this long after signing in, however busy (checked on the server)
    # Every clinician must sign in with a code from an app as well as the password (two_factor.py).
    "REQUIRE_2FA": False,
    "AVAILABILITY_POLL_SECONDS": 15,
    # A form saved to finish later is kept this many days from its last save, then deleted.
    "DRAFT_DAYS": 14,
    # Links in emails are built from this, never from a request's Host header.
    "PUBLIC_URL": "http://127.0.0.1:5000",
    "ADMIN_EMAILS": "",
    # The sites that may show the seats badge (/embed/cohorts/<slug>) in a frame, e.g. the blog:
    # "https://blog.example.org, https://www.example.org". Every other page is unframable.
    "EMBED_ORIGINS": "",
    # Email: with no MAIL_SERVER, the outbox writes .eml files under instance/outbox/.
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_TIMEOUT": 30,
    "MAIL_SUPPRESS_SEND": False,
    "OUTBOX_POLL_SECONDS": 5,
    # The lost-link page takes at least this long to answer, known address or not, so its
    # timing does not tell who has applied.
    "RESEND_ANSWER_SECONDS": 0.4,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": False,
    # Behind a reverse proxy, how many proxies set X-Forwarded-For (so limits see the visitor).
    "PROXY_COUNT": 0,
}


def create_app(test_config: dict | None = None) -> Flask:
    instance_path = os.environ.get("RESILIENCE_INSTANCE_PATH", str(PROJECT_ROOT / "instance"))
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    _keep_instance_private(Path(app.instance_path))
    _configure(app, test_config)
    # No redirect for "//admin//" or "/admin": werkzeug builds those from the Host header.
    app.url_map.merge_slashes = app.url_map.strict_slashes = False

    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(PROJECT_ROOT / "migrations"))
    extensions.csrf.init_app(app)
    extensions.mail.init_app(app)
    extensions.login_manager.init_app(app)
    # No one is ever "remembered" (sign-in lasts a session): Flask-Login's hook for that cookie
    # would read the session on every response, and so make every public page vary by cookie.
    app.after_request_funcs[None].remove(extensions.login_manager._update_remember_cookie)
    # …and its template variable, loaded for every page: the same, read only by pages that use it.
    app.template_context_processors[None].remove(flask_login.utils._user_context_processor)
    app.context_processor(lambda: {"current_user": flask_login.current_user})
    extensions.limiter.init_app(app)
    if app.config["PROXY_COUNT"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_COUNT"], x_proto=app.config["PROXY_COUNT"])

    from . import admin, cli, compression, database, errors, formatting, health, htmx, page_cache, public, security

    compression.init_app(app)  # first: its after-request hook runs last, seeing every header
    page_cache.init_app(app, PROJECT_ROOT)
    database.init_app(app)
    # Templates read statuses, and why a cohort is closed, from their one definition.
    app.jinja_env.globals.update(Status=Status, closed_messages=refusals.CLOSED)
    security.init_app(app)
    htmx.init_app(app)
    formatting.init_app(app)
    errors.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(admin.bp)
    cli.init_app(app)
    return app


def _configure(app: Flask, test_config: dict | None) -> None:
    app.config.from_mapping(DEFAULTS)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(
        Path(app.instance_path) / "resilience.sqlite3"
    )
    if test_config is None:
        app.config.from_prefixed_env("RESILIENCE")
    else:
        app.config.from_mapping(test_config)

    app.config.setdefault(
        "MAIL_DEFAULT_SENDER", f"{app.config['PRACTICE_NAME']} <{app.config['CONTACT_EMAIL']}>"
    )
    app.config["ADMIN_EMAILS"] = _email_list(app.config["ADMIN_EMAILS"])
    app.config["EMBED_ORIGINS"] = _origins(app.config["EMBED_ORIGINS"])
    _check_retention_settings(app)
    try:
        ZoneInfo(app.config["PRACTICE_TIMEZONE"])
    except (ValueError, ZoneInfoNotFoundError):
        raise ConfigurationError(f"RESILIENCE_PRACTICE_TIMEZONE {app.config['PRACTICE_TIMEZONE']!r} is not a "
                                 "time zone: use a name such as America/New_York.") from None

    production = app.config.get("ENV") == "production"
    try:
        clock.configure(app.config, production)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    if production:
        # Flask's own default (False) is already in the config, so this is set, not defaulted.
        app.config["SESSION_COOKIE_SECURE"] = True
        # Requests for any other host are refused (400), so no page or redirect is built from a
        # forged Host header. RESILIENCE_TRUSTED_HOSTS (a JSON list) adds names, e.g. a health check's.
        if not app.config.get("TRUSTED_HOSTS"):
            app.config["TRUSTED_HOSTS"] = [urlsplit(app.config["PUBLIC_URL"]).hostname]
    for name, make in (("SECRET_KEY", lambda: secrets.token_hex(32)),
                       ("DATA_KEY", lambda: Fernet.generate_key().decode())):
        if not app.config.get(name):
            if production:
                raise ConfigurationError(
                    f"RESILIENCE_{name} must be set when RESILIENCE_ENV=production."
                )
            app.config[name] = _development_secret(app, name.lower(), make)


def _email_list(value) -> list[str]:
    """RESILIENCE_ADMIN_EMAILS as "a@x.org, b@y.org" (or a JSON list); each address once."""
    if isinstance(value, str):
        value = value.split(",")
    addresses = {}
    for address in value or ():
        if address and address.strip():
            addresses.setdefault(address.strip().lower(), address.strip())
    return list(addresses.values())


def _check_retention_settings(app: Flask) -> None:
    """The retention days are checked as the site starts, so a mistyped setting stops it at once
    (rather than the first purge, days later) and says which."""
    from .enrolment import retention
    from .refusals import SettingRefused

    try:
        retention.configure(app.config)
    except SettingRefused as refused:
        raise ConfigurationError(refused.message) from None


def _origins(value) -> list[str]:
    """RESILIENCE_EMBED_ORIGINS as "https://blog.example.org, https://www.example.org": each a
    scheme and host (and port), nothing more, since each goes into the badge's frame-ancestors."""
    origins = []
    for origin in _email_list(value):
        try:
            parts = urlsplit(origin)
            parts.port  # noqa: B018  (a port that is not a number raises here)
        except ValueError:
            parts = None
        if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
                or parts.path or parts.query or parts.fragment or parts.username or parts.password
                or not re.fullmatch(r"[a-z0-9.:\[\]-]+", parts.netloc.lower())):
            raise ConfigurationError(f"RESILIENCE_EMBED_ORIGINS: {origin!r} is not an origin. Write each site as "
                                     "its scheme and name, e.g. https://blog.example.org, separated by commas.")
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return origins


def _keep_instance_private(instance: Path) -> None:
    """The database (and its WAL), the generated secrets and the .eml outbox are readable by
    the site's own user alone: files this process creates are 0600 and folders 0700, and what
    an older release left readable to others is closed too."""
    os.umask(0o077)
    instance.mkdir(parents=True, exist_ok=True)
    for path in (instance, *instance.iterdir(), *(instance / "outbox").glob("*")):
        mode = path.stat().st_mode
        if mode & 0o077:
            path.chmod(0o700 if path.is_dir() else 0o600)


def _development_secret(app: Flask, filename: str, make) -> str:
    """A secret generated once into instance/ so development restarts keep sessions and data."""
    path = Path(app.instance_path) / filename
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()
