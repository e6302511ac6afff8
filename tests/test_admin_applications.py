"""The clinicians' view of applications: seats at a glance, the list and its filters."""
from datetime import date, timedelta

import sqlalchemy as sa
from conftest import NOW, answers

from resilience.extensions import db
from resilience.models import Application, Cohort, OutboxMessage


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
            rows.append({"cohort_id": cohort.id, "token": f"token-{n:06d}-abcdefghijklmnop", "first_name": f"P{n}",
                         "last_name": "Person", "email": f"p{n}@example.org", "email_key": f"p{n}@example.org",
                         "phone": "555 010 1000", "home_area": "ME", "answers": answers(),
                         "consented_at": NOW, "health_consent_at": NOW, "status": status, "created_at": NOW,
                         "status_changed_at": NOW, "accepted_at": NOW if status == "accepted" else None})
        db.session.execute(sa.insert(Application), rows)
        db.session.commit()

    statements = []

    def count(_connection, _cursor, statement, *_args):
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            first = admin_client.get("/admin/")
            at_first = len(statements)
            statements.clear()
            response = admin_client.get("/admin/")
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
    # The first time, where applicants came from is opened (two more queries: which applications,
    # then their sealed answers, up to 30,000 at once) and the counts by status are counted (one
    # more); then both are kept until an application is added, erased or changes status.
    assert first.status_code == 200 and at_first == 16
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    # the next six to start (issue 12: the dashboard is bounded); the rest on the cohorts page
    assert html.count("0 of 6 seats open") == 6 and "14 later cohorts are on" in html
    # the signed-in clinician, cohorts, their meetings, seat holders, counts by status (their
    # page numbers, while nothing changed), waitlists, offers awaiting confirmation, conversations coming up, where applicants came from,
    # absences, attendance not taken, failed emails, outbox backlog: thirteen, however many cohorts
    # and applications
    assert len(statements) == 13, "\n\n".join(statements)


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
    for query in ("q=%25", "q=_"):  # taken literally, not as wildcards
        assert "No application matches." in admin_client.get(f"/admin/applications?{query}").get_data(as_text=True)
    for query in ("q=%00", "status=bogus", "sort=drop", "page=-1", "page=abc", "cohort=%00", "cohort=NOPE"):
        html = admin_client.get(f"/admin/applications?{query}").get_data(as_text=True)
        assert "30 applications, page 1 of 2." in html, query  # the odd filter is ignored


def test_applications_filter_with_htmx_returns_only_the_results(admin_client, make_cohort, make_application):
    make_application(make_cohort(), first_name="Maya")
    html = admin_client.get("/admin/applications?q=maya", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert html.lstrip().startswith('<div id="results"') and 'role="search"' not in html and "<html" not in html
