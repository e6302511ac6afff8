"""A clinician's words to one applicant, or to every enrolled participant of a cohort:
written in the panel, sent through the outbox (over real SMTP here) with a neutral subject,
replies going to the practice's address, stored encrypted, audited without the words, and
never carrying anyone's answers."""
import email
import email.policy
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import NOW, answers, deliver, mail, over_smtp, sign_in

from resilience import enrolment
from resilience.extensions import db
from resilience.models import Admin, Application, AuditEvent, Cohort, Message, OutboxMessage
from resilience.status import Status

SITE = "https://resilience.example"
SUBJECT = "A message from Rediscovering Resilience"
WORDS = "Parking on Harbor Street is free after six; the side door will be open."
# Answers nobody may ever find in an email.
SECRET_ANSWERS = {"medications": "Quetiapinexyz 25mg nightly", "intention": "Lighthousekeeper dreams of Tuesday",
                  "health_notes": "Vertigoquill episodes", "emergency_name": "Marigoldsister Vance"}
SECRET_WORDS = ["Quetiapinexyz", "Lighthousekeeper", "Vertigoquill", "Marigoldsister"]


@pytest.fixture
def app_config(app_config, smtp):
    return over_smtp(app_config, smtp)


@pytest.fixture
def dana(make_cohort, make_application):
    """An applicant whose answers hold words that must never reach an email."""
    slug = make_cohort(title="Winter 2027 cohort")
    return make_application(slug, first_name="Dana", last_name="Okafor", email="dana@example.org",
                            answers=answers(**SECRET_ANSWERS))


def htmx(client):
    client.environ_base["HTTP_HX_REQUEST"] = "true"
    return client


def write(client, application_id, words=WORDS, **headers):
    return client.post(f"/admin/applications/{application_id}/messages", data={"message_body": words},
                       headers=headers)


def raw(app, sql):
    with app.app_context(), db.engine.connect() as connection:
        return " ".join(str(value) for row in connection.execute(sa.text(sql)) for value in row)


def stored_messages(app) -> list[Message]:
    with app.app_context():
        messages = list(db.session.scalars(sa.select(Message).order_by(Message.id)))
        for message in messages:
            _ = message.body, message.recipients, message.application_id
        return messages


def parts(message) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


# --- Writing to one applicant from their page ---------------------------------------------------

def test_with_htmx_the_message_is_sent_and_the_form_comes_back_empty_with_what_was_sent(app, admin_client, dana):
    response = write(htmx(admin_client), dana)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="messages"' in html and "<html" not in html
    assert re.search(r'role="status"[^>]*>Message sent to Dana\.', html)
    assert re.search(r"<textarea[^>]*>\s*</textarea>", html)  # emptied for the next one
    assert "Parking on Harbor Street is free after six" in html and "Dr. Ana Reyes" in html
    [message] = stored_messages(app)
    assert (message.body, message.application_id, message.recipients) == (WORDS, dana, 1)
    [queued] = mail(app, kind="message")
    assert queued["to"] == "dana@example.org" and queued["subject"] == SUBJECT


def test_without_javascript_the_message_is_sent_and_the_page_says_so(app, admin_client, dana):
    response = write(admin_client, dana)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/applications/{dana}#messages"
    page = admin_client.get(f"/admin/applications/{dana}").get_data(as_text=True)
    assert "Message sent to Dana." in page
    assert len(mail(app, kind="message")) == 1


@pytest.mark.parametrize("use_htmx", [True, False], ids=["htmx", "no-js"])
def test_an_empty_message_is_refused_and_nothing_is_sent(app, admin_client, dana, use_htmx):
    client = htmx(admin_client) if use_htmx else admin_client
    response = write(client, dana, words="  \r\n  ")
    assert response.status_code == 422
    assert "Please write the message first." in response.get_data(as_text=True)
    assert stored_messages(app) == [] and mail(app, kind="message") == []


@pytest.mark.parametrize("use_htmx", [True, False], ids=["htmx", "no-js"])
def test_a_message_too_long_is_refused_and_every_word_is_kept(app, admin_client, dana, use_htmx):
    client = htmx(admin_client) if use_htmx else admin_client
    long_words = "A careful message about the first meeting. " * 100  # 4,300 characters
    response = write(client, dana, words=long_words)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Please keep this under 4,000 characters." in html
    assert long_words.strip() in html
    assert stored_messages(app) == [] and mail(app, kind="message") == []


def test_the_form_says_where_replies_go_and_warns_against_answers(app, admin_client, dana):
    html = write(htmx(admin_client), dana, words="").get_data(as_text=True)
    assert "Sent by email from the practice’s address; replies come to hello@example.org." in html
    assert "Never include their answers." in html


def test_an_unknown_application_is_not_found(admin_client):
    assert write(admin_client, 999).status_code == 404


def test_writing_needs_a_signed_in_clinician(app, client, dana):
    response = write(client, dana)
    assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"]
    assert stored_messages(app) == []


@pytest.mark.parametrize("status", [Status.DECLINED, Status.WITHDRAWN, Status.ENROLLED, Status.LAPSED])
def test_anyone_may_be_written_to_whatever_their_status(app, admin_client, make_cohort, make_application, status):
    application_id = make_application(make_cohort(), first_name="Robin", status=status)
    assert write(admin_client, application_id).status_code == 303
    assert len(mail(app, kind="message")) == 1


def test_the_same_words_sent_twice_in_a_moment_go_out_once(app, admin_client, dana):
    """A double click on Send is one message."""
    assert write(admin_client, dana).status_code == 303
    response = write(htmx(admin_client), dana)
    assert response.status_code == 422
    assert "This message was sent a moment ago, so it was not sent again." in response.get_data(as_text=True)
    assert len(mail(app, kind="message")) == 1


class TestWithCSRF:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "WTF_CSRF_ENABLED": True}

    def test_a_message_without_the_pages_token_is_refused(self, app, make_admin, dana):
        make_admin()
        client = app.test_client()
        login = client.get("/admin/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login)[1]
        assert client.post("/admin/login", data={"email": "ana@practice.example", "password":
                                                 "correct horse battery staple", "csrf_token": token}).status_code == 303
        assert write(client, dana).status_code == 400
        assert stored_messages(app) == []
        page = client.get(f"/admin/applications/{dana}").get_data(as_text=True)  # signed in: a new token
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
        response = client.post(f"/admin/applications/{dana}/messages",
                               data={"message_body": WORDS, "csrf_token": token})
        assert response.status_code == 303
        assert len(stored_messages(app)) == 1


# --- What arrives, and what is stored -------------------------------------------------------------

def test_the_message_arrives_over_smtp_with_a_neutral_subject_the_words_and_no_answers(app, admin_client, smtp, dana):
    write(admin_client, dana, words=WORDS + "\n\nSee you on Tuesday.")
    assert deliver(app).sent == 1
    [message] = smtp.to("dana@example.org")
    assert message["Subject"] == SUBJECT
    assert message["To"] == "dana@example.org"
    assert message["Reply-To"] == "hello@example.org"
    text, html = parts(message)
    with app.app_context():
        token = db.session.get(Application, dana).token
    for body in (text, html):
        assert "Dear Dana," in body
        assert "Parking on Harbor Street is free after six" in body and "See you on Tuesday." in body
        assert body.count("Parking on Harbor Street") == 1 and body.count("Dr. Ana Reyes") == 1  # said once
        assert "Dr. Ana Reyes" in body
        assert f"{SITE}/status/{token}" in body
        assert "not watched for emergencies" in body and "988" in body
        assert "Okafor" not in body
    everything = message.as_string()
    for word in SECRET_WORDS:
        assert word not in everything
    assert "<script" not in html


def test_the_words_are_escaped_in_the_html_part(app, admin_client, smtp, dana):
    write(admin_client, dana, words="Bring <b>water</b> & a blanket.\nAnd socks.")
    deliver(app)
    text, html = parts(smtp.to("dana@example.org")[0])
    assert "Bring &lt;b&gt;water&lt;/b&gt; &amp; a blanket.<br>" in html
    assert "Bring <b>water</b> & a blanket.\nAnd socks.\n\n— Dr. Ana Reyes" in text.replace("\r\n", "\n")


def test_every_email_asks_for_replies_at_the_practices_address(app, client, smtp, make_cohort, form_data):
    client.post("/apply", data=form_data(make_cohort()))
    assert deliver(app).sent == 3  # the applicant and two clinicians
    assert {m["Reply-To"] for _, m in smtp.messages} == {"hello@example.org"}


def test_eml_files_carry_the_reply_to_address_too(app, admin_client, dana):
    app.config["MAIL_SERVER"] = None
    write(admin_client, dana)
    assert deliver(app).sent == 1
    [eml] = (Path(app.instance_path) / "outbox").glob("*-message.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["Reply-To"] == "hello@example.org" and message["Subject"] == SUBJECT


def test_the_words_are_stored_encrypted_in_the_message_and_in_the_outbox(app, admin_client, dana):
    write(admin_client, dana)
    for sql in ("SELECT body FROM message", "SELECT text_body, html_body, subject FROM outbox_message"):
        stored = raw(app, sql)
        # (words with a space: a sealed value is base64, which can hold a word by chance)
        assert stored and "Parking on" not in stored and "Harbor Street" not in stored, sql
    [message] = stored_messages(app)
    assert message.body == WORDS
    with app.app_context():
        queued = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "message"))
        assert "Parking on Harbor Street" in queued.text_body and "Parking on Harbor Street" in queued.html_body


def test_the_audit_log_records_the_message_without_its_words(app, admin_client, dana):
    write(admin_client, dana)
    with app.app_context():
        [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "message")).all()
        assert (event.application_id, event.detail, event.admin.display_name) == (dana, "to the applicant",
                                                                                   "Dr. Ana Reyes")
    assert "Parking" not in raw(app, "SELECT * FROM audit_event")


def test_the_clinicians_read_what_was_sent_with_who_and_when(app, admin_client, make_admin, dana):
    write(admin_client, dana, words="First note about parking.")
    make_admin(email="ben@practice.example", name="Dr. Ben Hale")
    ben = app.test_client()
    sign_in(ben, "ben@practice.example")
    html = write(htmx(ben), dana, words="Second: the room changed.").get_data(as_text=True)
    assert html.index("First note about parking.") < html.index("Second: the room changed.")
    assert "Dr. Ana Reyes" in html and "Dr. Ben Hale" in html
    assert "November 26" in html or "Nov 26" in html  # when, in the cohort's time


# --- Writing to every enrolled participant ------------------------------------------------------

@pytest.fixture
def group(make_cohort, make_application):
    """A cohort with two enrolled participants and people in every other state."""
    slug = make_cohort(title="Winter 2027 cohort")
    people = {name: make_application(slug, first_name=name, last_name="Tester", email=f"{name.lower()}@example.org",
                                     status=status, answers=answers(**SECRET_ANSWERS),
                                     enrolled_at=NOW - timedelta(days=1) if status == Status.ENROLLED else None)
              for name, status in (("Avery", Status.ENROLLED), ("Blake", Status.ENROLLED),
                                   ("Casey", Status.WAITLISTED), ("Devon", Status.PENDING),
                                   ("Emery", Status.ACCEPTED), ("Finley", Status.WITHDRAWN))}
    return slug, people


def cohort_page(slug):
    return f"/admin/cohorts/{slug}/message"


def test_the_cohort_message_page_offers_to_write_to_the_enrolled_participants(admin_client, group):
    slug, _ = group
    response = admin_client.get(cohort_page(slug))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Winter 2027 cohort" in html and "2 enrolled participants" in html
    assert 'name="message_body"' in html and "Preview" in html
    assert "Send to" not in html  # only the preview sends


def test_the_preview_shows_the_email_its_subject_and_who_gets_it_and_sends_nothing(app, admin_client, group):
    slug, _ = group
    response = admin_client.post(cohort_page(slug), data={"message_body": WORDS, "action": "preview"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert SUBJECT in html
    assert "Dear Avery," in html and "Parking on Harbor Street is free after six" in html
    assert "Dr. Ana Reyes" in html and "not watched for emergencies" in html
    [shown] = re.findall(r"<pre[^>]*>(.*?)</pre>", html, re.DOTALL)
    assert shown.count("Parking on Harbor Street") == 1 and shown.startswith("Dear Avery,")
    for name in ("Avery Tester", "avery@example.org", "Blake Tester", "blake@example.org"):
        assert name in html
    for name in ("Casey", "Devon", "Emery", "Finley"):
        assert name not in html
    assert "Send to 2 people" in html and "Edit the message" in html
    assert f'value="{WORDS}"' in html  # carried to the send button
    with app.app_context():
        token = db.session.scalar(sa.select(Application.token).where(Application.first_name == "Avery"))
    assert token not in html  # a participant's private link is not for the panel
    assert stored_messages(app) == [] and mail(app) == []


def test_editing_after_the_preview_keeps_the_words(admin_client, group):
    slug, _ = group
    response = admin_client.post(cohort_page(slug), data={"message_body": WORDS, "action": "edit"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r"<textarea[^>]*>\s*" + re.escape(WORDS) + r"</textarea>", html)
    assert "Send to" not in html


def test_an_empty_preview_is_refused_with_the_form_again(app, admin_client, group):
    slug, _ = group
    response = admin_client.post(cohort_page(slug), data={"message_body": "", "action": "preview"})
    assert response.status_code == 422
    assert "Please write the message first." in response.get_data(as_text=True)


def send(client, slug, html_of_preview):
    """Press "Send" on a preview: its hidden fields, as a browser posts them."""
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html_of_preview))
    fields = {name: value.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
              for name, value in fields.items()}
    return client.post(cohort_page(slug), data={**fields, "action": "send"})


def test_sending_reaches_each_enrolled_participant_alone_and_no_one_else(app, admin_client, smtp, group):
    slug, _ = group
    preview = admin_client.post(cohort_page(slug), data={"message_body": WORDS, "action": "preview"})
    response = send(admin_client, slug, preview.get_data(as_text=True))
    assert response.status_code == 303
    assert response.headers["Location"].startswith(cohort_page(slug))
    assert "Sent to 2 participants." in admin_client.get(response.headers["Location"]).get_data(as_text=True)

    assert deliver(app).sent == 2
    assert sorted(to for to, _ in smtp.messages) == [["avery@example.org"], ["blake@example.org"]]
    for name in ("Avery", "Blake"):
        [message] = smtp.to(f"{name.lower()}@example.org")
        assert message["Subject"] == SUBJECT and message["Reply-To"] == "hello@example.org"
        text, html = parts(message)
        assert f"Dear {name}," in html and "Parking on Harbor Street is free after six" in html
        assert f"Dear {name}," in text and "Parking on Harbor Street is free after six" in text
        assert "Dr. Ana Reyes" in text
        for word in SECRET_WORDS:
            assert word not in message.as_string()
    [message] = stored_messages(app)
    assert (message.application_id, message.recipients, message.body) == (None, 2, WORDS)
    with app.app_context():
        [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "message")).all()
        assert event.detail == "to 2 participants" and event.cohort.slug == slug
    assert "Parking" not in raw(app, "SELECT body FROM message") + raw(app, "SELECT text_body FROM outbox_message")


def test_the_page_lists_earlier_cohort_messages(app, admin_client, group):
    slug, _ = group
    preview = admin_client.post(cohort_page(slug), data={"message_body": WORDS, "action": "preview"})
    send(admin_client, slug, preview.get_data(as_text=True))
    html = admin_client.get(cohort_page(slug)).get_data(as_text=True)
    assert "Earlier messages" in html
    assert "Parking on Harbor Street" in html and "Dr. Ana Reyes" in html and "2 people" in html


def test_who_receives_it_changed_since_the_preview_so_nothing_is_sent(app, admin_client, group, make_application):
    slug, _ = group
    preview = admin_client.post(cohort_page(slug), data={"message_body": WORDS, "action": "preview"})
    make_application(slug, first_name="Gray", email="gray@example.org", status=Status.ENROLLED, enrolled_at=NOW)
    response = send(admin_client, slug, preview.get_data(as_text=True))
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "changed since the preview" in html
    assert "gray@example.org" in html and "Send to 3 people" in html  # the new preview
    assert stored_messages(app) == [] and mail(app) == []


def test_a_cohort_with_no_one_enrolled_offers_no_send(app, admin_client, make_cohort, make_application):
    slug = make_cohort(title="Spring 2027 cohort")
    make_application(slug, status=Status.WAITLISTED)
    html = admin_client.get(cohort_page(slug)).get_data(as_text=True)
    assert "No one is enrolled in the Spring 2027 cohort yet" in html
    assert "Preview" not in html and "message_body" not in html
    response = admin_client.post(cohort_page(slug), data={"message_body": WORDS, "action": "send"})
    assert response.status_code == 409
    assert "No one is enrolled in the Spring 2027 cohort yet" in response.get_data(as_text=True)
    assert stored_messages(app) == [] and mail(app) == []


def test_the_rule_refuses_a_cohort_message_to_no_one(app, make_cohort, make_admin):
    slug = make_cohort()
    admin_id = make_admin()
    with app.app_context():
        cohort = enrolment.cohort_by_slug(slug)
        with pytest.raises(enrolment.RefusedChange) as refused:
            enrolment.write_to_participants(cohort.id, db.session.get(Admin, admin_id), WORDS)
        assert refused.value.reason == "no_participants"


def test_an_unknown_cohort_is_not_found(admin_client):
    assert admin_client.get(cohort_page("no-such-cohort")).status_code == 404


# --- Each person's messages, for their history ----------------------------------------------------

def test_messages_for_holds_their_own_and_the_groups_sent_while_they_were_enrolled(
        app, make_cohort, make_application, make_admin):
    slug = make_cohort()
    admin_id = make_admin()
    early = make_application(slug, first_name="Early", status=Status.ENROLLED, enrolled_at=NOW - timedelta(days=2))
    left = make_application(slug, first_name="Left", status=Status.ENROLLED, enrolled_at=NOW - timedelta(days=2))
    with app.app_context():
        admin = db.session.get(Admin, admin_id)
        cohort_id = enrolment.cohort_by_slug(slug).id
        to_early = enrolment.write_to_applicant(early, admin, "Just for you.").id
        before = enrolment.write_to_participants(cohort_id, admin, "To the two of you.").id
        application = db.session.get(Application, left)
        application.status, application.withdrawn_at = Status.WITHDRAWN, NOW + timedelta(hours=1)
        db.session.commit()
    app.config["NOW"] = NOW + timedelta(hours=2)
    late = make_application(slug, first_name="Late", status=Status.ENROLLED, enrolled_at=NOW + timedelta(hours=2))
    with app.app_context():
        after = enrolment.write_to_participants(cohort_id, db.session.get(Admin, admin_id), "To the group now.").id
        seen = {name: [m.id for m in enrolment.messages_for(db.session.get(Application, application_id))]
                for name, application_id in (("early", early), ("left", left), ("late", late))}
    assert seen == {"early": [to_early, before, after], "left": [before], "late": [after]}


def test_enrolled_participants_is_the_enrolled_people(app, group):
    slug, _ = group
    with app.app_context():
        names = [a.first_name for a in enrolment.enrolled_participants(enrolment.cohort_by_slug(slug))]
    assert names == ["Avery", "Blake"]


def test_a_cohort_message_is_one_row_however_many_receive_it(app, make_cohort, make_admin, make_application):
    slug = make_cohort()
    for n in range(5):
        make_application(slug, status=Status.ENROLLED, enrolled_at=NOW)
    admin_id = make_admin()
    with app.app_context():
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))
        message = enrolment.write_to_participants(cohort.id, db.session.get(Admin, admin_id), WORDS)
        assert message.recipients == 5
    assert len(mail(app, kind="message")) == 5
