"""Email that is never lost: compose, enqueue in the caller's transaction, deliver with retries.

A web request only ever writes OutboxMessage rows, in the same transaction as the
change they report. A worker (`flask --app resilience outbox send [--loop]`) claims
due rows, sends them over SMTP through Flask-Mail (or writes .eml files under
instance/outbox/ when no SMTP server is configured), and retries failures with
exponential back-off until it gives up and marks the message failed.
"""
from __future__ import annotations

import hashlib
import signal
import smtplib
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import flask_mail
import sqlalchemy as sa
from flask import current_app, render_template, render_template_string
from sqlalchemy.exc import IntegrityError

from . import clock, database
from .extensions import db
from .models import Application, OutboxMessage

MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
CLAIM_LEASE = timedelta(minutes=5)  # a worker that dies mid-send frees its claim after this
BACKLOG_STATUSES = ("queued", "sending")

# Subjects are neutral: someone may see them over a shoulder or on a lock screen.
SUBJECTS = {
    "received": "We have your application",
    "new_application": "New application for the {{ cohort.title }}",
    "accepted": "A place is offered to you in the {{ cohort.title }}",
    "waitlisted": "Your application: on the waitlist for the {{ cohort.title }}",
    "declined": "About your application",
    "withdrawn": "Your application has been withdrawn",
    "seat_freed": "A seat is free in the {{ cohort.title }}",
    "reminder": "Reminder: {{ meeting.neutral_name|lower }} on {{ meeting.local_start|short_date }}",
    "meeting_moved": "New time for {{ meeting.neutral_name|lower }}",
}


def external_url(endpoint: str, **values) -> str:
    """An absolute link built from PUBLIC_URL, never from a request's Host header."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def admin_application_url(application: Application) -> str:
    # The admin panel's path from DESIGN.md; built by hand until its blueprint exists.
    return current_app.config["PUBLIC_URL"].rstrip("/") + f"/admin/applications/{application.id}"


def compose(kind: str, **context) -> dict:
    """Render one email's subject, plain-text and HTML parts from templates/email/."""
    context = {
        "practice": current_app.config["PRACTICE_NAME"],
        "contact_email": current_app.config["CONTACT_EMAIL"],
        "crisis_line": current_app.config["CRISIS_LINE"],
        "site_url": external_url("public.program_page"),
        **context,
    }
    application = context.get("application")
    if application is not None:
        context.setdefault("cohort", application.cohort)
        context.setdefault("status_url", external_url("public.status", token=application.token))
    return {
        "subject": render_template_string(SUBJECTS[kind], **context),
        "text_body": render_template(f"email/{kind}.txt", **context),
        "html_body": render_template(f"email/{kind}.html", **context),
    }


def enqueue(kind: str, to: str, dedupe_key: str, *, application: Application | None = None,
            attachments: list[dict] = (), **context) -> OutboxMessage | None:
    """Add one email to the outbox in the current transaction (the caller commits).

    Returns None when this event was already queued for this recipient.
    """
    if db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)):
        return None
    message = OutboxMessage(
        kind=kind,
        to_address=to,
        dedupe_key=dedupe_key,
        application_id=application.id if application is not None else None,
        attachments=list(attachments),
        next_attempt_at=clock.now(),
        created_at=clock.now(),
        **compose(kind, application=application, **context),
    )
    try:
        with db.session.begin_nested():  # a racing duplicate must not undo the caller's change
            db.session.add(message)
    except IntegrityError:
        return None
    return message


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, doubling each time, never more than an hour."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), RETRY_CAP)


def backlog() -> dict[str, int]:
    """How many messages wait to be sent and how many gave up, for admins and /healthz."""
    rows = db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count())
        .where(OutboxMessage.status.in_(BACKLOG_STATUSES + ("failed",)))
        .group_by(OutboxMessage.status)
    )
    counts = dict(rows.all())
    return {"backlog": sum(counts.get(s, 0) for s in BACKLOG_STATUSES), "failed": counts.get("failed", 0)}


def failed_messages(limit: int = 20) -> list[OutboxMessage]:
    """Emails that gave up, newest first, for the admins to see and act on."""
    return list(db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.status == "failed")
        .order_by(OutboxMessage.created_at.desc()).limit(limit)
    ))


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed

    def __str__(self) -> str:
        return f"sent {self.sent}, will retry {self.retrying}, failed {self.failed}"


def claim(limit: int) -> list[int]:
    """Atomically take up to `limit` due messages for this worker; returns their ids.

    PostgreSQL: FOR UPDATE SKIP LOCKED lets several workers claim side by side.
    SQLite: the claim runs under BEGIN IMMEDIATE, so claims happen one at a time.
    """
    now = clock.now()
    database.begin_write()
    due = sa.or_(
        sa.and_(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now),
        sa.and_(OutboxMessage.status == "sending", OutboxMessage.locked_until < now),
    )
    messages = db.session.scalars(
        sa.select(OutboxMessage).where(due)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for message in messages:
        message.status = "sending"
        message.locked_until = now + CLAIM_LEASE
        message.attempts += 1
    ids = [m.id for m in messages]
    db.session.commit()
    return ids


def deliver_due(batch_size: int = 50) -> DeliveryReport:
    """Send everything due now, batch by batch, and report what happened."""
    report = DeliveryReport()
    while ids := claim(batch_size):
        report.add(_deliver(ids))
    return report


def _deliver(ids: list[int]) -> DeliveryReport:
    report = DeliveryReport()
    rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id.in_(ids))
                              .order_by(OutboxMessage.id)).all()
    outgoing = [(row.id, _as_mail(row), _eml_name(row)) for row in rows]
    db.session.commit()  # hold no transaction open while talking to the mail server
    pending = [message_id for message_id, _, _ in outgoing]
    try:
        with _transport() as send:
            for message_id, mail_message, eml_name in outgoing:
                try:
                    send(mail_message, eml_name)
                except (smtplib.SMTPException, OSError) as error:
                    _finish(message_id, report, error)
                else:
                    _finish(message_id, report)
                pending.remove(message_id)
    except (smtplib.SMTPException, OSError) as error:  # no connection, or it broke
        for message_id in pending:
            _finish(message_id, report, error)
    return report


def _finish(message_id: int, report: DeliveryReport, error: Exception | None = None) -> None:
    """Record one message's outcome at once, in its own short write transaction."""
    database.begin_write()
    message = db.session.get(OutboxMessage, message_id)
    message.locked_until = None
    if error is None:
        message.status, message.sent_at, message.last_error = "sent", clock.now(), None
        report.sent += 1
    else:
        _record_failure(message, error, report)
    db.session.commit()


def _permanent(error: Exception) -> bool:
    """The server said no for good (5xx), e.g. the address does not exist: retrying won't help."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def _record_failure(message: OutboxMessage, error: Exception, report: DeliveryReport) -> None:
    message.last_error = f"{type(error).__name__}: {error}"[:1000]
    if message.attempts >= MAX_ATTEMPTS or _permanent(error):
        message.status = "failed"
        report.failed += 1
        current_app.logger.error("Outbox message %s gave up after %s attempts", message.id, message.attempts)
    else:
        message.status = "queued"
        message.next_attempt_at = clock.now() + retry_delay(message.attempts)
        report.retrying += 1


def _as_mail(message: OutboxMessage) -> flask_mail.Message:
    mail_message = flask_mail.Message(
        subject=message.subject,
        recipients=[message.to_address],
        body=message.text_body,
        html=message.html_body,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
    )
    # The same id on every attempt, so a rare resend after a crash is recognisably the same email.
    host = urlsplit(current_app.config["PUBLIC_URL"]).hostname or "localhost"
    digest = hashlib.sha256(message.dedupe_key.encode()).hexdigest()[:16]
    mail_message.msgId = f"<outbox.{message.id}.{digest}@{host}>"
    for item in message.attachments:
        mail_message.attach(item["filename"], item["content_type"], item["content"].encode())
    return mail_message


@contextmanager
def _transport():
    """SMTP through Flask-Mail when RESILIENCE_MAIL_SERVER is set, else .eml files."""
    if current_app.config.get("MAIL_SERVER"):
        with _SMTPConnection(current_app.extensions["mail"]) as connection:
            yield lambda mail_message, _eml_name: connection.send(mail_message)
    else:
        folder = Path(current_app.instance_path) / "outbox"
        folder.mkdir(exist_ok=True)
        yield lambda mail_message, eml_name: _write_eml(folder / eml_name, mail_message)


def _eml_name(row: OutboxMessage) -> str:
    return f"{row.created_at:%Y%m%d-%H%M%S}-{row.id:06d}-{row.kind}.eml"


def _write_eml(path: Path, mail_message: flask_mail.Message) -> None:
    partial = path.with_suffix(".eml.partial")
    partial.write_bytes(mail_message.as_bytes())
    partial.replace(path)  # never a half-written file under the real name


class _SMTPConnection(flask_mail.Connection):
    """Flask-Mail's connection with a timeout, so a hung server cannot stall the worker."""

    def configure_host(self):
        timeout = current_app.config["MAIL_TIMEOUT"]
        state = self.mail
        if state.use_ssl:
            host = smtplib.SMTP_SSL(state.server, state.port, timeout=timeout)
        else:
            host = smtplib.SMTP(state.server, state.port, timeout=timeout)
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


def run_worker(poll_seconds: float, log=print) -> None:
    """Deliver until SIGTERM or Ctrl-C, checking for due messages every poll_seconds.

    A stop request lets the batch in hand finish, so no claim is left behind.
    """
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    while not stopping.is_set():
        report = deliver_due()
        if report.sent or report.retrying or report.failed:
            log(str(report))
        db.session.remove()
        stopping.wait(poll_seconds)
