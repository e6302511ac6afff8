"""The program's data: cohorts, their meetings, and applications."""
from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from . import clock, program, questions, sealing
from .extensions import db
from .status import ACTIVE, AttendanceMark, OutboxStatus, Status


class UTCDateTime(sa.TypeDecorator):
    """Stores UTC without a zone (SQLite has none) and always hands back aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class SealedJSON(sa.TypeDecorator):
    """A JSON document encrypted at rest with the site's data key (see sealing.py)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else sealing.seal(value)

    def process_result_value(self, value, dialect):
        return None if value is None else sealing.unseal(value)


class SealedText(SealedJSON):
    """Text encrypted at rest with the site's data key, e.g. an email's body waiting in the
    outbox. The column stays Text: only what is stored in it changes."""

    cache_ok = True


class SealedAnswers(SealedJSON):
    """An application's answers, sealed in an envelope that names the questions' version."""

    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else super().process_bind_param(questions.seal_answers(value), dialect)

    def process_result_value(self, value, dialect):
        return None if value is None else questions.open_answers(super().process_result_value(value, dialect))


def status_type(enum, column: str, length: int, checked: bool = True) -> sa.Enum:
    """A status column: stored as its text (with a CHECK, ck_<table>_<column>, listing the
    statuses), read as the enum."""
    return sa.Enum(enum, name=column, native_enum=False, length=length, create_constraint=checked,
                   values_callable=lambda members: [member.value for member in members])


def one_of(column: str, values) -> str:
    """SQL for a CHECK or an index's WHERE: the column holds one of these values."""
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


MEETING_KINDS = tuple(phase.kind for phase in program.PHASES)
# An application still in play: the WHERE of the index that allows one per person and cohort.
# A query that says it word for word is answered from that index (SQLite matches the text).
IN_PLAY = one_of("status", ACTIVE) + " AND erased_at IS NULL"


class Cohort(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    capacity: Mapped[int] = mapped_column(default=6)
    starts_on: Mapped[date]
    timezone: Mapped[str] = mapped_column(sa.String(64), default="America/New_York")
    location: Mapped[str] = mapped_column(sa.String(300))
    application_deadline: Mapped[date | None]
    applications_open: Mapped[bool] = mapped_column(default=True)
    fee_text: Mapped[str | None] = mapped_column(sa.String(500))
    # How long an offered place waits for the applicant's confirmation before it lapses.
    offer_days: Mapped[int] = mapped_column(default=5, server_default="5")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    meetings: Mapped[list[Meeting]] = relationship(
        back_populates="cohort", order_by="Meeting.starts_at", cascade="all, delete-orphan"
    )
    applications: Mapped[list[Application]] = relationship(back_populates="cohort")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def ends_on(self) -> date | None:
        if not self.meetings:
            return None
        return self.meetings[-1].local_start.date()

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def __repr__(self) -> str:
        return f"<Cohort {self.slug}>"


class Meeting(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(sa.ForeignKey("cohort.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    sequence: Mapped[int]  # 1-based position within its kind: "Integration meeting 3"
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location: Mapped[str] = mapped_column(sa.String(300))  # a room, an address, or "Online"
    join_url: Mapped[str | None] = mapped_column(sa.String(500))  # online meetings: shown to participants only
    # Bumped each time the meeting moves: the SEQUENCE of its calendar event.
    revision: Mapped[int] = mapped_column(default=0)

    cohort: Mapped[Cohort] = relationship(back_populates="meetings")

    __table_args__ = (
        sa.CheckConstraint(one_of("kind", MEETING_KINDS), name="kind"),
        sa.UniqueConstraint("cohort_id", "kind", "sequence"),
    )

    @property
    def local_start(self) -> datetime:
        return self.cohort.local(self.starts_at)

    @property
    def local_end(self) -> datetime:
        return self.cohort.local(self.ends_at)

    @property
    def name(self) -> str:
        """Its name in the program's words, e.g. "Ketamine session 2"."""
        return f"{program.PHASE_BY_KIND[self.kind].meeting_name} {self.sequence}"

    @property
    def neutral_name(self) -> str:
        """Its name where others may glance (subjects, calendars): "Session day 2"."""
        return f"{program.PHASE_BY_KIND[self.kind].neutral_name} {self.sequence}"

    @property
    def online(self) -> bool:
        return self.location.strip().lower() == "online"


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Application(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(sa.ForeignKey("cohort.id"), index=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True, default=new_token)
    # A random id put into the form when it is shown: a double-clicked submit
    # carries the same one, so it finds the first row instead of making a second.
    submission_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    # Contact fields: readable by the clinicians' lists and by email.
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    email: Mapped[str] = mapped_column(sa.String(254))
    email_key: Mapped[str] = mapped_column(sa.String(254), index=True)  # lower-cased
    phone: Mapped[str] = mapped_column(sa.String(40))
    pronouns: Mapped[str | None] = mapped_column(sa.String(60))
    home_area: Mapped[str] = mapped_column(sa.String(200))

    # Everything else they told us (logistics, support contacts, health screen, medications,
    # intentions, people they know) and where they came from: one unit, encrypted at rest.
    answers: Mapped[dict] = mapped_column(SealedAnswers)

    # The versions of the agreements' words the person ticked (site texts, resilience/content.py):
    # {"agreement.ack_adult": 1, …}. The words themselves stay in site_text.
    agreed_texts: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)
    health_consent_at: Mapped[datetime] = mapped_column(UTCDateTime)

    status: Mapped[Status] = mapped_column(status_type(Status, "status", 20), default=Status.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waitlisted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # to a screening conversation
    lapsed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An offered place is the applicant's to confirm until then; after it, the offer lapses.
    confirm_by_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The clinicians' order of the waitlist (1 first); unranked people follow, by time of application.
    waitlist_rank: Mapped[int | None]
    # Raised with each calendar invite or cancellation sent, so the next one replaces it.
    calendar_sequence: Mapped[int] = mapped_column(default=0, server_default="0")
    # How many answers need a clinician's attention (which ones stays sealed); set with the answers.
    attention: Mapped[int] = mapped_column(default=0, server_default="0", index=True)
    # The clinician who looks after this application, if one was chosen.
    assigned_admin_id: Mapped[int | None] = mapped_column(sa.ForeignKey("admin.id"), index=True)
    # When the person's data was erased (on request, or by the retention rules): the row stays for
    # the counts, its name, addresses and answers are empty (enrolment/retention.py).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    cohort: Mapped[Cohort] = relationship(back_populates="applications")
    notes: Mapped[list[Note]] = relationship(back_populates="application", order_by="Note.created_at")
    assigned_to: Mapped[Admin | None] = relationship()

    __table_args__ = (
        # One active application per person per cohort, even when two requests race (erased rows
        # are nobody's: a finished cohort's erased participants share the empty email_key).
        sa.Index(
            "one_active_application_per_email",
            "cohort_id",
            "email_key",
            unique=True,
            sqlite_where=sa.text(IN_PLAY),
            postgresql_where=sa.text(IN_PLAY),
        ),
        # What the pages filter and sort by (migration 0014): seats and waitlists per cohort
        # (a waitlist's first in line read straight from the index), the list's filters and orders
        # (admin/forms.py SORTS).
        sa.Index("application_waitlist_line", "cohort_id", "status", "waitlist_rank", "created_at", "id"),
        sa.Index("application_created", "created_at", "id"),
        sa.Index("application_status_created", "status", "created_at", "id"),
        sa.Index("application_cohort_created", "cohort_id", "created_at", "id"),
        sa.Index("application_name", "last_name", "first_name", "id"),
    )

    @validates("answers")
    def _count_attention(self, key, answers):
        self.attention = questions.attention_count(answers or {})
        return answers

    @property
    def full_name(self) -> str:
        if self.erased_at is not None:  # what the panel calls a row whose person was erased
            return f"Erased application #{self.id}"
        return f"{self.first_name} {self.last_name}"

    @property
    def referral(self) -> str | None:
        """Where they came from: the blog link's ?ref=, or the referring site."""
        return self.answers.get("referral")

    def __repr__(self) -> str:
        return f"<Application {self.id} {self.status}>"


SCREENING_MODES = {"phone": "Phone call", "video": "Video call", "in_person": "In person"}


class ScreeningSlot(db.Model):
    """A time a clinician offers for a screening conversation; one applicant books it at most."""

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(sa.ForeignKey("admin.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    minutes: Mapped[int]
    timezone: Mapped[str] = mapped_column(sa.String(64))  # the clinician's, for reading the time
    mode: Mapped[str] = mapped_column(sa.String(20))
    place: Mapped[str | None] = mapped_column(sa.String(300))  # an address, or a video link
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("application.id"), index=True)
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the conversation took place
    revision: Mapped[int] = mapped_column(default=0)  # the SEQUENCE of its calendar event
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    admin: Mapped[Admin] = relationship()
    application: Mapped[Application | None] = relationship()

    # Never reuse a removed slot's id: emails and calendar events are keyed by it.
    __table_args__ = (sa.CheckConstraint(one_of("mode", SCREENING_MODES), name="mode"),
                      sa.Index("screening_slot_ahead", "held_at", "starts_at"),  # conversations to come (0014)
                      {"sqlite_autoincrement": True})

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.minutes)

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(ZoneInfo(self.timezone))

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(ZoneInfo(self.timezone))

    @property
    def mode_name(self) -> str:
        return SCREENING_MODES[self.mode]


class OutboxMessage(db.Model):
    """One email to one recipient, written in the same transaction as the change it reports."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    # One event never mails twice: e.g. "application:12:received:2026-11-26T15:00:00+00:00".
    dedupe_key: Mapped[str] = mapped_column(sa.String(300), unique=True)
    to_address: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    # The bodies may carry a clinician's words to one person: encrypted at rest like the answers.
    text_body: Mapped[str] = mapped_column(SealedText)
    html_body: Mapped[str] = mapped_column(SealedText)
    # [{"filename": ..., "content_type": ..., "content": text}], e.g. an .ics invite
    attachments: Mapped[list] = mapped_column(sa.JSON, default=list)
    application_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("application.id", ondelete="SET NULL"), index=True
    )

    status: Mapped[OutboxStatus] = mapped_column(status_type(OutboxStatus, "status", 10), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a worker's claim
    claimed_by: Mapped[str | None] = mapped_column(sa.String(32))  # which claim may record the outcome
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.Index("outbox_due", "status", "next_attempt_at"),
    )

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status}>"


class Admin(UserMixin, db.Model):
    """A clinician who signs in to decide on applications."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(300))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Two-step sign-in (two_factor.py): the TOTP secret, sealed like the answers. Set but not yet
    # on (two_factor_on_at empty) while the clinician is confirming it with a first code.
    totp_secret: Mapped[str | None] = mapped_column(SealedText)
    two_factor_on_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last accepted time-step: a code (or an earlier one) is never accepted twice.
    totp_last_step: Mapped[int | None]

    @property
    def two_factor_on(self) -> bool:
        return self.two_factor_on_at is not None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class Note(db.Model):
    """A clinician's private note on an application; encrypted like the answers."""

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("application.id"), index=True)
    admin_id: Mapped[int] = mapped_column(sa.ForeignKey("admin.id"))
    body: Mapped[str] = mapped_column(SealedJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    application: Mapped[Application] = relationship(back_populates="notes")
    admin: Mapped[Admin] = relationship()


class AuditEvent(db.Model):
    """Who did what, to which application, when, and from which status to which."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    actor: Mapped[str] = mapped_column(sa.String(20))  # "admin", "applicant" or "system"
    admin_id: Mapped[int | None] = mapped_column(sa.ForeignKey("admin.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(40), index=True)
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("application.id"), index=True)
    cohort_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cohort.id"), index=True)
    from_status: Mapped[Status | None] = mapped_column(status_type(Status, "from_status", 20, checked=False))
    to_status: Mapped[Status | None] = mapped_column(status_type(Status, "to_status", 20, checked=False))
    detail: Mapped[str | None] = mapped_column(sa.String(300))  # never an applicant's answers

    admin: Mapped[Admin | None] = relationship()
    application: Mapped[Application | None] = relationship()
    cohort: Mapped[Cohort | None] = relationship()


class Message(db.Model):
    """A clinician's words to one applicant, or to every enrolled participant of a cohort
    (application empty); the body is encrypted like the answers. Sent through the outbox."""

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(sa.ForeignKey("admin.id"), index=True)
    cohort_id: Mapped[int] = mapped_column(sa.ForeignKey("cohort.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("application.id"), index=True)
    # The decision this message came with (an offer, say), or empty for a message on its own.
    decision: Mapped[Status | None] = mapped_column(status_type(Status, "decision", 20, checked=False))
    body: Mapped[str] = mapped_column(SealedText)
    recipients: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    admin: Mapped[Admin] = relationship()
    cohort: Mapped[Cohort] = relationship()
    application: Mapped[Application | None] = relationship()


class Attendance(db.Model):
    """Whether an enrolled participant came to one meeting, as a clinician marked it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meeting.id"), index=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("application.id"), index=True)
    mark: Mapped[AttendanceMark] = mapped_column(status_type(AttendanceMark, "mark", 10))
    admin_id: Mapped[int] = mapped_column(sa.ForeignKey("admin.id"))  # who marked it last
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    meeting: Mapped[Meeting] = relationship()
    application: Mapped[Application] = relationship()
    admin: Mapped[Admin] = relationship()

    __table_args__ = (sa.UniqueConstraint("meeting_id", "application_id"),)


# Why a clinician's session ended (admin_sessions.py ends them).
SESSION_ENDINGS = ("signed out", "idle", "expired", "signed out elsewhere", "account disabled")


class AdminSession(db.Model):
    """One signed-in browser of a clinician, kept on the server so that signing out ends it
    wherever its cookie was copied. The cookie holds a random key; only its SHA-256 is kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(sa.ForeignKey("admin.id"), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # empty while active
    ended_reason: Mapped[str | None] = mapped_column(sa.String(30))
    user_agent: Mapped[str] = mapped_column(sa.String(200), default="")
    ip_address: Mapped[str] = mapped_column(sa.String(45), default="")  # as the rate limits see it

    admin: Mapped[Admin] = relationship()

    __table_args__ = (sa.CheckConstraint(one_of("ended_reason", SESSION_ENDINGS), name="ended_reason"),)


class RecoveryCode(db.Model):
    """One of a clinician's one-time recovery codes for two-step sign-in; only its SHA-256 is kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(sa.ForeignKey("admin.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    admin: Mapped[Admin] = relationship()


class ApplicationDraft(db.Model):
    """A form saved to finish later: everything typed so far, sealed like an application's
    answers, reachable only through the private link emailed to the person (only the link's
    SHA-256 is kept). No clinician sees it; it is gone once sent, or when it expires."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    fields: Mapped[dict] = mapped_column(SealedJSON)  # the form's fields as typed, the address included
    emailed_to: Mapped[str] = mapped_column(sa.String(64))  # a SHA-256 of the address last emailed the link
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SiteText(db.Model):
    """One version of one of the site's texts the clinicians edit (resilience/content.py names
    the keys). The current text of a key is its highest version; a key with none yet shows its
    shipped default. Versions are never changed or deleted: restoring adds a new one."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(60))
    version: Mapped[int] = mapped_column()
    body: Mapped[str] = mapped_column(sa.Text)  # Markdown, one line, or a photo's stored name
    admin_id: Mapped[int | None] = mapped_column(sa.ForeignKey("admin.id"))
    restored_from: Mapped[int | None] = mapped_column()  # the version this one brought back
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    admin: Mapped[Admin | None] = relationship()

    __table_args__ = (sa.UniqueConstraint("key", "version"),)


class PageVersion(db.Model):
    """One row, two numbers, each raised in the same transaction as the changes it follows
    (resilience/page_cache.py), so what was worked out for one number is used again, by every
    worker on every host, until it moves:
    - version: what the public pages show (cohorts, meetings, seats, the site's texts);
    - applications: an application added or erased (the dashboard's "where applicants came from")."""

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    applications: Mapped[int] = mapped_column(sa.BigInteger, default=0)


# The one row is there from the start (the migration inserts it too).
sa.event.listen(PageVersion.__table__, "after_create",
                sa.DDL("INSERT INTO page_version (id, version, applications) VALUES (1, 0, 0)"))
