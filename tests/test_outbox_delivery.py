"""Delivery through the outbox to a real SMTP server on loopback: nothing is lost when the
server is down, retries back off, a message that keeps failing gives up visibly, and
several workers never send a message twice."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW, deliver, over_smtp

from resilience import outbox
from resilience.extensions import db
from resilience.models import Application, Cohort, OutboxMessage


@pytest.fixture
def app_config(app_config, smtp):
    return over_smtp(app_config, smtp)


def test_a_dead_smtp_server_loses_nothing_and_each_message_arrives_once(app, client, smtp, make_cohort, form_data):
    slug = make_cohort()
    smtp.stop()
    for n in range(3):
        assert client.post("/apply", data=form_data(slug, email=f"person{n}@example.org")).status_code == 303

    report = deliver(app)
    assert (report.sent, report.retrying) == (0, 9)
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage)).all()
        assert len(rows) == 9
        assert {(r.status, r.attempts) for r in rows} == {("queued", 1)}
        assert all("Connection refused" in r.last_error or "Errno" in r.last_error for r in rows)
        assert {r.next_attempt_at for r in rows} == {NOW + timedelta(seconds=30)}
        assert outbox.backlog() == outbox.Backlog(waiting=9, failed=0)

    smtp.start()
    assert deliver(app).sent == 0  # not due yet: the back-off is respected
    app.config["NOW"] = NOW + timedelta(seconds=31)
    assert deliver(app).sent == 9
    assert deliver(app).sent == 0
    assert len(smtp.messages) == 9
    assert len({m["Message-ID"] for _, m in smtp.messages}) == 9
    assert sorted(r[0] for r, _ in smtp.messages).count("ana@practice.example") == 3
    with app.app_context():
        assert outbox.backlog() == outbox.Backlog(waiting=0, failed=0)


def test_back_off_doubles_and_a_message_that_keeps_failing_gives_up_visibly(
        app, client, smtp, make_cohort, form_data):
    assert [outbox.retry_delay(n).total_seconds() for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert sum(outbox.retry_delay(n).total_seconds() for n in range(1, outbox.MAX_ATTEMPTS)) > 12 * 3600
    slug = make_cohort()
    smtp.stop()
    client.post("/apply", data=form_data(slug))
    moment = NOW
    for _ in range(outbox.MAX_ATTEMPTS):
        report = deliver(app)
        moment += timedelta(hours=2)
        app.config["NOW"] = moment
    assert report.failed == 3
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage)).all()
        assert {(r.status, r.attempts) for r in rows} == {("failed", outbox.MAX_ATTEMPTS)}
        assert all(r.last_error for r in rows)
        assert outbox.backlog() == outbox.Backlog(waiting=0, failed=3)
    health = client.get("/healthz").get_json()
    assert health == {"status": "ok", "database": "ok", "outbox_backlog": 0, "outbox_failed": 3}


def test_an_address_the_server_refuses_for_good_fails_at_once(app, client, smtp, make_cohort, form_data):
    slug = make_cohort()
    smtp.refuse.add("nobody@example.org")
    client.post("/apply", data=form_data(slug, email="nobody@example.org"))
    report = deliver(app)
    assert (report.sent, report.failed) == (2, 1)
    with app.app_context():
        [failed] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.status == "failed")).all()
        assert failed.to_address == "nobody@example.org" and "550" in failed.last_error


def test_two_workers_deliver_200_messages_exactly_once(app, smtp, make_cohort):
    import threading

    make_cohort()
    with app.app_context():
        for n in range(200):
            outbox.enqueue("withdrawn", f"person{n}@example.org", f"load:{n}",
                           application=_stand_in_application(n))
        db.session.commit()

    reports = []
    start = threading.Barrier(2)

    def worker():
        with app.app_context():
            start.wait()
            reports.append(outbox.deliver_due(batch_size=10))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.sent for r in reports) == 200
    assert len(smtp.messages) == 200
    assert sorted(recipients[0] for recipients, _ in smtp.messages) == sorted(
        f"person{n}@example.org" for n in range(200))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.status == "sent")) == 200


def _stand_in_application(n):
    cohort = db.session.scalar(sa.select(Cohort))
    application = Application(cohort=cohort, first_name=f"P{n}", last_name="X", email=f"person{n}@example.org",
                              email_key=f"person{n}@example.org", phone="555 010 1000", home_area="ME",
                              answers={}, consented_at=NOW, health_consent_at=NOW,
                              status="withdrawn", status_changed_at=NOW, created_at=NOW)
    db.session.add(application)
    db.session.flush()
    return application


def test_outbox_send_command_reports_what_it_did(app, client, smtp, runner, make_cohort, form_data):
    slug = make_cohort()
    client.post("/apply", data=form_data(slug))
    result = runner.invoke(args=["outbox", "send"])
    assert "Outbox: sent 3, will retry 0, failed 0. Waiting: 0, given up: 0." in result.output


def test_a_refused_sender_is_our_misconfiguration_so_every_message_waits_for_a_retry(
        app, client, smtp, make_cohort, form_data):
    slug = make_cohort()
    smtp.refuse_sender = True
    client.post("/apply", data=form_data(slug))
    report = deliver(app)
    assert (report.sent, report.failed, report.retrying) == (0, 0, 3)
    smtp.refuse_sender = False
    app.config["NOW"] = NOW + timedelta(minutes=1)
    assert deliver(app).sent == 3


def test_failed_messages_can_be_queued_again_after_fixing_the_cause(app, client, smtp, runner, make_cohort, form_data):
    slug = make_cohort()
    smtp.refuse.add("alex@example.org")
    client.post("/apply", data=form_data(slug))
    assert deliver(app).failed == 1
    smtp.refuse.clear()
    assert "Queued 1 failed email again." in runner.invoke(args=["outbox", "retry-failed"]).output
    assert deliver(app).sent == 1
    assert len(smtp.to("alex@example.org")) == 1


def test_a_worker_whose_claim_was_taken_over_does_not_send_or_record(app, smtp, make_cohort, make_application):
    slug = make_cohort()
    application_id = make_application(slug)
    with app.app_context():
        application = db.session.get(Application, application_id)
        outbox.enqueue("waitlisted", application.email, "takeover", application=application)
        db.session.commit()
        slow_claim, ids = outbox.claim(10)            # worker A claims, then stalls
        app.config["NOW"] = NOW + outbox.CLAIM_LEASE + timedelta(seconds=1)
        fast_claim, same_ids = outbox.claim(10)       # worker B takes the expired claim
        assert ids == same_ids
        assert outbox._deliver(fast_claim, same_ids).sent == 1
        assert outbox._deliver(slow_claim, ids).sent == 0   # A wakes up: not its message any more
    assert len(smtp.messages) == 1


def test_a_message_the_mail_library_cannot_encode_fails_alone_and_the_rest_go_out(app, make_cohort):
    make_cohort()
    with app.app_context():
        for n, address in enumerate(["zoë@example.org", "sam@example.org"]):
            db.session.add(OutboxMessage(kind="received", dedupe_key=f"k{n}", to_address=address, subject="Hello",
                                         text_body="Hi", html_body="<p>Hi</p>", next_attempt_at=NOW, created_at=NOW))
        db.session.commit()
        report = outbox.deliver_due()
        assert (report.sent, report.failed) == (1, 1)
        failed = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.status == "failed"))
        assert failed.to_address == "zoë@example.org" and "Error" in failed.last_error


def test_an_expired_claim_past_the_attempt_limit_is_failed_not_sent_again(app, make_cohort):
    make_cohort()
    with app.app_context():
        db.session.add(OutboxMessage(kind="received", dedupe_key="k", to_address="sam@example.org", subject="Hello",
                                     text_body="Hi", html_body="<p>Hi</p>", status="sending",
                                     attempts=outbox.MAX_ATTEMPTS, locked_until=NOW - timedelta(minutes=1),
                                     next_attempt_at=NOW, created_at=NOW))
        db.session.commit()
        report = outbox.deliver_due()
        assert report.sent == 0
        assert db.session.scalar(sa.select(OutboxMessage.status)) == "failed"


def test_the_delivery_benchmark_still_runs():
    """bench/outbox_throughput.py prints figures, not a verdict; here it only has to work."""
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parent.parent / "bench" / "outbox_throughput.py"
    result = subprocess.run([sys.executable, str(bench), "20"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "one worker delivered 20 messages over SMTP" in result.stdout


def test_a_message_erased_while_it_is_being_sent_leaves_the_worker_running(app, smtp, make_cohort, make_application,
                                                                            monkeypatch):
    slug = make_cohort()
    application_id = make_application(slug)
    with app.app_context():
        application = db.session.get(Application, application_id)
        outbox.enqueue("waitlisted", application.email, "erased-mid-send", application=application)
        outbox.enqueue("waitlisted", "other@example.org", "another", application=application)
        db.session.commit()
        claim_id, ids = outbox.claim(10)
        sending = outbox._send_one

        def erased_during_the_send(send, message_id, *args):
            def send_then_erase(mail_message, eml_name):  # the erasure deletes every outbox row about them
                send(mail_message, eml_name)
                db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.id == message_id))
                db.session.commit()
            sending(send_then_erase, message_id, *args)

        monkeypatch.setattr(outbox, "_send_one", erased_during_the_send)
        outbox._deliver(claim_id, ids)
    assert len(smtp.messages) == 2
