"""What leaves the panel and the record of it: CSV exports and the audit log."""
import csv
import io

import pytest
import sqlalchemy as sa

from resilience.extensions import db
from resilience.models import AuditEvent


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


def test_the_export_keeps_its_columns_where_spreadsheets_expect_them(admin_client, make_cohort, make_application):
    slug = make_cohort()
    make_application(slug)
    [header, _] = read_csv(admin_client.get(f"/admin/cohorts/{slug}/applications.csv?include=answers"))
    assert header == [
        "id", "status", "applied_at", "status_changed_at", "first_name", "last_name", "pronouns", "email", "phone",
        "home_area", "referral", "knows_applicants", "attend_all", "ride_home", "logistics_notes", "therapist",
        "provider", "emergency_name", "emergency_relationship", "emergency_phone", "pregnant", "blood_pressure",
        "heart", "psychosis", "substance_use", "liver", "raised_pressure", "thyroid", "anaesthesia_reaction",
        "medications", "health_notes", "intention", "hopes", "experience"]


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
    html = admin_client.get("/admin/audit?admin=abc&application=%00&action=%00").get_data(as_text=True)
    assert "3 events." in html  # signed in, the decision, the export: nothing filtered out


def test_an_application_number_that_is_not_one_is_kept_and_explained(admin_client, make_cohort, make_application):
    make_application(make_cohort())
    html = admin_client.get("/admin/audit?application=abc").get_data(as_text=True)
    assert 'value="abc"' in html and "Please type the application’s number, digits only" in html
    assert "1 event." in html  # the sign-in: nothing was filtered out
