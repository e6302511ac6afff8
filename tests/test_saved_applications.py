"""Save and finish later: a person can save the form and get a private link by email to
finish it; the draft is encrypted like the answers, expires, and no clinician sees it until
it is sent."""
import re
from datetime import timedelta

import sqlalchemy as sa
from conftest import NOW, applications, mail

from resilience.extensions import db


def save(client, data):
    return client.post("/apply/save", data=data)


def resume_path(app, to="alex@example.org") -> str:
    text = mail(app, kind="draft_saved", to=to)[-1]["text"]
    return re.search(r"/apply/resume/[A-Za-z0-9_-]{40,}", text)[0]


def test_saving_emails_a_private_link_and_says_until_when(app, client, make_cohort, form_data):
    slug = make_cohort()
    response = save(client, form_data(slug, intention="I want to feel steadier", consent_health=None))

    assert response.status_code == 303 and response.headers["Location"].endswith("/apply/saved")
    page = client.get("/apply/saved").get_data(as_text=True)
    assert "alex@example.org" in page
    assert "Thursday, December 10, 2026" in page  # fourteen days
    assert "No clinician can see" in page
    [email] = mail(app, kind="draft_saved")
    assert email["to"] == "alex@example.org" and email["subject"] == "Your saved application"
    assert "/apply/resume/" in email["text"] and "December 10, 2026" in email["text"]
    assert "Alex" not in email["text"] and "steadier" not in email["text"]  # nothing typed goes by email
    assert applications(app) == []  # nothing is sent to the clinicians


def test_the_draft_is_sealed_and_never_in_the_panel(app, client, admin_client, make_cohort, form_data):
    slug = make_cohort()
    save(client, form_data(slug, first_name="Zephyrine", intention="A distinctive hope"))
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT * FROM application_draft")).all()
    assert len(rows) == 1
    assert "distinctive" not in repr(rows) and "Zephyrine" not in repr(rows) and "alex@" not in repr(rows)
    for path in ("/admin/", "/admin/applications", "/admin/audit"):
        assert "Zephyrine" not in admin_client.get(path).get_data(as_text=True)


def test_the_emailed_link_brings_back_every_answer_in_another_browser(app, client, make_cohort, form_data):
    slug = make_cohort()
    save(client, form_data(slug, heart="unsure", heart_detail="A murmur as a child", intention="Steadier"))
    other = app.test_client()

    response = other.get(resume_path(app))
    assert response.status_code == 303
    html = other.get(response.headers["Location"]).get_data(as_text=True)
    assert "Welcome back: your saved answers are here." in html
    assert 'value="Alex"' in html and "A murmur as a child" in html and "Steadier</textarea>" in html
    assert re.search(r'<input checked id="heart-2" name="heart"', html)
    assert re.search(rf'<input checked id="cohort-\d" name="cohort" required type="radio" value="{slug}"', html)


def test_sending_the_finished_form_removes_the_draft(app, client, make_cohort, form_data):
    slug = make_cohort()
    save(client, form_data(slug))
    link = resume_path(app)
    other = app.test_client()
    other.get(link)
    assert other.post("/apply", data=form_data(slug)).status_code == 303

    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM application_draft")) == 0
    gone = app.test_client().get(link)
    assert gone.status_code == 404
    assert "This link has expired or its application was sent" in gone.get_data(as_text=True)


def test_saving_needs_an_email_address_and_keeps_everything_typed(app, client, make_cohort, form_data):
    slug = make_cohort()
    response = save(client, form_data(slug, email="", intention="Kept words"))

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "To save your answers we need your email address" in html
    assert "Kept words</textarea>" in html
    assert mail(app, kind="draft_saved") == []


def test_saving_again_keeps_one_draft_and_a_new_address_gets_the_link(app, client, make_cohort, form_data):
    slug = make_cohort()
    save(client, form_data(slug, intention="First"))
    save(client, form_data(slug, intention="Second"))
    save(client, form_data(slug, intention="Third", email="alex.m@example.org"))

    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM application_draft")) == 1
    assert [m["to"] for m in mail(app, kind="draft_saved")] == ["alex@example.org", "alex.m@example.org"]
    other = app.test_client()
    html = other.get(other.get(resume_path(app)).headers["Location"]).get_data(as_text=True)
    assert "Third</textarea>" in html


def test_an_expired_or_unknown_link_says_so_kindly(app, client, make_cohort, form_data):
    slug = make_cohort()
    save(client, form_data(slug))
    link = resume_path(app)
    app.config["NOW"] = NOW + timedelta(days=15)
    for path in (link, "/apply/resume/not-a-real-link"):
        response = app.test_client().get(path)
        assert response.status_code == 404
        assert "This link has expired or its application was sent" in response.get_data(as_text=True)


def test_periodic_deletes_expired_drafts(app, client, make_cohort, form_data, runner):
    slug = make_cohort()
    save(client, form_data(slug))
    app.config["NOW"] = NOW + timedelta(days=13)
    runner.invoke(args=["periodic"])
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM application_draft")) == 1
    app.config["NOW"] = NOW + timedelta(days=15)
    result = runner.invoke(args=["periodic"])
    assert "1 saved form(s) expired" in result.output
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM application_draft")) == 0


def test_pages_that_show_saved_answers_are_never_cached(app, client, make_cohort, form_data):
    slug = make_cohort()
    save(client, form_data(slug))
    other = app.test_client()
    response = other.get(other.get(resume_path(app)).headers["Location"])
    assert "Alex" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert save(client, form_data(slug, email="")).headers["Cache-Control"] == "no-store"


def test_access_logs_never_show_the_key_of_a_saved_form(app, caplog):
    import logging

    key = "b3vN1kq8xJ0yT2mWcQe5Rr7sUu9VvAa1Bb2Cc3Dd4Ee"
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('127.0.0.1 - - "%s" %s -', f"GET /apply/resume/{key} HTTP/1.1", "303")
    assert key not in caplog.text
    assert '"GET /apply/resume/[key] HTTP/1.1" 303' in caplog.text
