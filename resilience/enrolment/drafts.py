"""Forms saved to finish later. A person who presses "Save and finish later" gets a private
link by email; the draft holds what they typed, sealed like the answers, and no clinician
ever sees it: it becomes an application only when they send the form. It lasts DRAFT_DAYS
from its last save; `periodic` deletes it after that, and sending the form deletes it at once.

The link's key is the only way in: the database keeps its SHA-256, the browser that saved
or opened it keeps the key in its session, and the email carries the link."""
import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from .. import clock, database, outbox
from ..extensions import db
from ..models import ApplicationDraft
from .applying import email_key


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def lifetime() -> timedelta:
    return timedelta(days=int(current_app.config["DRAFT_DAYS"]))


def open_draft(key) -> ApplicationDraft | None:
    """The draft this key opens, while it lasts."""
    if not isinstance(key, str) or not key:
        return None
    draft = db.session.scalar(sa.select(ApplicationDraft).where(ApplicationDraft.key_hash == _digest(key)))
    return draft if draft is not None and draft.expires_at > clock.now() else None


def save_draft(key: str | None, fields: dict, email: str) -> tuple[str, datetime]:
    """Keep what was typed (in the draft this key opens, or a new one) until DRAFT_DAYS from
    now, and email the link to the address given, unless it was emailed there already.
    Returns the key and when the draft expires."""
    database.begin_write()
    draft = open_draft(key)
    if draft is None:
        key = secrets.token_urlsafe(32)
        draft = ApplicationDraft(key_hash=_digest(key), emailed_to="")
        db.session.add(draft)
    now = clock.now()
    draft.fields, draft.saved_at, draft.expires_at = fields, now, now + lifetime()
    address = _digest(email_key(email))
    if draft.emailed_to != address:
        db.session.flush()
        outbox.enqueue("draft_saved", email, f"draft_saved:{draft.id}:{address}:{now.isoformat()}",
                       key=key, expires_at=draft.expires_at)
        draft.emailed_to = address
    expires_at = draft.expires_at
    db.session.commit()
    return key, expires_at


def discard_draft(key) -> None:
    """Delete a draft once its form is sent."""
    database.begin_write()
    if isinstance(key, str) and key:
        db.session.execute(sa.delete(ApplicationDraft).where(ApplicationDraft.key_hash == _digest(key)))
    db.session.commit()


def delete_expired_drafts() -> int:
    """Delete drafts past their time (run by `periodic`); returns how many."""
    database.begin_write()
    deleted = db.session.execute(sa.delete(ApplicationDraft).where(ApplicationDraft.expires_at <= clock.now()))
    db.session.commit()
    return deleted.rowcount
