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
import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import wraps
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app, request, session
from sqlalchemy.orm import Session
from werkzeug.http import parse_etags, remove_entity_headers, unquote_etag

from . import clock, htmx
from .compression import COMPRESSIBLE, Variants
from .extensions import db
from .models import Application, Cohort, Meeting, PageVersion, SiteText
from .status import SEAT_HOLDING, Status

RENDERED_FOR = "resilience.rendered_for"  # set by a cached view for the layer in front: the number and quarter hour
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
        if isinstance(row, Application) and _moves(sa.inspect(row).attrs):
            return True  # seats: taken, given back (the fragment shows seats, not who applied); the dashboard's counts
    return False


def _moves(attributes) -> bool:
    return any(attributes[name].history.has_changes() for name in ("status", "cohort_id", "cohort"))


def _adds_or_erases_applications(session: Session) -> bool:
    return any(isinstance(row, Application) for row in (*session.new, *session.deleted)) or any(
        isinstance(row, Application) and sa.inspect(row).attrs.erased_at.history.has_changes()
        for row in session.dirty)


_RAISES = {name: sa.update(PageVersion).where(PageVersion.id == 1).values({column: column + 1})
           for name, column in (("version", PageVersion.version), ("applications", PageVersion.applications))}


def _raise(session: Session, number: str = "version") -> None:
    """Raise one of the numbers, once per transaction."""
    if not session.info.get(f"raised {number}"):
        session.connection().execute(_RAISES[number])
        session.info[f"raised {number}"] = True


@sa.event.listens_for(Session, "before_flush")
def _before_flush(session, flush_context, instances):
    if _changes_what_pages_show(session):
        _raise(session)
    if _adds_or_erases_applications(session):
        _raise(session, "applications")


_SHOWN_TABLES = tuple(model.__table__ for model in SHOWN)


@sa.event.listens_for(Session, "do_orm_execute")
def _bulk_changes(state):
    """INSERT, UPDATE and DELETE statements on those tables, written for a model or for its table
    (no flush sees them). Applications stored as not holding a seat leave the seats as they were.

    The numbers are raised after the statement: an application stored takes its row (which, on
    PostgreSQL, waits for a decision holding its cohort) before the numbers, the order decisions
    take them in (the cohort, then the numbers); the other order can deadlock."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    table = state.bind_mapper.local_table if state.bind_mapper is not None else state.statement.table
    if table is not Application.__table__ and table not in _SHOWN_TABLES:
        return None
    result = state.invoke_statement()
    if table is Application.__table__:
        _raise(state.session, "applications")
        if not (state.is_insert and _hold_no_seat(state.parameters)):
            _raise(state.session)
    else:
        _raise(state.session)
    return result


def _hold_no_seat(parameters) -> bool:
    """Whether every row these INSERT parameters give says, itself, a status that holds no seat."""
    rows = [parameters] if isinstance(parameters, dict) else list(parameters or ())
    return bool(rows) and all(row.get("status") in _NO_SEAT for row in rows)


_NO_SEAT = frozenset(Status) - frozenset(SEAT_HOLDING)


@sa.event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session, transaction):
    # Savepoints too: one rolled back takes its raise with it, so the next change raises again
    # (after one released, the number is raised twice: no harm). Not each flush's own inner one.
    if transaction.parent is None or transaction.nested:
        session.info.pop("raised version", None)
        session.info.pop("raised applications", None)


def kept_until_changed(name: str, numbers: tuple[str, ...], key, work):
    """work()'s result, kept in this process (under name, one at a time) until one of these
    numbers moves: the flush hooks above raise them in the very transaction of each change
    they follow, so what is kept is never stale. Costs one small query while nothing changed."""
    row = db.session.execute(sa.select(*(getattr(PageVersion, number) for number in numbers))
                             .where(PageVersion.id == 1)).one_or_none()
    if row is None:
        return work()
    kept = current_app.extensions.setdefault(name, {})
    full_key = (tuple(row), key)
    found = kept.get(full_key)  # (once: another thread may empty the dict meanwhile)
    if found is None:
        found = work()
        kept.clear()
        kept[full_key] = found
    return found


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


def _quarter_hour(now) -> str:
    return f"{now:%Y-%m-%dT%H}:{now.minute // 15}"


def _flashes_waiting() -> bool:
    """A page may show messages kept for this browser (after a redirect): those pages are
    rendered for it alone (htmx requests too: some of these views always render the whole
    page). Only a browser with a session cookie can have any."""
    if current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return False
    return bool(session.get("_flashes"))


def cached(view):
    """Serve this public GET view from the cache, with an ETag (304 when the browser has it)."""
    @wraps(view)
    def serve(**kwargs):
        number = None if _flashes_waiting() else current_version()
        if number is None:
            return view(**kwargs)
        rendered_for = request.environ[RENDERED_FOR] = (number, _quarter_hour(clock.now()))
        key = (request.endpoint, tuple(sorted(kwargs.items())), request.query_string, htmx.is_htmx(), *rendered_for)
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


# --- Answering again in front of the site ----------------------------------------------------

class Answer:
    """A whole answer as the site sent it, and its 304."""

    def __init__(self, rendered_for: tuple, status: str, headers: list, body: bytes):
        self.rendered_for = rendered_for  # the number and the quarter hour
        self.status, self.headers, self.body = status, headers, body
        self.etag = unquote_etag(dict(headers).get("ETag"))[0]
        self.headers_304 = list(headers)
        remove_entity_headers(self.headers_304)

    def send(self, environ, start_response):
        if self.etag and parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains_weak(self.etag):
            start_response("304 NOT MODIFIED", self.headers_304)
            return []
        start_response(self.status, self.headers)
        return [self.body]


_HTMX_KEYS = tuple(htmx.environ_key(header) for header in htmx.HEADERS)


class AnswerAgain:
    """WSGI, in front of the site. A cached page's whole answer (its headers as every hook left
    them, its compressed body) is kept for the request that asked it: same host, path and query,
    htmx or not, same encodings accepted. The same request is answered again here, with no
    request opened (no session, no hooks), while the number and the quarter hour are the same:
    a polling tab costs one read of one row. A browser with a session (messages may be waiting
    for it), any other method and anything not kept go on to the site."""

    def __init__(self, app: Flask, site):
        self.app, self.site = app, site
        self.answers: OrderedDict[tuple, Answer] = OrderedDict()
        self.session_cookie = f"{app.config['SESSION_COOKIE_NAME']}="
        with app.app_context():
            self.engine = db.engine
        self.database_error = self.engine.dialect.loaded_dbapi.Error  # (PEP 249: every driver has it)

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] != "GET" or self.session_cookie in environ.get("HTTP_COOKIE", ""):
            return self.site(environ, start_response)
        # (the host too: one the site does not serve is refused by it, never answered from here;
        # and every header htmx.is_htmx reads, so a fragment and a whole page are never mixed up)
        asked = (environ.get("HTTP_HOST"), environ.get("wsgi.url_scheme"), environ.get("HTTP_X_FORWARDED_PROTO"),
                 environ.get("PATH_INFO"), environ.get("QUERY_STRING"), environ.get("HTTP_ACCEPT_ENCODING"),
                 *(environ.get(key) for key in _HTMX_KEYS))
        answer = self.answers.get(asked)
        if answer is not None and answer.rendered_for == self._rendered_for_now():
            return answer.send(environ, start_response)
        return self._ask_the_site(asked, environ, start_response)

    def _rendered_for_now(self) -> tuple | None:
        try:
            connection = self.engine.raw_connection()
        except (sa.exc.DBAPIError, self.database_error):
            return None  # the site answers, with its own page for a database that is away
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT version FROM page_version WHERE id = 1")
            row = cursor.fetchone()
        except self.database_error:
            return None
        finally:
            connection.close()
        return None if row is None else (row[0], _quarter_hour(clock.now_for(self.app.config)))

    def _ask_the_site(self, asked: tuple, environ, start_response):
        answered = {}

        def remember(status, headers, exc_info=None):
            answered.update(status=status, headers=headers)
            return start_response(status, headers, exc_info)

        body = self.site(environ, remember)
        if RENDERED_FOR not in environ:
            return body
        if answered.get("status", "").startswith("304 "):  # a tab that has the page: keep it for the next poll
            self._ask_for_whole_answer(asked, environ)
            return body
        whole = self._keep(asked, environ[RENDERED_FOR], answered, body)
        return body if whole is None else [whole]

    def _ask_for_whole_answer(self, asked: tuple, environ) -> None:
        """The site answered 304 (after a restart, every open tab polls with the ETag it has):
        ask it again quietly for the whole answer, so the next poll is answered from here."""
        answered, again = {}, {**environ, "HTTP_IF_NONE_MATCH": ""}
        body = self.site(again, lambda status, headers, exc_info=None: answered.update(status=status, headers=headers))
        if (RENDERED_FOR not in again or self._keep(asked, again[RENDERED_FOR], answered, body) is None) and hasattr(
                body, "close"):
            body.close()

    def _keep(self, asked: tuple, rendered_for: tuple, answered: dict, body) -> bytes | None:
        """Keep a whole 200 answer that sets no cookie; its body (None if not kept)."""
        if (not answered.get("status", "").startswith("200 ")
                or any(name.lower() == "set-cookie" for name, _ in answered["headers"])):
            return None
        try:
            whole = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        self.answers[asked] = Answer(rendered_for, answered["status"], list(answered["headers"]), whole)
        while len(self.answers) > KEPT:
            self.answers.popitem(last=False)
        return whole


# The settings a page can show: those the templates and the public views name (config.X,
# config["X"]). Only these are in the release mark: the rest (keys, where each host keeps its
# files) never show, and hosts with the same settings share ETags.
_READS_SETTINGS = re.compile(r"""config(?:\.|\[["'])([A-Z][A-Z0-9_]+)""")


def _shown_settings(root: Path) -> set[str]:
    sources = [*root.glob("templates/**/*.html"), *root.glob("resilience/public/*.py"),
               *(root / "resilience" / name for name in ("content.py", "formatting.py"))]
    return {name for path in sources for name in _READS_SETTINGS.findall(path.read_text())}


def _release(root: Path, config) -> str:
    """A mark of this release's templates, code and the settings pages show (the crisis line,
    the contact address…): a new release, or a restart with other settings, never answers 304
    for a page rendered before."""
    digest = hashlib.sha256()
    for path in sorted([*root.glob("templates/**/*.html"), *root.glob("resilience/**/*.py")]):
        digest.update(path.read_bytes())
    for name in sorted(_shown_settings(root)):
        digest.update(f"{name}={config.get(name)!r};".encode())
    return digest.hexdigest()[:16]


def init_app(app: Flask, root: Path) -> None:
    app.extensions["release"] = _release(root, app.config)
    app.extensions["page_cache"] = OrderedDict()  # key → Page, the oldest dropped first
    app.wsgi_app = AnswerAgain(app, app.wsgi_app)
