"""The words each applicant agreed to, versioned like the site's other texts.

- site_text gets version 1 of the five agreements an applicant ticks, with the words the
  form has shown since the first release (saved on 2026-11-26, by no clinician), unless a
  version is already stored.
- application.agreed_texts: the version of each agreement's words its person ticked. It
  replaces application.consent_version, which named the form's wording by date: every
  stored application says "2026-11-26", the only wording there has been, so each one now
  points at version 1 of the five.

Taken back, consent_version says "2026-11-26" again for every row; the stored versions of
the words stay in site_text, where the older release does not look.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SHIPPED_ON = datetime(2026, 11, 26, 17, 0)  # noon in New York, stored in UTC
WORDS = {
    "agreement.ack_not_acceptance": "I understand that applying is not acceptance: a clinician decides, after a "
                                    "medical evaluation, whether this group is right for me.",
    "agreement.ack_commitment": "If I am offered a place, I intend to come to all ten meetings and to keep what "
                                "others share in the group confidential.",
    "agreement.ack_adult": "I am 18 or older.",
    "agreement.ack_not_emergency": "I understand this site and its inbox are not watched for emergencies. In a "
                                   "crisis I will call or text 988, or my local emergency number.",
    "agreement.consent_health": "I agree that the practice may store my answers, including my health "
                                "information, and that its clinicians may read them to decide about my "
                                "application.",
}
site_text = sa.table("site_text", sa.column("key", sa.String), sa.column("version", sa.Integer),
                     sa.column("body", sa.Text), sa.column("created_at", sa.DateTime))


def upgrade():
    connection = op.get_bind()
    stored = set(connection.scalars(sa.select(site_text.c.key).where(site_text.c.key.in_(WORDS))))
    rows = [{"key": key, "version": 1, "body": words, "created_at": SHIPPED_ON}
            for key, words in WORDS.items() if key not in stored]
    if rows:
        op.bulk_insert(site_text, rows)
    with op.batch_alter_table("application") as batch:
        batch.add_column(sa.Column("agreed_texts", sa.JSON(), nullable=True))
    versions = {key: 1 for key in WORDS}
    connection.execute(sa.text("UPDATE application SET agreed_texts = :versions")
                       .bindparams(sa.bindparam("versions", versions, type_=sa.JSON)))
    with op.batch_alter_table("application") as batch:
        batch.alter_column("agreed_texts", existing_type=sa.JSON(), nullable=False)
        batch.drop_column("consent_version")


def downgrade():
    with op.batch_alter_table("application") as batch:
        batch.add_column(sa.Column("consent_version", sa.String(length=40), nullable=True))
    op.execute(sa.text("UPDATE application SET consent_version = '2026-11-26'"))
    with op.batch_alter_table("application") as batch:
        batch.alter_column("consent_version", existing_type=sa.String(length=40), nullable=False)
        batch.drop_column("agreed_texts")
