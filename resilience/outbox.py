"""Email that is never lost: compose, enqueue in the caller's transaction, deliver with retries.

A web request only ever writes OutboxMessage rows, in the same transaction as the
change they report. A worker (`flask --app resilience outbox send [--loop]`) claims
due rows, sends them over SMTP with Flask-Mail's connection settings (or writes .eml
files under instance/outbox/ when no SMTP server is configured), and retries failures
with exponential back-off until it gives up and marks the message failed. The worker
builds each email's bytes itself (see _as_mail): the email package took most of its time.
"""
from __future__ import annotations

import functools
import hashlib
import signal
import smtplib
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import flask_mail
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from . import clock, database, mime
from .extensions import db
from .models import Application, OutboxMessage
from .status import BACKLOG, OutboxStatus, Status

MAX_ATTEMPTS = 20  # 30 s, 1, 2, 4 … minutes, then hourly: about 14 hours before giving up
FIRST_RETRY = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
CLAIM_LEASE = timedelta(minutes=5)  # renewed before each send; a dead worker's claim expires

# Subjects are neutral: someone may see them over a shoulder or on a lock screen.
SUBJECTS = {
    "received": "We have your application",
    "new_application": "New application for the {{ cohort.title }}",
    Status.ACCEPTED: "A place is offered to you in the {{ cohort.title }}",
    Status.WAITLISTED: "Your application: on the waitlist for the {{ cohort.title }}",
    Status.DECLINED: "About your application",
    Status.WITHDRAWN: "Your application has been withdrawn",
    "seat_freed": "A seat is free in the {{ cohort.title }}",
    "reminder": "Reminder: {{ meeting.neutral_name|lower }} on {{ meeting.local_start|short_date }}",
    "meeting_moved": "{{ 'New place' if before == meeting.local_start and before_end == meeting.local_end else "
                     "'New time' }} for {{ meeting.neutral_name|lower }}",
    "status_link": "Your application is already with us",
    "status_links": "Your status link{{ 's' if applications|length > 1 }}",
    "draft_saved": "Your saved application",
    Status.ENROLLED: "Your place in the {{ cohort.title }} is confirmed",
    "offer_reopened": "About the place we offered you",
    Status.SCREENING: "An invitation to talk with us",
    "times_open": "New times to talk with us",
    "offer_reminder": "A reminder about the place offered to you",
    Status.LAPSED: "About the place we offered you",
    "conversation_booked": "{% if for_clinician %}Screening conversation booked: {{ person.first_name }}, "
                           "{% else %}Your conversation with us: {% endif %}{{ slot.local_start|short_date }}",
    "conversation_moved": "{% if for_clinician %}Screening conversation moved: {{ person.first_name }}, "
                          "{% else %}New time for your conversation: {% endif %}{{ slot.local_start|short_date }}",
    "conversation_cancelled": "{% if for_clinician %}Screening conversation cancelled: {{ person.first_name }}"
                              "{% else %}Your conversation is cancelled{% endif %}",
    "missed_meeting": "A participant missed a meeting: {{ person.first_name }}, {{ meeting.neutral_name|lower }}",
    "message": "A message from {{ practice }}",
}


def external_url(endpoint: str, **values) -> str:
    """An absolute link built from PUBLIC_URL, never from a request's Host header."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def compose(kind: str, **context) -> dict:
    """Render one email's subject, plain-text and HTML parts from templates/email/, with the
    site's templates alone: without Flask's context processors (the signed-in clinician, the
    admin panel's facts) and render signals, which render_template runs for each part."""
    templates = current_app.jinja_env
    context = {
        "practice": current_app.config["PRACTICE_NAME"],
        "contact_email": current_app.config["CONTACT_EMAIL"],
        "crisis_line": current_app.config["CRISIS_LINE"],
        "site_url": external_url("public.program_page"),
        "external_url": external_url,
        **context,
    }
    application = context.get("application")
    if application is not None:
        context.setdefault("cohort", application.cohort)
        context.setdefault("status_url", external_url("public.status", token=application.token))
    return {
        # A subject is a header, not HTML: no escaping, and never a line break.
        "subject": " ".join(_subject_template(kind).render(context).split()),
        "text_body": templates.get_template(f"email/{kind}.txt").render(context),
        "html_body": templates.get_template(f"email/{kind}.html").render(context),
    }


def _subject_template(kind: str):
    """The subject's template, compiled once per app (compiling cost more than rendering)."""
    compiled = current_app.extensions.setdefault("outbox_subjects", {})
    if kind not in compiled:
        compiled[kind] = current_app.jinja_env.from_string(
            "{% autoescape false %}" + SUBJECTS[kind] + "{% endautoescape %}")
    return compiled[kind]


def enqueue(kind: str, to: str, dedupe_key: str, *, application: Application | None = None,
            attachments: list[dict] = (), new_event: bool = False, **context) -> OutboxMessage | None:
    """Add one email to the outbox in the current transaction (the caller commits).

    Returns None when this event was already queued for this recipient. new_event=True says
    the event happened in this very transaction (an application stored a moment ago): nobody
    can have queued it before, so it is not looked for.
    """
    if not new_event and _queued(dedupe_key):
        return None
    return _add(kind, to, dedupe_key, compose(kind, application=application, **context), application,
                attachments, new_event)


def enqueue_for_clinicians(kind: str, dedupe_key: str, *, application: Application | None = None,
                           new_event: bool = False, **context) -> None:
    """The same email to each clinician in ADMIN_EMAILS, rendered once (it names no
    recipient); each copy is its own message, with the address added to the dedupe key."""
    parts = None
    for address in current_app.config["ADMIN_EMAILS"]:
        key = f"{dedupe_key}:{address}"
        if new_event or not _queued(key):
            parts = parts or compose(kind, application=application, **context)
            _add(kind, address, key, parts, application, (), new_event)


def _queued(dedupe_key: str) -> bool:
    return db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)) is not None


def _add(kind: str, to: str, dedupe_key: str, parts: dict, application: Application | None, attachments,
         new_event: bool) -> OutboxMessage | None:
    """Store one message at once (a plain INSERT: nothing in the request reads it back, so the
    ORM's bookkeeping for it is skipped); the message as stored (a copy outside the session),
    or None for a duplicate. An application must be stored already (flushed): its id is kept."""
    assert application is None or application.id is not None, "flush the application before queueing its emails"
    now = clock.now()
    values = {"kind": kind, "to_address": to, "dedupe_key": dedupe_key,
              "application_id": application.id if application is not None else None,
              "attachments": list(attachments), "status": OutboxStatus.QUEUED, "attempts": 0,
              "next_attempt_at": now, "created_at": now, **parts}
    if new_event:
        stored = db.session.execute(_INSERT, values)
    else:
        try:
            with db.session.begin_nested():  # a racing duplicate must not undo the caller's change
                stored = db.session.execute(_INSERT, values)
        except IntegrityError:
            return None
    message = OutboxMessage(id=stored.inserted_primary_key[0], **values)
    if COLLECTED in db.session.info:
        db.session.info[COLLECTED].append(message)
    return message


_INSERT = sa.insert(OutboxMessage.__table__)


COLLECTED = "outbox_collected"


@contextmanager
def collecting():
    """The emails this session queues inside the block (and no other session's), e.g. to show
    what a change would send before it is rolled back."""
    db.session.info[COLLECTED] = queued = []
    try:
        yield queued
    finally:
        db.session.info.pop(COLLECTED, None)


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, doubling each time, never more than an hour."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), RETRY_CAP)


@dataclass(frozen=True)
class Backlog:
    waiting: int  # queued or being sent
    failed: int   # gave up


def backlog() -> Backlog:
    """How many messages wait to be sent and how many gave up, for admins and /healthz."""
    counts = dict(db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count())
        .where(OutboxMessage.status.in_((*BACKLOG, OutboxStatus.FAILED)))
        .group_by(OutboxMessage.status)
    ).all())
    return Backlog(waiting=sum(counts.get(s, 0) for s in BACKLOG), failed=counts.get(OutboxStatus.FAILED, 0))


def failed_messages(limit: int = 20) -> list[OutboxMessage]:
    """Emails that gave up, newest first, for the admins to see and act on."""
    return list(db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
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


def claim(limit: int) -> tuple[str, list[int]]:
    """Atomically take up to `limit` due messages for this worker: (claim id, message ids).

    PostgreSQL: FOR UPDATE SKIP LOCKED lets several workers claim side by side.
    SQLite: the claim runs under BEGIN IMMEDIATE, so claims happen one at a time.
    A claim whose worker died expires after CLAIM_LEASE and is taken again, unless
    the message has used up its attempts: then it is marked failed.
    Only ids and attempts are read here: the bodies are unsealed once, by the sender.
    """
    now = clock.now()
    claim_id = uuid.uuid4().hex
    database.begin_write()
    due = sa.or_(
        sa.and_(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= now),
        sa.and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.locked_until < now),
    )
    rows = db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.attempts).where(due)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    spent = [message_id for message_id, attempts in rows if attempts >= MAX_ATTEMPTS]
    ids = [message_id for message_id, attempts in rows if attempts < MAX_ATTEMPTS]
    if spent:
        db.session.execute(
            sa.update(OutboxMessage).where(OutboxMessage.id.in_(spent))
            .values(status=OutboxStatus.FAILED, locked_until=None, claimed_by=None,
                    last_error=sa.func.coalesce(OutboxMessage.last_error,
                                                "A worker stopped while sending it, too many times.")),
            execution_options={"synchronize_session": False})
    if ids:
        db.session.execute(
            sa.update(OutboxMessage).where(OutboxMessage.id.in_(ids))
            .values(status=OutboxStatus.SENDING, locked_until=now + CLAIM_LEASE, claimed_by=claim_id,
                    attempts=OutboxMessage.attempts + 1),
            execution_options={"synchronize_session": False})
    db.session.commit()
    return claim_id, ids


def deliver_due(batch_size: int = 50) -> DeliveryReport:
    """Send everything due now, batch by batch, and report what happened."""
    report = DeliveryReport()
    while True:
        claim_id, ids = claim(batch_size)
        if not ids:
            return report
        report.add(_deliver(claim_id, ids))


# Errors that say nothing about one message but about the connection or our own account:
# they end the batch, and every message in it is tried again later. (Every SMTP error is
# also an OSError, so the order of the except clauses below matters.)
_CONNECTION_ERRORS = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPAuthenticationError,
                      smtplib.SMTPSenderRefused, smtplib.SMTPHeloError, smtplib.SMTPNotSupportedError)

# The claim of every message still to send in a batch is renewed once this much of its lease
# has gone, so a slow batch (a server that takes MAIL_TIMEOUT to answer) never loses it.
RENEW_AFTER = timedelta(minutes=1)


@dataclass
class _Batch:
    """One claimed batch on its way out."""

    claim_id: str
    report: DeliveryReport
    pending: list[int]  # still to send, in order
    # The batch's own connection for its short write transactions: Core statements, run without
    # the ORM session, whose bookkeeping around each one cost more than the statements did.
    writer: sa.Connection
    # Whether a message still to send was found still ours, by the transaction that recorded the
    # one before it (see _finish): the read that must come before each send, at no extra cost.
    checked: dict[int, bool] = field(default_factory=dict)


def _deliver(claim_id: str, ids: list[int]) -> DeliveryReport:
    """Send one claimed batch over one SMTP connection.

    Per message: a check that it is still ours (not erased meanwhile) just before it is sent,
    the send, and one short write transaction recording the outcome only if the message is
    still ours, which also checks the next message: a message erased before that transaction
    ends is never sent.
    """
    rows = db.session.execute(
        sa.select(OutboxMessage.__table__)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == claim_id,
               OutboxMessage.status == OutboxStatus.SENDING)
        .order_by(OutboxMessage.id)).all()
    outgoing = []
    for row in rows:
        try:
            outgoing.append((row.id, _as_mail(row), _eml_name(row)))
        except Exception as error:  # noqa: BLE001 (cannot even be built: it never will be)
            outgoing.append((row.id, error, None))
    lease_until = min((row.locked_until for row in rows), default=None)
    db.session.commit()  # hold no transaction open while talking to the mail server
    with db.engine.connect() as writer:
        batch = _Batch(claim_id, DeliveryReport(), [message_id for message_id, _, _ in outgoing],
                       writer.execution_options(sqlite_begin="BEGIN IMMEDIATE"))
        try:
            with _transport() as send:
                for message_id, mail_message, eml_name in outgoing:
                    if lease_until is not None and clock.now() >= lease_until - CLAIM_LEASE + RENEW_AFTER:
                        lease_until = _renew(batch)
                    batch.pending.remove(message_id)
                    ours = batch.checked.pop(message_id, None)
                    if isinstance(mail_message, Exception):
                        _finish(message_id, batch, mail_message, permanent=True)
                    elif ours or (ours is None and _still_ours(message_id, claim_id)):
                        _send_one(send, message_id, batch, mail_message, eml_name)
        except (smtplib.SMTPException, OSError) as error:  # no connection, or it broke
            unsent, batch.pending = batch.pending, []
            for message_id in unsent:
                _finish(message_id, batch, error)
    return batch.report


def _send_one(send, message_id, batch, mail_message, eml_name) -> None:
    try:
        send(mail_message, eml_name)
    except smtplib.SMTPRecipientsRefused as error:
        refused_for_good = all(code >= 500 for code, _ in error.recipients.values())
        _finish(message_id, batch, error, permanent=refused_for_good)
    except _CONNECTION_ERRORS as error:
        _finish(message_id, batch, error)
        raise
    except smtplib.SMTPException as error:  # about this message, e.g. its content refused for now
        _finish(message_id, batch, error)
    except OSError as error:  # the network or the disk
        _finish(message_id, batch, error)
        raise
    except Exception as error:  # noqa: BLE001 (e.g. an address that cannot be encoded: never sendable)
        _finish(message_id, batch, error, permanent=True)
    else:
        _finish(message_id, batch)


# The statements run for every message sent, built once (building them each time cost more
# than running them): parameters message_id, claim_id (and sent_at_now).
_table = OutboxMessage.__table__
_IS_OURS = sa.and_(_table.c.id == sa.bindparam("message_id"), _table.c.claimed_by == sa.bindparam("claim_id"),
                   _table.c.status == OutboxStatus.SENDING)
_SELECT_IF_OURS = sa.select(_table.c.id).where(_IS_OURS)
_RECORD_SENT = sa.update(_table).where(_IS_OURS).values(
    status=OutboxStatus.SENT, sent_at=sa.bindparam("sent_at_now", type_=_table.c.sent_at.type), last_error=None,
    locked_until=None, claimed_by=None)


def _is_ours(run, message_id: int, claim_id: str) -> bool:
    """Whether the message is still this claim's, asked through `run` (the session, or a batch's writer)."""
    return run.execute(_SELECT_IF_OURS, {"message_id": message_id, "claim_id": claim_id}).first() is not None


def _still_ours(message_id: int, claim_id: str) -> bool:
    """Just before sending: False if the message was erased meanwhile (or taken over).

    A read, not a write: the batch's lease (see _renew) keeps other workers off it.
    """
    ours = _is_ours(db.session, message_id, claim_id)
    db.session.commit()  # end the read before talking to the mail server
    return ours


def _renew(batch: _Batch):
    """Extend this worker's claim on the batch's messages still to send; the new lease end."""
    lease_until = clock.now() + CLAIM_LEASE
    if batch.pending:
        with batch.writer.begin():
            batch.writer.execute(
                sa.update(_table)
                .where(_table.c.id.in_(batch.pending), _table.c.claimed_by == batch.claim_id,
                       _table.c.status == OutboxStatus.SENDING)
                .values(locked_until=lease_until))
    return lease_until


def _finish(message_id: int, batch: _Batch, error: Exception | None = None, permanent: bool = False) -> None:
    """Record one message's outcome at once, in its own short write transaction, only if the
    message is still this claim's (not erased meanwhile, nor taken over by another worker).
    The same transaction checks that the batch's next message is still ours (see _Batch.checked)."""
    ours = {"message_id": message_id, "claim_id": batch.claim_id}
    with batch.writer.begin():
        if error is None:
            recorded = batch.writer.execute(_RECORD_SENT, {**ours, "sent_at_now": clock.now()}).rowcount
        else:
            recorded = _record_failure(batch, ours, error, permanent)
        _check_next(batch)
    if error is None:
        if recorded:
            batch.report.sent += 1
        else:
            current_app.logger.info("Outbox message %s was sent, but erased or taken over meanwhile", message_id)


def _record_failure(batch: _Batch, ours: dict, error: Exception, permanent: bool) -> bool:
    """Queue the message again after its back-off, or fail it for good; False if it is no longer ours."""
    attempts = batch.writer.scalar(sa.select(_table.c.attempts).where(_IS_OURS).with_for_update(), ours)
    if attempts is None:  # another worker took it over (or its person's data was erased meanwhile)
        return False
    values = {"locked_until": None, "claimed_by": None, "last_error": f"{type(error).__name__}: {error}"[:1000]}
    if permanent or attempts >= MAX_ATTEMPTS:
        values["status"] = OutboxStatus.FAILED
        batch.report.failed += 1
        current_app.logger.error("Outbox message %s gave up after %s attempts", ours["message_id"], attempts)
    else:
        values.update(status=OutboxStatus.QUEUED, next_attempt_at=clock.now() + retry_delay(attempts))
        batch.report.retrying += 1
    batch.writer.execute(sa.update(_table).where(_IS_OURS).values(**values), ours)
    return True


def _check_next(batch: _Batch) -> None:
    if batch.pending:
        next_id = batch.pending[0]
        batch.checked[next_id] = _is_ours(batch.writer, next_id, batch.claim_id)


def retry_failed() -> int:
    """Queue every failed message again with fresh attempts (after fixing the cause)."""
    database.begin_write()
    count = db.session.execute(
        sa.update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.QUEUED, attempts=0, next_attempt_at=clock.now(), locked_until=None, claimed_by=None)
    ).rowcount
    db.session.commit()
    return count


@functools.lru_cache(maxsize=8)
def _host(public_url: str) -> str:
    return urlsplit(public_url).hostname or "localhost"


def _as_mail(message) -> mime.Email:
    """The email for one outbox row (a Row of the outbox_message table, or an OutboxMessage).

    Raises ValueError for a header that cannot go out safely (a line break, a mailbox name
    that needs SMTPUTF8): the message is then failed at once, as it never could be sent.
    """
    config = current_app.config
    # The same id on every attempt, so a rare resend after a crash is recognisably the same email.
    digest = hashlib.sha256(message.dedupe_key.encode()).hexdigest()[:16]
    return mime.build(
        sender=config["MAIL_DEFAULT_SENDER"], to=message.to_address,
        # Replies (to a clinician's message, or to any email) reach the practice's address.
        reply_to=config["CONTACT_EMAIL"],
        subject=message.subject, message_id=f"<outbox.{message.id}.{digest}@{_host(config['PUBLIC_URL'])}>",
        text=message.text_body, html=message.html_body, attachments=message.attachments,
        boundary_stem=f"=_outbox.{message.id}.{digest}")


@contextmanager
def _transport():
    """SMTP (through Flask-Mail's connection settings) when RESILIENCE_MAIL_SERVER is set, else .eml files.
    Both take the same bytes: mime.Email.as_bytes()."""
    if current_app.config.get("MAIL_SERVER"):
        with _SMTPConnection(current_app.extensions["mail"]) as connection:
            yield lambda mail_message, _eml_name: connection.send_email(mail_message)
    else:
        folder = Path(current_app.instance_path) / "outbox"
        folder.mkdir(exist_ok=True)
        yield lambda mail_message, eml_name: _write_eml(folder / eml_name, mail_message)


def _eml_name(row) -> str:
    return f"{row.created_at:%Y%m%d-%H%M%S}-{row.id:06d}-{row.kind}.eml"


def _write_eml(path: Path, mail_message: mime.Email) -> None:
    partial = path.with_suffix(".eml.partial")
    partial.write_bytes(mail_message.as_bytes(clock.now()))
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

    def send_email(self, mail_message: mime.Email) -> None:
        """Send bytes already built, as Flask-Mail's send() would (its MAIL_SUPPRESS_SEND and
        MAIL_MAX_EMAILS included), without building them again."""
        if self.host is not None:
            self.host.sendmail(mail_message.sender, [mail_message.recipient], mail_message.as_bytes(clock.now()))
        self.num_emails += 1
        if self.num_emails == self.mail.max_emails:
            self.num_emails = 0
            if self.host:
                self.host.quit()
                self.host = self.configure_host()


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
