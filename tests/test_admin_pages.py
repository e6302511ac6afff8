"""The panel's other pages: seats dashboard, list and filters, cohorts and meetings, export, audit."""
import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from conftest import NOW, answers
from resilience.extensions import db
from resilience.models import Application, AuditEvent, Cohort, Meeting, OutboxMessage


def test_dashboard_draws_each_seat_with_who_holds_it(admin_client, make_cohort, make_application):
    slug = make_cohort(title="Winter 2027 cohort")
    make_application(slug, status="enrolled", first_name="Maya", last_name="Okafor",
                     accepted_at=NOW - timedelta(days=2))
    make_application(slug, status="accepted", first_name="Sam", last_name="Lee", accepted_at=NOW - timedelta(days=1))
    make_application(slug, status="waitlisted", first_name="Yara", last_name="Quinn", created_at=NOW)
    make_application(slug, status="waitlisted", first_name="Zed", last_name="Young",
                     created_at=NOW - timedelta(hours=5))
    make_application(slug, status="pending")
    html = admin_client.get("/admin/").get_data(as_text=True)
    assert "4 of 6 seats open" in html
    assert html.count('class="seat-tile seat-tile--') == 6
    assert html.index("Maya O.") < html.index("Sam L.")
    assert html.count("seat-tile--open") == 4
    assert "Confirmed" in html and "Offered, not yet confirmed" in html
    # the waitlist in order of application
    assert html.index("Zed Y.") < html.index("Yara Q.")
    assert "Pending review</dt><dd>" in html


def test_dashboard_shows_the_outbox_backlog_and_failed_emails(app, admin_client, make_cohort, make_application):
    application_id = make_application(make_cohort())
    with app.app_context():
        db.session.add(OutboxMessage(kind="received", dedupe_key="x", to_address="lost@example.org",
                                     subject="We have your application", text_body="", html_body="",
                                     status="failed", attempts=10, last_error="SMTPRecipientsRefused: 550",
                                     application_id=application_id))
        db.session.commit()
    html = admin_client.get("/admin/").get_data(as_text=True)
    assert "1 email could not be delivered" in html
    assert "lost@example.org" in html and "SMTPRecipientsRefused: 550" in html


def test_dashboard_uses_a_fixed_number_of_queries_at_5000_applications(app, admin_client):
    with app.app_context():
        cohorts = [Cohort(slug=f"c{n}", title=f"Cohort {n}", capacity=6, starts_on=date(2027, 1, 1) + timedelta(weeks=n),
                          timezone="America/New_York", location="Portland") for n in range(20)]
        db.session.add_all(cohorts)
        db.session.flush()
        statuses = ["pending"] * 40 + ["waitlisted"] * 200 + ["declined"] * 10 + ["withdrawn"] * 0
        rows = []
        for n in range(5000):
            cohort = cohorts[n % 20]
            index = n // 20
            status = "accepted" if index < 6 else statuses[index % len(statuses)]
            rows.append(dict(cohort_id=cohort.id, token=f"token-{n:06d}-abcdefghijklmnop", first_name=f"P{n}",
                             last_name="Person", email=f"p{n}@example.org", email_key=f"p{n}@example.org",
                             phone="555 010 1000", home_area="ME", answers=answers(), consent_version="t",
                             consented_at=NOW, health_consent_at=NOW, status=status, created_at=NOW,
                             status_changed_at=NOW, accepted_at=NOW if status == "accepted" else None))
        db.session.execute(sa.insert(Application), rows)
        db.session.commit()

    statements = []

    def count(_connection, _cursor, statement, *_args):
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            response = admin_client.get("/admin/")
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count("0 of 6 seats open") == 20
    # the signed-in clinician, cohorts, seat holders, counts by status, waitlists,
    # failed emails, outbox backlog: seven, however many cohorts and applications
    assert len(statements) == 7, "\n\n".join(statements)


def test_applications_list_filters_by_cohort_status_and_name(admin_client, make_cohort, make_application):
    winter, spring = make_cohort(title="Winter"), make_cohort(title="Spring")
    make_application(winter, first_name="Maya", last_name="Okafor", email="maya@example.org")
    make_application(winter, first_name="Sam", last_name="Lee", status="waitlisted")
    make_application(spring, first_name="Maya", last_name="Stone", status="waitlisted")
    html = admin_client.get(f"/admin/applications?cohort={winter}").get_data(as_text=True)
    assert "Maya Okafor" in html and "Sam Lee" in html and "Maya Stone" not in html
    html = admin_client.get("/admin/applications?status=waitlisted").get_data(as_text=True)
    assert "Sam Lee" in html and "Maya Stone" in html and "Maya Okafor" not in html
    html = admin_client.get("/admin/applications?q=maya+ok").get_data(as_text=True)
    assert "Maya Okafor" in html and "Maya Stone" not in html and "1 application." in html
    html = admin_client.get("/admin/applications?q=MAYA@EXAMPLE").get_data(as_text=True)
    assert "Maya Okafor" in html


def test_applications_list_survives_odd_input_and_paginates(admin_client, make_cohort, make_application):
    slug = make_cohort()
    for n in range(30):
        make_application(slug, last_name=f"Person{n:02d}")
    html = admin_client.get("/admin/applications?sort=name").get_data(as_text=True)
    assert "30 applications, page 1 of 2." in html and "Next page" in html
    assert admin_client.get("/admin/applications?sort=name&page=2").get_data(as_text=True).count("<tr>") == 6
    for query in ("q=%25", "q=_", "q=%00", "status=bogus", "sort=drop", "page=-1", "page=abc", "cohort=%00"):
        assert admin_client.get(f"/admin/applications?{query}").status_code in (200, 404), query


def test_applications_filter_with_htmx_returns_only_the_results(admin_client, make_cohort, make_application):
    make_application(make_cohort(), first_name="Maya")
    html = admin_client.get("/admin/applications?q=maya", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert html.lstrip().startswith('<div id="results"') and "<form" not in html


def test_creating_a_cohort_plans_its_ten_meetings(app, admin_client):
    response = admin_client.post("/admin/cohorts/new", data={
        "title": "Spring 2027 cohort", "slug": "spring-2027", "capacity": "6", "starts_on": "2027-04-06",
        "timezone": "America/Chicago", "location": "12 Elm St, Madison, WI", "application_deadline": "2027-03-20",
        "applications_open": "y", "fee_text": ""})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/cohorts/spring-2027/meetings"
    with app.app_context():
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == "spring-2027"))
        assert len(cohort.meetings) == 10 and cohort.fee_text is None
        assert cohort.meetings[0].local_start == datetime(2027, 4, 6, 18, 0, tzinfo=cohort.zone)
    html = admin_client.get("/admin/cohorts/spring-2027/meetings").get_data(as_text=True)
    assert html.count("<fieldset") == 10 and 'value="2027-04-06"' in html


@pytest.mark.parametrize("field, value, message", [
    ("slug", "Spring 2027", "Use lower-case letters, digits and hyphens only."),
    ("capacity", "7", "A cohort has between 1 and 6 seats."),
    ("capacity", "0", "A cohort has between 1 and 6 seats."),
    ("starts_on", "next tuesday", "Not a valid date value."),
    ("application_deadline", "2027-05-01", "Applications must close before the first meeting."),
    ("timezone", "Mars/Olympus", "Not a valid choice."),
    ("title", "", "Please give the cohort a title."),
])
def test_cohort_form_explains_each_mistake_and_keeps_the_rest(app, admin_client, field, value, message):
    data = {"title": "Spring 2027 cohort", "slug": "spring-2027", "capacity": "6", "starts_on": "2027-04-06",
            "timezone": "America/Chicago", "location": "12 Elm St", "applications_open": "y", field: value}
    response = admin_client.post("/admin/cohorts/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html and 'value="12 Elm St"' in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Cohort)) == 0


def test_capacity_cannot_drop_below_the_seats_taken(app, admin_client, make_cohort, make_application):
    slug = make_cohort(title="Winter")
    for _ in range(4):
        make_application(slug, status="accepted")
    form = admin_client.get(f"/admin/cohorts/{slug}/edit").get_data(as_text=True)
    assert 'value="Winter"' in form
    data = {"title": "Winter", "slug": slug, "capacity": "3", "starts_on": "2027-01-12",
            "timezone": "America/New_York", "location": "Portland", "applications_open": "y"}
    html = admin_client.post(f"/admin/cohorts/{slug}/edit", data=data).get_data(as_text=True)
    assert "4 seats are already taken, so the capacity cannot be lower than 4. Nothing was changed." in html
    with app.app_context():
        assert db.session.scalar(sa.select(Cohort.capacity).where(Cohort.slug == slug)) == 6
    assert admin_client.post(f"/admin/cohorts/{slug}/edit", data={**data, "capacity": "4"}).status_code == 303


def test_moving_a_meeting_sends_seat_holders_an_updated_invite(app, admin_client, make_cohort, make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    holder = make_application(slug, status="enrolled")
    make_application(slug, status="pending")
    page = admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True)
    assert 'name="meetings-3-date" required type="date" value="2027-01-23"' in page
    with app.app_context():
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))
        data = {}
        for n, m in enumerate(cohort.meetings):
            data |= {f"meetings-{n}-date": m.local_start.date().isoformat(),
                     f"meetings-{n}-starts": m.local_start.strftime("%H:%M"),
                     f"meetings-{n}-ends": m.local_end.strftime("%H:%M"), f"meetings-{n}-location": m.location}
    data |= {"meetings-3-date": "2027-01-24", "meetings-3-starts": "10:00", "meetings-3-ends": "14:00"}
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data)
    assert response.status_code == 303
    assert "1 meeting changed" in admin_client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        moved = db.session.scalar(sa.select(Meeting).where(Meeting.kind == "ketamine", Meeting.sequence == 1))
        assert moved.starts_at == datetime(2027, 1, 24, 15, 0, tzinfo=timezone.utc) and moved.revision == 1
        invites = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "meeting_moved")).all()
        assert [m.application_id for m in invites] == [holder]
    bad = admin_client.post(f"/admin/cohorts/{slug}/meetings", data={**data, "meetings-3-ends": "09:00"})
    assert bad.status_code == 422 and "The meeting must end after it starts." in bad.get_data(as_text=True)


def read_csv(response):
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_csv_export_has_contact_fields_only_and_is_audited(app, admin_client, make_cohort, make_application):
    slug = make_cohort()
    make_application(slug, first_name="Maya", last_name="Okafor", email="maya@example.org", status="waitlisted")
    response = admin_client.get(f"/admin/cohorts/{slug}/applications.csv")
    assert response.mimetype == "text/csv"
    assert f'filename="{slug}-applications.csv"' in response.headers["Content-Disposition"]
    header, row = read_csv(response)
    assert header[:6] == ["id", "status", "applied_at", "status_changed_at", "first_name", "last_name"]
    assert "medications" not in header and "Maya" in row and "waitlisted" in row
    assert "none" not in row  # the medications answer
    with app.app_context():
        [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "export")).all()
        assert event.detail == "1 applications, contact fields" and event.admin.display_name == "Dr. Ana Reyes"


def test_answers_are_exported_only_when_asked_and_that_is_audited(app, admin_client, make_cohort, make_application):
    slug = make_cohort()
    make_application(slug)
    header, row = read_csv(admin_client.get(f"/admin/cohorts/{slug}/applications.csv?include=answers"))
    assert "medications" in header and row[header.index("medications")] == "none"
    with app.app_context():
        [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "export")).all()
        assert event.detail == "1 applications, with answers"


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_cells_never_become_spreadsheet_formulas(admin_client, make_cohort, make_application, value):
    slug = make_cohort()
    make_application(slug, first_name=value, home_area=value)
    header, row = read_csv(admin_client.get(f"/admin/cohorts/{slug}/applications.csv"))
    assert row[header.index("first_name")] == "'" + value
    assert row[header.index("home_area")] == "'" + value


def test_phone_numbers_with_a_plus_stay_readable(admin_client, make_cohort, make_application):
    slug = make_cohort()
    make_application(slug, phone="+1 207 555 0100")
    header, row = read_csv(admin_client.get(f"/admin/cohorts/{slug}/applications.csv"))
    assert row[header.index("phone")] == "'+1 207 555 0100"


def test_audit_page_lists_and_filters_events(app, admin_client, make_cohort, make_application):
    slug = make_cohort()
    application_id = make_application(slug, first_name="Maya", last_name="Okafor")
    admin_client.post(f"/admin/applications/{application_id}/status", data={"status": "waitlisted"})
    admin_client.get(f"/admin/cohorts/{slug}/applications.csv")
    html = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "Pending review → Waitlisted" in html and "export" in html and "signed in" in html
    html = admin_client.get("/admin/audit?action=status").get_data(as_text=True)
    assert "Maya Okafor" in html and "contact fields" not in html
    html = admin_client.get(f"/admin/audit?application={application_id}").get_data(as_text=True)
    assert "1 event." in html
    assert admin_client.get("/admin/audit?admin=abc&application=%00&action=%00").status_code == 200


def test_unknown_cohort_pages_are_404(admin_client):
    for url in ("/admin/cohorts/nope/edit", "/admin/cohorts/nope/meetings", "/admin/cohorts/nope/applications.csv",
                "/admin/cohorts/%00/edit"):
        assert admin_client.get(url).status_code == 404


@pytest.mark.parametrize("field, value", [("starts_on", "9999-12-25"), ("starts_on", "1999-01-05"),
                                          ("application_deadline", "0001-01-01")])
def test_dates_far_from_now_are_refused_with_the_form_kept(app, admin_client, field, value):
    data = {"title": "Spring 2027 cohort", "slug": "spring-2027", "capacity": "6", "starts_on": "2027-04-06",
            "timezone": "America/Chicago", "location": "12 Elm St", "applications_open": "y", field: value}
    response = admin_client.post("/admin/cohorts/new", data=data)
    assert response.status_code == 422
    assert "Please check the year" in response.get_data(as_text=True)


def test_a_meeting_date_in_the_year_9999_is_refused(admin_client, make_cohort):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data={
        "meetings-0-date": "9999-12-31", "meetings-0-starts": "20:00", "meetings-0-ends": "21:00",
        "meetings-0-location": "Online"})
    assert response.status_code == 422 and "Please check the year" in response.get_data(as_text=True)
