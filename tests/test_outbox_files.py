"""With no SMTP server configured, the outbox writes real .eml files a newcomer can open."""
import email
import email.policy
from pathlib import Path

from resilience import outbox


def test_without_smtp_each_email_becomes_an_eml_file_in_the_instance_folder(app, client, make_cohort, form_data):
    app.config["ADMIN_EMAILS"] = ["ana@practice.example"]
    slug = make_cohort()
    client.post("/apply", data=form_data(slug))
    with app.app_context():
        assert outbox.deliver_due().sent == 2
        assert outbox.deliver_due().sent == 0

    files = sorted((Path(app.instance_path) / "outbox").glob("*.eml"))
    assert [f.name.split("-", 3)[-1] for f in files] == ["received.eml", "new_application.eml"]
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "alex@example.org"
    assert message["Subject"] == "We have your application"
    assert "Hello Alex," in message.get_body(("plain",)).get_content()
    assert "<p>Hello Alex,</p>" in message.get_body(("html",)).get_content()
    assert not list(files[0].parent.glob("*.partial"))


def test_healthz_reports_the_database_and_the_outbox_backlog(client, make_cohort, form_data):
    assert client.get("/healthz").get_json() == {
        "status": "ok", "database": "ok", "outbox_backlog": 0, "outbox_failed": 0}
    client.post("/apply", data=form_data(make_cohort()))
    assert client.get("/healthz").get_json()["outbox_backlog"] == 1
