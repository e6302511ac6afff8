"""The outbox worker builds each email's bytes itself (the email package's generator was most of
its time): what a mail program reads from them is what Flask-Mail built before, for plain,
accented, emoji and Chinese words, very long lines and calendar attachments; and the worker
checks that the next message is still its own in the same transaction that records the last one."""
import asyncio
import email
import email.policy
import hashlib
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import flask_mail
import pytest
import sqlalchemy as sa
from conftest import NOW

from resilience import outbox
from resilience.extensions import db
from resilience.models import OutboxMessage

CALENDAR = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
            "SUMMARY:Résilience: conversation with Dr. 王小明 🌱\r\nLOCATION:Café on Harbor Street\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")

MESSAGES = {
    "ascii": {
        "subject": "We have your application", "to_address": "alex@example.org",
        "text_body": "Hello,\n\nWe have your application.\n\n— The team\n",
        "html_body": "<p>Hello,</p>\n<p>We have your application.</p>\n", "attachments": []},
    "non-ascii": {
        "subject": "Ça va, Zoë? 🌱 Your place with 王小明 is confirmed", "to_address": "zoe@example.org",
        "text_body": "Bonjour Zoë,\r\nsee you at the café 🌱 with 王小明.\n",
        "html_body": "<p>Bonjour Zoë,</p><p>see you at the café 🌱 with 王小明.</p>", "attachments": []},
    "long lines": {
        "subject": "A reminder " + "about the place offered to you " * 8, "to_address": "sam@example.org",
        "text_body": "Words " * 400 + "\n\n" + "x" * 1500 + "\nlast line without a break",
        "html_body": "<p>" + "Des mots accentués é, 王, 🌱 " * 200 + "</p>\n", "attachments": []},
    "long non-ascii subject": {
        "subject": "Réunion déplacée: " + "é 王小明 🌱 " * 30, "to_address": "sam@example.org",
        "text_body": "Hi\n", "html_body": "<p>Hi</p>", "attachments": []},
    "calendar": {
        "subject": "Your conversation with us: Tue 1 Dec", "to_address": "sam@example.org",
        "text_body": "See the invitation attached.\n", "html_body": "<p>See the invitation attached.</p>\n",
        "attachments": [{"filename": "conversation.ics", "content": CALENDAR,
                         "content_type": "text/calendar; charset=utf-8; method=REQUEST"},
                        {"filename": "réunions.ics", "content": CALENDAR.replace("REQUEST", "PUBLISH"),
                         "content_type": "text/calendar; charset=utf-8; method=PUBLISH"}]},
}


def _row(name: str, n: int = 7):
    return SimpleNamespace(id=n, dedupe_key=f"test:{name}", **MESSAGES[name])


def _flask_mail_bytes(message) -> bytes:
    """How the outbox built an email before: through Flask-Mail and the email package (the reference)."""
    from flask import current_app

    mail_message = flask_mail.Message(
        subject=message.subject, recipients=[message.to_address], body=message.text_body, html=message.html_body,
        sender=current_app.config["MAIL_DEFAULT_SENDER"], reply_to=current_app.config["CONTACT_EMAIL"])
    host = urlsplit(current_app.config["PUBLIC_URL"]).hostname or "localhost"
    digest = hashlib.sha256(message.dedupe_key.encode()).hexdigest()[:16]
    mail_message.msgId = f"<outbox.{message.id}.{digest}@{host}>"
    for item in message.attachments:
        mail_message.attach(item["filename"], item["content_type"], item["content"].encode())
    return mail_message.as_bytes()


def _what_a_reader_sees(data: bytes) -> dict:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert email.utils.parsedate_to_datetime(message["Date"]) is not None
    return {
        "headers": {name: str(message[name]) for name in ("From", "To", "Reply-To", "Subject", "Message-ID")},
        "structure": [(part.get_content_type(), part.get_content_charset()) for part in message.walk()],
        "text": message.get_body(("plain",)).get_content(),
        "html": message.get_body(("html",)).get_content(),
        "attachments": [(part.get_filename(), part["Content-Type"], part.get_payload(decode=True))
                        for part in message.iter_attachments()],
        "defects": [defect for part in message.walk() for defect in part.defects],
    }


@pytest.fixture
def practice(app):
    app.config.update(PUBLIC_URL="https://resilience.example", CONTACT_EMAIL="hello@example.org",
                      MAIL_DEFAULT_SENDER="Résilience — Dr. 王小明’s practice <hello@example.org>")
    with app.app_context():
        yield app


@pytest.mark.parametrize("name", MESSAGES)
def test_the_bytes_built_by_hand_read_as_flask_mails_did(practice, name):
    ours = outbox._as_mail(_row(name)).as_bytes()
    seen = _what_a_reader_sees(ours)
    reference = _what_a_reader_sees(_flask_mail_bytes(_row(name)))
    # Flask-Mail lost a space here and there when it split a long non-ASCII subject: not any more.
    assert seen["headers"].pop("Subject") == MESSAGES[name]["subject"]
    if name != "long non-ascii subject":
        assert reference["headers"]["Subject"] == MESSAGES[name]["subject"]
    reference["headers"].pop("Subject")
    assert seen == reference
    assert seen["defects"] == []
    assert seen["headers"]["Message-ID"] == (
        f"<outbox.7.{hashlib.sha256(f'test:{name}'.encode()).hexdigest()[:16]}@resilience.example>")
    assert seen["headers"]["From"] == '"Résilience — Dr. 王小明’s practice" <hello@example.org>'
    # Legal on the wire: CRLF line ends only, no line over 998 octets, headers folded under 78.
    assert b"\n" not in ours.replace(b"\r\n", b"")
    lines = ours.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    head = ours.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and max(len(line) for line in head.split(b"\r\n")) <= 78


def test_the_same_message_gets_the_same_bytes_on_every_attempt_but_for_its_date(practice):
    first, again = outbox._as_mail(_row("calendar")), outbox._as_mail(_row("calendar"))
    assert first.as_bytes(date="Thu, 26 Nov 2026 15:00:00 +0000") == again.as_bytes(
        date="Thu, 26 Nov 2026 15:00:00 +0000")


def test_a_body_that_contains_the_boundary_gets_another_one(practice):
    built = outbox._as_mail(_row("ascii"))
    boundary = built.boundaries[0]
    trap = SimpleNamespace(id=7, dedupe_key="test:ascii", **{**MESSAGES["ascii"], "text_body": f"--{boundary}\n"})
    seen = _what_a_reader_sees(outbox._as_mail(trap).as_bytes())
    assert seen["text"] == f"--{boundary}\r\n"
    assert len(seen["structure"]) == 4


@pytest.mark.parametrize("field, value", [
    ("to_address", "sam@example.org\r\nBcc: everyone@example.org"),
    ("subject", "Hello\nBcc: everyone@example.org"),
    ("to_address", "zoë@example.org"),  # a non-ASCII mailbox needs SMTPUTF8, which we do not use
])
def test_a_header_that_cannot_be_sent_safely_is_refused_when_built(practice, field, value):
    message = SimpleNamespace(id=7, dedupe_key="k", **{**MESSAGES["ascii"], field: value})
    with pytest.raises(ValueError):
        outbox._as_mail(message)


def test_a_domain_in_another_script_is_sent_as_punycode_as_before(practice):
    message = SimpleNamespace(id=7, dedupe_key="k", **{**MESSAGES["ascii"], "to_address": "sam@bücher.example"})
    built = outbox._as_mail(message)
    assert (built.sender, built.recipient) == ("hello@example.org", "sam@xn--bcher-kva.example")
    assert _what_a_reader_sees(built.as_bytes()) == _what_a_reader_sees(_flask_mail_bytes(message))


class _RawSMTP:
    """A loopback SMTP server that keeps the bytes it receives, exactly."""

    def __init__(self):
        import socket

        from aiosmtpd.controller import Controller

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.received = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        await asyncio.sleep(0)
        return "250 OK"


@pytest.fixture
def raw_smtp():
    server = _RawSMTP()
    server.controller.start()
    yield server
    server.controller.stop()


def _over_smtp(app, port):
    from resilience import extensions

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    extensions.mail.init_app(app)


def _queue(app, names, numbered=False):
    with app.app_context():
        for n, name in enumerate(names):
            fields = {**MESSAGES[name], **({"to_address": f"p{n}@example.org"} if numbered else {})}
            db.session.add(OutboxMessage(kind="received", dedupe_key=f"speed:{n}", next_attempt_at=NOW,
                                         created_at=NOW, **fields))
        db.session.commit()


def test_the_eml_file_holds_the_bytes_that_smtp_would_have_sent(app, raw_smtp):
    app.config["NOW"] = NOW
    _queue(app, ["non-ascii", "calendar"])
    with app.app_context():
        assert outbox.deliver_due().sent == 2  # no mail server: .eml files
        for message in db.session.scalars(sa.select(OutboxMessage)):
            message.status, message.next_attempt_at = "queued", NOW
        db.session.commit()
    _over_smtp(app, raw_smtp.port)
    with app.app_context():
        assert outbox.deliver_due().sent == 2
    files = sorted((Path(app.instance_path) / "outbox").glob("*.eml"))

    def dateless(data):
        return b"\r\n".join(line for line in data.split(b"\r\n") if not line.startswith(b"Date: "))

    assert [dateless(f.read_bytes()) for f in files] == [dateless(raw) for _, _, raw in raw_smtp.received]
    assert [(sender, rcpt) for sender, rcpt, _ in raw_smtp.received] == [
        (app.config["CONTACT_EMAIL"], ["zoe@example.org"]), (app.config["CONTACT_EMAIL"], ["sam@example.org"])]


class _Transactions:
    def __init__(self, engine):
        self.engine, self.count, self.updates = engine, 0, 0
        sa.event.listen(engine, "begin", self._begin)
        sa.event.listen(engine, "before_cursor_execute", self._statement)

    def _begin(self, _conn):
        self.count += 1

    def _statement(self, _conn, _cursor, statement, *_):
        self.updates += statement.lstrip().upper().startswith("UPDATE")

    def close(self):
        sa.event.remove(self.engine, "begin", self._begin)
        sa.event.remove(self.engine, "before_cursor_execute", self._statement)


def test_checking_that_the_next_message_is_still_ours_costs_no_transaction_of_its_own(
        app, raw_smtp, make_cohort):
    """The check that the next message was not erased meanwhile rides in the transaction that
    records the one before: per batch, only its first message is checked on its own."""
    _over_smtp(app, raw_smtp.port)
    make_cohort()
    _queue(app, ["ascii"] * 30)
    with app.app_context():
        transactions = _Transactions(db.engine)
        try:
            assert outbox.deliver_due(batch_size=10).sent == 30
        finally:
            transactions.close()
    assert transactions.updates == 30 + 3  # one per message, one per claim
    # 30 records, 4 claims (the last finds nothing), and per batch: its read, its first check
    assert transactions.count == 30 + 4 + 3 * 2


@pytest.fixture
def smtp_app(app, smtp):
    _over_smtp(app, smtp.port)
    return app


def test_a_message_erased_while_the_one_before_it_is_sent_is_not_sent(smtp_app, smtp, make_cohort, monkeypatch):
    app = smtp_app
    make_cohort()
    _queue(app, ["ascii"] * 3, numbered=True)
    sending = outbox._send_one

    def erase_the_second_during_the_first_send(send, message_id, *args):
        def send_then_erase(mail_message, eml_name):
            send(mail_message, eml_name)
            if len(smtp.messages) == 1:  # before the first one's outcome is recorded
                second = db.session.scalar(sa.select(OutboxMessage.id).order_by(OutboxMessage.id).offset(1))
                db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.id == second))
                db.session.commit()
        sending(send_then_erase, message_id, *args)

    monkeypatch.setattr(outbox, "_send_one", erase_the_second_during_the_first_send)
    with app.app_context():
        report = outbox.deliver_due()
    assert (report.sent, report.retrying, report.failed) == (2, 0, 0)
    assert [r for r, _ in smtp.messages] == [["p0@example.org"], ["p2@example.org"]]


def test_a_message_erased_while_the_worker_connects_is_not_sent(smtp_app, smtp, make_cohort, monkeypatch):
    app = smtp_app
    make_cohort()
    _queue(app, ["ascii"] * 2, numbered=True)
    connect = outbox._SMTPConnection.configure_host

    def erase_the_first_while_connecting(connection):
        first = db.session.scalar(sa.select(sa.func.min(OutboxMessage.id)))
        db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.id == first))
        db.session.commit()
        return connect(connection)

    monkeypatch.setattr(outbox._SMTPConnection, "configure_host", erase_the_first_while_connecting)
    with app.app_context():
        report = outbox.deliver_due()
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    assert [r for r, _ in smtp.messages] == [["p1@example.org"]]
