"""Decisions that ask first: each decision shows what it will do (seats, and exactly who is
emailed what) and asks to confirm, in a dialog with htmx and on a page without JavaScript;
a decision may carry a short personal message, added to its email and kept sealed."""
import pytest
import sqlalchemy as sa
from conftest import answers, deliver, mail, over_smtp

from resilience.extensions import db
from resilience.models import Application, AuditEvent, Message, OutboxMessage


@pytest.fixture
def app_config(app_config, smtp):
    return over_smtp(app_config, smtp)


def status_of(app, application_id):
    with app.app_context():
        return db.session.get(Application, application_id).status


def nothing_written(app) -> bool:
    with app.app_context():
        return not db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) and not \
            db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "status"))


def ask(client, application_id, status, htmx=False):
    return client.get(f"/admin/applications/{application_id}/decide?status={status}",
                      headers={"HX-Request": "true"} if htmx else {})


def test_accepting_first_shows_the_seat_the_deadline_and_the_email_and_changes_nothing(
        app, admin_client, make_cohort, make_application):
    slug = make_cohort(title="Spring 2027 cohort")
    make_application(slug, status="enrolled")
    maya = make_application(slug, first_name="Maya", last_name="Okafor")
    response = ask(admin_client, maya, "accepted")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in page  # without JavaScript: a page of its own
    assert "Offer Maya a place?" in page
    assert "Maya takes a seat: 2 of 6 taken after this, 4 left." in page
    assert "Maya has until Tuesday, December 1, 2026 at 10:00 am EST to confirm" in page
    assert "Maya is emailed “A place is offered to you in the Spring 2027 cohort”, with a calendar file (meetings.ics)." in page
    assert 'name="evaluated"' in page  # no conversation was held: the clinician is asked for their word
    assert 'name="message"' in page and ">Accept and email Maya</button>" in page
    assert f'action="/admin/applications/{maya}/status"' in page
    assert status_of(app, maya) == "pending" and nothing_written(app)


def test_with_htmx_the_question_comes_as_the_dialogs_content(admin_client, make_cohort, make_application):
    maya = make_application(make_cohort(), first_name="Maya")
    response = ask(admin_client, maya, "declined", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert '<h2 id="decide-title" tabindex="-1" autofocus>' in html
    assert "Decline Maya’s application?" in html and "Maya is emailed “About your application”." in html
    assert 'data-close-dialog>Cancel</a>' in html


def test_reopening_says_exactly_what_it_sends(app, admin_client, make_cohort, make_application):
    slug = make_cohort()
    offered = make_application(slug, first_name="Maya", status="accepted")
    declined = make_application(slug, first_name="Ola", status="declined")
    page = ask(admin_client, offered, "pending").get_data(as_text=True)
    assert "Maya’s seat is freed: 0 of 6 taken after this." in page
    assert "Maya is emailed “About the place we offered you”, with a calendar cancellation (cancelled-meetings.ics)." in page
    assert "ana@practice.example is emailed “A seat is free in the Test cohort" in page
    page = ask(admin_client, declined, "pending").get_data(as_text=True)
    assert "No one is emailed." in page and 'name="message"' not in page
    assert ">Reopen</button>" in page
    assert nothing_written(app)


def test_a_decision_that_cannot_be_made_says_so_before_and_offers_no_button(
        app, admin_client, make_cohort, make_application):
    slug = make_cohort(capacity=1, title="Small cohort")
    make_application(slug, status="accepted")
    waiting = make_application(slug, first_name="Ola", status="waitlisted")
    page = ask(admin_client, waiting, "accepted").get_data(as_text=True)
    assert "This cannot be done now. The Small cohort is full" in page
    assert 'type="submit">Accept' not in page
    response = ask(admin_client, waiting, "enrolled")  # never a clinician's decision: back to the page
    assert response.status_code == 303
    assert "This application is now “Waitlisted”, so it cannot be" in admin_client.get(
        response.headers["Location"]).get_data(as_text=True)


def test_a_personal_message_goes_into_the_email_and_is_kept_sealed(app, admin_client, make_cohort, make_application):
    maya = make_application(make_cohort(), first_name="Maya", email="maya@example.org")
    response = admin_client.post(f"/admin/applications/{maya}/status", data={
        "status": "waitlisted", "message": "It was lovely to talk on Tuesday.\nWe hope a seat opens soon."})
    assert response.status_code == 303
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "waitlisted. Now waitlisted. Your message went with the email." in page
    [email] = mail(app, kind="waitlisted")
    assert "A personal note: It was lovely to talk on Tuesday. We hope a seat opens soon. — Dr. Ana Reyes" in email["text"]
    with app.app_context():
        message = db.session.scalars(sa.select(Message)).one()
        assert (message.decision, message.application_id, message.body) == (
            "waitlisted", maya, "It was lovely to talk on Tuesday.\nWe hope a seat opens soon.")
        stored = db.session.execute(sa.text("SELECT body FROM message")).scalar()
        assert "lovely" not in stored  # encrypted at rest
        detail = db.session.scalar(sa.select(AuditEvent.detail).where(AuditEvent.action == "status"))
    assert detail == "personal message added"  # the words never go in the log


def test_a_message_with_a_decision_that_sends_no_email_is_refused_and_kept(
        app, admin_client, make_cohort, make_application):
    declined = make_application(make_cohort(), first_name="Ola", status="declined")
    response = admin_client.post(f"/admin/applications/{declined}/status",
                                 data={"status": "pending", "message": "Let us look again"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This decision (reopen) sends the applicant no email" in page
    assert status_of(app, declined) == "declined" and nothing_written(app)


def test_a_message_too_long_is_asked_again_with_the_words_kept(app, admin_client, make_cohort, make_application):
    maya = make_application(make_cohort(), first_name="Maya")
    words = "Thank you. " * 100
    response = admin_client.post(f"/admin/applications/{maya}/status", data={"status": "declined", "message": words},
                                 headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#decision-dialog" and response.headers["HX-Reswap"] == "innerHTML"
    assert "Please keep this under 1,000 characters." in html and "Thank you. Thank you." in html
    assert "Decline Maya’s application?" in html
    assert status_of(app, maya) == "pending" and nothing_written(app)


def test_a_refusal_in_the_dialog_keeps_what_was_typed(app, admin_client, make_cohort, make_application):
    maya = make_application(make_cohort(), first_name="Maya")
    response = admin_client.post(f"/admin/applications/{maya}/status", headers={"HX-Request": "true"},
                                 data={"status": "accepted", "message": "Welcome, Maya"})  # no evaluation ticked
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "please confirm that the medical evaluation took place" in html
    assert "Welcome, Maya</textarea>" in html and 'name="evaluated"' in html
    assert status_of(app, maya) == "pending"


def test_the_personal_message_arrives_over_smtp_with_a_neutral_subject_and_no_answers(
        app, smtp, admin_client, make_cohort, make_application):
    maya = make_application(make_cohort(), first_name="Maya", email="maya@example.org",
                            answers=answers(medications="Quetiapine 25mg", blood_pressure="unsure"))
    admin_client.post(f"/admin/applications/{maya}/status", data={"status": "declined",
                                                                  "message": "Please keep in touch."})
    deliver(app)
    [message] = smtp.to("maya@example.org")
    body = message.get_body(("plain",)).get_content()
    assert message["Subject"] == "About your application"
    assert "Please keep in touch." in body and "— Dr. Ana Reyes" in body
    assert "Quetiapine" not in body and "blood" not in body.lower()


def test_a_button_left_open_after_another_clinician_decided_shows_the_decision_as_it_is_now(
        app, admin_client, make_cohort, make_application):
    maya = make_application(make_cohort(), first_name="Maya", status="declined")
    response = ask(admin_client, maya, "accepted", htmx=True)  # the page still showed "Accept"
    html = response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#decision" and response.headers["HX-Reswap"] == "outerHTML"
    assert html.lstrip().startswith('<section class="panel decision" id="decision"') and "<html" not in html
    assert "This application is now “Declined”, so it cannot be accepted." in html
    response = ask(admin_client, maya, "accepted")  # without JavaScript: back to the page, told why
    assert "This application is now “Declined”, so it cannot be accepted." in admin_client.get(
        response.headers["Location"]).get_data(as_text=True)
    assert nothing_written(app)


def test_a_long_message_for_a_decision_no_longer_possible_says_why_it_is_not(
        app, admin_client, make_cohort, make_application):
    maya = make_application(make_cohort(), first_name="Maya", status="withdrawn")
    response = admin_client.post(f"/admin/applications/{maya}/status", headers={"HX-Request": "true"},
                                 data={"status": "declined", "message": "x" * 1001})
    assert "This application is now “Withdrawn”, so it cannot be declined." in response.get_data(as_text=True)
    assert nothing_written(app)


def test_after_a_decision_with_a_message_the_messages_panel_shows_it_too(app, admin_client, make_cohort,
                                                                         make_application):
    maya = make_application(make_cohort(), first_name="Maya")
    html = admin_client.post(f"/admin/applications/{maya}/status", headers={"HX-Request": "true"},
                             data={"status": "waitlisted", "message": "We will keep you posted."}).get_data(as_text=True)
    assert '<section class="panel" id="messages" aria-labelledby="messages-title" hx-swap-oob="true">' in html
    assert "We will keep you posted." in html[html.index('id="messages"'):]


@pytest.mark.skipif(not __import__("conftest").TEST_DATABASE_URL,
                    reason="SQLite serialises whole transactions: no other email can be stored meanwhile")
def test_the_preview_lists_only_what_this_decision_sends_while_others_store_emails(
        app, make_admin, make_cohort, make_application, monkeypatch):
    from conftest import NOW

    from resilience import enrolment, sealing
    from resilience.enrolment import decisions
    from resilience.models import Admin

    admin_id = make_admin()
    maya = make_application(make_cohort(), first_name="Maya", email="maya@example.org")
    status_changed = decisions.notifications.status_changed

    def while_someone_else_applies(application, previous, **personal):
        with db.engine.connect() as connection:  # another request commits its email meanwhile
            connection.execute(sa.insert(OutboxMessage.__table__).values(
                kind="status_link", dedupe_key="someone-else", to_address="other@example.org",
                subject="Your application is already with us", text_body=sealing.seal("x"),
                html_body=sealing.seal("x"), attachments=[], status="queued", attempts=0,
                next_attempt_at=NOW, created_at=NOW))
            connection.commit()
        return status_changed(application, previous, **personal)

    monkeypatch.setattr(decisions.notifications, "status_changed", while_someone_else_applies)
    with app.test_request_context():
        preview = enrolment.preview_decision(maya, "declined", db.session.get(Admin, admin_id))
    assert [email.to for email in preview.emails] == ["maya@example.org"]
