"""Seal "people you know" and "where they came from" with the other answers, in an
envelope that names the version of the questions: {"v": 1, "answers": {...}}.

Until now knows_applicants and referral were plain columns and the sealed answers a bare
dict. Every application is opened with RESILIENCE_DATA_KEY, re-sealed in the envelope
with the two answers inside, and the plain columns are dropped.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op
from cryptography.fernet import InvalidToken
from flask import current_app

from resilience import sealing
from resilience.database import SchemaError

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PAGE = 500
application = sa.table("application", sa.column("id", sa.Integer), sa.column("answers", sa.Text),
                       sa.column("knows_applicants", sa.Text), sa.column("referral", sa.String))


def pages(bind, *columns):
    last = 0
    while rows := bind.execute(sa.select(application.c.id, *columns).where(application.c.id > last)
                               .order_by(application.c.id).limit(PAGE)).all():
        yield rows
        last = rows[-1].id


def unseal(row, keys):
    try:
        return sealing.unseal(row.answers, keys)
    except InvalidToken:
        raise SchemaError(f"RESILIENCE_DATA_KEY cannot open the answers of application {row.id}. Nothing was "
                          "changed. Set the data key this database was written with, then upgrade again.") from None


def upgrade():
    bind, keys = op.get_bind(), current_app.config["DATA_KEY"]
    for rows in pages(bind, application.c.answers, application.c.knows_applicants, application.c.referral):
        for row in rows:
            opened = unseal(row, keys)
            if opened.get("v") == 1:  # already sealed the new way, by this release running before its upgrade
                answers = opened["answers"]
            else:
                answers = {**opened, "knows_applicants": row.knows_applicants or "", "referral": row.referral}
            bind.execute(application.update().where(application.c.id == row.id)
                         .values(answers=sealing.seal({"v": 1, "answers": answers}, keys)))
    with op.batch_alter_table("application") as batch:
        batch.drop_column("knows_applicants")
        batch.drop_column("referral")


def downgrade():
    with op.batch_alter_table("application") as batch:
        batch.add_column(sa.Column("knows_applicants", sa.Text(), nullable=True))
        batch.add_column(sa.Column("referral", sa.String(length=200), nullable=True))
    bind, keys = op.get_bind(), current_app.config["DATA_KEY"]
    for rows in pages(bind, application.c.answers):
        for row in rows:
            answers = unseal(row, keys)["answers"]
            knows, referral = answers.pop("knows_applicants", None), answers.pop("referral", None)
            bind.execute(application.update().where(application.c.id == row.id)
                         .values(answers=sealing.seal(answers, keys), knows_applicants=knows or None,
                                 referral=referral))
