"""A lost status link, sent again by email: the same answer for every address, so the page
never tells anyone who has applied."""
import io
import json
import re
from datetime import timedelta

import pytest
from conftest import NOW, answers, applications, deliver, over_smtp
from test_page_policy import assert_strict

from resilience.extensions import db
from resilience.models import AuditEvent, OutboxMessage

SENT = "If we have an application from that address, we have emailed its status link."


@pytest.fixture
def app_config(app_config, smtp):
    return over_smtp(app_config, smtp)


def ask(client, email):
    return client.post("/status/resend", data={"email": email})


def page(response) -> str:
    """The page as a person sees it: the CSRF token is the one part that differs each time."""
    return re.sub(r'name="csrf_token"[^>]*', "", response.get_data(as_text=True))


def queued(app) -> list[OutboxMessage]:
    with app.app_context():
        return list(db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == "status_links")
                                       .order_by(OutboxMessage.id)))


def parts(message) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_the_page_asks_for_the_address_applied_with(client):
    response = client.get("/status/resend")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Lost your status link?" in html
    assert "Enter the email address you applied with" in html
    assert 'action="/status/resend"' in html and 'name="email"' in html and 'type="email"' in html
    assert SENT not in html
    assert_strict(html, "/status/resend")


def test_known_and_unknown_addresses_get_the_same_answer(app, client, make_cohort, make_application):
    make_application(make_cohort(), email="sam@example.org")
    known, unknown = ask(client, "sam@example.org"), ask(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert page(known) == page(unknown)
    assert SENT in page(known) and "check your spam" in page(known)
    assert "sam@example.org" not in page(known)
    assert_strict(page(known), "/status/resend")
    assert [message.to_address for message in queued(app)] == ["sam@example.org"]


def test_one_email_lists_every_application_made_with_the_address(app, client, smtp, make_cohort, make_application):
    older = make_application(make_cohort(title="Autumn 2026 cohort"), email="sam@example.org", first_name="Sam",
                             last_name="Okafor", status="waitlisted", created_at=NOW - timedelta(days=60))
    newer = make_application(make_cohort(title="Winter 2027 cohort"), email="sam@Example.org",
                             first_name="Sam", last_name="Okafor")
    someone_else = make_application(make_cohort(), email="alex@example.org")
    tokens = {a.id: a.token for a in applications(app)}

    assert ask(client, "  SAM@example.org ").status_code == 200
    assert deliver(app).sent == 1
    [(_, message)] = smtp.messages
    assert message["To"] == "sam@Example.org"  # the address as typed on the most recent application
    assert message["Subject"] == "Your status links"
    text, html = parts(message)
    assert text.startswith("Hello Sam,") and "Okafor" not in text and "Okafor" not in html
    for body in (text, html):
        assert "Autumn 2026 cohort" in body and "On the waitlist" in body
        assert "Winter 2027 cohort" in body and "Received: waiting for a clinician’s review" in body
        assert f"https://resilience.example/status/{tokens[older]}" in body
        assert f"https://resilience.example/status/{tokens[newer]}" in body
        assert tokens[someone_else] not in body
        assert "not watched for emergencies" in body
    with app.app_context():
        [event] = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "status links sent")).all()
        assert (event.actor, event.application_id) == ("applicant", newer)


def test_one_application_gets_a_singular_email(app, client, smtp, make_cohort, make_application):
    make_application(make_cohort(), email="sam@example.org", first_name="Sam")
    ask(client, "sam@example.org")
    deliver(app)
    [(_, message)] = smtp.messages
    assert message["Subject"] == "Your status link"
    assert "Here it is" in parts(message)[0]


def test_at_most_three_emails_a_day_reach_one_address(app, client, make_cohort, make_application):
    make_application(make_cohort(), email="sam@example.org")
    answers_seen = {page(ask(client, "sam@example.org")) for _ in range(5)}
    assert len(answers_seen) == 1  # the fourth and fifth look just the same
    assert len(queued(app)) == 3
    app.config["NOW"] = NOW + timedelta(days=1)
    ask(client, "sam@example.org")
    assert len(queued(app)) == 4


@pytest.mark.parametrize("typed, message", [
    ("", "Please enter the email address you applied with."),
    ("   ", "Please enter the email address you applied with."),
    ("sam at example", "Please enter an email address like name@example.com."),
    ("sam@example.org" + "x" * 300, "Please keep this under 254 characters."),
])
def test_a_missing_or_mistyped_address_is_explained_and_kept(app, client, make_cohort, make_application,
                                                            typed, message):
    make_application(make_cohort(), email="sam@example.org")
    response = ask(client, typed)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'aria-invalid="true"' in html
    assert f'value="{typed.strip()}"' in html
    assert SENT not in html
    assert queued(app) == []


def test_an_odd_body_gets_a_clear_answer_and_sends_nothing(app, client, make_cohort, make_application):
    make_application(make_cohort(), email="sam@example.org")
    for body in ({"email": "sam@example.org"}, {"email": ["sam@example.org"]}, [], "sam@example.org"):
        response = client.post("/status/resend", data=json.dumps(body), content_type="application/json")
        assert response.status_code == 422
        assert "Please enter the email address you applied with." in response.get_data(as_text=True)
    response = client.post("/status/resend", data={"email": (io.BytesIO(b"sam@example.org"), "email.txt")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert queued(app) == []


def test_the_email_never_holds_the_answers(app, client, smtp, make_cohort, make_application):
    make_application(make_cohort(), email="sam@example.org", phone="555 010 9999", home_area="Bangor, ME",
                     answers=answers(medications="Sertraline 50mg", intention="My private reasons",
                                     knows_applicants="Robin Q, my neighbour"))
    ask(client, "sam@example.org")
    deliver(app)
    [(_, message)] = smtp.messages
    for body in parts(message):
        for private in ("Sertraline", "My private reasons", "Robin Q", "Sam Lee", "555 010", "Bangor", "Rivera"):
            assert private not in body


class TestRateLimit:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True}

    def test_many_requests_from_one_connection_are_slowed_down(self, client):
        for _ in range(10):
            assert ask(client, "someone@example.org").status_code == 200
        response = ask(client, "someone@example.org")
        assert response.status_code == 429
        assert "Please slow down a little" in response.get_data(as_text=True)
        assert client.get("/status/resend").status_code == 200  # reading the page is never limited


def test_the_answer_takes_as_long_for_a_known_address_as_for_an_unknown_one(app, client, make_cohort, form_data):
    """Its timing must not tell who has applied: every answer takes the same minimum time."""
    import time

    client.post("/apply", data=form_data(make_cohort(), email="alex@example.org"))
    app.config["RESEND_ANSWER_SECONDS"] = 0.3
    for email in ("alex@example.org", "nobody@example.org"):
        started = time.monotonic()
        assert client.post("/status/resend", data={"email": email}).status_code == 200
        assert time.monotonic() - started >= 0.3, email


def test_a_status_link_that_finds_nothing_points_to_this_page(client):
    page = " ".join(client.get("/status/" + "x" * 43).get_data(as_text=True).split())
    assert "we can email it to you again" in page and 'href="/status/resend"' in page
    assert "email it to you again" not in " ".join(client.get("/no-such-page").get_data(as_text=True).split())
