"""With no SMTP server configured, the outbox writes real .eml files a newcomer can open."""
import email
import email.policy
import os
import signal
import subprocess
import sys
import time
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
    assert "Hello," in message.get_body(("plain",)).get_content()
    assert "<p>Hello,</p>" in message.get_body(("html",)).get_content()
    assert not list(files[0].parent.glob("*.partial"))


def test_healthz_reports_the_database_and_the_outbox_backlog(client, make_cohort, form_data):
    assert client.get("/healthz").get_json() == {
        "status": "ok", "database": "ok", "outbox_backlog": 0, "outbox_failed": 0}
    client.post("/apply", data=form_data(make_cohort()))
    assert client.get("/healthz").get_json()["outbox_backlog"] == 1


def test_the_worker_loop_delivers_as_messages_arrive_and_stops_cleanly_on_sigterm(tmp_path):
    """The real command, as an operator runs it: flask --app resilience outbox send --loop."""
    env = {**os.environ, "RESILIENCE_INSTANCE_PATH": str(tmp_path), "RESILIENCE_SECRET_KEY": "x",
           "RESILIENCE_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'loop.sqlite3'}"}
    env.pop("RESILIENCE_TEST_DATABASE_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "resilience"]
    subprocess.run([*flask, "seed-demo"], env=env, check=True, capture_output=True)
    worker = subprocess.Popen([*flask, "outbox", "send", "--loop", "--poll", "0.2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        enqueued = subprocess.run([sys.executable, "-c", _ENQUEUE], env=env, capture_output=True, text=True,
                                  check=False)
        assert enqueued.returncode == 0, enqueued.stderr
        deadline = time.monotonic() + 20
        while not list((tmp_path / "outbox").glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [f.name.split("-", 3)[-1] for f in (tmp_path / "outbox").glob("*.eml")] == ["seat_freed.eml"]
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0
    assert "sent 1, will retry 0, failed 0" in output
    assert output.rstrip().endswith("Outbox worker stopped.")


_ENQUEUE = """
import sqlalchemy as sa
from resilience import create_app, database, outbox
from resilience.extensions import db
from resilience.models import Cohort
app = create_app()
with app.app_context():
    database.begin_write()  # SQLite: hold the write lock from the first read
    cohort = db.session.scalar(sa.select(Cohort))
    outbox.enqueue("seat_freed", "ana@example.org", "loop-test", cohort=cohort, next_in_line=None)
    db.session.commit()
"""
