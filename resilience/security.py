"""Headers that keep pages private and ready for a strict Content-Security-Policy,
and logs that never carry an applicant's private status link or a saved form's link."""
import logging
import re

from flask import Flask

_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
CONTENT_SECURITY_POLICY = "; ".join(_POLICY)


def framable_by(response, origins: list[str]):
    """Let these origins (the blog) show this response in a frame; with none, no one may."""
    ancestors = " ".join(origins) or "'none'"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "frame-ancestors 'none'", f"frame-ancestors {ancestors}")
    return response


_STATUS_TOKEN = re.compile(r"/status/[^/\s?\"]+")
_DRAFT_KEY = re.compile(r"/apply/resume/[^/\s?\"]+")  # a saved form's private link


def redact(text: str) -> str:
    return _DRAFT_KEY.sub("/apply/resume/[key]", _STATUS_TOKEN.sub("/status/[token]", text))


class HideStatusTokens(logging.Filter):
    """Anyone holding a status link can read that page, so access logs show none."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):  # gunicorn's access log passes its fields as a dict
            for name, value in record.args.items():  # (changed in place: it is gunicorn's own kind of dict)
                if isinstance(value, str):
                    record.args[name] = redact(value)
        return True


def init_app(app: Flask) -> None:
    production = app.config.get("ENV") == "production"
    for logger in (logging.getLogger("werkzeug"), logging.getLogger("gunicorn.access"), app.logger):
        if not any(isinstance(f, HideStatusTokens) for f in logger.filters):
            logger.addFilter(HideStatusTokens())

    @app.after_request
    def add_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if "frame-ancestors 'none'" in headers["Content-Security-Policy"]:  # (older browsers read this one)
            headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
        if production:  # browsers remember to come back over HTTPS only, for a year
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
