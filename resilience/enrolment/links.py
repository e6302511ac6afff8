"""A lost status link: every application made with one address, its status links sent in
one email to that address, a few times a day at most."""
import sqlalchemy as sa
from sqlalchemy.orm import defer, selectinload

from .. import clock, database, outbox
from ..extensions import db
from ..models import Application
from . import audit
from .applying import email_key

# Enough for a slow inbox or a deleted email; too few to flood anyone's inbox with our mail.
EMAILS_PER_DAY = 3


def send_status_links(email: str) -> None:
    """Queue one email listing the status link of every application made with this address
    (its cohort and where it stands), to the address on the most recent one.

    Nothing is sent for an address with no application, and at most EMAILS_PER_DAY emails
    go to one address each day (UTC). Says nothing about which happened: the page that
    asks must answer the same either way, so that no one learns who has applied.
    """
    key = email_key(email)
    database.begin_write()
    found = list(db.session.scalars(
        sa.select(Application).where(Application.email_key == key)
        .options(selectinload(Application.cohort), defer(Application.answers))  # the answers are never needed
        .order_by(Application.created_at.desc(), Application.id.desc())
    ))
    if not found:
        db.session.rollback()  # release the write lock
        return
    latest, day = found[0], clock.now().date().isoformat()
    for n in range(1, EMAILS_PER_DAY + 1):
        if outbox.enqueue("status_links", latest.email, f"status_links:{key}:{day}:{n}", applications=found):
            audit.record("status links sent", actor="applicant", application=latest)
            break
    db.session.commit()
