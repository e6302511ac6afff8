"""The program page and the seats fragment, served again until what they show changes, and
never a moment after.

What they show (cohorts, meetings, seats, the site's texts) changes only in a transaction
that also raises the one number in page_version (the flush hook below sees to it), so a page
rendered for that number is right until the number moves. Dates matter too (a deadline passes,
a cohort starts): every time zone's date changes on a quarter hour of UTC, so the quarter
hour is part of the key as well.

The number is read from the database on each request (one small query), so a seat taken
through any worker on any host shows on the next poll everywhere. The rendered page is kept
in this process (and compressed once); its ETag is the same on every host, so a polling tab
that already has the page gets a 304 without it being rendered or sent again.
"""
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import wraps
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app, request, session
from sqlalchemy.orm import Session

from . import clock, htmx
from .compression import COMPRESSIBLE, Variants
from .extensions import db
from .models import Application, Cohort, Meeting, PageVersion, SiteText
from .status import SEAT_HOLDING

SHOWN = (Cohort, Meeting, SiteText)  # every change to these shows on the public pages
KEPT = 256  # rendered pages kept per process (each key: a page, a number, a quarter hour)


# --- Raising the number with every change it must follow ---------------------------------------

def _changes_what_pages_show(session: Session) -> bool:
    for row in (*session.new, *session.deleted):
        if isinstance(row, SHOWN) or (isinstance(row, Application) and row.status in SEAT_HOLDING):
            return True
    for row in session.dirty:
        if isinstance(row, SHOWN) and session.is_modified(row):
            return True
        if isinstance(row, Application) and sa.inspect(row).attrs.status.history.has_changes():
            return True  # seats: taken, given back (the fragment shows seats, not who applied)
    return False


def _adds_or_erases_applications(session: Session) -> bool:
    return any(isinstance(row, Application) for row in (*session.new, *session.deleted)) or any(
        isinstance(row, Application) and sa.inspect(row).attrs.erased_at.history.has_changes()
        for row in session.dirty)


def _raise(session: Session, number: str = "version") -> None:
    """Raise one of the numbers, once per transaction."""
    if not session.info.get(f"raised {number}"):
        column = getattr(PageVersion, number)
        session.connection().execute(sa.update(PageVersion).where(PageVersion.id == 1).values({column: column + 1}))
        session.info[f"raised {number}"] = True


@sa.event.listens_for(Session, "before_flush")
def _before_flush(session, flush_context, instances):
    if _changes_what_pages_show(session):
        _raise(session)
    if _adds_or_erases_applications(session):
        _raise(session, "applications")


@sa.event.listens_for(Session, "do_orm_execute")
def _bulk_changes(state):
    """UPDATE and DELETE statements on those tables (no flush sees them)."""
    if (state.is_update or state.is_delete) and state.bind_mapper is not None and (
            state.bind_mapper.class_ in (*SHOWN, Application)):
        _raise(state.session)
        if state.bind_mapper.class_ is Application:
            _raise(state.session, "applications")


@sa.event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session, transaction):
    if transaction.parent is None:
        session.info.pop("raised version", None)
        session.info.pop("raised applications", None)


def current_version() -> int | None:
    # (plain SQL on the session's connection: asked on every poll, it skips the ORM's work)
    return db.session.connection().exec_driver_sql("SELECT version FROM page_version WHERE id = 1").scalar()


# --- Serving pages again --------------------------------------------------------------------

@dataclass
class Page:
    variants: Variants
    mimetype: str
    headers: list  # what the view set (the badge's frame-ancestors), given to every answer, 304s too


_OWN_HEADERS = {"content-length", "content-type", "content-encoding", "etag", "vary", "cache-control"}


def _quarter_hour() -> str:
    now = clock.now()
    return f"{now:%Y-%m-%dT%H}:{now.minute // 15}"


def _flashes_waiting() -> bool:
    """A full page shows messages kept for this browser (after a redirect): those pages are
    rendered for it alone. Only a browser with a session cookie can have any."""
    if htmx.is_htmx() or current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return False
    return bool(session.get("_flashes"))


def cached(view):
    """Serve this public GET view from the cache, with an ETag (304 when the browser has it)."""
    @wraps(view)
    def serve(**kwargs):
        number = None if _flashes_waiting() else current_version()
        if number is None:
            return view(**kwargs)
        key = (request.endpoint, tuple(sorted(kwargs.items())), request.query_string, htmx.is_htmx(), number,
               _quarter_hour())
        etag = hashlib.sha256(f"{current_app.extensions['release']}{key}".encode()).hexdigest()[:32]
        page = current_app.extensions["page_cache"].get(key)
        if page is None:
            response = current_app.make_response(view(**kwargs))
            if response.status_code != 200 or response.is_streamed:
                return response
            page = _keep(key, Page(Variants(response.get_data(), response.mimetype in COMPRESSIBLE),
                                   response.mimetype,
                                   [(k, v) for k, v in response.headers if k.lower() not in _OWN_HEADERS]))
        if request.if_none_match.contains_weak(etag):
            response = current_app.response_class(status=304)
        else:
            encoding = page.variants.encoding_for_request()
            response = current_app.response_class(page.variants.body(encoding), mimetype=page.mimetype)
            if encoding:
                response.headers["Content-Encoding"] = encoding
        response.headers.extend(page.headers)
        response.set_etag(etag, weak=True)
        response.headers["Cache-Control"] = "no-cache"  # kept, but asked about each time
        response.vary.add("Accept-Encoding")
        if not htmx.is_htmx():
            response.vary.add("Cookie")  # (the messages above)
        return response

    return serve


def _keep(key, page: Page) -> Page:
    pages = current_app.extensions["page_cache"]
    pages[key] = page
    while len(pages) > KEPT:
        pages.popitem(last=False)
    return page


def _release(root: Path) -> str:
    """A mark of this release's templates and code: a new release never answers 304 for a
    page an older one rendered."""
    digest = hashlib.sha256()
    for path in sorted([*root.glob("templates/**/*.html"), *root.glob("resilience/**/*.py")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def init_app(app: Flask, root: Path) -> None:
    app.extensions["release"] = _release(root)
    app.extensions["page_cache"] = OrderedDict()  # key → Page, the oldest dropped first
