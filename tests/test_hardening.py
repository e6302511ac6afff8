"""What a hostile outsider or a curious insider found, each fixed and kept fixed (issue 10):
forged Host headers, HTTPS remembered, line breaks where one line belongs, health answers in
caches, files other users of the machine could read, spreadsheet formulas."""
import csv
import io
import os
import stat
from pathlib import Path

import pytest
from conftest import sign_in

from resilience import create_app
from resilience.extensions import db

KEY = "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA="


@pytest.fixture
def production(monkeypatch, tmp_path):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RESILIENCE_ENV", "production")
    monkeypatch.setenv("RESILIENCE_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("RESILIENCE_DATA_KEY", KEY)
    monkeypatch.setenv("RESILIENCE_PUBLIC_URL", "https://resilience.example")
    monkeypatch.setenv("RESILIENCE_CHECK_SCHEMA", "false")
    app = create_app()
    with app.app_context():
        db.create_all()
    return app


def test_production_tells_browsers_to_use_https_only(production):
    response = production.test_client().get("/", headers={"Host": "resilience.example"})
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_development_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_production_refuses_a_forged_host(production):
    client = production.test_client()
    assert client.get("/", headers={"Host": "resilience.example"}).status_code == 200
    for path in ("/", "//admin//", "/admin", "/apply"):
        response = client.get("/", environ_overrides={"PATH_INFO": path}, headers={"Host": "evil.example"})
        assert response.status_code == 400, path
        assert "evil.example" not in response.headers.get("Location", "")


def test_no_redirect_is_built_from_the_host_header(client):
    for path in ("//admin//", "/admin", "/admin//applications"):
        response = client.get("/", environ_overrides={"PATH_INFO": path}, headers={"Host": "evil.example"})
        assert "evil.example" not in response.headers.get("Location", ""), path


@pytest.mark.parametrize("next_url", ["/admin/applications\r\nX-Injected: 1", "/admin/%0d%0aSet-Cookie:x=1",
                                      "/admin/\n", "//evil.example/admin/", "/admin/\\\\evil.example"])
def test_a_next_link_with_line_breaks_or_elsewhere_signs_in_to_the_dashboard(app, client, make_admin, next_url):
    make_admin()
    response = client.post("/admin/login?next=" + next_url.replace("\r", "%0d").replace("\n", "%0a"),
                           data={"email": "ana@practice.example", "password": "correct horse battery staple"})
    assert response.status_code == 303
    assert response.headers["Location"] in ("/admin/", "/admin/%0d%0aSet-Cookie:x=1")
    assert "X-Injected" not in response.headers and "\n" not in response.headers["Location"]


def test_a_cohort_title_is_one_line(app, admin_client):
    response = admin_client.post("/admin/cohorts/new", data={
        "title": "Spring\r\ncohort", "slug": "spring", "capacity": "6", "starts_on": "2027-03-01",
        "timezone": "America/New_York", "location": "120 Harbor\nStreet", "offer_days": "5",
        "applications_open": "y"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Please keep the title on one line." in page and "Please keep the address on one line." in page


def test_a_cohort_with_a_line_break_in_its_title_from_before_still_accepts_people(app, admin_client, make_cohort,
                                                                                   make_application):
    """Stored before titles were kept to one line: the calendar file folds it instead of failing."""
    slug = make_cohort(title="Spring\ncohort")
    maya = make_application(slug)
    response = admin_client.post(f"/admin/applications/{maya}/status", data={"status": "accepted", "evaluated": "y"})
    assert response.status_code == 303


def test_pages_that_repeat_health_answers_are_never_cached(client, make_cohort, form_data):
    slug = make_cohort()
    refused = client.post("/apply", data=form_data(slug, email="not-an-email", medications="Quetiapine"))
    assert refused.status_code == 422 and "Quetiapine" in refused.get_data(as_text=True)
    assert refused.headers["Cache-Control"] == "no-store"
    field = client.post("/apply/validate?field=medications", data=form_data(slug, medications="Quetiapine"),
                        headers={"HX-Request": "true"})
    assert field.headers["Cache-Control"] == "no-store"
    assert client.get("/apply").headers["Cache-Control"] == "no-store"


def test_the_database_the_secrets_and_the_emails_are_the_owners_alone(monkeypatch, tmp_path, form_data):
    instance = tmp_path / "instance"
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(instance))
    old = os.umask(0o022)  # as most shells have it
    try:
        app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
                          "CHECK_SCHEMA": False, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'site.db'}",
                          "DATA_KEY": KEY, "SECRET_KEY": "s" * 40})
        with app.app_context():
            db.create_all()
            from resilience import outbox
            from resilience.models import Cohort

            db.session.add(Cohort(slug="c", title="C", starts_on=__import__("datetime").date(2027, 3, 1),
                                  location="here"))
            db.session.commit()
        app.test_client().post("/apply", data=form_data("c"))
        with app.app_context():
            outbox.deliver_due()
    finally:
        os.umask(old)
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    files = [path for path in instance.rglob("*") if path.is_file()]
    assert any(path.suffix == ".eml" for path in files) and any(path.name == "site.db" for path in files)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    for folder in (path for path in instance.rglob("*") if path.is_dir()):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, folder


def test_no_cell_opens_as_a_formula_in_a_spreadsheet_that_splits_on_semicolons(app, admin_client, make_cohort,
                                                                              make_application):
    slug = make_cohort()
    make_application(slug, home_area="Portland;=2+3", first_name="=HYPERLINK(\"x\")", last_name="Tab\t=1")
    text = admin_client.get(f"/admin/cohorts/{slug}/applications.csv").get_data(as_text=True)
    for delimiter in (",", ";", "\t"):
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            for cell in row:
                assert not cell.lstrip().startswith(("=", "+", "-", "@")), (delimiter, cell)
    [_, row] = list(csv.reader(io.StringIO(text)))
    assert "Portland;'=2+3" in row  # kept, as text


def test_sign_in_still_works_after_all_this(app, client, make_admin):
    make_admin()
    assert sign_in(client).status_code == 303
    assert Path(app.instance_path).exists()
