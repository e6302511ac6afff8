"""With CSRF protection on, as in production: the token comes from the page, as a browser's would."""
import re

import pytest
from conftest import applications


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


def token_from(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)[1]


def test_form_with_the_token_from_the_page_is_accepted(app, client, make_cohort, form_data):
    slug = make_cohort()
    token = token_from(client.get("/apply").get_data(as_text=True))
    response = client.post("/apply", data={**form_data(slug), "csrf_token": token})
    assert response.status_code == 303
    assert len(applications(app)) == 1


def test_missing_token_gets_a_friendly_400_that_keeps_every_answer(app, client, make_cohort, form_data):
    slug = make_cohort()
    client.get("/apply")
    response = client.post("/apply", data=form_data(slug, intention="Something I wrote carefully"))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Your application has not been sent yet." in html
    assert "Something I wrote carefully</textarea>" in html
    assert 'value="alex@example.org"' in html
    assert applications(app) == []
    # the page carries a fresh token, so sending again works
    response = client.post("/apply", data={**form_data(slug), "csrf_token": token_from(html)})
    assert response.status_code == 303


def test_forged_token_is_refused(app, client, make_cohort, form_data):
    slug = make_cohort()
    client.get("/apply")
    response = client.post("/apply", data={**form_data(slug), "csrf_token": "forged"})
    assert response.status_code == 400
    assert applications(app) == []


def test_inline_validation_needs_the_token_too(client, make_cohort, form_data):
    slug = make_cohort()
    html = client.get("/apply").get_data(as_text=True)
    data = form_data(slug, email="x")
    assert client.post("/apply/validate?field=email", data=data, headers={"HX-Request": "true"}).status_code == 400
    response = client.post("/apply/validate?field=email", data={**data, "csrf_token": token_from(html)},
                           headers={"HX-Request": "true"})
    assert "Please enter an email address like name@example.com." in response.get_data(as_text=True)


def test_program_page_sets_no_cookie(client, make_cohort):
    make_cohort()
    assert "Set-Cookie" not in client.get("/").headers


def test_an_htmx_decision_after_the_session_ended_sends_the_clinician_to_sign_in(client, make_cohort, make_application):
    application_id = make_application(make_cohort())
    response = client.post(f"/admin/applications/{application_id}/status", data={"status": "accepted"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/admin/login")


def test_admin_forms_with_the_token_from_the_page_work(app, client, make_admin, make_cohort, make_application):
    from conftest import ADMIN_PASSWORD

    make_admin()
    application_id = make_application(make_cohort())
    token = token_from(client.get("/admin/login").get_data(as_text=True))
    assert client.post("/admin/login", data={"email": "ana@practice.example", "password": ADMIN_PASSWORD,
                                             "csrf_token": token}).status_code == 303
    page = client.get(f"/admin/applications/{application_id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    assert client.post(f"/admin/applications/{application_id}/status",
                       data={"status": "waitlisted", "csrf_token": token}).status_code == 303
    response = client.post(f"/admin/applications/{application_id}/status", data={"status": "declined"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 400 and response.headers["HX-Refresh"] == "true"
