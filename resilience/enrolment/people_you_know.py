"""People who may know each other: applications to one cohort whose answer to "Do you know
anyone who may also apply?" names the other person, so that the clinicians never place
friends, colleagues or partners in the same group by accident."""
import re
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import defer

from .. import page_cache
from ..extensions import db
from ..models import Application
from .applying import answers_by_id


@dataclass(frozen=True)
class Acquaintance:
    application: Application  # the other person's application
    named_by_them: bool       # their answer names this applicant
    named_by_this: bool       # this applicant's answer names them


def acquaintances(application: Application) -> list[Acquaintance]:
    """The other applications to this cohort (of any status) where either person's answer
    names the other, by email address or by first and last name, ignoring case and spacing.

    A person's own other applications are not acquaintances. The answers are sealed, so they
    are searched here, not in SQL (see _people: each is opened once per process).
    """
    if application.erased_at is not None:  # nobody's answers, and no name left to find
        return []
    people = _people(application.cohort_id)
    mine = _known(application.answers)
    found = {}
    for person in people.everyone if mine else people.naming_someone:  # (most name no one)
        if person.id == application.id or person.email_key == application.email_key:
            continue
        named_by_them, named_by_this = _names(person.knows, application), _names(mine, person)
        if named_by_them or named_by_this:
            found[person.id] = (named_by_them, named_by_this)
    if not found:
        return []
    rows = db.session.scalars(sa.select(Application).where(Application.id.in_(list(found)))
                              .options(defer(Application.answers))).all()
    by_id = {row.id: row for row in rows}
    return [Acquaintance(by_id[person_id], *named) for person_id, named in found.items()]


class _Person(NamedTuple):
    id: int
    first_name: str
    last_name: str
    email_key: str
    knows: str  # their answer about people they know, plain (see _known)


@dataclass(frozen=True)
class _People:
    everyone: list[_Person]  # in the order they applied
    naming_someone: list[_Person]


def _people(cohort_id: int) -> _People:
    """A cohort's applicants (not erased), kept until one is added or erased (the "applications"
    number) or a status or cohort changes (the "version" number: none moves between cohorts
    today, and one that did would raise it), so an application's page costs the same with 5 or
    5,000 applicants to its cohort."""
    def read() -> _People:
        rows = db.session.execute(
            sa.select(Application.id, Application.first_name, Application.last_name, Application.email_key)
            .where(Application.cohort_id == cohort_id, Application.erased_at.is_(None))
            .order_by(Application.created_at, Application.id)).all()
        knows = _known_answers(cohort_id, [row.id for row in rows])
        everyone = [_Person(*row, knows[row.id]) for row in rows]
        return _People(everyone, [person for person in everyone if person.knows])
    return page_cache.kept_until_changed("a cohort's applicants", ("version", "applications"), cohort_id, read)


def _known_answers(cohort_id: int, application_ids: list[int]) -> dict[int, str]:
    """Each application's answer about people it knows, plain (see _known), by id: opened once
    per process and kept in memory only, never written anywhere (answers never change once
    sent). Only one cohort's are kept, and only its applications asked about now: nothing of
    an erased person stays."""
    cohort, kept = current_app.extensions.get(_KEPT, (None, {}))
    kept = kept if cohort == cohort_id else {}
    missing = [application_id for application_id in application_ids if application_id not in kept]
    opened = {application_id: _known(answers) for application_id, answers in answers_by_id(missing)}
    known = {application_id: kept[application_id] if application_id in kept else opened.get(application_id, "")
             for application_id in application_ids}
    current_app.extensions[_KEPT] = (cohort_id, known)
    return known


_KEPT = "knows_applicants answers"  # (in current_app.extensions)


def _known(answers: dict) -> str:
    """The answer about people the applicant knows, lower-cased with its spacing made single."""
    text = answers.get("knows_applicants")
    return _plain(text) if isinstance(text, str) else ""  # an earlier release stored odd answers as they came


def _plain(text: str) -> str:
    return " ".join(text.casefold().split())


def _names(text: str, person: Application) -> bool:
    """Whether the text names this person by email address or by full name, as whole words."""
    if not text:
        return False
    name = _plain(f"{person.first_name} {person.last_name}")
    ways = [_plain(person.email_key)] + ([name] if len(name.split()) >= 2 else [])
    # Not part of a longer word or address: "ann@example.org" is not named by "joann@example.org.uk".
    # (Looked for as plain text first: most answers name no one, and a pattern costs more.)
    return any(way in text and re.search(rf"(?<![\w.+@-]){re.escape(way)}(?![\w@-]|\.\w)", text) for way in ways)
