"""The applicant's private status page."""
import pytest
from conftest import applications, emailed_status_path


def submit(client, make_cohort, form_data, **overrides):
    slug = make_cohort(title="Winter 2027 cohort")
    client.post("/apply", data=form_data(slug, **overrides))
    return emailed_status_path(client.application)


def test_status_page_confirms_receipt_and_says_what_happens_next(client, make_cohort, form_data):
    html = client.get(submit(client, make_cohort, form_data)).get_data(as_text=True)
    assert "Thank you, Alex. We have your application." in html
    assert "Received: waiting for a clinician’s review" in html
    assert "What happens next" in html and "medical evaluation" in html
    assert "Applying does not hold a seat, and it is not an acceptance." in html
    assert "Winter 2027 cohort" in html
    assert "Keep this link private" in html


def test_status_page_never_shows_the_answers(client, make_cohort, form_data):
    url = submit(client, make_cohort, form_data, medications="Lamotrigine 100mg", emergency_name="Robin Q",
                 home_area="Bangor, ME")
    html = client.get(url).get_data(as_text=True)
    assert "Lamotrigine" not in html and "Robin Q" not in html and "Bangor" not in html


def test_status_page_stays_out_of_caches_referrers_and_search(client, make_cohort, form_data):
    response = client.get(submit(client, make_cohort, form_data))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Robots-Tag"] == "noindex"


def test_tokens_are_long_and_unguessable(app, client, make_cohort, form_data):
    submit(client, make_cohort, form_data)
    [application] = applications(app)
    assert len(application.token) >= 40


@pytest.mark.parametrize("token", ["nope", "a" * 43, "%00", "../admin", "x" * 5000])
def test_unknown_token_is_a_friendly_404(client, token):
    response = client.get(f"/status/{token}")
    assert response.status_code == 404
    assert "We could not find that page" in response.get_data(as_text=True)


@pytest.mark.parametrize("status, words", [
    ("waitlisted", "On the waitlist"),
    ("declined", "Not this cohort"),
    ("withdrawn", "Withdrawn"),
])
def test_status_page_speaks_plainly_about_every_status(app, client, make_cohort, make_application, status, words):
    slug = make_cohort()
    application_id = make_application(slug, status=status)
    [application] = [a for a in applications(app) if a.id == application_id]
    assert words in client.get(f"/status/{application.token}").get_data(as_text=True)


def test_access_logs_never_show_the_private_token(app, caplog):
    import logging

    token = "Ou7c6lxmz-5tjTwbrlYJhnGlqbMCEDX_rAHKIlJCNho"
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('127.0.0.1 - - "%s" %s -', f"GET /status/{token} HTTP/1.1", "200")
    assert token not in caplog.text
    assert '"GET /status/[token] HTTP/1.1" 200' in caplog.text


def status_url_of(app, application_id):
    [application] = [a for a in applications(app) if a.id == application_id]
    return f"/status/{application.token}"


def test_an_offered_place_is_confirmed_from_the_status_page(app, client, make_cohort, make_application):
    from resilience.extensions import db
    from resilience.models import OutboxMessage

    slug = make_cohort()
    url = status_url_of(app, make_application(slug, status="accepted"))
    page = client.get(url).get_data(as_text=True)
    assert "A place is offered to you" in page and "Confirm my place" in page
    response = client.post(url, data={"action": "confirm"})
    assert response.status_code == 303 and response.headers["Location"] == url
    page = client.get(url).get_data(as_text=True)
    assert "Thank you: your place is confirmed." in page and "You are in the group" in page
    [application] = applications(app)
    assert application.status == "enrolled"
    with app.app_context():
        assert db.session.scalar(db.select(OutboxMessage.kind)) == "enrolled"


def test_withdrawing_needs_the_box_ticked_then_frees_the_seat(app, client, make_cohort, make_application):
    slug = make_cohort()
    url = status_url_of(app, make_application(slug, status="enrolled"))
    response = client.post(url, data={"action": "withdraw"})
    assert response.status_code == 422
    assert "Please tick the box to confirm that you want to withdraw." in response.get_data(as_text=True)
    assert applications(app)[0].status == "enrolled"
    response = client.post(url, data={"action": "withdraw", "sure": "y"})
    assert "Your application has been withdrawn." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert applications(app)[0].status == "withdrawn"
    assert "Withdraw my application" not in client.get(url).get_data(as_text=True)


def test_an_action_that_is_no_longer_possible_changes_nothing(app, client, make_cohort, make_application):
    slug = make_cohort()
    url = status_url_of(app, make_application(slug, status="pending"))
    response = client.post(url, data={"action": "confirm"})
    assert "Nothing was changed" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert applications(app)[0].status == "pending"
    assert client.post(url, data={"action": "become-admin"}).status_code == 422
    assert client.post("/status/not-a-real-token-at-all", data={"action": "withdraw", "sure": "y"}).status_code == 404


def test_gunicorn_style_access_logs_never_show_the_private_token(app, caplog):
    import logging

    token = "Ou7c6lxmz-5tjTwbrlYJhnGlqbMCEDX_rAHKIlJCNho"
    with caplog.at_level(logging.INFO, logger="gunicorn.access"):
        logging.getLogger("gunicorn.access").info(
            '%(h)s "%(r)s" %(s)s "%(f)s"',
            {"h": "127.0.0.1", "r": f"GET /status/{token} HTTP/1.1", "s": "200",
             "f": f"https://site.example/status/{token}"})
    assert token not in caplog.text
    assert '"GET /status/[token] HTTP/1.1" 200 "https://site.example/status/[token]"' in caplog.text


def test_an_offer_past_its_time_shows_no_confirm_button_even_before_it_is_lapsed(app, client, make_cohort,
                                                                               make_application):
    from datetime import timedelta

    from conftest import NOW

    slug = make_cohort()
    url = status_url_of(app, make_application(slug, status="accepted", confirm_by_at=NOW + timedelta(days=1)))
    assert "Confirm my place" in client.get(url).get_data(as_text=True)
    app.config["NOW"] = NOW + timedelta(days=1, minutes=5)  # periodic has not run yet
    page = client.get(url).get_data(as_text=True)
    assert "Confirm my place" not in page
    assert "The time to confirm this place passed on Friday, November 27, 2026 at 10:00 am EST" in page


def test_a_button_the_page_does_not_have_is_refused_in_words(client, make_cohort, form_data):
    status = submit(client, make_cohort, form_data)
    response = client.post(status, data={"action": "maybe"})
    assert response.status_code == 422
    assert "That button was not understood" in response.get_data(as_text=True)
    assert "Nothing was changed" in response.get_data(as_text=True)


def test_an_action_the_page_no_longer_offers_says_nothing_was_changed(app, client, make_cohort, make_application):
    """An older copy of the page (a withdraw form without its box ticked, a time chosen) sent
    for an application that can no longer do that: the answer says so, and nothing changes."""
    from resilience.extensions import db
    from resilience.models import Application

    slug = make_cohort()
    application_id = make_application(slug, status="declined")
    with app.app_context():
        token = db.session.get(Application, application_id).token
    for sent in ({"action": "withdraw"}, {"action": "book", "slot": "x"}, {"action": "cancel"}):
        response = client.post(f"/status/{token}", data=sent)
        assert response.status_code == 422, sent
        assert "Nothing was changed: that is no longer possible" in response.get_data(as_text=True), sent
    assert applications(app)[0].status == "declined"
