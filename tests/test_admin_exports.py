"""What leaves the panel and the record of it, in the clinicians' words: CSV exports (labels,
local times, a status filter, attendance, never notes) and the audit log in local time."""
import csv
import io
import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from conftest import answers

from resilience import ConfigurationError, create_app, enrolment
from resilience.extensions import db
from resilience.models import Admin, Attendance, AuditEvent, Cohort, Meeting, Note
from resilience.status import AttendanceMark, Status

CONTACT_HEADERS = ["Application number", "Status", "Applied (America/New_York)",
                   "Status changed (America/New_York)", "First name", "Last name", "Pronouns", "Email", "Phone",
                   "Lives in", "Came from"]
# The default plan of a cohort whose first meeting is Tuesday, January 12, 2027.
MEETING_HEADERS = [
    "Preparation meeting 1 (2027-01-12)", "Preparation meeting 2 (2027-01-15)", "Preparation meeting 3 (2027-01-19)",
    "Ketamine session 1 (2027-01-23)", "Integration meeting 1 (2027-01-26)", "Ketamine session 2 (2027-01-30)",
    "Integration meeting 2 (2027-02-02)", "Ketamine session 3 (2027-02-06)", "Integration meeting 3 (2027-02-09)",
    "Integration meeting 4 (2027-02-16)"]


def read_csv(response):
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def export_events(app) -> list[AuditEvent]:
    with app.app_context():
        return [(event.detail, event.admin.display_name) for event in
                db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id))]


def test_csv_export_speaks_the_clinicians_words_and_is_audited(app, admin_client, make_cohort, make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    make_application(slug, first_name="Maya", last_name="Okafor", email="maya@example.org",
                     status=Status.WAITLISTED, pronouns="she/her", answers=answers(referral="blog"))
    response = admin_client.get(f"/admin/cohorts/{slug}/applications.csv")
    assert response.mimetype == "text/csv"
    assert f'filename="{slug}-applications.csv"' in response.headers["Content-Disposition"]
    header, row = read_csv(response)
    assert header == CONTACT_HEADERS + MEETING_HEADERS
    # NOW is 15:00 UTC on November 26, 2026: 10:00 in New York.
    assert row[1:11] == ["Waitlisted", "2026-11-26 10:00", "2026-11-26 10:00", "Maya", "Okafor", "she/her",
                         "maya@example.org", "555 010 1000", "Portland, ME", "blog"]
    assert row[11:] == [""] * 10  # no attendance marked yet
    assert "none" not in row  # the medications answer
    assert export_events(app) == [("1 application, every status, contact fields", "Dr. Ana Reyes")]


def test_times_are_the_cohorts_own_to_the_minute_and_its_zone_is_named(admin_client, make_cohort, make_application):
    slug = make_cohort(timezone="America/Chicago")
    make_application(slug, created_at=datetime(2026, 12, 3, 20, 5, 42, 123456, tzinfo=UTC),
                     status_changed_at=datetime(2027, 6, 1, 4, 59, 59, tzinfo=UTC))
    header, row = read_csv(admin_client.get(f"/admin/cohorts/{slug}/applications.csv"))
    assert header[2:4] == ["Applied (America/Chicago)", "Status changed (America/Chicago)"]
    assert row[2:4] == ["2026-12-03 14:05", "2027-05-31 23:59"]  # CST in winter, CDT in summer


def test_answers_are_exported_only_when_asked_with_their_questions_and_that_is_audited(
        app, admin_client, make_cohort, make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    make_application(slug, answers=answers(blood_pressure="unsure", ride_home="no", health_notes=""))
    response = admin_client.get(f"/admin/cohorts/{slug}/applications.csv?include=answers")
    assert f'filename="{slug}-applications-with-answers.csv"' in response.headers["Content-Disposition"]
    header, row = read_csv(response)
    assert header[:21] == CONTACT_HEADERS + MEETING_HEADERS
    answers_by_question = dict(zip(header[21:], row[21:], strict=True))
    assert list(answers_by_question)[:2] == ["Do you know anyone who may also apply?",
                                             "Can you attend all ten meetings on the dates listed?"]
    assert answers_by_question["Do you have high blood pressure that is not well controlled?"] == "Not sure"
    assert answers_by_question["After each ketamine session, can a sober adult you trust take you home?"] == "No"
    assert answers_by_question["Medications and supplements you take"] == "none"
    assert answers_by_question["Anything else about your health you would like us to know?"] == ""
    assert len(answers_by_question) == 32 and not any("(optional)" in question for question in header)  # 9 follow-ups
    assert export_events(app) == [("1 application, every status, with answers", "Dr. Ana Reyes")]


def test_the_enrolled_filter_is_the_groups_roster(app, admin_client, make_cohort, make_application):
    slug = make_cohort(title="Spring 2027", slug="spring-2027")
    for first_name, status in (("Ana", Status.ENROLLED), ("Ben", Status.WAITLISTED), ("Cy", Status.ENROLLED),
                               ("Di", Status.ACCEPTED), ("Ed", Status.DECLINED)):
        make_application(slug, first_name=first_name, status=status)
    response = admin_client.get("/admin/cohorts/spring-2027/applications.csv?status=enrolled")
    assert 'filename="spring-2027-enrolled.csv"' in response.headers["Content-Disposition"]
    _, *rows = read_csv(response)
    assert [(row[4], row[1]) for row in rows] == [("Ana", "Enrolled"), ("Cy", "Enrolled")]
    response = admin_client.get("/admin/cohorts/spring-2027/applications.csv?status=accepted&include=answers")
    assert 'filename="spring-2027-accepted-with-answers.csv"' in response.headers["Content-Disposition"]
    assert [row[4] for row in read_csv(response)[1:]] == ["Di"]
    _, *everyone = read_csv(admin_client.get("/admin/cohorts/spring-2027/applications.csv?status="))
    assert len(everyone) == 5
    assert [detail for detail, _ in export_events(app)] == [
        "2 applications, Enrolled only, contact fields", "1 application, Offered a place only, with answers",
        "5 applications, every status, contact fields"]


@pytest.mark.parametrize("value", ["nope", "Enrolled", "ENROLLED", "%00", "enrolled%20", "%27%3B"])
def test_a_status_that_is_not_one_is_refused_clearly_and_nothing_is_exported(app, admin_client, make_cohort,
                                                                               make_application, value):
    slug = make_cohort()
    make_application(slug, first_name="Maya", status=Status.ENROLLED)
    response = admin_client.get(f"/admin/cohorts/{slug}/applications.csv?status={value}")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "There is no such status to export" in html and "Nothing was downloaded" in html
    assert "Enrolled" in html and "Pending review" in html and "Maya" not in html
    assert export_events(app) == []


def test_attendance_is_a_column_per_meeting_with_each_marks_words(app, admin_client, make_admin, make_cohort,
                                                                 make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    maya = make_application(slug, first_name="Maya", status=Status.ENROLLED)
    sam = make_application(slug, first_name="Sam", status=Status.ENROLLED)
    with app.app_context():
        ana = db.session.scalar(sa.select(Admin.id))
        meetings = db.session.scalars(sa.select(Meeting).join(Cohort).where(Cohort.slug == slug)
                                      .order_by(Meeting.starts_at)).all()
        for meeting, person, mark in ((meetings[0], maya, AttendanceMark.ATTENDED),
                                      (meetings[0], sam, AttendanceMark.ABSENT),
                                      (meetings[3], maya, AttendanceMark.EXCUSED)):
            db.session.add(Attendance(meeting_id=meeting.id, application_id=person, mark=mark, admin_id=ana))
        db.session.commit()
    other = make_cohort(starts_on=date(2027, 1, 12))  # another cohort's marks stay out
    header, *rows = read_csv(admin_client.get(f"/admin/cohorts/{slug}/applications.csv?status=enrolled"))
    by_name = {row[4]: dict(zip(header[11:], row[11:], strict=True)) for row in rows}
    assert by_name["Maya"]["Preparation meeting 1 (2027-01-12)"] == "Attended"
    assert by_name["Maya"]["Ketamine session 1 (2027-01-23)"] == "Excused"
    assert by_name["Sam"]["Preparation meeting 1 (2027-01-12)"] == "Absent"
    assert list(by_name["Sam"].values())[1:] == [""] * 9
    header, *rows = read_csv(admin_client.get(f"/admin/cohorts/{other}/applications.csv"))
    assert header == CONTACT_HEADERS + MEETING_HEADERS and rows == []


@pytest.mark.parametrize("include", ["", "answers"])
def test_private_notes_are_never_exported(app, admin_client, make_cohort, make_application, include):
    slug = make_cohort()
    application_id = make_application(slug, status=Status.ENROLLED)
    with app.app_context():
        enrolment.add_note(application_id, db.session.scalar(sa.select(Admin)),
                           "Zephyrine worries about the second session")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Note)) == 1
    for status in ("", "enrolled"):
        text = admin_client.get(f"/admin/cohorts/{slug}/applications.csv?status={status}&include={include}"
                                ).get_data(as_text=True)
        assert "Zephyrine" not in text and "second session" not in text and "note" not in text.lower()


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_cells_never_become_spreadsheet_formulas(admin_client, make_cohort, make_application, value):
    slug = make_cohort()
    make_application(slug, first_name=value, home_area=value, answers=answers(medications=value))
    header, row = read_csv(admin_client.get(f"/admin/cohorts/{slug}/applications.csv?include=answers"))
    # "\t=1" split at its tab would start a cell with "=": the formula gets its own apostrophe too.
    safe = "'" + value.replace("\t=", "\t'=")
    assert row[header.index("First name")] == safe
    assert row[header.index("Lives in")] == safe
    assert row[header.index("Medications and supplements you take")] == safe


def test_phone_numbers_with_a_plus_stay_readable(admin_client, make_cohort, make_application):
    slug = make_cohort()
    make_application(slug, phone="+1 207 555 0100")
    header, row = read_csv(admin_client.get(f"/admin/cohorts/{slug}/applications.csv"))
    assert row[header.index("Phone")] == "'+1 207 555 0100"


def test_the_cohorts_page_offers_everyone_or_one_status_and_the_answers(admin_client, make_cohort):
    first, second = make_cohort(), make_cohort()
    html = admin_client.get("/admin/cohorts").get_data(as_text=True)
    form = re.search(rf'<form class="export-form" method="get" action="/admin/cohorts/{first}/applications.csv".*?'
                     r'</form>', html, re.DOTALL).group(0)
    assert re.search(rf'<select [^>]*id="status-{first}" name="status"', form)
    assert f'<label class="field__label" for="status-{first}">Whose applications</label>' in form
    assert '<option value="">Everyone</option>' in form
    assert '<option value="enrolled">Enrolled</option>' in form and "Pending review" in form
    assert re.search(rf'<input [^>]*id="include-{first}" name="include" type="checkbox" value="answers"', form)
    assert f'<label for="include-{first}">Include their answers</label>' in form
    assert "Include their answers" in form and "health information" in form
    assert f'id="status-{second}"' in html  # each cohort's controls have their own ids
    assert html.count('name="status"') == 2


def test_audit_page_lists_and_filters_events_in_words(app, admin_client, make_cohort, make_application):
    slug = make_cohort()
    application_id = make_application(slug, first_name="Maya", last_name="Okafor")
    with app.app_context():
        enrolment.change_status(application_id, Status.WAITLISTED, admin=db.session.scalar(sa.select(Admin)))
    admin_client.get(f"/admin/cohorts/{slug}/applications.csv")
    html = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "Pending review → Waitlisted" in html
    assert '<td data-label="What">Decision</td>' in html and '<td data-label="What">Signed in</td>' in html
    assert '<td data-label="What">CSV downloaded</td>' in html
    assert '<option value="status">Decision</option>' in html and '<option value="export">CSV downloaded</option>' in html
    assert "<th scope=\"col\">When</th>" in html and "UTC" not in html
    html = admin_client.get("/admin/audit?action=status").get_data(as_text=True)
    assert "Maya Okafor" in html and "contact fields" not in html
    assert '<option selected value="status">Decision</option>' in html
    html = admin_client.get(f"/admin/audit?application={application_id}").get_data(as_text=True)
    assert "1 event." in html
    html = admin_client.get("/admin/audit?admin=abc&application=%00&action=%00").get_data(as_text=True)
    assert "3 events." in html  # signed in, the decision, the export: nothing filtered out


def test_audit_times_are_local_to_the_minute_with_the_zone_named(app, admin_client, make_cohort):
    """An event about a cohort is in that cohort's time; one about no cohort (signing in) in the
    practice's. The clock: 15:00 UTC on Thursday, November 26, 2026."""
    slug = make_cohort(timezone="America/Los_Angeles")
    admin_client.get(f"/admin/cohorts/{slug}/applications.csv")
    html = admin_client.get("/admin/audit").get_data(as_text=True)
    times = [" ".join(re.sub(r"<[^>]+>", "", when).split()) for when in
             re.findall(r'<time datetime="2026-11-26T15:00:00\+00:00">(.*?)</time>', html)]
    assert times == ["Thu, Nov 26, 2026, 7:00 am PST",  # the export, in the cohort's time
                     "Thu, Nov 26, 2026, 10:00 am EST"]  # signing in, in the practice's
    assert "New York" in html  # the practice's zone, named
    app.config["PRACTICE_TIMEZONE"] = "America/Chicago"
    html = admin_client.get("/admin/audit?action=signed%20in").get_data(as_text=True)
    assert "<span>9:00 am CST</span>" in html and "Chicago" in html


def test_the_practice_time_zone_comes_from_the_environment_and_a_wrong_one_stops_the_start(monkeypatch, tmp_path):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path))
    assert create_app().config["PRACTICE_TIMEZONE"] == "America/New_York"
    monkeypatch.setenv("RESILIENCE_PRACTICE_TIMEZONE", "America/Denver")
    assert create_app().config["PRACTICE_TIMEZONE"] == "America/Denver"
    for wrong in ("Mars/Olympus", "", "../etc/passwd"):
        monkeypatch.setenv("RESILIENCE_PRACTICE_TIMEZONE", wrong)
        with pytest.raises(ConfigurationError, match="is not a time zone: use a name such as America/New_York"):
            create_app()


def test_an_application_number_that_is_not_one_is_kept_and_explained(admin_client, make_cohort, make_application):
    make_application(make_cohort())
    html = admin_client.get("/admin/audit?application=abc").get_data(as_text=True)
    assert 'value="abc"' in html and "Please type the application’s number, digits only" in html
    assert "1 event." in html  # the sign-in: nothing was filtered out


def test_every_action_the_rules_record_has_words_in_the_audit_log():
    """A new kind of audit event gets its words with it, not its stored name capitalised."""
    from pathlib import Path

    from resilience.admin.exports import ACTION_WORDS

    root = Path(__file__).resolve().parent.parent / "resilience"
    recorded = {action for path in root.rglob("*.py")
                for action in re.findall(r'\brecord(?:_alone)?\(\s*"([^"]+)"', path.read_text())}
    assert {"status", "meeting changed", "signed in", "export"} <= recorded
    assert sorted(recorded - set(ACTION_WORDS)) == []
    assert ACTION_WORDS["status"] == "Decision" and ACTION_WORDS["meeting changed"] == "Meeting moved"


def test_an_erased_application_is_a_counted_row_that_says_so(app, admin_client, make_cohort, make_application):
    slug = make_cohort()
    erased_id = make_application(slug, first_name="Zephyrine", status=Status.DECLINED)
    make_application(slug, first_name="Ola")
    with app.app_context():
        enrolment.erase_on_request(erased_id, db.session.scalar(sa.select(Admin)), {erased_id})
    _, *rows = read_csv(admin_client.get(f"/admin/cohorts/{slug}/applications.csv?include=answers"))
    erased = next(row for row in rows if row[0] == str(erased_id))
    assert erased[1] == "Declined" and erased[4] == f"Erased application #{erased_id}"
    assert "Zephyrine" not in repr(rows) and "Ola" in repr(rows)
