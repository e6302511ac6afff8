"""A worker sends a batch over one SMTP connection at one write transaction per message, and
still never sends a message twice, nor one erased meanwhile, nor loses its claim in a long batch."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW, over_smtp

from resilience import outbox, sealing
from resilience.extensions import db
from resilience.models import Application, OutboxMessage


@pytest.fixture
def app_config(app_config, smtp):
    return over_smtp(app_config, smtp)


def _queue(app, count):
    with app.app_context():
        for n in range(count):
            db.session.add(OutboxMessage(kind="received", dedupe_key=f"batch:{n}", to_address=f"p{n}@example.org",
                                         subject="Hello", text_body=f"Hi {n}", html_body=f"<p>Hi {n}</p>",
                                         next_attempt_at=NOW, created_at=NOW))
        db.session.commit()


class _WriteTransactions:
    """Counts committed transactions that wrote something."""

    def __init__(self, engine):
        self.count, self._wrote = 0, False
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "commit", self._commit)
        sa.event.listen(engine, "rollback", self._rollback)
        self.engine = engine

    def _statement(self, _conn, _cursor, statement, *_):
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            self._wrote = True

    def _commit(self, _conn):
        self.count += self._wrote
        self._wrote = False

    def _rollback(self, _conn):
        self._wrote = False

    def close(self):
        sa.event.remove(self.engine, "before_cursor_execute", self._statement)
        sa.event.remove(self.engine, "commit", self._commit)
        sa.event.remove(self.engine, "rollback", self._rollback)


def test_each_message_sent_costs_one_write_transaction_besides_the_claims(app, smtp, make_cohort):
    make_cohort()
    _queue(app, 30)
    with app.app_context():
        writes = _WriteTransactions(db.engine)
        try:
            report = outbox.deliver_due(batch_size=10)
        finally:
            writes.close()
    assert report.sent == 30 and len(smtp.messages) == 30
    assert writes.count == 30 + 3  # one per message, one per claimed batch


def test_each_body_is_unsealed_once(app, smtp, make_cohort, monkeypatch):
    make_cohort()
    _queue(app, 10)
    opened = []
    unseal = sealing.unseal
    monkeypatch.setattr(sealing, "unseal", lambda value: opened.append(value) or unseal(value))
    with app.app_context():
        assert outbox.deliver_due().sent == 10
    assert len(opened) == 2 * 10  # the text and the HTML body of each message


def test_a_message_erased_before_its_turn_in_the_batch_is_not_sent(app, smtp, make_cohort, monkeypatch):
    make_cohort()
    _queue(app, 3)
    sending = outbox._send_one

    def erase_the_last_one_during_the_first_send(send, message_id, *args):
        sending(send, message_id, *args)
        if len(smtp.messages) == 1:
            last = db.session.scalar(sa.select(sa.func.max(OutboxMessage.id)))
            db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.id == last))
            db.session.commit()

    monkeypatch.setattr(outbox, "_send_one", erase_the_last_one_during_the_first_send)
    with app.app_context():
        report = outbox.deliver_due()
    assert (report.sent, report.retrying, report.failed) == (2, 0, 0)
    assert sorted(r[0] for r, _ in smtp.messages) == ["p0@example.org", "p1@example.org"]


def test_a_long_batch_renews_the_claim_of_every_message_still_to_send(app, smtp, make_cohort, monkeypatch):
    make_cohort()
    _queue(app, 3)
    sending = outbox._send_one
    others = []

    def another_worker_looks_after_the_first_lease_ran_out(send, message_id, *args):
        if not others:
            app.config["NOW"] = NOW + outbox.CLAIM_LEASE + timedelta(minutes=1)
            others.append(outbox.claim(10)[1])
            db.session.commit()
        sending(send, message_id, *args)

    monkeypatch.setattr(outbox, "_send_one", another_worker_looks_after_the_first_lease_ran_out)
    with app.app_context():
        claim_id, ids = outbox.claim(10)
        app.config["NOW"] = NOW + timedelta(minutes=4)  # the batch started late: its lease is nearly over
        report = outbox._deliver(claim_id, ids)
    assert others == [[]]
    assert report.sent == 3 and len(smtp.messages) == 3


def test_a_worker_that_dies_between_the_send_and_its_record_sends_again_after_the_lease(
        app, smtp, make_cohort, monkeypatch):
    """At least once, never lost: the same email (same Message-ID) goes out again once the lease ends."""
    make_cohort()
    _queue(app, 1)

    def dies(*_args, **_kwargs):
        raise KeyboardInterrupt

    with app.app_context():
        claim_id, ids = outbox.claim(10)
        monkeypatch.setattr(outbox, "_finish", dies)
        with pytest.raises(KeyboardInterrupt):
            outbox._deliver(claim_id, ids)
        monkeypatch.undo()
        db.session.rollback()
        assert outbox.deliver_due().sent == 0  # the dead worker's claim still holds
        app.config["NOW"] = NOW + outbox.CLAIM_LEASE + timedelta(seconds=1)
        assert outbox.deliver_due().sent == 1
        assert db.session.scalar(sa.select(OutboxMessage.status)) == "sent"
    assert len(smtp.messages) == 2
    assert smtp.messages[0][1]["Message-ID"] == smtp.messages[1][1]["Message-ID"]


def test_a_subject_template_is_compiled_once_however_many_emails_use_it(app, make_cohort, make_application,
                                                                         monkeypatch):
    application_id = make_application(make_cohort())
    with app.app_context():
        application = db.session.get(Application, application_id)
        compiled = []
        from_string = app.jinja_env.from_string
        monkeypatch.setattr(app.jinja_env, "from_string", lambda source, *a, **k: compiled.append(source)
                            or from_string(source, *a, **k))
        subjects = [outbox.compose("withdrawn", application=application)["subject"] for _ in range(3)]
    assert subjects == ["Your application has been withdrawn"] * 3
    assert len(compiled) <= 1
