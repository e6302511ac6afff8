"""The application form: happy path, every kind of bad input, repeats and races."""
import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW, applications, mail

from resilience import enrolment
from resilience.extensions import db
from resilience.models import Application, Cohort, OutboxMessage
from resilience.status import Status


def test_link_from_the_blog_preselects_its_cohort(client, make_cohort):
    make_cohort()
    slug = make_cohort(title="Spring cohort")
    html = client.get(f"/apply?cohort={slug}").get_data(as_text=True)
    assert re.search(rf'<input checked id="cohort-\d" name="cohort" required type="radio" value="{slug}">', html)


def test_only_open_cohort_is_chosen_for_you(client, make_cohort):
    slug = make_cohort()
    html = client.get("/apply").get_data(as_text=True)
    assert f'checked id="cohort-0" name="cohort" required type="radio" value="{slug}"' in html


def test_form_has_every_section_and_works_without_javascript(client, make_cohort):
    make_cohort()
    html = client.get("/apply").get_data(as_text=True)
    assert '<form class="application-form" method="post" action="/apply" novalidate data-steps="5">' in html
    for title in ("About you", "Dates and getting home", "Your support", "Health screen",
                  "Your intentions", "Before you send", "Your consent"):
        assert f">{title}</h2>" in html
    assert 'type="submit"' in html
    assert html.count('value="unsure"') == 11  # the two logistics questions and nine health flags


def test_unknown_cohort_in_link_says_so_and_offers_the_open_ones(client, make_cohort):
    make_cohort(title="Spring cohort")
    html = client.get("/apply?cohort=autumn-1999").get_data(as_text=True)
    assert "We could not find the cohort named in that link." in html
    assert "Spring cohort" in html


def test_closed_cohort_in_link_says_why(client, make_cohort):
    slug = make_cohort(title="Winter cohort", applications_open=False)
    html = client.get(f"/apply?cohort={slug}").get_data(as_text=True)
    assert "Winter cohort: Applications for this cohort are closed." in html


def test_no_open_cohort_means_no_form(client, make_cohort):
    make_cohort(application_deadline=NOW.date() - timedelta(days=2))
    html = client.get("/apply").get_data(as_text=True)
    assert "No cohort is taking applications right now" in html
    assert "<form" not in html


def test_a_complete_application_is_stored_pending_and_the_link_goes_by_email(app, client, make_cohort, form_data):
    slug = make_cohort()
    response = client.post("/apply?ref=blog-post-12", data=form_data(slug, ref="blog-post-12"))

    assert response.status_code == 303 and response.headers["Location"] == "/apply/sent"
    [application] = applications(app)
    assert application.status == "pending"
    assert (application.first_name, application.email, application.email_key) == (
        "Alex", "alex@example.org", "alex@example.org")
    assert application.pronouns == "they/them"
    assert application.referral == "blog-post-12"
    assert application.agreed_texts == {f"agreement.{name}": 1 for name in (
        "ack_not_acceptance", "ack_commitment", "ack_adult", "ack_not_emergency", "consent_health")}
    assert application.consented_at == NOW and application.health_consent_at == NOW
    with app.app_context():
        stored = db.session.get(type(application), application.id)
        assert stored.answers["medications"] == "none"
        assert stored.answers["intention"] == "I want to feel steadier with people."
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Thank you. Please check your email." in page and "alex@example.org" in page
    assert "What happens next" in page and "within five working days" in page and "988" in page
    assert application.token not in page  # the link reaches the person only by email
    [received] = mail(app, kind="received")
    assert f"/status/{application.token}" in received["text"]


def test_a_new_and_a_duplicate_application_get_the_same_answer(app, client, make_cohort, make_application,
                                                               form_data):
    """Whether an address has applied is health information: the page never tells. The email
    does, to the address itself."""
    slug = make_cohort()
    make_application(slug, email="taken@example.org", status="waitlisted")
    answers = {}
    for email in ("new@example.org", "taken@example.org"):
        other = app.test_client()
        response = other.post("/apply", data=form_data(slug, email=email))
        page = other.get(response.headers["Location"]).get_data(as_text=True)
        answers[email] = (response.status_code, response.headers["Location"], page.replace(email, "EMAIL"))
    assert answers["new@example.org"] == answers["taken@example.org"]
    assert [m["kind"] for m in mail(app, to="new@example.org")] == ["received"]
    assert [m["kind"] for m in mail(app, to="taken@example.org")] == ["status_link"]
    assert len(applications(app)) == 2


def test_sensitive_answers_are_encrypted_at_rest(app, client, make_cohort, form_data):
    slug = make_cohort()
    client.post("/apply", data=form_data(slug, medications="Sertraline 50mg"))
    with app.app_context():
        raw = db.session.execute(sa.text("SELECT answers FROM application")).scalar_one()
    assert "Sertraline" not in raw and "Rivera" not in raw and raw.startswith("gAAAA")


def test_referring_host_is_kept_when_there_is_no_ref(client, make_cohort):
    make_cohort()
    html = client.get("/apply", headers={"Referer": "https://blog.example.org/posts/resilience"}).get_data(as_text=True)
    assert 'name="ref" type="hidden" value="blog.example.org"' in html


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("first_name", "", "Please enter your first name."),
        ("email", "", "Please enter your email address."),
        ("email", "alex@", "Please enter an email address like name@example.com."),
        ("email", "not an email", "Please enter an email address like name@example.com."),
        ("phone", "call me", "Please enter a phone number with its area code"),
        ("emergency_phone", "12", "Please enter a phone number with its area code"),
        ("provider", "   ", "Please answer this question."),
        ("attend_all", None, "Please choose one answer."),
        ("psychosis", None, "Please choose one answer."),
        ("psychosis", "maybe-later", "Not a valid choice."),
        ("medications", "", "Please list your medications, or write “none”."),
        ("intention", "x" * 3001, "Please keep this under 3,000 characters."),
        ("first_name", "x" * 101, "Please keep this under 100 characters."),
        ("logistics_notes", "x" * 1001, "Please keep this under 1,000 characters."),
        ("ack_adult", None, "Please confirm you are 18 or older."),
        ("consent_health", None, "We can only consider your application with this consent."),
        ("cohort", None, "Please choose the cohort you are applying for."),
        ("cohort", "no-such-cohort", "Please choose the cohort you are applying for."),
    ],
)
def test_bad_input_gets_a_clear_message_keeps_what_was_typed_and_stores_nothing(
        app, client, make_cohort, form_data, field, value, message):
    slug = make_cohort()
    data = form_data(slug, **{field: value}, hopes="My typed hopes <3", home_area="Bangor, ME")
    response = client.post("/apply", data=data)
    html = response.get_data(as_text=True)

    assert response.status_code == 422
    assert message in html
    assert f'id="{field}-error"' in html
    assert "Nothing you typed has been lost." in html
    assert "My typed hopes &lt;3</textarea>" in html
    assert 'value="Bangor, ME"' in html
    assert 'value="alex@example.org"' in html or field == "email"
    assert applications(app) == []


def test_field_with_an_error_is_marked_invalid_and_described(client, make_cohort, form_data):
    slug = make_cohort()
    html = client.post("/apply", data=form_data(slug, email="nope")).get_data(as_text=True)
    assert re.search(r'<input aria-describedby="email-hint email-error" aria-invalid="true"[^>]*name="email"', html)
    assert '<a href="#email">Email address</a>' in html


def test_closed_cohort_is_refused_on_submit_with_answers_kept(app, client, make_cohort, form_data):
    slug = make_cohort()
    data = form_data(slug)
    with app.app_context():  # applications close while the person is typing
        db.session.execute(sa.update(Cohort).values(applications_open=False))
        db.session.commit()
    html = client.post("/apply", data=data).get_data(as_text=True)
    assert "Applications for this cohort are closed." in html
    assert "I want to feel steadier with people.</textarea>" in html
    assert applications(app) == []


def test_deadline_passed_is_refused(app, client, make_cohort, form_data):
    slug = make_cohort(application_deadline=NOW.date() - timedelta(days=1))
    html = client.post("/apply", data=form_data(slug)).get_data(as_text=True)
    assert "The application deadline for this cohort has passed." in html
    assert applications(app) == []


def test_duplicate_application_stores_nothing_new(app, client, make_cohort, make_application, form_data):
    slug = make_cohort()
    make_application(slug, email="Alex@Example.org", status="waitlisted")
    response = client.post("/apply", data=form_data(slug, email="alex@example.org"))
    assert response.status_code == 303 and response.headers["Location"] == "/apply/sent"
    assert "already in progress" not in client.get("/apply/sent").get_data(as_text=True)
    assert len(applications(app)) == 1


def test_same_person_may_apply_again_after_withdrawing_or_to_another_cohort(
        app, client, make_cohort, make_application, form_data):
    first, second = make_cohort(), make_cohort()
    make_application(first, email="alex@example.org", status="withdrawn")
    assert client.post("/apply", data=form_data(first)).status_code == 303
    assert client.post("/apply", data=form_data(second)).status_code == 303
    assert len(applications(app)) == 3


def test_double_clicked_submit_stores_one_application(app, client, make_cohort, form_data):
    slug = make_cohort()
    data = form_data(slug)
    first = client.post("/apply", data=data)
    second = client.post("/apply", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(applications(app)) == 1


def test_a_form_sent_again_after_its_application_was_withdrawn_stores_nothing_new(app, client, make_cohort,
                                                                                 form_data):
    """The same form resent (a browser retrying) after the application it stored was withdrawn
    in between: it is recognised by its id, even though that application is no longer in play."""
    slug = make_cohort()
    data = form_data(slug)
    assert client.post("/apply", data=data).status_code == 303
    with app.app_context():
        stored = db.session.scalar(sa.select(Application))
        stored.status = Status.WITHDRAWN
        db.session.commit()
    again = client.post("/apply", data=data)
    assert (again.status_code, again.headers.get("Location")) == (303, "/apply/sent")
    assert [a.status for a in applications(app)] == [Status.WITHDRAWN]


def test_a_second_click_after_the_cohort_closed_still_says_the_form_was_sent(app, client, make_cohort, form_data):
    """The form is no longer valid the second time (its cohort stopped taking applications in
    between), but it was stored the first time: the person is told so, not shown errors."""
    slug = make_cohort()
    data = form_data(slug)
    assert client.post("/apply", data=data).status_code == 303
    with app.app_context():
        enrolment.cohort_by_slug(slug).applications_open = False
        db.session.commit()
    again = client.post("/apply", data=data)
    assert (again.status_code, again.headers.get("Location")) == (303, "/apply/sent")
    assert client.post("/apply", data={**data, "submission_id": None, "email": "new@example.org"}).status_code == 422
    assert len(applications(app)) == 1


def test_a_sent_form_brought_back_and_sent_for_another_cohort_is_a_second_application(app, client, make_cohort,
                                                                                       form_data):
    """The Back button brings the sent form back, with its id: sent for another cohort, it is
    a new application (stored without that id), not the first one again."""
    first, second = make_cohort(), make_cohort()
    data = form_data(first)
    assert client.post("/apply", data=data).status_code == 303
    assert client.post("/apply", data={**data, "cohort": second}).status_code == 303
    stored = applications(app)
    with app.app_context():
        assert [enrolment.cohort_by_slug(slug).id for slug in (first, second)] == [a.cohort_id for a in stored]
    assert stored[0].submission_id == data["submission_id"] and stored[1].submission_id is None


def test_simultaneous_double_submit_stores_one_application(app, make_cohort, form_data):
    slug = make_cohort()
    data = form_data(slug)
    results = []
    start = threading.Barrier(4)

    def submit():
        client = app.test_client()
        start.wait()
        response = client.post("/apply", data=data)
        results.append((response.status_code, response.headers.get("Location")))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(applications(app)) == 1
    assert results == [(303, "/apply/sent")] * 4
    assert [m["kind"] for m in mail(app)] == ["received"]  # one email too


def test_control_characters_are_removed_and_unicode_is_kept(app, client, make_cohort, form_data):
    slug = make_cohort()
    response = client.post("/apply", data=form_data(slug, first_name="Zoë\x00", last_name="Ó Briain\x07",
                                                   intention="Ruhe 🌿\r\nund Mut"))
    assert response.status_code == 303
    [application] = applications(app)
    assert (application.first_name, application.last_name) == ("Zoë", "Ó Briain")
    assert application.answers["intention"] == "Ruhe 🌿\nund Mut"


def test_an_oversized_request_gets_a_friendly_page(client, make_cohort, form_data):
    slug = make_cohort()
    response = client.post("/apply", data=form_data(slug, intention="x" * 300_000))
    assert response.status_code == 413
    assert "That was more than we can accept" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["", "\x00", "a" * 5000, "<script>alert(1)</script>", "☃" * 50, "%00", "' OR 1=1 --"])
def test_no_value_in_any_field_causes_a_server_error(app, client, make_cohort, form_data, value):
    slug = make_cohort()
    for n, name in enumerate(form_data(slug)):
        data = form_data(slug, email=f"person{n}@example.org")
        response = client.post("/apply", data={**data, name: value})
        assert response.status_code in (303, 422), (name, response.status_code)
        assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
    if value not in ("", "a" * 5000):  # fits the free-text answers: those rows were really stored
        assert len(applications(app)) >= 10
    for name in ("cohort", "email", "psychosis"):
        response = client.post(f"/apply/validate?field={name}", data={name: value})
        assert response.status_code == 200 and f'id="field-{name}"' in response.get_data(as_text=True)
    assert client.post("/apply/validate?field=no_such_field", data={"x": value}).status_code == 404


def test_get_parameters_never_cause_a_server_error(client, make_cohort):
    make_cohort()
    for query in ("cohort=%00", "cohort=" + "x" * 3000, "ref=%ff%fe", "cohort[]=1&cohort=2"):
        html = client.get(f"/apply?{query}").get_data(as_text=True)
        assert '<form class="application-form"' in html and "Send my application" in html, query


def test_browser_may_autofill_contact_fields_but_never_keeps_health_answers(client, make_cohort):
    make_cohort()
    html = client.get("/apply").get_data(as_text=True)
    for name, fill in (("email", "email"), ("first_name", "given-name"), ("last_name", "family-name"),
                       ("phone", "tel"), ("home_area", "address-level2"), ("pronouns", "off")):
        assert re.search(rf'<input[^>]*autocomplete="{fill}"[^>]*name="{name}"', html), name
    for name in ("medications", "health_notes", "emergency_name", "provider", "knows_applicants"):
        assert re.search(rf'<(input|textarea)[^>]*autocomplete="off"[^>]*name="{name}"', html), name


def test_an_email_with_an_accent_in_the_local_part_is_refused_clearly(app, client, make_cohort, form_data):
    slug = make_cohort()
    response = client.post("/apply", data=form_data(slug, email="zoë@example.org"))
    assert response.status_code == 422
    assert "Please enter an email address like name@example.com." in response.get_data(as_text=True)
    assert applications(app) == []


def test_a_duplicate_submission_sends_the_real_owner_their_status_link(app, client, make_cohort, make_application,
                                                                      form_data):
    slug = make_cohort()
    first = make_application(slug, email="alex@example.org")
    response = client.post("/apply", data=form_data(slug, email="Alex@Example.org"))
    assert response.status_code == 303 and response.headers["Location"] == "/apply/sent"
    with app.app_context():
        [reminder] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "status_link")).all()
        assert reminder.to_address == "alex@example.org" and reminder.application_id == first
        assert "Your application is already with us" in reminder.text_body
    assert len(applications(app)) == 1


def test_a_form_sent_without_its_id_by_someone_already_applying_still_sends_them_their_link(
        app, client, make_cohort, make_application, form_data):
    """An application stored without a form id (brought back with the Back button) is not
    mistaken for this form, sent without one: its owner is emailed their status link."""
    slug = make_cohort()
    first = make_application(slug, email="alex@example.org", submission_id=None)
    response = client.post("/apply", data={**form_data(slug, email="alex@example.org"), "submission_id": ""})
    assert response.status_code == 303 and response.headers["Location"] == "/apply/sent"
    with app.app_context():
        [reminder] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "status_link")).all()
        assert reminder.application_id == first
    assert len(applications(app)) == 1


def test_back_button_resubmission_with_a_changed_cohort_is_a_new_application(app, client, make_cohort, form_data):
    first, second = make_cohort(), make_cohort()
    data = form_data(first)
    one = client.post("/apply", data=data)
    two = client.post("/apply", data={**data, "cohort": second})
    assert one.status_code == two.status_code == 303
    assert sorted(a.cohort_id for a in applications(app)) == [1, 2]
    assert [m["kind"] for m in mail(app)] == ["received", "received"]


@pytest.mark.parametrize("referer", ["http://[oops", "http://[::1", "https://x]/"])
def test_a_malformed_referer_is_ignored(client, make_cohort, referer):
    make_cohort()
    html = client.get("/apply", headers={"Referer": referer}).get_data(as_text=True)
    assert '<input id="ref" name="ref" type="hidden" value="">' in html and "Send my application" in html


def test_a_double_submit_that_lands_between_the_two_look_ups_still_finds_the_first(
        app, client, make_cohort, form_data, monkeypatch):
    """The second request looks for this form's application before the first one has committed,
    and again just after: it must still find the first one (and store no second)."""
    from resilience import enrolment
    from resilience.enrolment import applying

    slug = make_cohort()
    data = form_data(slug)
    first = client.post("/apply", data=data)
    real, calls = applying.repeated_submission, []

    def not_yet_committed_at_first(*args):
        calls.append(args)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(applying, "repeated_submission", not_yet_committed_at_first)
    with app.app_context():
        cohort = enrolment.cohort_by_slug(slug)
        application, created = applying.submit_application(
            cohort, submission_id=data["submission_id"], answers={}, referral=None, first_name="Alex",
            last_name="Morgan", email="alex@example.org", phone="555 010 1000", pronouns=None,
            home_area="Portland, ME")
        assert created is False and first.headers["Location"] == "/apply/sent"
        found = application.id
    [stored] = applications(app)
    assert found == stored.id


def test_a_clinician_listed_twice_in_the_settings_is_emailed_once(app_config, tmp_path, monkeypatch):
    """(Each new application's emails are queued without looking for an earlier copy: one
    address listed twice would otherwise queue the same email twice.)"""
    from resilience import create_app

    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path / "twice"))
    site = create_app({**app_config, "ADMIN_EMAILS": "ana@practice.example, Ana@Practice.example ,ben@practice.example"})
    assert site.config["ADMIN_EMAILS"] == ["ana@practice.example", "ben@practice.example"]
    with site.app_context():
        db.engine.dispose()


def test_an_application_sent_is_stored_with_every_column_the_model_gives_it(app, client, make_cohort, form_data):
    """How many answers need a closer look, a status link of its own, the first calendar's
    number, and nothing decided yet."""
    from resilience import questions
    from resilience.models import Application

    slug = make_cohort()
    assert client.post("/apply", data=form_data(slug, ride_home="unsure", attend_all="no")).status_code == 303
    with app.app_context():
        stored = db.session.scalar(sa.select(Application))
        assert stored.attention == questions.attention_count(stored.answers) == 2
        assert len(stored.token) >= 40 and stored.calendar_sequence == 0 and stored.status == "pending"
        assert (stored.accepted_at, stored.waitlist_rank, stored.assigned_admin_id, stored.erased_at) == (
            None, None, None, None)


def test_an_application_sent_takes_its_locks_in_the_order_decisions_take_them(app, client, make_cohort, form_data):
    """The application's row first (which, on PostgreSQL, waits for a decision holding its
    cohort), the page numbers after: the other order can deadlock with a decision, which takes
    the cohort and then raises the numbers."""
    slug = make_cohort()
    assert client.post("/apply", data=form_data(slug, email="first@example.org")).status_code == 303
    seen = []  # (the second application: the first also stored the agreements' words, apart)

    def remember(conn, cursor, statement, *_):
        seen.append(" ".join(statement.split())[:40])

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        assert client.post("/apply", data=form_data(slug)).status_code == 303
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)
    inserted = next(n for n, statement in enumerate(seen) if statement.startswith("INSERT INTO application"))
    raised = next(n for n, statement in enumerate(seen) if statement.startswith("UPDATE page_version"))
    assert inserted < raised
