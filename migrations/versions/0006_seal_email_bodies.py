"""Seal the bodies of the emails in the outbox (text and HTML) with RESILIENCE_DATA_KEY.

A clinician's message is encrypted at rest in the message table; the email that carries
it must not keep the same words in the clear in outbox_message. The columns stay Text:
every stored row's two bodies are sealed here, a page at a time, and the downgrade opens
them again. A body that is already sealed (by this release running before its upgrade)
is left as it is; one sealed with another key stops the upgrade with nothing changed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""
import re

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import InvalidToken
from flask import current_app

from resilience import sealing
from resilience.database import SchemaError

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PAGE = 500
outbox_message = sa.table("outbox_message", sa.column("id", sa.Integer), sa.column("text_body", sa.Text),
                          sa.column("html_body", sa.Text))
# What Fernet writes: a version byte 0x80, then base64url. No email body starts like this.
FERNET_TOKEN = re.compile(r"gAAAAA[A-Za-z0-9_=-]+")


def pages(bind):
    last = 0
    while rows := bind.execute(
            sa.select(outbox_message.c.id, outbox_message.c.text_body, outbox_message.c.html_body)
            .where(outbox_message.c.id > last).order_by(outbox_message.c.id).limit(PAGE)).all():
        yield rows
        last = rows[-1].id


def is_sealed(body: str) -> bool:
    return FERNET_TOKEN.fullmatch(body) is not None


def opened(row, body: str, keys: str) -> str:
    try:
        return sealing.unseal(body, keys)
    except InvalidToken:
        raise SchemaError(f"RESILIENCE_DATA_KEY cannot open the email bodies of outbox message {row.id}. Nothing "
                          "was changed. Set the data key this database was written with, then upgrade again.") from None


def upgrade():
    bind, keys = op.get_bind(), current_app.config["DATA_KEY"]
    for rows in pages(bind):
        for row in rows:
            bodies = {}
            for column in ("text_body", "html_body"):
                body = getattr(row, column)
                if is_sealed(body):
                    opened(row, body, keys)  # already sealed: only check that the key opens it
                else:
                    bodies[column] = sealing.seal(body, keys)
            if bodies:
                bind.execute(outbox_message.update().where(outbox_message.c.id == row.id).values(**bodies))


def downgrade():
    bind, keys = op.get_bind(), current_app.config["DATA_KEY"]
    for rows in pages(bind):
        for row in rows:
            bodies = {column: opened(row, getattr(row, column), keys)
                      for column in ("text_body", "html_body") if is_sealed(getattr(row, column))}
            if bodies:
                bind.execute(outbox_message.update().where(outbox_message.c.id == row.id).values(**bodies))
