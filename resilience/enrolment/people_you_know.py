"""People who may know each other: applications to one cohort whose answer to "Do you know
anyone who may also apply?" names the other person, so that the clinicians never place
friends, colleagues or partners in the same group by accident."""
import re
from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import Application


@dataclass(frozen=True)
class Acquaintance:
    application: Application  # the other person's application
    named_by_them: bool       # their answer names this applicant
    named_by_this: bool       # this applicant's answer names them


def acquaintances(application: Application) -> list[Acquaintance]:
    """The other applications to this cohort (of any status) where either person's answer
    names the other, by email address or by first and last name, ignoring case and spacing.

    A person's own other applications are not acquaintances. The cohort's applications are
    read once: the answers are sealed, so they are opened and searched here, not in SQL.
    """
    if application.erased_at is not None:  # nobody's answers, and no name left to find
        return []
    others = db.session.scalars(
        sa.select(Application)
        .where(Application.cohort_id == application.cohort_id, Application.id != application.id,
               Application.email_key != application.email_key, Application.erased_at.is_(None))
        .order_by(Application.created_at, Application.id)
    )
    mine = _known(application)
    found = []
    for other in others:
        named_by_them, named_by_this = _names(_known(other), application), _names(mine, other)
        if named_by_them or named_by_this:
            found.append(Acquaintance(other, named_by_them, named_by_this))
    return found


def _known(application: Application) -> str:
    """The answer about people the applicant knows, lower-cased with its spacing made single."""
    text = application.answers.get("knows_applicants")
    return _plain(text) if isinstance(text, str) else ""  # an earlier release stored odd answers as they came


def _plain(text: str) -> str:
    return " ".join(text.casefold().split())


def _names(text: str, person: Application) -> bool:
    """Whether the text names this person by email address or by full name, as whole words."""
    if not text:
        return False
    name = _plain(f"{person.first_name} {person.last_name}")
    ways = [re.escape(_plain(person.email_key))] + ([re.escape(name)] if len(name.split()) >= 2 else [])
    # Not part of a longer word or address: "ann@example.org" is not named by "joann@example.org.uk".
    return any(re.search(rf"(?<![\w.+@-]){way}(?![\w@-]|\.\w)", text) for way in ways)
