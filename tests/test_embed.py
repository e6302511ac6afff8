"""The blog badge: GET /embed/cohorts/<slug>, a tiny page for an iframe in a blog post,
framable only by the origins in RESILIENCE_EMBED_ORIGINS; every other page stays unframable."""
import re

import pytest

from resilience import ConfigurationError, create_app
from resilience.status import Status

BLOG = "https://blog.practice.example"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "EMBED_ORIGINS": f"{BLOG}, https://www.practice.example"}


def frame_ancestors(response) -> str:
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    return policy["frame-ancestors"]


def test_the_badge_shows_the_cohort_dates_and_seats_left(client, make_cohort, make_application):
    slug = make_cohort(title="Winter cohort")
    make_application(slug, status=Status.ENROLLED)
    make_application(slug, status=Status.PENDING)  # a pending application holds no seat

    page = client.get(f"/embed/cohorts/{slug}").get_data(as_text=True)

    assert "Winter cohort" in page
    assert "5 of 6 seats open" in page
    assert "January 10 – February 14, 2027" in page  # first to last meeting (conftest: 45 days after Nov 26)
    assert 'data-seats-left="5"' in page


def test_the_apply_link_opens_the_site_in_the_top_window_from_the_blog(client, make_cohort):
    slug = make_cohort()
    page = client.get(f"/embed/cohorts/{slug}").get_data(as_text=True)

    link = re.search(r'<a [^>]*id="embed-apply"[^>]*>', page).group(0)
    assert 'target="_top"' in link
    assert f"/apply?cohort={slug}&amp;ref=blog" in link


def test_only_the_configured_origins_may_frame_the_badge(client, make_cohort):
    slug = make_cohort()
    response = client.get(f"/embed/cohorts/{slug}")

    assert frame_ancestors(response) == f"{BLOG} https://www.practice.example"
    assert "X-Frame-Options" not in response.headers  # it would forbid every frame, the blog's too


@pytest.mark.parametrize("path", ["/", "/apply", "/admin/login", "/status/resend", "/embed/cohorts/no-such"])
def test_every_other_page_stays_unframable(client, make_cohort, path):
    make_cohort()
    response = client.get(path)

    assert frame_ancestors(response) == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_with_no_origins_configured_the_badge_cannot_be_framed(app_config, make_cohort, tmp_path, monkeypatch):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({**app_config, "EMBED_ORIGINS": ""})
    from resilience.extensions import db
    with app.app_context():
        db.create_all()
    response = app.test_client().get("/embed/cohorts/anything")
    assert frame_ancestors(response) == "'none'"


@pytest.mark.parametrize("origins", ["blog.practice.example", "https://blog.practice.example/posts",
                                     "javascript:alert(1)", "https://blog.example; script-src *", "*"])
def test_an_embed_origin_that_is_not_an_origin_stops_the_start(app_config, origins, tmp_path, monkeypatch):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path / "instance"))
    with pytest.raises(ConfigurationError, match="RESILIENCE_EMBED_ORIGINS"):
        create_app({**app_config, "EMBED_ORIGINS": origins})


def test_a_seat_taken_shows_on_the_next_poll(client, make_cohort, make_application, app):
    slug = make_cohort()
    first = client.get(f"/embed/cohorts/{slug}", headers={"HX-Request": "true"}).get_data(as_text=True)
    make_application(slug, status=Status.ACCEPTED)
    second = client.get(f"/embed/cohorts/{slug}", headers={"HX-Request": "true"}).get_data(as_text=True)

    assert 'data-seats-left="6"' in first and 'data-seats-left="5"' in second
    assert "<html" not in second  # only the badge, which replaces itself
    assert 'hx-trigger="every 15s"' in second


def test_a_full_cohort_offers_the_waitlist(client, make_cohort, make_application):
    slug = make_cohort()
    for _ in range(6):
        make_application(slug, status=Status.ENROLLED)
    page = client.get(f"/embed/cohorts/{slug}").get_data(as_text=True)

    assert "All 6 seats are taken" in page
    assert "Apply for the waitlist" in page


def test_a_closed_cohort_links_to_the_program_page_instead(client, make_cohort):
    slug = make_cohort(applications_open=False)
    page = client.get(f"/embed/cohorts/{slug}").get_data(as_text=True)

    assert "Not taking applications" in page
    assert 'id="embed-apply"' not in page
    assert re.search(r'<a [^>]*href="/\?ref=blog#cohorts"[^>]*target="_top"', page)


def test_the_badge_sets_no_cookie_and_has_no_site_chrome(client, make_cohort):
    slug = make_cohort()
    response = client.get(f"/embed/cohorts/{slug}")
    page = response.get_data(as_text=True)

    assert "Set-Cookie" not in response.headers
    assert "site-header" not in page and "site-footer" not in page


def test_an_unknown_cohort_is_a_small_not_found(client):
    response = client.get("/embed/cohorts/no-such-cohort")
    assert response.status_code == 404


def test_the_cohorts_page_gives_the_clinicians_the_snippet_for_the_blog(admin_client, make_cohort):
    slug = make_cohort(title="Spring cohort")
    page = admin_client.get("/admin/cohorts").get_data(as_text=True)

    assert f"&lt;iframe src=&#34;http://127.0.0.1:5000/embed/cohorts/{slug}&#34;" in page or \
        f'&lt;iframe src="http://127.0.0.1:5000/embed/cohorts/{slug}"' in page
    assert f"Sites allowed to show it: {BLOG}, https://www.practice.example." in page
