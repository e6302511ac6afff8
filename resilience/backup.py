"""A copy of the SQLite database taken while the site runs (SQLite's own online backup: a
consistent moment, writers wait only for each page copied), checked before it is trusted: the
copy is whole, and the data key opens every application's answers in it.

PostgreSQL is backed up with its own tools (pg_dump); see docs/deploy.md.
"""
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import InvalidToken

from . import sealing


class BackupRefused(Exception):
    pass


@dataclass(frozen=True)
class Backup:
    path: Path
    applications: int
    bytes: int


def backup_sqlite(database: str, target: Path, keys: str) -> Backup:
    """Copy the database at `database` into the new file `target` and check the copy."""
    try:  # opened read-only: a mistyped path is never created as an empty database
        source = sqlite3.connect(f"{Path(database).resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        source.execute("SELECT 1 FROM application LIMIT 1")
    except sqlite3.Error as error:
        raise BackupRefused(f"The database {database} cannot be opened: {error}.") from None
    try:  # a new file, readable by its owner alone (it holds contact details in the clear)
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        source.close()
        raise BackupRefused(f"{target} exists already: choose a new name, so no backup is overwritten.") from None
    copy = sqlite3.connect(target)  # (SQLite takes an empty file as an empty database)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupRefused("The copy is damaged (PRAGMA integrity_check): try again.")
        applications = 0
        for application_id, answers in copy.execute("SELECT id, answers FROM application"):
            try:
                sealing.unseal(answers, keys)
            except (InvalidToken, ValueError, TypeError):
                raise BackupRefused(f"RESILIENCE_DATA_KEY cannot open the answers of application "
                                    f"{application_id} in the copy: check the key before relying on it.") from None
            applications += 1
    except BaseException:
        copy.close()
        target.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    copy.close()
    return Backup(target, applications, target.stat().st_size)
