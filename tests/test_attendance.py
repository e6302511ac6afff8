"""Running the group: each meeting's roster, marking attended / absent / excused (with htmx
and without JavaScript), the absence flag emailed to both clinicians, the printable sign-in
sheet, and the attendance shown on a person's page and on the dashboard."""
import html
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import ADMINS, NOW, deliver, over_smtp
from flask import render_template

from resilience import enrolment
from resilience.extensions import db
from resilience.models import Admin, Application, Attendance, AuditEvent, Cohort, OutboxMessage
from resilience.status import AttendanceMark, Status

# A cohort that began twelve days before the test clock (Thursday, November 26, 2026, 10:00 am
# in New York): meetings 1-4 are over (4 is the first ketamine session, Wednesday morning),
# meeting 5 (Integration meeting 1) starts on Saturday evening.
STARTED = NOW.date() - timedelta(days=12)


@pytest.fixture
def app_config(app_config, smtp):
    return over_smtp(app_config, smtp)


@pytest.fixture
def group(make_cohort, make_application):
    """A running cohort with two enrolled participants and people in other statuses."""
    slug = make_cohort(title="Autumn 2026 cohort", starts_on=STARTED, application_deadline=None)
    people = {
        "maya": make_application(slug, status=Status.ENROLLED, first_name="Maya", last_name="Okafor",
                                 enrolled_at=NOW - timedelta(days=20)),
        "zoe": make_application(slug, status=Status.ENROLLED, first_name="Zoe", last_name="Adams",
                                enrolled_at=NOW - timedelta(days=20)),
        "offered": make_application(slug, status=Status.ACCEPTED, first_name="Omar", last_name="Offered"),
        "waiting": make_application(slug, status=Status.WAITLISTED, first_name="Wendy", last_name="Waiting"),
        "gone": make_application(slug, status=Status.WITHDRAWN, first_name="Gil", last_name="Gone"),
    }
    return slug, people


def roster_url(slug, number):
    return f"/admin/cohorts/{slug}/meetings/{number}/attendance"


def mark(client, slug, number, application_id, value, htmx=False):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(roster_url(slug, number), data={"application_id": application_id, "mark": value},
                       headers=headers)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def marks(app, slug, number) -> dict[int, AttendanceMark]:
    with app.app_context():
        meeting = cohort(slug).meetings[number - 1]
        return {a.application_id: a.mark for a in db.session.scalars(
            sa.select(Attendance).where(Attendance.meeting_id == meeting.id))}


def cohort(slug) -> Cohort:
    return db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))


def row(page: str, application_id: int) -> str:
    found = re.search(rf'<tr id="person-{application_id}".*?</tr>', page, re.DOTALL)
    assert found, f"no row for {application_id}"
    return found.group(0)


def pressed(row_html: str) -> list[str]:
    """The buttons of a row that are shown pressed, by their value."""
    return re.findall(r'<button[^>]*value="(\w+)"[^>]*aria-pressed="true"', row_html)


# --- The roster page -------------------------------------------------------------------------

def test_the_roster_lists_the_enrolled_people_by_last_name_with_the_meeting(app, admin_client, group):
    slug, people = group
    response = admin_client.get(roster_url(slug, 4))
    assert response.status_code == 200
    page = text(response)
    assert "<h1>Ketamine session 1</h1>" in page
    assert "Autumn 2026 cohort" in page
    assert "Wednesday, November 25, 2026" in page and "9:30 am – 1:30 pm EST" in page
    assert "120 Harbor Street, Portland, ME" in page
    names = re.findall(r'<tr id="person-\d+".*?<a [^>]*>([^<]+)</a>', page, re.DOTALL)
    assert names == ["Zoe Adams", "Maya Okafor"]
    for other in ("Omar Offered", "Wendy Waiting", "Gil Gone"):
        assert other not in page
    assert "Not marked" in row(page, people["maya"])
    assert pressed(row(page, people["maya"])) == []
    assert len(re.findall(r'name="mark"', row(page, people["maya"]))) == 3
    # the neighbours, one click away
    assert f'href="{roster_url(slug, 3)}"' in page and "Preparation meeting 3" in page
    assert f'href="{roster_url(slug, 5)}"' in page and "Integration meeting 1" in page


def test_the_first_and_last_meetings_link_only_one_way(app, admin_client, group):
    slug, _ = group
    first = text(admin_client.get(roster_url(slug, 1)))
    assert f'href="{roster_url(slug, 2)}"' in first and roster_url(slug, 0) not in first
    last = text(admin_client.get(roster_url(slug, 10)))
    assert f'href="{roster_url(slug, 9)}"' in last and roster_url(slug, 11) not in last


def test_the_roster_rule_includes_someone_marked_before_they_withdrew(app, group):
    slug, people = group
    with app.app_context():
        meeting = cohort(slug).meetings[0]
        admin = Admin(email="x@practice.example", display_name="X", password_hash="x")
        db.session.add(admin)
        db.session.add(Attendance(meeting=meeting, application_id=people["gone"], mark=AttendanceMark.ATTENDED,
                                  admin=admin, marked_at=NOW))
        db.session.commit()
        rows = enrolment.roster(meeting)
        assert [(person.last_name, record.mark if record else None) for person, record in rows] == [
            ("Adams", None), ("Gone", AttendanceMark.ATTENDED), ("Okafor", None)]
        assert enrolment.roster(cohort(slug).meetings[1]) == [
            (db.session.get(Application, people["zoe"]), None), (db.session.get(Application, people["maya"]), None)]


def test_someone_who_withdrew_keeps_their_mark_on_the_roster_without_buttons(app, admin_client, group):
    slug, people = group
    with app.app_context():
        meeting = cohort(slug).meetings[0]
        admin = db.session.scalar(sa.select(Admin))
        db.session.add(Attendance(meeting=meeting, application_id=people["gone"], mark=AttendanceMark.ATTENDED,
                                  admin=admin, marked_at=NOW))
        db.session.commit()
    gone = row(text(admin_client.get(roster_url(slug, 1))), people["gone"])
    assert "Attended" in gone and "Withdrawn" in gone and 'name="mark"' not in gone


def test_the_roster_before_the_meeting_starts_is_a_sign_in_sheet_without_marks(app, admin_client, group):
    slug, _ = group
    page = text(admin_client.get(roster_url(slug, 5)))
    assert "<h1>Integration meeting 1</h1>" in page
    assert "Marking opens when the meeting starts" in page
    assert "Saturday, November 28, 2026" in page
    assert "Zoe Adams" in page and "Maya Okafor" in page
    assert 'name="mark"' not in page
    assert "?sheet=1" in page


def test_the_roster_needs_a_signed_in_clinician(client, group):
    slug, _ = group
    response = client.get(roster_url(slug, 1))
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/admin/cohorts/no-such-cohort/meetings/1/attendance",
                                  "SLUG/0", "SLUG/11", "SLUG/99999999999"])
def test_an_unknown_cohort_or_meeting_number_is_not_found(admin_client, group, path):
    slug, people = group
    if path.startswith("SLUG/"):
        path = f"/admin/cohorts/{slug}/meetings/{path.removeprefix('SLUG/')}/attendance"
    assert admin_client.get(path).status_code == 404
    assert admin_client.post(path, data={"application_id": people["maya"], "mark": "attended"}).status_code == 404


# --- Marking ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, label", [(m.value, m.label) for m in AttendanceMark])
def test_marking_without_javascript_flashes_and_goes_back_to_the_row(app, admin_client, group, value, label):
    slug, people = group
    response = mark(admin_client, slug, 2, people["maya"], value)
    assert response.status_code == 303
    assert response.headers["Location"] == f"{roster_url(slug, 2)}#person-{people['maya']}"
    page = text(admin_client.get(response.headers["Location"]))
    assert f"Maya Okafor: {label.lower()}." in page
    maya = row(page, people["maya"])
    assert label in maya and pressed(maya) == [value]
    assert marks(app, slug, 2) == {people["maya"]: value}


@pytest.mark.parametrize("value, label", [(m.value, m.label) for m in AttendanceMark])
def test_marking_with_htmx_answers_with_the_row_and_announces_it(app, admin_client, group, value, label):
    slug, people = group
    response = mark(admin_client, slug, 2, people["maya"], value, htmx=True)
    assert response.status_code == 200
    fragment = text(response)
    assert "<html" not in fragment and "<h1" not in fragment
    assert fragment.lstrip().startswith(f'<tr id="person-{people["maya"]}"')
    assert label in row(fragment, people["maya"]) and pressed(fragment) == [value]
    outcome = re.search(r'<div id="roster-outcome"[^>]*hx-swap-oob="innerHTML"[^>]*>(.*?)</div>', fragment, re.DOTALL)
    assert outcome and f"Maya Okafor: {label.lower()}." in outcome.group(1)
    assert marks(app, slug, 2) == {people["maya"]: value}
    assert "Vary" in response.headers and "HX-Request" in response.headers["Vary"]


def test_the_full_page_has_an_empty_live_region_for_outcomes(admin_client, group):
    slug, _ = group
    page = text(admin_client.get(roster_url(slug, 2)))
    assert re.search(r'<div id="roster-outcome" [^>]*role="status"[^>]*>\s*</div>', page)


def test_changing_a_mark_keeps_one_record_and_says_who_marked_it(app, admin_client, group):
    slug, people = group
    mark(admin_client, slug, 2, people["maya"], "absent")
    mark(admin_client, slug, 2, people["maya"], "excused")
    with app.app_context():
        [record] = db.session.scalars(sa.select(Attendance)).all()
        assert record.mark == AttendanceMark.EXCUSED
        assert record.admin.display_name == "Dr. Ana Reyes" and record.marked_at == NOW


def test_marking_is_audited_with_the_meeting_and_the_mark(app, admin_client, group):
    slug, people = group
    mark(admin_client, slug, 4, people["maya"], "absent")
    mark(admin_client, slug, 4, people["maya"], "absent")  # pressed twice: nothing new
    mark(admin_client, slug, 4, people["maya"], "excused")
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "attendance")
                                    .order_by(AuditEvent.id)).all()
        assert [(e.application_id, e.admin.display_name, e.detail) for e in events] == [
            (people["maya"], "Dr. Ana Reyes", "Ketamine session 1: absent"),
            (people["maya"], "Dr. Ana Reyes", "Ketamine session 1: excused (was absent)")]
        assert events[0].cohort.slug == slug


def test_marking_is_refused_before_the_meeting_starts(app, admin_client, group):
    slug, people = group
    response = mark(admin_client, slug, 5, people["maya"], "attended")
    assert response.status_code == 303
    page = text(admin_client.get(response.headers["Location"]))
    assert "Integration meeting 1 has not started yet, so attendance cannot be marked. Nothing was changed." in page
    response = mark(admin_client, slug, 5, people["maya"], "attended", htmx=True)
    assert response.status_code == 422
    assert "has not started yet" in text(response)
    assert marks(app, slug, 5) == {}


def test_marking_opens_at_the_meetings_start_time(app, group):
    slug, people = group
    with app.app_context():
        meeting = cohort(slug).meetings[4]
        admin = Admin(email="x@practice.example", display_name="X", password_hash="x")
        db.session.add(admin)
        db.session.commit()
        app.config["NOW"] = meeting.starts_at - timedelta(minutes=1)
        assert not enrolment.marking_open(meeting)
        with pytest.raises(enrolment.RefusedChange):
            enrolment.mark_attendance(meeting.id, people["maya"], AttendanceMark.ATTENDED, admin)
        app.config["NOW"] = meeting.starts_at
        assert enrolment.marking_open(meeting)
        record = enrolment.mark_attendance(meeting.id, people["maya"], AttendanceMark.ATTENDED, admin)
        assert record.mark == AttendanceMark.ATTENDED


@pytest.mark.parametrize("who", ["offered", "waiting", "gone", "other_cohort"])
def test_someone_not_enrolled_in_the_cohort_cannot_be_marked(app, admin_client, group, make_cohort,
                                                              make_application, who):
    slug, people = group
    if who == "other_cohort":
        application_id = make_application(make_cohort(starts_on=STARTED, application_deadline=None),
                                          status=Status.ENROLLED, first_name="Olive", last_name="Other")
    else:
        application_id = people[who]
    response = mark(admin_client, slug, 2, application_id, "attended", htmx=True)
    assert response.status_code == 422
    assert "is not enrolled in the Autumn 2026 cohort, so their attendance cannot be marked. " \
           "Nothing was changed." in text(response)
    response = mark(admin_client, slug, 2, application_id, "attended")
    assert response.status_code == 303
    assert "is not enrolled in the Autumn 2026 cohort" in text(admin_client.get(response.headers["Location"]))
    assert marks(app, slug, 2) == {}


def test_an_unknown_person_or_mark_changes_nothing(app, admin_client, group):
    slug, people = group
    response = mark(admin_client, slug, 2, 999999, "attended", htmx=True)
    assert response.status_code == 422
    assert "That application does not exist." in text(response)
    assert response.headers.get("HX-Reswap") == "none"  # no row to replace: only the message
    for data in ({"application_id": people["maya"], "mark": "late"}, {"application_id": "x", "mark": "absent"}, {}):
        response = admin_client.post(roster_url(slug, 2), data=data, headers={"HX-Request": "true"})
        assert response.status_code == 422
        assert "That mark was not understood. Nothing was changed." in text(response)
    assert marks(app, slug, 2) == {}


def test_the_rule_refuses_unknown_meetings_and_people(app, group):
    slug, people = group
    with app.app_context():
        admin = Admin(email="x@practice.example", display_name="X", password_hash="x")
        db.session.add(admin)
        db.session.commit()
        with pytest.raises(enrolment.RefusedChange) as refused:
            enrolment.mark_attendance(999999, people["maya"], AttendanceMark.ATTENDED, admin)
        assert refused.value.message == "That meeting does not exist. Nothing was changed."
        with pytest.raises(enrolment.RefusedChange) as refused:
            enrolment.mark_attendance(cohort(slug).meetings[0].id, 999999, AttendanceMark.ATTENDED, admin)
        assert refused.value.reason == "missing"


# --- The absence flag ------------------------------------------------------------------------

def test_an_absence_is_emailed_once_to_both_clinicians_without_answers(app, admin_client, smtp, group):
    slug, people = group
    mark(admin_client, slug, 4, people["maya"], "absent")
    assert smtp.messages == []  # nothing is sent inside the web request
    assert deliver(app).sent == 2
    for admin in ADMINS:
        [message] = smtp.to(admin)
        subject = message["Subject"]
        assert subject == "A participant missed a meeting: Maya, session day 1"
        assert "ketamine" not in subject.lower()
        plain = message.get_body(("plain",)).get_content()
        rich = message.get_body(("html",)).get_content()
        link = f"https://resilience.example/admin/applications/{people['maya']}"
        assert link in plain and f'href="{link}"' in rich
        for body in (plain, rich):
            assert "Maya O." in body and "Okafor" not in body
            assert "Session day 1" in body and "Wednesday, November 25, 2026" in body
            assert "Autumn 2026 cohort" in body
            assert "reach out" in body
            assert "not watched for emergencies" in body
            for answer in ("Rivera", "Sam Lee", "steadier", "555 010"):
                assert answer not in body
    assert sorted(to for recipients, _ in smtp.messages for to in recipients) == sorted(ADMINS)  # not the applicant

    # Marked absent again, then excused, then attended: nothing more is sent.
    mark(admin_client, slug, 4, people["maya"], "attended")
    mark(admin_client, slug, 4, people["maya"], "absent")
    mark(admin_client, slug, 4, people["maya"], "excused")
    assert deliver(app).sent == 0
    assert len(smtp.messages) == 2


def test_excused_and_attended_send_nothing(app, admin_client, smtp, group):
    slug, people = group
    mark(admin_client, slug, 4, people["maya"], "excused")
    mark(admin_client, slug, 4, people["zoe"], "attended")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_an_absence_at_another_meeting_is_flagged_again(app, admin_client, group):
    slug, people = group
    mark(admin_client, slug, 3, people["maya"], "absent")
    mark(admin_client, slug, 4, people["maya"], "absent")
    mark(admin_client, slug, 4, people["zoe"], "absent")
    with app.app_context():
        sent = db.session.execute(sa.select(OutboxMessage.kind, OutboxMessage.to_address, OutboxMessage.subject)
                                  .order_by(OutboxMessage.id)).all()
    assert [(kind, to) for kind, to, _ in sent] == [("missed_meeting", admin) for admin in ADMINS] * 3
    assert [subject for _, _, subject in sent][::2] == [
        "A participant missed a meeting: Maya, preparation meeting 3",
        "A participant missed a meeting: Maya, session day 1",
        "A participant missed a meeting: Zoe, session day 1"]


# --- The person's page and the dashboard -------------------------------------------------------

def test_attendance_of_a_person_lists_every_meeting_with_their_mark(app, admin_client, group):
    slug, people = group
    mark(admin_client, slug, 1, people["maya"], "attended")
    mark(admin_client, slug, 2, people["maya"], "absent")
    with app.app_context():
        application = db.session.get(Application, people["maya"])
        record = enrolment.attendance_of(application)
        assert [(meeting.name, value) for meeting, value in record] == [
            ("Preparation meeting 1", AttendanceMark.ATTENDED), ("Preparation meeting 2", AttendanceMark.ABSENT),
            ("Preparation meeting 3", None), ("Ketamine session 1", None), ("Integration meeting 1", None),
            ("Ketamine session 2", None), ("Integration meeting 2", None), ("Ketamine session 3", None),
            ("Integration meeting 3", None), ("Integration meeting 4", None)]


def render_record(app, application_id) -> str:
    from resilience import clock

    with app.test_request_context():
        application = db.session.get(Application, application_id)
        return html.unescape(render_template("admin/_attendance_record.html", application=application,
                                             cohort=application.cohort, now=clock.now(),
                                             attendance=enrolment.attendance_of(application)))


def test_the_persons_attendance_panel_says_each_mark_in_words_and_links_the_rosters(app, admin_client, group):
    slug, people = group
    mark(admin_client, slug, 1, people["maya"], "attended")
    mark(admin_client, slug, 2, people["maya"], "excused")
    panel = render_record(app, people["maya"])
    assert '<h2 id="attendance-title">Attendance</h2>' in panel
    items = [" ".join(re.sub(r"<[^>]+>", " ", item).split())
             for item in re.findall(r"<li\b.*?</li>", panel, re.DOTALL)]
    assert items[:5] == ["Preparation meeting 1 Sat, Nov 14 Attended", "Preparation meeting 2 Tue, Nov 17 Excused",
                         "Preparation meeting 3 Sat, Nov 21 Not marked", "Ketamine session 1 Wed, Nov 25 Not marked",
                         "Integration meeting 1 Sat, Nov 28 Still to come"]
    assert len(items) == 10
    for number in (1, 5, 10):
        assert f'href="{roster_url(slug, number)}"' in panel
    assert "1 attended, 1 excused" in panel


def test_the_attendance_panel_is_left_out_for_someone_never_enrolled(app, group):
    _, people = group
    assert render_record(app, people["offered"]).strip() == ""
    assert render_record(app, people["gone"]).strip() == ""


def test_missed_and_unmarked_follow_the_clock(app, admin_client, group, make_cohort, make_application):
    slug, people = group
    upcoming = make_cohort()  # starts in 45 days
    make_application(upcoming, status=Status.ENROLLED)
    empty = make_cohort(starts_on=STARTED, application_deadline=None)  # running, nobody enrolled
    for number in (1, 2):
        for person in ("maya", "zoe"):
            mark(admin_client, slug, number, people[person], "attended")
    mark(admin_client, slug, 4, people["maya"], "absent")
    mark(admin_client, slug, 4, people["zoe"], "excused")
    with app.app_context():
        ids = {s: cohort(s).id for s in (slug, upcoming, empty)}
        running = cohort(slug)
        assert {k: [m.name for m in v] for k, v in enrolment.unmarked(list(ids.values())).items()} == {
            ids[slug]: ["Preparation meeting 3"], ids[upcoming]: [], ids[empty]: []}
        assert {k: [(m.name, a.first_name) for m, a in v] for k, v in enrolment.missed(list(ids.values())).items()} == {
            ids[slug]: [("Ketamine session 1", "Maya")], ids[upcoming]: [], ids[empty]: []}
        assert enrolment.missed([]) == {} and enrolment.unmarked([]) == {}

        # Saturday night, after Integration meeting 1 has ended: it is over and not taken.
        app.config["NOW"] = running.meetings[4].ends_at
        assert [m.name for m in enrolment.unmarked([ids[slug]])[ids[slug]]] == [
            "Preparation meeting 3", "Integration meeting 1"]
        # During it, it is not yet "over".
        app.config["NOW"] = running.meetings[4].ends_at - timedelta(minutes=1)
        assert [m.name for m in enrolment.unmarked([ids[slug]])[ids[slug]]] == ["Preparation meeting 3"]
    # One person marked at a meeting is not enough: everyone enrolled needs a mark.
    app.config["NOW"] = NOW  # (two days on, the clinician's session would have ended)
    assert mark(admin_client, slug, 3, people["maya"], "attended").status_code == 303
    with app.app_context():
        assert [m.name for m in enrolment.unmarked([ids[slug]])[ids[slug]]] == ["Preparation meeting 3"]
    assert mark(admin_client, slug, 3, people["zoe"], "absent").status_code == 303
    with app.app_context():
        assert enrolment.unmarked([ids[slug]]) == {ids[slug]: []}
        assert [(m.name, a.first_name) for m, a in enrolment.missed([ids[slug]])[ids[slug]]] == [
            ("Preparation meeting 3", "Zoe"), ("Ketamine session 1", "Maya")]


# --- The printable sign-in sheet ---------------------------------------------------------------

def test_the_sign_in_sheet_lists_the_names_with_room_to_sign_and_no_buttons(app, admin_client, group):
    slug, people = group
    mark(admin_client, slug, 4, people["maya"], "absent")
    response = admin_client.get(roster_url(slug, 4) + "?sheet=1")
    assert response.status_code == 200
    page = text(response)
    assert re.search(r'href="/static/css/site\.[0-9a-f]{12}\.css"', page)
    sheet = re.search(r'<table class="sign-in-sheet.*?</table>', page, re.DOTALL).group(0)
    assert "Signature" in sheet
    assert sheet.index("Zoe Adams") < sheet.index("Maya Okafor")
    assert "Absent" not in sheet and "Not marked" not in sheet
    assert 'name="mark"' not in page and "aria-pressed" not in page
    assert "Autumn 2026 cohort" in page and "Ketamine session 1" in page
    assert "Wednesday, November 25, 2026" in page and "120 Harbor Street" in page
    assert f'href="{roster_url(slug, 4)}"' in page  # back to the roster


def test_printing_the_roster_page_prints_the_sheet(admin_client, group):
    slug, _ = group
    page = text(admin_client.get(roster_url(slug, 4)))
    assert f'href="{roster_url(slug, 4)}?sheet=1"' in page and "Print the sign-in sheet" in page
    assert '<table class="sign-in-sheet print-only' in page  # hidden on screen, printed instead of the buttons
    css = admin_client.get("/static/css/site.css").get_data(as_text=True)
    rules = css[css.index("/* Running the group: attendance"):]
    media = rules[rules.index("@media print"):]
    for hidden in (".site-header", ".site-footer", ".flashes", ".roster", ".screen-only"):
        assert hidden in media
    assert ".print-only" in rules and ".sign-in-sheet" in media


def test_the_roster_promises_an_email_only_when_clinicians_addresses_are_set(app, admin_client, group):
    slug, _ = group
    page = " ".join(text(admin_client.get(roster_url(slug, 2))).split())
    assert "is flagged on the dashboard and both clinicians are emailed once" in page
    app.config["ADMIN_EMAILS"] = []
    page = " ".join(text(admin_client.get(roster_url(slug, 2))).split())
    assert "is flagged on the dashboard, so one of you can reach out" in page and "emailed" not in page


def test_a_roster_lists_only_its_own_cohorts_participants(app, admin_client, make_cohort, make_application):
    from conftest import NOW

    began = NOW.date() - timedelta(days=10)
    ours, theirs = (make_cohort(starts_on=began, application_deadline=None) for _ in range(2))
    make_application(ours, status="enrolled", accepted_at=NOW, enrolled_at=NOW, first_name="Maya", last_name="Okafor")
    make_application(theirs, status="enrolled", accepted_at=NOW, enrolled_at=NOW, first_name="Zed", last_name="Quill")
    roster = admin_client.get(f"/admin/cohorts/{ours}/meetings/1/attendance").get_data(as_text=True)
    assert "Maya Okafor" in roster and "Zed Quill" not in roster
