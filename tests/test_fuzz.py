"""Property-based requests to every endpoint of the site (hypothesis).

The endpoints are read from the app's url_map, so a new one is fuzzed without anyone adding
it here. Each is sent form, multipart (files where text belongs), JSON and raw bodies and
query strings: field names its own pages' forms use (and the names the code reads) mixed
with random ones, left out or repeated; values 100,000 characters long, control characters
and NUL, lone surrogates and bytes that are no UTF-8, numbers, lists and objects where text
belongs. Whatever is sent, the answer is never a server error: a refusal is a 4xx page (or
a redirect to a page) with words saying what was wrong, and stores nothing; text that is
accepted is stored as typed, after the site's cleaning (questions.clean_text), and shown
escaped.

The budget is RESILIENCE_FUZZ_EXAMPLES examples per endpoint (25 by default; .ci/run sets 200);
runs are derandomized, so a failure found here is found again (RESILIENCE_FUZZ_RANDOM=1 draws
new examples instead). A case that once failed is kept below as an explicit @example.
"""
import json
import logging
import os
import re
import tempfile
import traceback
from dataclasses import dataclass, field, replace
from datetime import timedelta
from html.parser import HTMLParser
from itertools import chain, count, islice, product
from urllib.parse import quote, quote_from_bytes, urlsplit

import pytest
import sqlalchemy as sa
from conftest import ADMIN_PASSWORD, NOW, TEST_DATABASE_URL, answers, empty_database, sign_in
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from resilience import create_app, program, questions
from resilience.extensions import db

pytestmark = [pytest.mark.fuzz, pytest.mark.filterwarnings("ignore:Generating overly large repr")]

EXAMPLES = int(os.environ.get("RESILIENCE_FUZZ_EXAMPLES", "25"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a request that builds a 100k-character page takes its time
    # The same examples every run, so a failure reproduces. RESILIENCE_FUZZ_RANDOM=1 explores new ground
    # instead (hypothesis prints the seed to rerun a failure with: pytest --hypothesis-seed=N).
    derandomize=os.environ.get("RESILIENCE_FUZZ_RANDOM") != "1",
    database=None,  # nothing written into the checkout; found failures are kept as @example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.filter_too_much],
    print_blob=False,
)

DATA_KEY = "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA="
# Stored in the fixture's texts and sent by the fuzz: never part of a page, so seen raw it was not escaped.
MARKER = "<i data-fuzz>"


def fuzz_config(database_uri: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "fuzz-secret",
        "DATA_KEY": DATA_KEY,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "WTF_CSRF_ENABLED": False,  # switched on by the CSRF test below
        "RATELIMIT_ENABLED": False,  # hypothesis sends far more than any limit allows
        "RESEND_ANSWER_SECONDS": 0,
        "NOW": NOW,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        "CHECK_SCHEMA": False,
    }


# --- Every endpoint, from the url_map ---------------------------------------------------------

@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    endpoint: str
    arguments: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.method} {self.rule}"

    @property
    def admin(self) -> bool:
        return self.endpoint.startswith("admin.")


def _routes() -> list[Route]:
    """Every rule and method the site answers (static files aside: they read no input)."""
    saved = os.environ.get("RESILIENCE_INSTANCE_PATH")
    with tempfile.TemporaryDirectory() as instance:
        os.environ["RESILIENCE_INSTANCE_PATH"] = instance
        try:
            app = create_app(fuzz_config("sqlite://"))
        finally:
            if saved is None:
                os.environ.pop("RESILIENCE_INSTANCE_PATH", None)
            else:
                os.environ["RESILIENCE_INSTANCE_PATH"] = saved
        rules = list(app.url_map.iter_rules())
        with app.app_context():
            db.engine.dispose()
    return sorted({Route(method, rule.rule, rule.endpoint, tuple(sorted(rule.arguments)))
                   for rule in rules if rule.endpoint != "static"
                   for method in rule.methods - {"HEAD", "OPTIONS"}}, key=lambda r: (r.rule, r.method))


ROUTES = _routes()
POST_ROUTES = [route for route in ROUTES if route.method != "GET"]


def _names_the_code_reads() -> tuple[set[str], set[str]]:
    """Query and form parameters the views read outside their form classes (next=, page=…)."""
    args, form = set(), set()
    root = os.path.join(os.path.dirname(__file__), "..", "resilience")
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as source:
                    text = source.read()
                for kind, found in re.findall(r"request\.(args|form|values)\.get\(\s*[\"']([^\"']+)", text):
                    (args if kind == "args" else form).add(found)
                for found, kind in re.findall(r"[\"']([\w-]+)[\"']\s+(?:not\s+)?in\s+request\.(args|form)", text):
                    (args if kind == "args" else form).add(found)
    return args, form


def _form_class_fields() -> set[str]:
    """The field names of every form class of the site."""
    from wtforms import Form
    from wtforms.fields.core import UnboundField

    import resilience.admin.forms  # (defines the admin forms)
    import resilience.public.forms  # noqa: F401  (defines the public forms)

    names, todo = set(), [Form]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        names |= {name for klass in cls.__mro__ for name, value in vars(klass).items()
                  if isinstance(value, UnboundField)}
    return names


# --- Reading the forms the site's own pages draw -----------------------------------------------

@dataclass
class Control:
    name: str
    kind: str  # input type, "select" or "textarea"
    value: str = ""
    options: list[str] = field(default_factory=list)
    checked: bool = False


@dataclass
class PageForm:
    action: str
    method: str
    controls: list[Control] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)
    hx_targets: list[tuple[str, str]] = field(default_factory=list)  # (method, url) of hx-post/hx-get inside


class FormReader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[PageForm] = []
        self.form: PageForm | None = None
        self.select: Control | None = None
        self.textarea: Control | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.form = PageForm(a.get("action", ""), (a.get("method") or "get").upper())
            return
        if self.form is None:
            return
        for attribute, method in (("hx-post", "POST"), ("hx-get", "GET"), ("formaction", "POST")):
            if a.get(attribute):  # (a button's formaction sends the same form elsewhere)
                self.form.hx_targets.append((method, a[attribute]))
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "image", "button", "reset"):
                if kind == "submit":
                    self.form.buttons.append((name, a.get("value", "")))
            elif kind in ("checkbox", "radio"):
                self.form.controls.append(Control(name, kind, a.get("value", "on"), checked="checked" in a))
            else:
                self.form.controls.append(Control(name, kind, a.get("value", "")))
        elif tag == "button" and name and (a.get("type") or "submit") == "submit":
            self.form.buttons.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self.select = Control(name, "select")
        elif tag == "option" and self.select is not None:
            self.select.options.append(a.get("value", ""))
            if "selected" in a:
                self.select.value = a.get("value", "")
        elif tag == "textarea" and name:
            self.textarea = Control(name, "textarea")

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea.value += data

    def handle_endtag(self, tag):
        if tag == "form" and self.form is not None:
            self.forms.append(self.form)
            self.form = None
        elif tag == "select" and self.select is not None:
            if not self.select.value and self.select.options:
                self.select.value = self.select.options[0]
            if self.form is not None:
                self.form.controls.append(self.select)
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.textarea.value = self.textarea.value.removeprefix("\n")
            if self.form is not None:
                self.form.controls.append(self.textarea)
            self.textarea = None


# What an empty box of each kind takes, so a base body passes the checks and the fuzz reaches
# what lies behind them.
PLAUSIBLE = {
    "date": (NOW + timedelta(days=20)).date().isoformat(), "time": "10:00", "email": "ana@practice.example",
    "tel": "+1 207 555 0100", "number": "3", "url": "https://meet.example.org/room",
    "password": ADMIN_PASSWORD, "search": "Maya",
}


def good_pairs(form: PageForm, button: tuple[str, str] | None) -> list[tuple[str, str]]:
    """The body a browser sends for this form, every box filled plausibly and every box ticked."""
    pairs, radios = [], set()
    for control in form.controls:
        if control.kind == "radio":
            if control.name not in radios:
                radios.add(control.name)
                chosen = next((c.value for c in form.controls if c.name == control.name and c.checked), control.value)
                pairs.append((control.name, chosen))
        elif control.kind in ("checkbox", "hidden") or control.value:  # every box ticked
            pairs.append((control.name, control.value))
        elif control.kind in PLAUSIBLE:
            pairs.append((control.name, PLAUSIBLE[control.kind]))
        elif control.kind in ("text", "textarea"):
            pairs.append((control.name, "Portland, ME" if "location" in control.name else "Fuzz words"))
        else:
            pairs.append((control.name, control.value))
    if button is not None:
        pairs.append(button)
    return pairs


# --- The fixture database ----------------------------------------------------------------------

def build_program(app) -> dict:
    """A cohort taking applications (applications in every status, a booked and an open
    screening time, a note and a message), a running cohort with two participants and a
    marked meeting, a closed cohort, and two clinicians."""
    from resilience import enrolment
    from resilience.models import Admin, Application, Cohort, Meeting, ScreeningSlot
    from resilience.status import AttendanceMark, Status

    names = {}
    with app.app_context():
        ana = Admin(email="ana@practice.example", display_name="Dr. Ana Reyes")
        ben = Admin(email="ben@practice.example", display_name=f"Dr. Ben {MARKER} O'Kafor & \"Co\"")
        for admin in (ana, ben):
            admin.set_password(ADMIN_PASSWORD)
            db.session.add(admin)
        # Site texts with versions (issue 11): a restore form to reach, typed markup to show escaped.
        from resilience.models import SiteText
        for key, version, body in (("fees", 1, f"Fees {MARKER} **first**"), ("fees", 2, "Fees, second words"),
                                   ("clinician.2.name", 1, f"Jordan {MARKER} Ellis")):
            db.session.add(SiteText(key=key, version=version, body=body, admin=ana, created_at=NOW))

        def cohort(slug, title, starts_on, **extra):
            fields = {"slug": slug, "title": title, "capacity": 6, "starts_on": starts_on,
                      "timezone": "America/New_York", "location": "120 Harbor Street, Portland, ME",
                      "application_deadline": starts_on - timedelta(days=14), "applications_open": True, **extra}
            made = Cohort(**fields)
            for meeting in program.default_meetings(starts_on, fields["timezone"], fields["location"]):
                made.meetings.append(Meeting(**meeting))
            db.session.add(made)
            return made

        spring = cohort("spring-2027", f"Spring 2027 cohort {MARKER} & “friends”", NOW.date() + timedelta(days=45),
                        location=f"120 Harbor Street {MARKER}, Portland, ME", fee_text=f"$1,200 {MARKER} & up")
        # A title with a line break, as the release before issue 10 could store.
        autumn = cohort("autumn-2026", "Autumn 2026\ncohort", NOW.date() - timedelta(days=12),
                        application_deadline=None)
        cohort("winter-2027", "Winter 2027 cohort", NOW.date() + timedelta(days=90), applications_open=False)

        made = {}

        def application(key, home, status, **extra):
            n = len(made) + 1
            email = f"person{n}@example.org"
            made[key] = Application(**{
                "cohort": home, "first_name": f"Person{n}", "last_name": "Tester", "email": email, "email_key": email,
                "phone": "555 010 1000", "home_area": "Portland, ME", "answers": answers(),
                "consented_at": NOW, "health_consent_at": NOW, "created_at": NOW - timedelta(days=n),
                "status_changed_at": NOW, "status": status, **extra})
            db.session.add(made[key])

        # Typed text of every kind stored: it must never reach a page unescaped.
        application("pending", spring, Status.PENDING, first_name=f"Maya {MARKER}", last_name="O'Neil & \"Co\"",
                    pronouns=f"she/{MARKER}", home_area=f"Portland, ME\n{MARKER}", answers=answers(
                        logistics_notes=f"Line one\n{MARKER} & line two", intention=f"{MARKER} {{{{ 7*7 }}}}",
                        knows_applicants=f"Sam {MARKER}", referral=f"blog {MARKER}"))
        application("pending2", spring, Status.PENDING)
        application("screening", spring, Status.SCREENING, invited_at=NOW)
        application("screening2", spring, Status.SCREENING, invited_at=NOW)
        application("accepted", spring, Status.ACCEPTED, accepted_at=NOW, confirm_by_at=NOW + timedelta(days=3))
        application("waitlisted", spring, Status.WAITLISTED, waitlisted_at=NOW)
        application("waitlisted2", spring, Status.WAITLISTED, waitlisted_at=NOW)
        application("declined", spring, Status.DECLINED, declined_at=NOW)
        application("withdrawn", spring, Status.WITHDRAWN, withdrawn_at=NOW)
        application("lapsed", spring, Status.LAPSED, accepted_at=NOW - timedelta(days=8),
                    confirm_by_at=NOW - timedelta(days=1), lapsed_at=NOW)
        application("enrolled", autumn, Status.ENROLLED, enrolled_at=NOW - timedelta(days=20))
        application("enrolled2", autumn, Status.ENROLLED, enrolled_at=NOW - timedelta(days=20))
        db.session.commit()
        names.update({key: a.id for key, a in made.items()})
        names["tokens"] = {key: a.token for key, a in made.items()}
        names["slugs"] = [spring.slug, autumn.slug, "winter-2027"]
        names["admin"] = ana.id

        slots = enrolment.add_slots(ana, NOW + timedelta(days=2), 30, 3, "phone", None, "America/New_York", ana)
        enrolment.book(names["screening"], slots[0].id)
        # A conversation that has begun: the one a clinician can record as held.
        begun = ScreeningSlot(admin=ana, starts_at=NOW - timedelta(hours=1), minutes=30, timezone="America/New_York",
                              mode="video", place=f"https://meet.example.org/ana?{MARKER}",
                              application_id=names["screening2"],
                              booked_at=NOW - timedelta(days=1), created_at=NOW - timedelta(days=2))
        db.session.add(begun)
        db.session.commit()
        names["slots"] = [slot.id for slot in slots] + [begun.id]
        enrolment.add_note(names["pending"], ana, f"Called her back. {MARKER}")
        enrolment.write_to_applicant(names["pending"], ana, f"See you on Tuesday. {MARKER}")
        first_meeting = db.session.scalar(sa.select(Cohort).where(Cohort.slug == autumn.slug)).meetings[0]
        enrolment.mark_attendance(first_meeting.id, names["enrolled"], AttendanceMark.ATTENDED, ana)
        key, _ = enrolment.save_draft(None, {"cohort": autumn.slug, "first_name": MARKER}, "saved@example.org")
        names["drafts"] = [key]
    return names


class Tables:
    """Counting, snapshotting and restoring the rows: a request that changed something is
    undone before the next, so every example starts from the same program."""

    WATCHED = ("application", "cohort", "meeting", "screening_slot", "attendance")  # their rows, not only counts

    def __init__(self, app):
        from resilience.models import SealedJSON

        self.app = app
        tables = db.metadata.sorted_tables
        self.names = [t.name for t in tables]
        # The clinicians' accounts (and what belongs to an account alone, such as its sessions)
        # stay as they are: restoring them would sign the fuzzing clinician out.
        self.kept = {t.name for t in tables if t.name == "admin" or (
            t.foreign_keys and all(fk.column.table.name == "admin" for fk in t.foreign_keys))}
        self.watched = {t.name: [c.name for c in t.columns if not isinstance(c.type, SealedJSON)]
                        for t in tables if t.name in self.WATCHED}
        with app.app_context(), db.engine.connect() as connection:
            self.reflected = sa.MetaData()
            self.reflected.reflect(connection, only=self.names)
            self.rows = {name: [dict(row._mapping) for row in connection.execute(sa.select(self.reflected.tables[name]))]
                         for name in self.names if name not in self.kept}

    def snapshot(self) -> tuple:
        with self.app.app_context(), db.engine.connect() as connection:
            q = connection.dialect.identifier_preparer.quote
            counts = connection.execute(sa.text("SELECT " + ", ".join(
                f"(SELECT count(*) FROM {q(name)})" for name in self.names))).one()
            rows = {name: connection.execute(sa.text(
                f"SELECT {', '.join(q(c) for c in columns)} FROM {q(name)} ORDER BY {q('id')}")).all()
                for name, columns in self.watched.items()}
        return tuple(zip(self.names, counts)), tuple(sorted(rows.items()))

    def restore(self) -> None:
        with self.app.app_context():
            db.session.remove()
            with db.engine.begin() as connection:
                for name in reversed(self.names):
                    if name not in self.kept:
                        connection.execute(self.reflected.tables[name].delete())
                for name in self.names:
                    if name not in self.kept and self.rows[name]:
                        connection.execute(self.reflected.tables[name].insert(), self.rows[name])


def changed(before: tuple, after: tuple) -> list[str]:
    """Which tables a request changed (row counts of every table, the rows of the watched ones)."""
    counts = [f"{name}: {a} → {b} rows" for (name, a), (_, b) in zip(before[0], after[0]) if a != b]
    rows = [f"{name} rows changed" for (name, a), (_, b) in zip(before[1], after[1]) if a != b]
    return counts + rows


class ErrorLog(logging.Handler):
    """Keeps the traceback of anything the app logs as an exception (its 500 handler does)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record):
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.records.append(text)


# --- What a request may be ---------------------------------------------------------------------

NO = "<absent>"  # a field of the recipe that is not used


@dataclass(frozen=True)
class Real:
    """The n-th real field name of the endpoint's forms (modulo how many there are)."""
    n: int


@dataclass(frozen=True)
class Renumbered:
    """A real field name with its numbers replaced (meetings-0-date → meetings-99999999999-date)."""
    n: int
    number: str


@dataclass(frozen=True)
class Good:
    """The value the page itself puts in this field (or a plausible one)."""


@dataclass(frozen=True)
class File:
    content: bytes
    filename: str = "x.txt"
    content_type: str = "text/plain"


@dataclass(frozen=True)
class Recipe:
    encoding: str = "form"  # form, multipart, json, raw
    base: bool = True  # start from the body the page's own form sends
    variant: int = 0  # which of the endpoint's forms (and submit buttons)
    target: int = 0  # which concrete URL of the rule (whose application, cohort, slot…)
    drop: tuple[int, ...] = ()  # base fields left out (indices modulo their number)
    fields: tuple[tuple[object, object, bool], ...] = ()  # (name, value, replaces the base's value)
    query: tuple[tuple[object, object], ...] = ()
    json_top: object = NO  # a JSON body that is no object (a list, a number…)
    raw: tuple[bytes, str] | None = None  # a raw body and its Content-Type, instead of the fields
    headers: tuple[tuple[str, str], ...] = ()
    path_value: object = NO  # an odd value for one URL argument
    signed_in: bool = True  # for the sign-in page: a clinician already signed in, or not
    route: str | None = None  # an explicit example: only for this route ("POST /apply")


NOTABLE = [
    "", " ", "\x00", "\x00\x00 \x00", "0", "-1", "1.5", "1e309", "NaN", "-0", "99999999999999999999", "2147483648",
    "٣", "１２", "true", "null", "[]", "{}", "<script>alert(1)</script>", "\"'><&", "%00", "%", "../../etc/passwd",
    "\\", "a\r\nSet-Cookie: x=1", "\r\n", "\r", "\u2028", "\ufeff", "\u202e", "\U0001d518\U0001d52b", "2026-02-30",
    "0000-00-00", "9999-12-31", "2026-12-01", "24:00", "23:59:60", "10:00:00.000001", "javascript:alert(1)",
    "https://", "http://[::1", "https://meet.example.org/x", "Online", "online\x00", "accepted", "enrolled",
    "declined", "pending", "waitlisted", "screening", "withdrawn", "lapsed", "book", "cancel", "confirm", "wait",
    "withdraw", "send", "preview", "edit", "back", "application", "up", "down", "mine", "none", "y", "on", "1",
    "answers", "attended", "absent", "excused", "/admin/", "//evil.example", "https://evil.example/admin/",
    "/admin/\r\nLocation: https://evil.example", "/admin/applications\x00", "America/New_York", "Mars/Olympus",
    "phone", "video", "in_person", MARKER, f"a{MARKER}b", "ana@practice.example", "ANA@practice.example\x00",
    "ana\x01@practice.example",
]

control_characters = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from(
    ["\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\u200b", "\ufeff", "\u202e"])
lone_surrogates = st.characters(categories=["Cs"])
odd_text = st.text(st.characters() | control_characters | lone_surrogates, max_size=30)
huge_text = st.builds(lambda piece, n: (piece * (n // len(piece) + 1))[:n],
                      st.text(st.characters() | control_characters, min_size=1, max_size=4),
                      st.integers(1_000, 100_000))
numbers = st.integers().map(str) | st.sampled_from(["99999999999999999999", "-1", "0", "2147483648", "1e3", "0x1f"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)
files = st.builds(File, st.binary(max_size=40), st.sampled_from(["x.txt", "", 'a"b.txt', "../x", "ü.pdf", "a\r\nb"]),
                  st.sampled_from(["text/plain", "application/octet-stream", "", "image/png", "text/html"]))
values = st.one_of(st.just(Good()), st.sampled_from(NOTABLE), odd_text, huge_text, numbers,
                   st.binary(max_size=20), files, json_values)
query_values = st.one_of(st.sampled_from(NOTABLE), odd_text, huge_text, numbers, st.binary(max_size=20))
names = st.one_of(st.builds(Real, st.integers(0, 10_000)), st.builds(Real, st.integers(0, 10_000)),
                  st.builds(Renumbered, st.integers(0, 10_000), numbers),
                  st.text(max_size=12), st.sampled_from(["csrf_token", "", " ", "\x00", "a[]", "a.b", "__proto__"]))
raw_bodies = st.tuples(
    st.binary(max_size=300) | st.sampled_from([b"email=%ff%fe&password=\xff\xc3\x28", b"\xff\xfe\x00",
                                               b'{"email": "\\ud800"}', b"a=1&a=2&&&=&%", b"--x\r\n\r\n",
                                               b'{"a": NaN, "b": 1e999}', b"[" * 5000]),
    st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "multipart/form-data",
                     "application/json", "text/plain", "application/x-www-form-urlencoded; charset=latin-1",
                     "application/json; charset=utf-16", "", "application/xml"]))
headers = st.sampled_from([(), (), (("HX-Request", "true"),), (("HX-Request", "true"), ("HX-Boosted", "true")),
                           (("HX-Request", "true"), ("HX-History-Restore-Request", "true")),
                           (("HX-Request", "TRUE"), ("HX-Target", "\x00"), ("HX-Current-URL", "javascript:x"))])

recipes = st.builds(
    Recipe,
    encoding=st.sampled_from(["form", "form", "form", "multipart", "multipart", "json", "raw"]),
    base=st.sampled_from([True, True, True, False]),
    variant=st.integers(0, 1_000),
    target=st.integers(0, 1_000),
    drop=st.lists(st.integers(0, 1_000), max_size=3).map(tuple),
    fields=st.lists(st.tuples(names, values, st.booleans()), max_size=6).map(tuple),
    query=st.lists(st.tuples(names, query_values), max_size=3).map(tuple),
    json_top=st.one_of(st.just(NO), st.just(NO), st.just(NO), json_values),
    raw=st.none() | raw_bodies,
    headers=headers,
    path_value=st.one_of(*[st.just(NO)] * 6, numbers, odd_text),
    signed_in=st.booleans(),
)


# --- Turning a recipe into a request -----------------------------------------------------------

def as_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, File):
        return value.content
    if not isinstance(value, str):
        value = json.dumps(value)
    return value.encode("utf-8", "surrogatepass")  # a lone surrogate becomes bytes that are no UTF-8


def as_json(value):
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, File):
        return value.content.decode("utf-8", "replace")
    return value


def urlencoded(pairs) -> str:
    return "&".join(f"{quote_from_bytes(as_bytes(k), safe='')}={quote_from_bytes(as_bytes(v), safe='')}"
                    for k, v in pairs)


def multipart(pairs) -> tuple[bytes, str]:
    boundary = "fuzz-boundary-7c1d"
    chunks = []
    for name, value in pairs:
        name = quote_from_bytes(as_bytes(name), safe=" !#$&'()*+,-./:;<=>?@[]^_`{|}~")
        disposition = f'form-data; name="{name}"'
        extra = b""
        if isinstance(value, File):
            filename = value.filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
            disposition += f'; filename="{filename}"'
            if value.content_type:
                extra = f"Content-Type: {value.content_type}\r\n".encode()
        chunks.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode("utf-8", "surrogatepass")
                      + extra + b"\r\n" + as_bytes(value) + b"\r\n")
    return b"".join(chunks) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@dataclass
class Sent:
    """What was sent, to say so when a property fails."""
    method: str
    url: str
    content_type: str | None
    body: bytes
    headers: dict

    def __str__(self):
        body = self.body if len(self.body) <= 600 else self.body[:600] + b"...(%d bytes)" % len(self.body)
        url = self.url if len(self.url) <= 600 else self.url[:600] + f"...({len(self.url)} characters)"
        return f"{self.method} {url}\n  Content-Type: {self.content_type}\n  headers: {self.headers}\n  body: {body!r}"


# --- The site under fuzz -------------------------------------------------------------------------

FLASH = re.compile(r'<p class="flash flash--(\w+)"[^>]*>(.*?)</p>', re.DOTALL)
REFUSAL_WORDS = [
    r'<p class="flash flash--error"[^>]*>(.*?)</p>',
    r'<p class="field__error"[^>]*>(.*?)</p>',
    r'<div class="error-summary"[^>]*>(.*?)</div>',
    r'role="alert"[^>]*>(.*?)</(?:p|div|section)>',
    r'<p class="eyebrow">Error 4\d\d</p>\s*<h1>(.*?)</h1>',
]


def words(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


# Pages that say what is wrong in a heading of their own rather than in an alert (the words are kept
# here, so the page losing them still fails).
SAID_IN_A_HEADING = ["No one to write to yet"]


def refusal_words(text: str) -> str | None:
    """The words that tell a person what was wrong, if the page has any."""
    for heading in SAID_IN_A_HEADING:
        if re.search(rf"<h2[^>]*>{re.escape(heading)}</h2>", text):
            return heading
    for pattern in REFUSAL_WORDS:
        for found in re.finditer(pattern, text, re.DOTALL):
            if words(found.group(1)):
                return words(found.group(1))
    return None


class Site:
    """The app over the fixture program, a clinician signed in and a visitor, the forms its
    pages draw (filed by the endpoint they send to), and the checks every answer must pass."""

    def __init__(self, app, names):
        self.app = app
        self.names = names
        self.tables = Tables(app)
        self.dirty = False
        self.log = ErrorLog()
        app.logger.addHandler(self.log)
        self.anonymous = app.test_client()
        self.clinician = app.test_client()
        assert sign_in(self.clinician).status_code == 303
        # The same clinician signed in on another browser too: their account page lists it.
        assert sign_in(app.test_client()).status_code == 303
        self.adapter = app.url_map.bind("localhost")
        self.query_names, form_names = _names_the_code_reads()
        self.global_names = sorted(form_names | _form_class_fields())
        self.forms: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {}  # route key: (url, body pairs)
        self.targets: dict[str, list[str]] = {}
        self.unknown_arguments: set[str] = set()
        self.broken_pages: list[str] = []
        for route in ROUTES:
            self.targets[route.key] = self._urls(route)
        self._crawl()

    # URL arguments from the fixture program
    def _argument_values(self, name: str, route: Route) -> list:
        n = self.names
        known = {
            "application_id": [n[k] for k in n["tokens"]],
            "token": list(n["tokens"].values()),
            "slug": n["slugs"],
            "slot_id": n["slots"],
            "number": [1, 2, 5, 10],
            "filename": ["css/site.css"],
            "key": [*n["drafts"], "not-a-saved-form"],
            "text_key": ["fees", "faq", "reply_time", "clinician.1.photo", "no-such-text"],  # site texts
            "version": [1, 2, 99],
            "name": ["0" * 32 + ".jpg", "not-a-photo.png"],  # clinicians' photos
        }
        if name in known:
            return known[name]
        self.unknown_arguments.add(f"{route.rule}: {name}")
        if re.search(rf"<(int|float)(\([^)]*\))?:{name}>", route.rule):
            return [n[k] for k in n["tokens"]] + n["slots"]
        return n["slugs"] + list(n["tokens"].values())

    def _urls(self, route: Route) -> list[str]:
        choices = [self._argument_values(name, route) for name in route.arguments]
        urls = []
        for combination in islice(product(*choices), 40):
            urls.append(self.path(route, dict(zip(route.arguments, combination))))
        return urls

    @staticmethod
    def path(route: Route, values: dict) -> str:
        def fill(match):
            return quote(str(values[match.group(1)]).encode("utf-8", "surrogatepass"), safe="")
        return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", fill, route.rule)

    def _route_of(self, method: str, url: str) -> Route | None:
        try:
            rule, _ = self.adapter.match(urlsplit(url).path, method=method, return_rule=True)
        except HTTPException:  # not one of ours (a mailto: link, an external page…)
            return None
        return next((r for r in ROUTES if r.rule == rule.rule and r.method == method), None)

    def _crawl(self) -> None:
        """Read every form the site's pages draw, and file it under the endpoint it posts to."""
        extra = [f"/admin/applications/{self.names[k]}/decide?status={s}" for k in ("pending", "screening", "accepted")
                 for s in ("screening", "accepted", "waitlisted", "declined", "withdrawn")]
        extra += [f"/apply?cohort={slug}" for slug in self.names["slugs"]]
        pages = [url for route in ROUTES if route.method == "GET" for url in self.targets[route.key]] + extra
        # (the visits in other states come last: they set Ana's two-step sign-in up)
        for client, url in chain(((None, url) for url in pages), self._two_factor_visits()):
            client = client or (self.clinician if url.startswith("/admin/") else self.anonymous)
            response = client.get(url)
            if response.status_code in (302, 303):  # the sign-in page, say, shown only to those signed out
                response = self.anonymous.get(url)
            if response.mimetype != "text/html":
                continue
            page = response.get_data(as_text=True)
            if response.status_code >= 500 or MARKER in page:
                self.broken_pages.append(f"{url}: {response.status_code}" + (", shows typed text unescaped"
                                                                           if MARKER in page else ""))
            reader = FormReader()
            reader.feed(page)
            for form in reader.forms:
                actions = [(form.method, form.action or url)] + form.hx_targets
                for method, action in actions:
                    route = self._route_of(method, action)
                    if route is None:
                        continue
                    bodies = self.forms.setdefault(route.key, [])
                    for button in form.buttons or [None]:
                        body = (action, good_pairs(form, button))
                        if body not in bodies:
                            bodies.append(body)
        for route in ROUTES:
            for action, _ in self.forms.get(route.key, []):
                if urlsplit(action).path not in self.targets[route.key]:
                    self.targets[route.key].append(action)
        self.tables = Tables(self.app)  # the program as it stands after the crawl (audit rows and all)

    def _two_factor_visits(self):
        """Browsers in the other states of two-step sign-in (issue 10), for the forms drawn only
        there: Ben with it on (his account page, and the code step after his password), and
        Ana's account page while she sets it up (after the crawl has seen it off)."""
        import pyotp

        from resilience import two_factor
        from resilience.models import Admin

        with self.app.app_context():
            ana, ben = (db.session.scalar(sa.select(Admin).where(Admin.email == f"{name}@practice.example"))
                        for name in ("ana", "ben"))
            recovery = two_factor.confirm(ben, pyotp.TOTP(two_factor.begin(ben)).at(NOW))
            two_factor.begin(ana)
        half, signed_in = self.app.test_client(), self.app.test_client()
        for client in (half, signed_in):
            assert sign_in(client, email="ben@practice.example").headers["Location"] == "/admin/login/code"
        assert signed_in.post("/admin/login/code", data={"recovery_code": recovery[0]}).status_code == 303
        yield from [(half, "/admin/login/code"), (signed_in, "/admin/account"), (None, "/admin/account")]

    def real_names(self, route: Route) -> list[str]:
        own = sorted({name for _, pairs in self.forms.get(route.key, []) for name, _ in pairs})
        return own + own + self.global_names  # the endpoint's own names twice as likely

    # Building the request
    def build(self, route: Route, recipe: Recipe, without: tuple[str, ...] = ()) -> Sent:
        targets = self.targets[route.key]
        url = targets[recipe.target % len(targets)]
        if recipe.path_value is not NO and route.arguments:
            values = {name: self._argument_values(name, route)[0] for name in route.arguments}
            values[route.arguments[recipe.target % len(route.arguments)]] = recipe.path_value
            url = self.path(route, values)
        path, _, query = url.partition("?")
        pairs: list[tuple[str, object]] = []
        forms = [body for body in self.forms.get(route.key, []) if urlsplit(body[0]).path == path] or \
            self.forms.get(route.key, [])
        good = {}
        if forms:
            action, form_pairs = forms[recipe.variant % len(forms)]
            good = dict(form_pairs)
            if recipe.base:
                pairs = list(form_pairs)
                query = query or urlsplit(action).query
                for index in recipe.drop:
                    if pairs:
                        del pairs[index % len(pairs)]
        known = self.real_names(route)
        for name, value, replaces in recipe.fields:
            name = self.name(name, known)
            value = good.get(name, "") if isinstance(value, Good) else value
            if replaces:
                pairs = [(k, v) for k, v in pairs if k != name]
            pairs.append((name, value))
        pairs = [(k, v) for k, v in pairs if k not in without]
        query_pairs = [(self.name(name, sorted(self.query_names) + known), value) for name, value in recipe.query]
        query = "&".join(part for part in (query, urlencoded(query_pairs)) if part)
        body, content_type = b"", None
        if recipe.raw is not None:
            body, content_type = recipe.raw
        elif recipe.encoding == "json":
            document = {}
            for name, value in pairs:
                document.setdefault(as_json(name), []).append(as_json(value))
            document = {k: v[0] if len(v) == 1 else v for k, v in document.items()}
            body = json.dumps(document if recipe.json_top is NO else recipe.json_top).encode()
            content_type = "application/json"
        elif recipe.encoding == "multipart":
            body, content_type = multipart(pairs)
        elif pairs or route.method != "GET":
            body, content_type = urlencoded(pairs).encode(), "application/x-www-form-urlencoded"
        return Sent(route.method, path + (f"?{query}" if query else ""), content_type, body, dict(recipe.headers))

    @staticmethod
    def name(name, known: list[str]) -> str:
        if isinstance(name, Real):
            return known[name.n % len(known)] if known else "field"
        if isinstance(name, Renumbered):
            real = known[name.n % len(known)] if known else "meetings-0-date"
            return re.sub(r"\d+", lambda _: name.number, real) if re.search(r"\d", real) else f"{real}-{name.number}"
        return name

    def client_for(self, route: Route, recipe: Recipe):
        if route.endpoint == "admin.login":
            return self.clinician if recipe.signed_in else self.anonymous
        return self.clinician if route.admin else self.anonymous

    def send(self, client, sent: Sent):
        kwargs = {"method": sent.method, "headers": sent.headers}
        if sent.content_type is not None:
            kwargs.update(data=sent.body, content_type=sent.content_type)
        return client.open(sent.url, **kwargs)

    def as_clinician(self, method: str, url: str, **kwargs):
        """A request from the fixture clinician, signed in again first if an example signed them out."""
        response = self.clinician.open(url, method=method, **kwargs)
        if self.to_sign_in(response):
            assert sign_in(self.clinician).status_code == 303, "the fixture clinician could not sign in again"
            response = self.clinician.open(url, method=method, **kwargs)
        return response

    @staticmethod
    def to_sign_in(response) -> bool:
        location = response.headers.get("Location", "") or response.headers.get("HX-Redirect", "")
        return response.status_code in (302, 303, 401) and urlsplit(location).path == "/admin/login"

    # Running one example and checking what came back
    def run(self, route: Route, recipe: Recipe) -> None:
        if self.dirty:
            self.tables.restore()
            self.dirty = False
        client = self.client_for(route, recipe)
        sent = self.build(route, recipe)
        before = self.tables.snapshot()
        self.log.records.clear()
        response = self.send(client, sent)
        if client is self.clinician and self.to_sign_in(response) and route.endpoint != "admin.logout":
            # Signed out by an earlier example (sign-out, or its session undone): again, signed in.
            assert sign_in(self.clinician).status_code == 303, "the fixture clinician could not sign in again"
            before = self.tables.snapshot()
            self.log.records.clear()
            response = self.send(client, sent)
        self.check(route, client, sent, response, before)

    def check(self, route: Route, client, sent: Sent, response, before) -> None:
        problems = []
        status = response.status_code
        text = response.get_data(as_text=True)
        if status >= 500:
            problems.append(f"answered {status}")
        if "Traceback (most recent call last)" in text:
            problems.append("the page shows a traceback")
        if MARKER in text and response.mimetype == "text/html":
            problems.append(f"typed text shown unescaped: …{text[max(0, text.index(MARKER) - 150):][:300]!r}…")
        final, refused = response, 400 <= status < 500
        if 400 <= status < 500:
            hx_redirect = status == 401 and response.headers.get("HX-Redirect")
            if not hx_redirect and refusal_words(text) is None:
                problems.append(f"a {status} answer with no words saying what was wrong: {text[:300]!r}")
        elif status in (301, 302, 303, 307, 308):
            hops = 0
            while final.status_code in (301, 302, 303, 307, 308) and hops < 5:
                location = urlsplit(final.headers.get("Location", ""))
                if location.netloc not in ("", "localhost"):
                    problems.append(f"redirected away from the site: {final.headers.get('Location')!r}")
                    break
                final = client.get(location.path + (f"?{location.query}" if location.query else ""))
                hops += 1
            final_text = final.get_data(as_text=True)
            if MARKER in final_text and final.mimetype == "text/html":
                problems.append("typed text shown unescaped on the page redirected to")
            flashes = FLASH.findall(final_text)
            kinds = {kind for kind, message in flashes if words(message)}
            refused = "error" in kinds and not kinds - {"error"}
            if final.status_code >= 500:
                problems.append(f"the page redirected to answered {final.status_code}")
            elif final.status_code >= 400 and refusal_words(final_text) is None:
                problems.append(f"the page redirected to ({final.status_code}) says nothing")
            elif route.method != "GET" and not kinds and not changed(before, self.tables.snapshot()) \
                    and final.status_code < 400 and not self.to_sign_in(response):
                problems.append("a redirect after a POST to a page with no message, and nothing was done")
        elif not text.strip() and status != 204:
            problems.append(f"an empty {status} answer")
        after = self.tables.snapshot()
        differences = changed(before, after)
        if differences:
            self.dirty = True
        elif route.method != "GET" and not refused:
            self.dirty = True  # something may have changed that the snapshot does not see
        if refused and differences:
            problems.append(f"refused, yet stored something: {'; '.join(differences)}")
        if self.log.records:
            problems.append("the app logged an exception:\n" + "\n".join(self.log.records))
        if problems:
            self.dirty = True
            raise AssertionError(f"{route.key}\n{sent}\n→ {status} {response.headers.get('Location', '')}\n  "
                                 + "\n  ".join(problems))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site over the fixture program, built once for the module (hypothesis runs many
    examples per test; every example starts from the same rows)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    patch = pytest.MonkeyPatch()
    patch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp / "instance"))
    app = create_app(fuzz_config(TEST_DATABASE_URL or f"sqlite:///{tmp / 'fuzz.sqlite3'}"))
    with app.app_context():
        if db.engine.dialect.name == "sqlite":  # no fsync per commit: a throw-away database, thousands of writes
            sa.event.listen(db.engine, "connect", lambda connection, _: connection.execute("PRAGMA synchronous=OFF"))
            db.engine.dispose()
    empty_database(app)
    with app.app_context():
        db.create_all()
    built = Site(app, build_program(app))
    yield built
    app.logger.removeHandler(built.log)
    empty_database(app)
    with app.app_context():
        db.engine.dispose()
    patch.undo()


# --- The properties ----------------------------------------------------------------------------

@pytest.mark.parametrize("route", ROUTES, ids=[route.key for route in ROUTES])
@FUZZ
@given(recipe=recipes)
# Kept so they are always tried. From issue 10: a line break in next= after signing in was a 500.
@example(recipe=Recipe(route="POST /admin/login", signed_in=False,
                       query=(("next", "/admin/\r\nLocation: https://evil.example"),)))
@example(recipe=Recipe(route="POST /admin/login", signed_in=False, query=(("next", "/admin/applications\n"),)))
# Found by this suite:
# an action that is none of the status page's buttons: a 422 status page that does not say what was wrong.
@example(recipe=Recipe(route="POST /status/<token>", base=False, fields=(("action", "maybe", True),)))
# a body over MAX_CONTENT_LENGTH: the booking is cancelled (or the time removed) and emailed, then the answer is 413
# (the view reads its form only afterwards; with CSRF on, as in production, the body is refused first).
@example(recipe=Recipe(route="POST /admin/screening/<int(max=2147483647):slot_id>/remove",
                       fields=(("note", "a" * 300_000, False),)))
@example(recipe=Recipe(route="POST /admin/screening/<int(max=2147483647):slot_id>/cancel",
                       fields=(("note", "a" * 300_000, False),)))
def test_any_request_to_any_endpoint_is_answered_without_a_server_error(site, route, recipe):
    """Never a 500 (nor an exception logged or escaping); a refusal says what was wrong (a 4xx
    page, or a redirect to a page with a message); a refusal stores nothing."""
    if recipe.route is not None and recipe.route != route.key:
        return  # an explicit example kept for another endpoint
    site.run(route, recipe)


def test_every_page_of_the_program_shows_its_stored_text_escaped(site):
    """Every page drawn for the fixture program (whose texts hold markup, quotes, line breaks)
    answers, and shows that text escaped."""
    assert not site.broken_pages, site.broken_pages


def test_every_url_argument_is_given_a_real_value(site):
    """A new endpoint whose URL names something this file does not know is still fuzzed (with
    ids or slugs of the program), but better with real values: add its argument to
    Site._argument_values."""
    assert not site.unknown_arguments, sorted(site.unknown_arguments)


def test_the_fuzz_reaches_the_forms_of_every_post_endpoint(site):
    """Each form-taking endpoint was found on a page, so its examples start from what a
    browser sends rather than from nothing."""
    missing = [route.key for route in POST_ROUTES if route.key not in site.forms]
    assert not missing, missing


@pytest.mark.parametrize("route", POST_ROUTES, ids=[route.key for route in POST_ROUTES])
@settings(FUZZ, max_examples=max(3, EXAMPLES // 5))
@given(recipe=recipes, token=st.one_of(st.just(NO), odd_text, st.just("")))
def test_a_form_without_its_csrf_token_is_refused_clearly(site, route, recipe, token):
    """With CSRF protection on (as in production), a body without a valid token is a 400 that
    says the page had expired, and changes nothing."""
    fields = tuple((n, v, r) for n, v, r in recipe.fields if n != "csrf_token")
    if token is not NO:
        fields += (("csrf_token", token, True),)
    recipe = replace(recipe, fields=fields, raw=None, path_value=NO,
                     headers=tuple(h for h in recipe.headers if h[0].lower() != "x-csrftoken"))
    sent = site.build(route, recipe, without=("csrf_token",) if token is NO else ())
    if site.dirty:
        site.tables.restore()
        site.dirty = False
    client = site.client_for(route, recipe)
    if client is site.clinician:
        site.as_clinician("GET", "/admin/")  # signed in (an earlier example may have signed out)
    before = site.tables.snapshot()
    site.app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = site.send(client, sent)
    finally:
        site.app.config["WTF_CSRF_ENABLED"] = False
    text = response.get_data(as_text=True)
    differences = changed(before, site.tables.snapshot())
    site.dirty = bool(differences)
    # (413: a body too large is refused before its token is read, with words too.)
    assert response.status_code in (400, 413) and (refusal_words(text) or "expired" in text), \
        f"{route.key}\n{sent}\n→ {response.status_code}: {text[:300]!r}"
    assert not differences, differences


# --- Accepted text is stored as typed (after cleaning) and shown escaped -------------------------

TOKENS = [MARKER, "<script>alert(1)</script>", "&amp;", "&", "\"", "'", "{{ 7*7 }}", "{% raw %}", "\r\n", "\n", "\r",
          "\t", "\x00", "\x1b[31m", "\x7f", "\x85", "\u2028", "\xa0", "\u202e", "\ufeff", " ", "  ", "\U0001f600",
          "e\u0301", "ß", "İ", "中文", "\U0001d518"]
typed = st.lists(st.one_of(st.text(st.characters(codec="utf-8"), max_size=8), st.sampled_from(TOKENS)),
                 max_size=8).map("".join)


def near_limit(length: int):
    """Text around a field's limit, once cleaned."""
    return st.builds(lambda piece, extra: (piece * length)[:length + extra], st.sampled_from(["a", "é", "<", "& "]),
                     st.integers(-2, 1))


TEXT_QUESTIONS = [q for q in questions.QUESTIONS.values()
                  if q.kind in (questions.TEXT, questions.LONG_TEXT)]


def allowed(question, value: str, follow_ups_asked: bool) -> bool:
    if question.follows and not follow_ups_asked:  # a follow-up not asked for is not kept, whatever it holds
        return True
    cleaned = questions.clean_text(value)
    return (question.required_message is None or cleaned != "") and len(cleaned) <= (question.max_length or 10**9)


def kept_as(question, value: str, follow_ups_asked: bool) -> str:
    return "" if question.follows and not follow_ups_asked else questions.clean_text(value)


def shown_escaped(page: str, value: str) -> list[str]:
    problems = []
    if value and str(escape(value)) not in page:
        problems.append(f"{value!r} is not on the page (escaped: {str(escape(value))!r})")
    if MARKER in value and MARKER in page:
        problems.append(f"{value!r} is on the page unescaped")
    return problems


_applicants = count(1)


@FUZZ
@given(typed_answers=st.fixed_dictionaries({
    q.name: st.one_of(typed, typed, near_limit(q.max_length or 100)) for q in TEXT_QUESTIONS}),
    multipart_body=st.booleans(), follow_ups_asked=st.booleans())
def test_an_application_is_stored_as_typed_after_cleaning_and_shown_escaped(site, typed_answers, multipart_body,
                                                                            follow_ups_asked):
    from resilience.models import Application

    if site.dirty:
        site.tables.restore()
    site.dirty = True
    email = f"fuzz-{next(_applicants)}@example.org"
    body = {**{k: v for k, v in answers().items() if v is not None}, "cohort": site.names["slugs"][0],
            "submission_id": "", "email": email, "phone": "+1 207 555 0100", "ack_not_acceptance": "y",
            "ack_commitment": "y", "ack_adult": "y", "ack_not_emergency": "y", "consent_health": "y",
            # a Yes on every health question asks for each follow-up; a No leaves them unasked
            **{q.follows: "yes" for q in TEXT_QUESTIONS if q.follows and follow_ups_asked},
            **typed_answers}
    if multipart_body:
        data, content_type = multipart(list(body.items()))
    else:
        data, content_type = urlencoded(body.items()).encode(), "application/x-www-form-urlencoded"
    before = site.tables.snapshot()
    response = site.anonymous.post("/apply", data=data, content_type=content_type)
    ok = all(allowed(q, typed_answers[q.name], follow_ups_asked) for q in TEXT_QUESTIONS)
    with site.app.app_context():
        stored = db.session.scalars(sa.select(Application).where(Application.email == email)).all()
        if not ok:
            assert 400 <= response.status_code < 500 and refusal_words(response.get_data(as_text=True)), \
                response.status_code
            assert not stored and not changed(before, site.tables.snapshot())
            return
        assert response.status_code in (200, 303), (response.status_code, response.get_data(as_text=True)[:500])
        [application] = stored
        kept = {**{name: getattr(application, name) for name in questions.CONTACT_FIELDS}, **application.answers}
        application_id = application.id
    expected = {q.name: kept_as(q, typed_answers[q.name], follow_ups_asked) for q in TEXT_QUESTIONS}
    expected["pronouns"] = expected["pronouns"] or None
    assert {name: kept[name] for name in expected} == expected
    page = site.as_clinician("GET", f"/admin/applications/{application_id}").get_data(as_text=True)
    problems = [p for name, value in expected.items() for p in shown_escaped(page, value or "")]
    assert not problems, problems


@FUZZ
@given(note=st.one_of(typed, near_limit(4000)), message=st.one_of(typed, near_limit(4000)))
def test_a_note_and_a_message_are_stored_as_typed_after_cleaning_and_shown_escaped(site, note, message):
    from resilience.models import Message, Note

    if site.dirty:
        site.tables.restore()
    site.dirty = True
    application_id = site.names["pending2"]
    url = f"/admin/applications/{application_id}"
    for kind, model, value, field_name in (("notes", Note, note, "body"), ("messages", Message, message,
                                                                           "message_body")):
        before = site.tables.snapshot()
        response = site.as_clinician("POST", f"{url}/{kind}", data=urlencoded([(field_name, value)]).encode(),
                                     content_type="application/x-www-form-urlencoded")
        cleaned = questions.clean_text(value)
        with site.app.app_context():
            rows = db.session.scalars(sa.select(model).where(model.application_id == application_id)).all()
            bodies = [row.body for row in rows]
        if not cleaned or len(cleaned) > 4000:
            assert 400 <= response.status_code < 500 and refusal_words(response.get_data(as_text=True)), kind
            assert not changed(before, site.tables.snapshot()), kind
            continue
        assert response.status_code == 303, (kind, response.status_code)
        assert bodies == [cleaned], kind
        page = site.as_clinician("GET", url).get_data(as_text=True)
        assert not shown_escaped(page, cleaned), (kind, shown_escaped(page, cleaned))
