"""Friendly error pages: nothing a visitor sends ends in a bare server error."""
import time

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

from . import extensions

TITLES = {
    400: ("Something in that request was not right", "Please go back and try again."),
    404: ("We could not find that page", "The link may be mistyped or out of date."),
    405: ("That page cannot be used that way", "Please go back and use the page’s own buttons."),
    413: ("That was more than we can accept", "Please shorten your answers and try again."),
    429: ("Please slow down a little", "Too many requests came from your connection."),
    500: ("Something went wrong on our side", "Nothing you did caused this. Please try again in a few minutes."),
    503: ("The site is being updated", ("It will be back in a few minutes. If you were sending something, it has "
                                        "not been saved yet: please go back and send it again a little later.")),
}


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def expired(error):
        return expired_page()

    @app.errorhandler(HTTPException)
    def http_error(error):
        return page_for(error)

    @app.errorhandler(Exception)
    def server_error(error):
        # The endpoint, not the path: paths can hold an applicant's private token.
        app.logger.exception("Unhandled error in %s %s", request.method, request.endpoint)
        return _page(500, *TITLES[500])


def expired_page():
    return _page(400, "This page had expired",
                 "For your security, forms on this site expire. Nothing was changed. "
                 "Please go back, reload the page and try again.")


def _page(code: int, title: str, message: str):
    return render_template("errors/error.html", code=code, title=title, message=message), code


def page_for(error: HTTPException):
    """The friendly page for an HTTP error; a rate limit says honestly how long to wait."""
    if isinstance(error, SecurityError):  # a Host the site does not answer to: no page is built for it
        return "This site does not answer to that address.", 400, {"Content-Type": "text/plain; charset=utf-8"}
    title, message = TITLES.get(error.code, (error.name, ""))
    if error.code == 429:
        message = f"{message} Please try again {retry_after()}."
    return _page(error.code, title, message)


def retry_after() -> str:
    """When the limit just reached lets this connection in again: "in about 12 minutes"."""
    limit = extensions.limiter.current_limit
    if limit is None:
        return "in a little while"
    minutes = max(1, round((limit.reset_at - time.time()) / 60))
    return "in about a minute" if minutes == 1 else f"in about {minutes} minutes"
