"""Whatever body a form is sent (JSON, a file where text belongs), the answer is a clear page,
never a server error, and nothing odd is stored for the clinicians to trip over."""
import html
import io
import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW, applications


def routes(slug: str, application_id: int, token: str, slot_id: int) -> list[str]:
    return ["/apply", "/apply/validate?field=email", "/apply/validate?field=logistics_notes", f"/status/{token}",
            "/status/resend", f"/admin/applications/{application_id}/status",
            f"/admin/applications/{application_id}/notes", "/admin/cohorts/new", f"/admin/cohorts/{slug}/edit",
            f"/admin/cohorts/{slug}/meetings", f"/admin/cohorts/{slug}/waitlist", "/admin/screening",
            *(f"/admin/screening/{slot_id}/{action}" for action in ("move", "cancel", "remove", "held")),
            "/admin/login"]


@pytest.fixture
def site(admin_client, make_cohort, make_application, app):
    from datetime import timedelta

    from conftest import NOW

    from resilience import enrolment
    from resilience.extensions import db
    from resilience.models import Admin
    from resilience.status import Status

    slug = make_cohort()
    application_id = make_application(slug, status=Status.SCREENING)
    [application] = applications(app)
    with app.app_context():
        clinician = db.session.scalar(db.select(Admin))
        [slot] = enrolment.add_slots(clinician, NOW + timedelta(days=2), 30, 1, "phone", None, "America/New_York",
                                     clinician)
        enrolment.book(application_id, slot.id)
        slot_id = slot.id
    return slug, application_id, application.token, slot_id


JSON_BODIES = [[], "text", 5, None, {"email": 5}, {"body": 5}, {"status": ["accepted"]}, {"action": {"a": 1}},
               {"first_name": {"a": 1}, "logistics_notes": {"a": 1}}, {"meetings-0-date": 20270101},
               {"action": "book", "slot": [1]}, {"move": "up", "application_id": {"a": 1}}]


@pytest.mark.parametrize("body", JSON_BODIES, ids=repr)
def test_a_json_body_gets_a_clear_answer(admin_client, site, body):
    for url in routes(*site):
        response = admin_client.post(url, data=json.dumps(body), content_type="application/json")
        assert response.status_code < 500, (url, response.status_code)


@pytest.mark.parametrize("field", ["first_name", "email", "submission_id", "ref", "cohort", "body",
                                   "meetings-0-date", "status", "action", "password", "slot", "day", "starts",
                                   "note", "application_id", "move", "evaluated", "count"])
def test_a_file_where_text_belongs_gets_a_clear_answer(admin_client, site, field):
    for url in routes(*site):
        response = admin_client.post(url, data={field: (io.BytesIO(b"x" * 10), "x.txt")},
                                     content_type="multipart/form-data")
        assert response.status_code < 500, (url, response.status_code)


def test_an_answer_sent_as_json_is_never_stored(app, client, admin_client, make_cohort, form_data):
    slug = make_cohort()
    body = {**form_data(slug), "logistics_notes": {"a": 1}}
    response = client.post("/apply", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 422 and applications(app) == []
    assert "Send my application" in response.get_data(as_text=True)


def test_an_odd_answer_stored_by_an_earlier_release_is_still_shown_to_the_clinicians(
        admin_client, make_cohort, make_application):
    """The release before this one stored JSON answers as they came, objects included."""
    from conftest import answers

    application_id = make_application(make_cohort(), answers=answers(logistics_notes={"a": 1}, hopes=["x"]))
    page = admin_client.get(f"/admin/applications/{application_id}").get_data(as_text=True)
    assert "{&#39;a&#39;: 1}" in page and "[&#39;x&#39;]" in page


# --- The clinicians' day: decisions, bulk work, assignment, messages, attendance, reports ------
#
# Every endpoint the clinicians' day added (or taught new fields: the list's filters, the CSV's
# status, the meetings' preview) is sent what no form of ours sends: a JSON body, a file where
# text belongs, a field left out or sent twice, 100,000 characters, NUL bytes, numbers that are
# not numbers or are too big for any database, and choices that do not exist. Each answer is a
# clear refusal (a 4xx page saying what was wrong, or a redirect to a page whose flash says it;
# with htmx, the fragment saying it), never a server error, and nothing is stored or queued.

HUGE = "99999999999999999999"  # beyond any integer column
MISSING_ID = "999999999"  # the shape of an id, for no one
LONG = "x" * 100_000
NOT_NUMBERS = ["abc", "-1", "1.5", "1e3", "0x1f", " 7", "٣", HUGE]


@pytest.fixture
def day(app, admin_client, make_cohort, make_application):
    """A cohort taking applications (two pending, one offered a place) and a running cohort
    (meetings 1-4 over) with two enrolled participants: every endpoint has something to act on."""
    from resilience.extensions import db
    from resilience.models import Admin, Cohort
    from resilience.status import Status

    spring = make_cohort(title="Spring 2027 cohort")
    autumn = make_cohort(title="Autumn 2026 cohort", starts_on=NOW.date() - timedelta(days=12),
                         application_deadline=None)
    names = {
        "spring": spring, "autumn": autumn,
        "pending": make_application(spring, first_name="Maya", last_name="Okafor"),
        "pending2": make_application(spring, first_name="Sam", last_name="Lee"),
        "offered": make_application(spring, first_name="Omar", last_name="Offered", status=Status.ACCEPTED,
                                    confirm_by_at=NOW + timedelta(days=3)),
        "enrolled": make_application(autumn, first_name="Zoe", last_name="Adams", status=Status.ENROLLED,
                                     enrolled_at=NOW - timedelta(days=20)),
        "enrolled2": make_application(autumn, first_name="Ava", last_name="Brook", status=Status.ENROLLED,
                                      enrolled_at=NOW - timedelta(days=20)),
    }
    with app.app_context():
        names["admin"] = db.session.scalar(sa.select(Admin.id))
        last = db.session.scalar(sa.select(Cohort).where(Cohort.slug == spring)).meetings[-1]
        names["last_meeting"] = last.id
        moved_to = (last.local_start.date() + timedelta(days=1)).isoformat()
    # The spring cohort's meetings form as the browser sends it (hidden fields and all), its
    # last meeting a day later.
    page = admin_client.get(f"/admin/cohorts/{spring}/meetings").get_data(as_text=True)
    names["meetings"] = {name: html.unescape(value) for name, value in
                         re.findall(r'<input[^>]*name="(meetings-\d+-\w+)"[^>]*value="([^"]*)"', page)}
    assert names["meetings"]["meetings-9-meeting_id"] == str(last.id)
    names["meetings"]["meetings-9-date"] = moved_to
    return names


@dataclass(frozen=True)
class Post:
    """A form the clinicians send: its address, a body that works (values name the `day`
    fixture's things in braces), and which of its fields are numbers, choices or words."""
    url: str
    good: dict
    ids: tuple[str, ...] = ()
    enums: dict | None = None  # field: values that are no choice
    texts: tuple[str, ...] = ()  # free text that must be given
    optional: tuple[str, ...] = ()  # left out, the answer is a preview or the form again, and nothing is done
    only: tuple[str, ...] = ()  # the fields to make odd, when not all of them
    valid: tuple[str, ...] = ()  # values that are a choice too ("" for "no one in particular")

    def fill(self, site: dict) -> tuple[str, dict]:
        def value(v):
            if isinstance(v, list):
                return [value(item) for item in v]
            return v.format(**site) if isinstance(v, str) else v
        good = {k: value(v) for k, v in self.good.items()}
        if self.url.endswith("/meetings"):
            good = {**site["meetings"], **good}
        return self.url.format(**site), good


POSTS = {
    "decision": Post("/admin/applications/{pending}/status", {"status": "declined", "message": "Kind words."},
                     enums={"status": ["maybe", "DECLINED", "enrolled", "lapsed", "accepted ", ""]},
                     optional=("message",)),
    "bulk": Post("/admin/applications/bulk",
                 {"application_id": ["{pending}", "{pending2}"], "status": "declined", "confirmed": "yes"},
                 ids=("application_id",), enums={"status": ["maybe", "accepted", "enrolled", "withdrawn", "pending"]},
                 optional=("confirmed",)),
    "assign": Post("/admin/applications/{pending}/assign", {"clinician": "{admin}"}, ids=("clinician",),
                   enums={"clinician": ["mine", "none", "me", "None"]}, valid=("",)),
    "note": Post("/admin/applications/{pending}/notes", {"body": "Called her back."}, texts=("body",)),
    "message": Post("/admin/applications/{pending}/messages", {"message_body": "See you on Tuesday."},
                    texts=("message_body",)),
    "group message": Post("/admin/cohorts/{autumn}/message",
                          {"message_body": "Parking is free after six.", "action": "send",
                           "recipients": "{enrolled},{enrolled2}"},
                          ids=("recipients",), enums={"action": ["delete", "SEND", "send ", "sent"]},
                          texts=("message_body",), optional=("action", "recipients")),
    "attendance": Post("/admin/cohorts/{autumn}/meetings/1/attendance",
                       {"application_id": "{enrolled}", "mark": "attended"},
                       ids=("application_id",), enums={"mark": ["present", "ATTENDED", "late", "", "none"]}),
    "meetings": Post("/admin/cohorts/{spring}/meetings", {"confirm": "1"},
                     ids=("meetings-9-meeting_id", "meetings-0-meeting_id"), texts=("meetings-9-location",),
                     optional=("confirm",) + tuple(f"meetings-{n}-join_url" for n in range(10)),
                     only=("meetings-9-meeting_id", "meetings-9-date", "meetings-9-starts", "meetings-9-ends",
                           "meetings-9-location", "meetings-0-meeting_id", "meetings-0-date")),
}

GOOD_OUTCOMES = {  # what the good body does, to show each odd one is refused for its oddity alone
    "decision": ("Maya Okafor: declined.", {"outbox": 1, "messages": 1}),
    "bulk": ("Decline: 2 of 2 done", {"outbox": 2}),
    "assign": ("Now looked after by Dr. Ana Reyes.", {}),
    "note": ("Note added.", {"notes": 1}),
    "message": ("Message sent to Maya.", {"outbox": 1, "messages": 1}),
    "group message": ("Sent to 2 participants.", {"outbox": 2, "messages": 1}),
    "attendance": ("Zoe Adams: attended.", {"attendance": 1}),
    "meetings": ("1 meeting changed", {"outbox": 1}),
}


def stored(app) -> dict:
    """Everything an odd request could leave behind: emails queued, audit rows (downloads
    aside), messages, attendance, notes, each application's status and clinician, each
    meeting's time and place."""
    from resilience.extensions import db
    from resilience.models import Application, Attendance, AuditEvent, Meeting, Message, Note, OutboxMessage

    def count(model):
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))

    with app.app_context():
        return {
            "outbox": count(OutboxMessage), "messages": count(Message), "attendance": count(Attendance),
            "notes": count(Note),
            "audit": db.session.execute(sa.select(AuditEvent.action, AuditEvent.detail)
                                        .where(AuditEvent.action != "export").order_by(AuditEvent.id)).all(),
            "applications": db.session.execute(sa.select(Application.id, Application.status,
                                                         Application.assigned_admin_id)
                                               .order_by(Application.id)).all(),
            "meetings": db.session.execute(sa.select(Meeting.id, Meeting.starts_at, Meeting.ends_at,
                                                     Meeting.location, Meeting.join_url)
                                           .order_by(Meeting.id)).all(),
        }


def exports(app) -> int:
    from resilience.extensions import db
    from resilience.models import AuditEvent

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "export"))


REFUSAL_WORDS = [
    r'<p class="flash flash--error"[^>]*>(.*?)</p>',
    r'<p class="field__error"[^>]*>(.*?)</p>',
    r'<p class="eyebrow">Error 4\d\d</p>\s*<h1>(.*?)</h1>',
]


def refusal(client, response, htmx: bool = False) -> str | None:
    """The words that tell the clinician what was wrong: on a 4xx answer (with htmx, the
    fragment swapped in, 200 or 422), or flashed on the page a redirect leads to. None when
    the answer is no clear refusal."""
    if response.status_code in (302, 303):
        page = client.get(response.headers["Location"])
        if page.status_code != 200:
            return None
        text = page.get_data(as_text=True)
    elif 400 <= response.status_code < 500 or (htmx and response.status_code == 200):
        text = response.get_data(as_text=True)
    else:
        return None
    for pattern in REFUSAL_WORDS:
        found = re.search(pattern, text, re.DOTALL)
        if found and re.sub(r"<[^>]+>", "", found.group(1)).strip():
            return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())
    return None


def odd_bodies(form: Post, good: dict) -> list[tuple[str, dict]]:
    """Each odd body for one form: (what is odd, the body), everything else as a browser sends it."""
    cases = []
    for name, value in good.items():
        if name in form.optional or (form.only and name not in form.only):
            continue
        rest = {k: v for k, v in good.items() if k != name}
        cases.append((f"without {name}", rest))
        if name in form.ids:
            for odd in NOT_NUMBERS + [MISSING_ID, "", "1,2" if name != "recipients" else "1,,2"]:
                if odd not in form.valid:
                    cases.append((f"{name}={odd!r}", {**rest, name: odd}))
            if isinstance(value, list):  # ticked boxes: one odd among them spoils the lot
                cases.append((f"{name} with one good and one odd", {**rest, name: [*value, "abc"]}))
        for odd in (form.enums or {}).get(name, []):
            cases.append((f"{name}={odd!r}", {**rest, name: odd}))
        first = (form.enums or {}).get(name, ["abc"])[0] if name not in form.texts else ""
        cases.append((f"{name} twice, the first odd", {**rest, name: [first, *(value if isinstance(value, list)
                                                                               else [value])]}))
        cases.append((f"{name} 100k long", {**rest, name: LONG}))
        if name in form.texts:
            cases.append((f"{name} only NUL bytes", {**rest, name: "\x00\x00 \x00"}))
        else:
            one = value[0] if isinstance(value, list) else value
            cases.append((f"{name} with a NUL byte", {**rest, name: f"{one}\x00"}))
            cases.append((f"{name} a NUL byte first", {**rest, name: f"\x00{one}"}))
    return cases


def _check_refused(app, client, before, what, response, htmx=False) -> list[str]:
    """What is wrong with the answer to one odd request (nothing, if it was refused and left
    everything as `before`)."""
    problems = []
    if response.status_code >= 500:
        problems.append(f"{what}: {response.status_code}")
    elif refusal(client, response, htmx) is None:
        problems.append(f"{what}: no clear refusal ({response.status_code})")
    after = stored(app)
    if after != before:
        problems.append(f"{what}: stored {[k for k in after if after[k] != before[k]]}")
    return problems


@pytest.mark.parametrize("name", POSTS)
def test_each_new_form_works_as_a_browser_sends_it(app, admin_client, day, name):
    """The control: the bodies the odd ones are made from do what they should, so each refusal
    below is for the oddity alone."""
    url, good = POSTS[name].fill(day)
    before = stored(app)
    response = admin_client.post(url, data=good)
    assert response.status_code in (200, 303), response.status_code
    page = admin_client.get(response.headers["Location"]) if response.status_code == 303 else response
    words, grew = GOOD_OUTCOMES[name]
    assert words in page.get_data(as_text=True)
    after = stored(app)
    for key, more in grew.items():
        assert after[key] == before[key] + more, key


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("name", POSTS)
def test_a_json_body_to_a_new_form_is_refused_and_stores_nothing(app, admin_client, day, name, htmx):
    url, good = POSTS[name].fill(day)
    problems = []
    for body in [*JSON_BODIES, good]:
        before = stored(app)
        response = admin_client.post(url, data=json.dumps(body), content_type="application/json",
                                     headers={"HX-Request": "true"} if htmx else {})
        problems += _check_refused(app, admin_client, before, f"JSON {body!r:.60}", response, htmx)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", POSTS)
def test_a_file_where_text_belongs_in_a_new_form_is_refused_and_stores_nothing(app, admin_client, day, name):
    form = POSTS[name]
    url, good = form.fill(day)
    problems = []
    for field in good:
        if field in form.optional or (form.only and field not in form.only):
            continue
        before = stored(app)
        body = {**good, field: (io.BytesIO(str(good[field]).encode()), "x.txt")}
        response = admin_client.post(url, data=body, content_type="multipart/form-data")
        problems += _check_refused(app, admin_client, before, f"a file as {field}", response)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("name", POSTS)
def test_odd_fields_in_a_new_form_are_refused_and_store_nothing(app, admin_client, day, name, htmx):
    """Missing, repeated, 100k long, NUL bytes, not numbers or too big, unknown choices."""
    form = POSTS[name]
    url, good = form.fill(day)
    problems = []
    for what, body in odd_bodies(form, good):
        before = stored(app)
        response = admin_client.post(url, data=body, headers={"HX-Request": "true"} if htmx else {})
        problems += _check_refused(app, admin_client, before, what, response, htmx)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["bulk", "group message", "meetings"])
def test_an_optional_field_left_out_or_odd_does_nothing_unasked(app, admin_client, day, name):
    """Without `confirmed`, `confirm`, `action` or the previewed `recipients`, the answer is
    the preview (or the form) again, and nothing is sent."""
    form = POSTS[name]
    url, good = form.fill(day)
    before = stored(app)
    problems = []
    for field in form.optional:
        if field not in ("confirmed", "confirm", "action", "recipients"):
            continue  # a decision's message and a meeting's join link may be left out: not asked here
        for what, body in [(f"without {field}", {k: v for k, v in good.items() if k != field}),
                           (f"{field} as a file", {**good, field: (io.BytesIO(b"1"), "x.txt")})]:
            response = admin_client.post(url, data=body, content_type="multipart/form-data")
            if response.status_code >= 500:
                problems.append(f"{what}: {response.status_code}")
            elif response.status_code not in (200, 303) and refusal(admin_client, response) is None:
                problems.append(f"{what}: neither the preview nor a clear refusal ({response.status_code})")
            if stored(app) != before:
                problems.append(f"{what}: stored something")
    assert not problems, "\n".join(problems)


def test_a_decisions_message_too_long_or_odd_is_asked_again_and_nothing_is_sent(app, admin_client, day):
    before = stored(app)
    problems = []
    for what, message in [("100k", LONG), ("1001 characters", "x" * 1001), ("twice, the first too long",
                                                                            ["x" * 1001, "Kind words."])]:
        for htmx in (False, True):
            response = admin_client.post(f"/admin/applications/{day['pending']}/status",
                                         data={"status": "declined", "message": message},
                                         headers={"HX-Request": "true"} if htmx else {})
            problems += _check_refused(app, admin_client, before, f"{what} (htmx={htmx})", response, htmx)
    assert not problems, "\n".join(problems)


def test_nul_bytes_inside_words_never_reach_a_stored_message_or_an_email(app, admin_client, day):
    from conftest import mail

    response = admin_client.post(f"/admin/applications/{day['pending']}/messages",
                                 data={"message_body": "See you\x00 on Tuesday."})
    assert response.status_code == 303
    [sent] = mail(app, kind="message")
    assert "\x00" not in sent["text"] and "See you on Tuesday." in sent["text"]


def test_a_nul_byte_inside_a_meetings_place_never_reaches_the_database_or_an_email(app, admin_client, day):
    """Messages drop control characters; a meeting's new place, typed in the same panel and
    emailed to everyone holding a seat, must too (PostgreSQL refuses NUL in text outright)."""
    from conftest import mail

    from resilience.extensions import db
    from resilience.models import Meeting

    response = admin_client.post(f"/admin/cohorts/{day['spring']}/meetings",
                                 data={**day["meetings"], "meetings-9-location": "Room\x002", "confirm": "1"})
    assert response.status_code < 500, response.status_code
    with app.app_context():
        assert "\x00" not in db.session.get(Meeting, day["last_meeting"]).location
    assert all("\x00" not in email["text"] for email in mail(app))


@pytest.mark.parametrize("name", [n for n in POSTS if n not in ("bulk", "meetings")])
def test_a_new_form_for_an_unknown_or_huge_application_or_meeting_is_not_found(app, admin_client, day, name):
    url, good = POSTS[name].fill(day)
    before = stored(app)
    bad_urls = []
    for odd in (HUGE, MISSING_ID, "0", "-1", "abc"):
        if "/applications/" in url:
            bad_urls.append(re.sub(r"/applications/\d+/", f"/applications/{odd}/", url))
        elif "/attendance" in url:
            bad_urls.append(re.sub(r"/meetings/\d+/", f"/meetings/{odd}/", url))
    bad_urls.append(re.sub(r"/cohorts/[^/]+/", "/cohorts/no-such-cohort/", url))
    for bad in bad_urls:
        if bad == url:
            continue
        response = admin_client.post(bad, data=good)
        assert response.status_code == 404 and refusal(admin_client, response), (bad, response.status_code)
        assert stored(app) == before, bad


def test_a_bulk_decision_for_applications_no_one_has_is_refused(app, admin_client, day):
    """Ids of the right shape that belong to no application: nothing to do is said, not
    reported as "0 of 0 done"."""
    before = stored(app)
    problems = []
    for ids in ([MISSING_ID], [MISSING_ID, "0"]):
        for confirmed in ({}, {"confirmed": "yes"}):
            response = admin_client.post("/admin/applications/bulk",
                                         data={"application_id": ids, "status": "declined", **confirmed})
            problems += _check_refused(app, admin_client, before, f"{ids} {confirmed}", response)
    assert not problems, "\n".join(problems)


def test_the_same_application_ticked_twice_is_decided_once(app, admin_client, day):
    from conftest import mail

    response = admin_client.post("/admin/applications/bulk", data={
        "application_id": [str(day["pending"])] * 3, "status": "declined", "confirmed": "yes"})
    assert response.status_code == 200 and "Decline: 1 of 1 done" in response.get_data(as_text=True)
    assert len(mail(app, kind="declined")) == 1


# --- What the new pages are asked for in their query strings ------------------------------

@dataclass(frozen=True)
class Get:
    """A page and its query string: a good one, and which parameters refuse an odd value
    (the others are filters, which quietly fall back to their default)."""
    url: str
    good: dict
    refusing: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()  # other values a refusing parameter takes ("" for everyone)


GETS = {
    "decide": Get("/admin/applications/{pending}/decide", {"status": "declined"}, refusing=("status",)),
    "export": Get("/admin/cohorts/{spring}/applications.csv", {"status": "pending", "include": "answers"},
                  refusing=("status",), allowed=("",)),
    "list": Get("/admin/applications", {"cohort": "{spring}", "status": "pending", "attention": "no",
                                        "clinician": "mine", "sort": "attention", "q": "Maya", "page": "1"}),
    "audit": Get("/admin/audit", {"action": "signed in", "admin": "{admin}", "application": "{pending}",
                                  "page": "1"}),
    "roster": Get("/admin/cohorts/{autumn}/meetings/1/attendance", {"sheet": "1"}),
    "dashboard": Get("/admin/", {"page": "1"}),
    "group message": Get("/admin/cohorts/{autumn}/message", {"action": "preview"}),
    "application": Get("/admin/applications/{pending}", {"status": "declined"}),
}

ODD_QUERY_VALUES = ["maybe", "", LONG, "pending\x00", "\x00", HUGE, "-1", "abc", "٣"]


@pytest.mark.parametrize("name", GETS)
def test_odd_query_strings_on_the_new_pages_never_fail_and_store_nothing(app, admin_client, day, name):
    """An odd value for a parameter that chooses what is done (a decision to ask about, the
    status to export) is refused with words; an odd filter is left out (its box shows its
    default), and no page stores anything but a download's audit row."""
    from urllib.parse import urlencode

    page = GETS[name]
    url = page.url.format(**day)
    good = {k: v.format(**day) for k, v in page.good.items()}
    before = stored(app)
    problems = []
    assert admin_client.get(url, query_string=good).status_code == 200
    for field, value in good.items():
        rest = {k: v for k, v in good.items() if k != field}
        cases = [(f"{field}={odd!r:.20}", {**rest, field: odd}) for odd in ODD_QUERY_VALUES]
        cases.append((f"{field} twice, the first odd", {**rest, field: ["maybe", value]}))
        for what, query in cases:
            exported = exports(app)
            response = admin_client.get(f"{url}?{urlencode(query, doseq=True)}")
            if response.status_code >= 500:
                problems.append(f"{what}: {response.status_code}")
            elif field in page.refusing and query.get(field, "") not in (value, *page.allowed):
                if refusal(admin_client, response) is None:
                    problems.append(f"{what}: no clear refusal ({response.status_code})")
                if exports(app) != exported:
                    problems.append(f"{what}: recorded as a download")
            elif response.status_code != 200:
                problems.append(f"{what}: {response.status_code}, not the page with the filter left out")
            if stored(app) != before:
                problems.append(f"{what}: stored something")
    assert not problems, "\n".join(problems)


def test_an_unknown_status_to_export_downloads_nothing_and_says_which_there_are(app, admin_client, day):
    before = exports(app)
    for status in ("maybe", "ENROLLED", "enrolled\x00", HUGE, LONG):
        response = admin_client.get(f"/admin/cohorts/{day['spring']}/applications.csv",
                                     query_string={"status": status})
        page = response.get_data(as_text=True)
        assert response.status_code == 400 and "Nothing was downloaded." in page and "Enrolled" in page
        assert "Content-Disposition" not in response.headers and response.mimetype == "text/html"
    assert exports(app) == before


def test_an_unknown_filter_is_left_out_and_everyone_is_listed(admin_client, day):
    for query in ({"status": "maybe"}, {"clinician": HUGE}, {"clinician": "abc"}, {"attention": "maybe"},
                  {"sort": "maybe"}, {"cohort": LONG}):
        page = admin_client.get("/admin/applications", query_string=query).get_data(as_text=True)
        assert "Maya Okafor" in page and "Zoe Adams" in page, query


def test_a_get_with_a_json_body_is_the_page_as_usual(app, admin_client, day):
    before = stored(app)
    for name, page in GETS.items():
        url = page.url.format(**day)
        response = admin_client.get(url, query_string={k: v.format(**day) for k, v in page.good.items()},
                                    data=json.dumps({"status": ["accepted"], "sheet": {"a": 1}}),
                                    content_type="application/json")
        assert response.status_code == 200, (name, response.status_code)
    assert stored(app) == before
