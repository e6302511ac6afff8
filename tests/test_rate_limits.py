"""Limits that stop password guessing and form flooding, without getting in a person's way."""
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
