"""The program page and the live seats badge, as a visitor sees them."""
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import NOW


def seats_badge(html: str, slug: str) -> tuple[int, int]:
    match = re.search(
        rf'id="availability-{slug}"\s+data-capacity="(\d+)" data-seats-left="(\d+)"', html
    )
    assert match, "no availability badge for " + slug
    return int(match[1]), int(match[2])


def test_program_page_describes_the_program_and_lists_the_cohort(client, make_cohort):
    slug = make_cohort(title="Winter 2027 cohort", fee_text="$2,400 for everything.")
    page = client.get("/").get_data(as_text=True)

    for words in ("6 weeks", "10 meetings", "6 people", "mindfulness", "self-compassion",
                  "creative self-expression", "Preparation", "Ketamine sessions", "Integration",
                  "Week 6", "Winter 2027 cohort", "What a ketamine day looks like",
                  "Who is it not for?", "Why do I need someone to take me home?",
                  "Is what I share kept private?", "$2,400 for everything."):
        assert words in page
    assert 'href="tel:988"' in page and "Not for emergencies" in page
    assert f'href="/apply?cohort={slug}"' in page
    assert seats_badge(page, slug) == (6, 6)


def test_each_cohort_shows_its_ten_dated_meetings_in_local_time(client, make_cohort):
    make_cohort(starts_on=NOW.date() + timedelta(days=47))  # Tuesday, January 12, 2027
    page = client.get("/").get_data(as_text=True)

    names = re.findall(r'class="meeting__name">([^<]+)<', page)
    assert names == [
        "Preparation meeting 1", "Preparation meeting 2", "Preparation meeting 3",
        "Ketamine session 1", "Integration meeting 1", "Ketamine session 2",
        "Integration meeting 2", "Ketamine session 3", "Integration meeting 3",
        "Integration meeting 4",
    ]
    assert re.search(r"Tue, Jan 12</time>,\s+6:00 – 8:00 pm EST", page)
    assert re.search(r"Sat, Jan 23</time>,\s+9:30 am – 1:30 pm EST", page)
    assert "Tuesday, January 12, 2027 to Tuesday, February 16, 2027" in page


def test_fee_question_only_appears_when_a_fee_is_set(client, make_cohort):
    make_cohort(fee_text=None)
    assert "What does it cost?" not in client.get("/").get_data(as_text=True)


def test_page_without_cohorts_says_so_kindly(client):
    page = client.get("/").get_data(as_text=True)
    assert "No cohort is scheduled right now" in page


def test_started_cohorts_are_not_listed(client, make_cohort):
    make_cohort(title="Already running", starts_on=NOW.date() - timedelta(days=3))
    assert "Already running" not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    "statuses, seats_left",
    [
        ([], 6),
        (["pending", "pending", "waitlisted", "declined", "withdrawn"], 6),
        (["accepted"], 5),
        (["accepted", "enrolled", "enrolled", "pending"], 3),
        (["accepted"] * 3 + ["enrolled"] * 3 + ["waitlisted"], 0),
    ],
)
def test_seats_left_counts_only_accepted_and_enrolled(client, make_cohort, make_application,
                                                      statuses, seats_left):
    slug = make_cohort()
    for status in statuses:
        make_application(slug, status=status)
    page = client.get("/").get_data(as_text=True)
    assert seats_badge(page, slug) == (6, seats_left)
    fragment = client.get(f"/cohorts/{slug}/availability", headers={"HX-Request": "true"})
    assert seats_badge(fragment.get_data(as_text=True), slug) == (6, seats_left)


def test_capacity_is_a_per_cohort_setting(client, make_cohort, make_application):
    slug = make_cohort(capacity=4)
    make_application(slug, status="accepted")
    page = client.get("/").get_data(as_text=True)
    assert seats_badge(page, slug) == (4, 3)
    assert "3 of 4 seats open" in page


def test_full_cohort_says_the_waitlist_is_open_and_still_takes_applications(
        client, make_cohort, make_application):
    slug = make_cohort(capacity=2)
    make_application(slug, status="accepted")
    make_application(slug, status="enrolled")
    page = client.get("/").get_data(as_text=True)
    assert "All 2 seats are taken: the waitlist is open" in page
    assert f'href="/apply?cohort={slug}"' in page


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"applications_open": False}, "Applications for this cohort are closed."),
        ({"application_deadline": NOW.date() - timedelta(days=1)},
         "The application deadline for this cohort has passed."),
    ],
)
def test_closed_cohort_says_so_and_offers_no_apply_button(client, make_cohort, overrides, message):
    slug = make_cohort(**overrides)
    page = client.get("/").get_data(as_text=True)
    assert "Not taking applications" in page and message in page
    assert f'href="/apply?cohort={slug}"' not in page


def test_deadline_day_itself_is_still_open(client, make_cohort):
    slug = make_cohort(application_deadline=NOW.date())
    assert f'href="/apply?cohort={slug}"' in client.get("/").get_data(as_text=True)


def test_availability_fragment_for_htmx_is_only_the_badge_and_polls(htmx_client, make_cohort):
    slug = make_cohort()
    response = htmx_client.get(f"/cohorts/{slug}/availability")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div class="availability')
    assert "<html" not in html and "<header" not in html
    assert f'hx-get="/cohorts/{slug}/availability"' in html
    assert 'hx-trigger="every 15s"' in html
    assert "HX-Request" in response.headers["Vary"]


def test_availability_without_htmx_is_a_full_page_with_the_same_badge(client, make_cohort):
    slug = make_cohort(title="Spring cohort")
    response = client.get(f"/cohorts/{slug}/availability")
    html = response.get_data(as_text=True)
    assert "<html" in html and "<h1>Spring cohort</h1>" in html
    assert seats_badge(html, slug) == (6, 6)
    assert "HX-Request" in response.headers["Vary"]


def test_boosted_request_gets_the_full_page(client, make_cohort):
    slug = make_cohort()
    html = client.get(f"/cohorts/{slug}/availability",
                      headers={"HX-Request": "true", "HX-Boosted": "true"}).get_data(as_text=True)
    assert "<html" in html


def test_availability_of_unknown_cohort_is_a_friendly_404(client):
    response = client.get("/cohorts/no-such-cohort/availability")
    assert response.status_code == 404
    assert "We could not find that page" in response.get_data(as_text=True)


def test_pages_carry_privacy_and_security_headers(client):
    response = client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    html = response.get_data(as_text=True)
    assert "<script>" not in html and " onclick=" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from other sites


def test_deadline_is_counted_in_the_cohorts_own_time_zone(app, client, make_cohort):
    slug = make_cohort(application_deadline=date(2026, 12, 1), timezone="America/Los_Angeles")
    # 03:00 UTC on December 2 is still 7 pm on December 1 in Los Angeles: open
    app.config["NOW"] = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    assert f'href="/apply?cohort={slug}"' in client.get("/").get_data(as_text=True)
    # 08:30 UTC is 00:30 on December 2 there: closed
    app.config["NOW"] = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    assert "The application deadline for this cohort has passed." in client.get("/").get_data(as_text=True)
