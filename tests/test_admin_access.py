"""Who may see the clinicians' panel: signing in, signing out, sessions, and no way round."""
import re

import pytest
from conftest import ADMIN_PASSWORD, sign_in

from resilience import create_app


def admin_routes():
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATA_KEY": "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA=",
                      "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin") and rule.endpoint != "admin.login":
            url = re.sub(r"<int[^>]*:\w+>", "1", rule.rule).replace("<slug>", "some-cohort")
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield pytest.param(method, url, id=f"{method} {url}")


ADMIN_ROUTES = list(admin_routes())


def test_the_panel_has_the_pages_we_expect():
    urls = {url for _, url in (p.values for p in ADMIN_ROUTES)}
    assert {"/admin/", "/admin/applications", "/admin/applications/1", "/admin/applications/1/status",
            "/admin/cohorts/some-cohort/applications.csv", "/admin/audit", "/admin/logout"} <= urls


@pytest.mark.parametrize("method, url", ADMIN_ROUTES)
def test_every_admin_page_sends_a_stranger_to_sign_in(client, method, url):
    response = client.open(url, method=method)
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/admin/login")


@pytest.mark.parametrize("method, url", ADMIN_ROUTES)
def test_htmx_requests_from_a_stranger_are_redirected_by_htmx(client, method, url):
    response = client.open(url, method=method, headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/admin/login")
    assert response.get_data() == b""


def test_sign_in_then_see_the_dashboard(client, make_admin, make_cohort):
    make_admin()
    make_cohort(title="Winter 2027 cohort")
    response = sign_in(client)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    html = client.get("/admin/").get_data(as_text=True)
    assert "Seats at a glance" in html and "Winter 2027 cohort" in html


@pytest.mark.parametrize("email, password", [
    ("ana@practice.example", "wrong password"),
    ("nobody@practice.example", ADMIN_PASSWORD),
    ("ANA@practice.example", "wrong password"),
])
def test_wrong_sign_in_does_not_say_which_part_was_wrong(client, make_admin, email, password):
    make_admin()
    response = sign_in(client, email, password)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "That email and password do not match an active account." in html
    assert client.get("/admin/").status_code == 302


def test_odd_sign_in_input_is_just_a_failed_sign_in(client, make_admin):
    make_admin()
    for email, password in (("ana@practice.example\x00", "\x00"), ("\x00", "\x00"), ("a" * 300, "b")):
        assert sign_in(client, email, password).status_code == 422


def test_email_is_not_case_sensitive(client, make_admin):
    make_admin()
    assert sign_in(client, "Ana@Practice.Example").status_code == 303


def test_inactive_account_cannot_sign_in(client, make_admin):
    make_admin(active=False)
    assert sign_in(client).status_code == 422


def test_sign_in_returns_to_the_page_asked_for_but_never_elsewhere(client, make_admin):
    make_admin()
    assert client.get("/admin/audit?action=export").headers["Location"] == (
        "/admin/login?next=/admin/audit?action%3Dexport")
    response = client.post("/admin/login?next=/admin/audit?action%3Dexport",
                           data={"email": "ana@practice.example", "password": ADMIN_PASSWORD})
    assert response.headers["Location"] == "/admin/audit?action=export"
    client.post("/admin/logout")
    for target in ("https://evil.example/", "//evil.example/admin/", "/\\evil.example", "/apply"):
        response = client.post(f"/admin/login?next={target}", data={"email": "ana@practice.example",
                                                                     "password": ADMIN_PASSWORD})
        assert response.headers["Location"] == "/admin/", target
        client.post("/admin/logout")


def test_sign_out_ends_the_session(admin_client):
    assert "Seats at a glance" in admin_client.get("/admin/").get_data(as_text=True)
    response = admin_client.post("/admin/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/login"
    assert admin_client.get("/admin/").status_code == 302


def test_session_cookie_is_http_only_lax_and_expires_after_inactivity(client, make_admin):
    make_admin()
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert re.search(r"Expires=", cookie)


def test_an_old_session_cookie_is_refused(app, client, make_admin, monkeypatch):
    import time

    make_admin()
    sign_in(client)
    assert "Seats at a glance" in client.get("/admin/").get_data(as_text=True)
    later = time.time() + app.permanent_session_lifetime.total_seconds() + 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/admin/").status_code == 302


def test_admin_pages_are_never_cached(admin_client):
    response = admin_client.get("/admin/")
    assert response.headers["Cache-Control"] == "no-store"


def test_an_hour_without_admin_activity_signs_out_even_with_public_pages_open(app, client, make_admin, make_cohort):
    from datetime import timedelta

    from conftest import NOW

    make_admin()
    slug = make_cohort()
    sign_in(client)
    app.config["NOW"] = NOW + timedelta(minutes=50)
    assert "Seats at a glance" in client.get("/admin/").get_data(as_text=True)  # activity keeps it alive
    for minutes in (60, 80, 100, 115):  # only the public seats badge, polled from an open tab
        app.config["NOW"] = NOW + timedelta(minutes=minutes)
        client.get(f"/cohorts/{slug}/availability", headers={"HX-Request": "true"})
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    assert "You were signed out after 60 minutes without activity." in client.get("/admin/login").get_data(as_text=True)


@pytest.mark.parametrize("url", ["/admin/applications/99999999999999999999999", "/admin/applications/-1"])
def test_absurd_application_numbers_are_404(admin_client, url):
    assert admin_client.get(url).status_code == 404


@pytest.mark.parametrize("query", ["admin=%C2%B2", "application=%E2%91%A0", "application=99999999999999999999999",
                                   "page=99999999999999999999999", "page=0", "page=-3"])
def test_odd_numbers_in_admin_filters_are_ignored(admin_client, make_cohort, make_application, query):
    make_application(make_cohort(), first_name="Maya", last_name="Okafor")
    audit = admin_client.get(f"/admin/audit?{query}").get_data(as_text=True)
    assert "1 event." in audit and "signed in" in audit  # the filter is ignored, not an error
    listed = admin_client.get(f"/admin/applications?{query}").get_data(as_text=True)
    assert "1 application." in listed and "Maya Okafor" in listed


def test_signing_in_again_after_the_idle_time_signs_in(app, admin_client):
    """The first thing a clinician does after an hour away may be the sign-in form itself."""
    from datetime import timedelta

    from conftest import NOW, sign_in

    app.config["NOW"] = NOW + timedelta(hours=2)
    response = sign_in(admin_client)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    assert admin_client.get("/admin/").status_code == 200
