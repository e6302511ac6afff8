"""Limits that stop password guessing and form flooding, without getting in a person's way."""
import re

import pytest
from conftest import ADMIN_PASSWORD, sign_in


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RATELIMIT_ENABLED": True}


def test_password_guessing_is_slowed_down_with_a_friendly_page(client, make_admin):
    make_admin()
    for _ in range(10):
        assert sign_in(client, password="guess").status_code == 422
    response = sign_in(client, password=ADMIN_PASSWORD)
    assert response.status_code == 429
    assert "Please slow down a little" in response.get_data(as_text=True)


def test_one_account_is_protected_even_from_many_addresses(app, make_admin):
    make_admin()
    for n in range(20):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{n}"
        assert sign_in(client, password="guess").status_code == 422
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.1.1"
    assert sign_in(client).status_code == 429
    assert sign_in(client, email="someone@else.example").status_code == 422  # other accounts unaffected


def test_reading_pages_is_never_limited(client, make_cohort):
    slug = make_cohort()
    for _ in range(50):
        badge = client.get(f"/cohorts/{slug}/availability", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "6 of 6 seats open" in badge


def test_a_finished_application_is_never_thrown_away_by_the_limit(app, client, make_cohort, form_data):
    slug = make_cohort()
    for n in range(10):
        assert client.post("/apply", data=form_data(slug, email="same@example.org")).status_code == 303
    response = client.post("/apply", data=form_data(slug, email="same@example.org", intention="Words I wrote"))
    page = " ".join(response.get_data(as_text=True).split())
    assert response.status_code == 429
    assert "Your application has not been sent yet." in page and "everything you typed is still here" in page
    assert "Please press “Send my application” again in about 60 minutes" in page
    assert "Words I wrote</textarea>" in page and 'value="same@example.org"' in page
    assert "Wait a minute" not in page


def test_a_shared_network_may_send_many_applications_for_different_people(app, make_cohort, form_data):
    slug = make_cohort()
    client = app.test_client()
    for n in range(40):  # one office, forty people
        assert client.post("/apply", data=form_data(slug, email=f"person{n}@example.org")).status_code == 303


def test_other_limits_say_how_long_to_wait(app, client, make_admin):
    make_admin()
    for _ in range(10):
        sign_in(client, password="guess")
    page = " ".join(sign_in(client).get_data(as_text=True).split())
    assert re.search(r"Please try again in about (a minute|\d+ minutes)\.", page) and "Wait a minute" not in page
