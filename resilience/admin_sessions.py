"""Clinicians' sessions, kept on the server.

The session cookie alone cannot be taken back: a copy of it would open the panel until it
expired. So each sign-in starts a record here, and the cookie carries only a random key
to it (the table keeps the key's SHA-256, never the key). Every panel page asks `check`;
signing out, an hour without activity, the absolute lifetime, "sign out my other
sessions" and a disabled account end the record, and with it every copy of the cookie.

The admin views call these functions (no request code here: they pass the browser and
the address in); each write is its own short transaction.
"""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from . import clock, database
from .enrolment import audit
from .extensions import db
from .models import SESSION_ENDINGS, Admin, AdminSession
from .questions import clean_text

# Why a session ended: the values of AdminSession.ended_reason, defined once in the models.
SIGNED_OUT, IDLE, EXPIRED, SIGNED_OUT_ELSEWHERE, DISABLED = SESSION_ENDINGS

# Activity is written down at most this often: a panel page is not a write each time.
SEEN_EVERY = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start(admin: Admin, user_agent: str, ip_address: str) -> str:
    """Start a session for a clinician who has just signed in; returns the key for the cookie."""
    key = secrets.token_urlsafe(32)
    now = clock.now()
    database.begin_write()
    db.session.add(AdminSession(admin_id=admin.id, key_hash=_digest(key), created_at=now, last_seen_at=now,
                                user_agent=clean_text(user_agent or "")[:200],
                                ip_address=(ip_address or "")[:45]))
    db.session.commit()
    return key


@dataclass(frozen=True)
class Check:
    """What `check` found: the active session, or why there is none (None: no such session)."""
    session: AdminSession | None
    ended: str | None = None


def check(key, idle: timedelta, lifetime: timedelta) -> Check:
    """The session this key opens, if it is still active; otherwise why not.

    A session ends here when its clinician's account is disabled, after `idle` without a
    panel page, or `lifetime` after signing in, however busy it is (a copied cookie kept
    polling cannot outlive it). Activity is recorded at most once a minute, so the idle
    time is counted to within a minute.
    """
    if not isinstance(key, str) or not key:
        return Check(None)
    # The clinician comes in the same query: Flask-Login then finds them without asking again.
    record = db.session.scalar(sa.select(AdminSession).options(joinedload(AdminSession.admin))
                               .where(AdminSession.key_hash == _digest(key)))
    if record is None:
        return Check(None)
    if record.ended_at is not None:
        return Check(None, record.ended_reason)
    now = clock.now()
    if not record.admin.active:
        reason = DISABLED
    elif now - record.last_seen_at > idle:
        reason = IDLE
    elif now - record.created_at > lifetime:
        reason = EXPIRED
    else:
        if now - record.last_seen_at >= SEEN_EVERY:
            record_id = record.id
            database.begin_write()
            # Never brings back a session ended meanwhile (by "sign out my other sessions", say).
            db.session.execute(sa.update(AdminSession).where(
                AdminSession.id == record_id, AdminSession.ended_at.is_(None),
                AdminSession.last_seen_at < now).values(last_seen_at=now))
            db.session.commit()
            record = db.session.get(AdminSession, record_id)
        return Check(record)
    _end(AdminSession.id == record.id, reason)
    return Check(None, reason)


def _end(which, reason: str) -> int:
    """End the active sessions matched by `which`; returns how many ended."""
    database.begin_write()
    ended = db.session.execute(sa.update(AdminSession).where(which, AdminSession.ended_at.is_(None))
                               .values(ended_at=clock.now(), ended_reason=reason)).rowcount
    db.session.commit()
    return ended


def end(key, reason: str = SIGNED_OUT) -> None:
    """End the session this key opens (signing out): every copy of its cookie stops working."""
    if isinstance(key, str) and key:
        _end(AdminSession.key_hash == _digest(key), reason)


def end_others(current: AdminSession, admin: Admin, idle: timedelta, lifetime: timedelta) -> int:
    """"Sign out my other sessions": end every other active session of this clinician, and
    say so in the audit log. Returns how many were ended (sessions already past their idle
    time or lifetime are ended as such, and not counted)."""
    now = clock.now()
    others = sa.and_(AdminSession.admin_id == admin.id, AdminSession.id != current.id,
                     AdminSession.ended_at.is_(None))
    database.begin_write()
    for stale, reason in ((AdminSession.last_seen_at < now - idle, IDLE),
                          (AdminSession.created_at < now - lifetime, EXPIRED)):
        db.session.execute(sa.update(AdminSession).where(others, stale).values(ended_at=now, ended_reason=reason))
    ended = db.session.execute(sa.update(AdminSession).where(others).values(
        ended_at=now, ended_reason=SIGNED_OUT_ELSEWHERE)).rowcount
    if ended:
        audit.record("signed out other sessions", admin=admin, detail=f"{ended} session{'s' if ended != 1 else ''}")
    db.session.commit()
    return ended


def end_all(admin: Admin, reason: str = DISABLED) -> int:
    """End every active session of a clinician (for an account being disabled, say)."""
    return _end(AdminSession.admin_id == admin.id, reason)


def active_sessions(admin: Admin, idle: timedelta, lifetime: timedelta) -> list[AdminSession]:
    """A clinician's active sessions (not ended, idle or past their lifetime), the most
    recently used first."""
    now = clock.now()
    return db.session.scalars(sa.select(AdminSession).where(
        AdminSession.admin_id == admin.id, AdminSession.ended_at.is_(None),
        AdminSession.last_seen_at >= now - idle, AdminSession.created_at >= now - lifetime)
        .order_by(AdminSession.last_seen_at.desc(), AdminSession.id.desc())).all()


def forget_ended(older_than: timedelta) -> int:
    """Delete the records of sessions that ended, or were last used, longer ago than this
    (they hold clinicians' addresses and browsers); returns how many. For the retention work."""
    cutoff = clock.now() - older_than
    database.begin_write()
    deleted = db.session.execute(sa.delete(AdminSession).where(
        sa.or_(AdminSession.ended_at < cutoff, AdminSession.last_seen_at < cutoff))).rowcount
    db.session.commit()
    return deleted
