"""Rotating the data key: every sealed value re-encrypted with the first key of
RESILIENCE_DATA_KEY, so the keys after it can be removed.

The sealed columns are found in the models (every column whose type is a SealedJSON), so a
column sealed tomorrow is rotated too. Each table is walked a page of rows at a time, each
page in its own transaction that holds the rows it rewrites: a rotation stopped halfway
keeps the pages it finished, and the next run skips every value the first key already
opens. Values are re-encrypted without being opened here (sealing.reseal), and nothing is
said about a row but its table, its id and the counts.
"""
from dataclasses import dataclass, field

import sqlalchemy as sa
from cryptography.fernet import InvalidToken

from . import database, sealing
from .enrolment import audit
from .extensions import db
from .models import SealedJSON

PAGE = 200


@dataclass
class ColumnTally:
    """What a rotation found in one sealed column (only pages it committed are counted)."""

    table: str
    column: str
    rotated: int = 0
    current: int = 0  # already on the first key
    unopened: list[int] = field(default_factory=list)  # ids of rows no key opens

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass
class Rotation:
    """A rotation's counts, filled in as its pages commit, so a caller stopped halfway can
    still say how far it got."""

    columns: list[ColumnTally] = field(default_factory=list)

    @property
    def rotated(self) -> int:
        return sum(tally.rotated for tally in self.columns)

    @property
    def current(self) -> int:
        return sum(tally.current for tally in self.columns)

    @property
    def unopened(self) -> int:
        return sum(len(tally.unopened) for tally in self.columns)

    def summary(self) -> str:
        """Counts only, for the audit log."""
        text = f"{self.rotated} re-encrypted, {self.current} already on the first key"
        if self.unopened:
            text += f", {self.unopened} that no key opens"
        by_column = ", ".join(f"{tally.name} {tally.rotated}/{tally.current}/{len(tally.unopened)}"
                              for tally in self.columns)
        return f"{text}; re-encrypted/already/no key opens: {by_column}"


def sealed_columns() -> dict[sa.Table, list[sa.Column]]:
    """Every sealed column of the models, by table (tables and columns in name order)."""
    found = {}
    for table in sorted(db.metadata.tables.values(), key=lambda table: table.name):
        columns = sorted((column for column in table.columns if isinstance(column.type, SealedJSON)),
                         key=lambda column: column.name)
        if columns:
            found[table] = columns
    return found


def rotate_data_key(batch: int = PAGE, rotation: Rotation | None = None) -> Rotation:
    """Re-encrypt every sealed value with the first data key, `batch` rows per transaction,
    skipping values the first key already opens; then audit the counts.

    Values no key opens are left as they are and counted with their row's id. Pass a
    Rotation to read how far it got if the run is stopped (KeyboardInterrupt): the pages
    committed by then stay done, and the next run carries on from there.
    """
    rotation = rotation if rotation is not None else Rotation()
    for table, columns in sealed_columns().items():
        tallies = [ColumnTally(table.name, column.name) for column in columns]
        rotation.columns += tallies
        _rotate_table(table, columns, tallies, batch)
    audit.record_alone("data key rotated", actor="system", detail=rotation.summary())
    return rotation


def _rotate_table(table: sa.Table, columns: list[sa.Column], tallies: list[ColumnTally], batch: int) -> None:
    [key] = table.primary_key.columns
    # The stored text itself: the same table seen with plain Text columns, so nothing is unsealed.
    stored = sa.table(table.name, sa.column(key.name, key.type), *(sa.column(column.name, sa.Text)
                                                                  for column in columns))
    row_id, texts = stored.c[key.name], [stored.c[column.name] for column in columns]
    last = None
    while True:
        database.begin_write()
        query = sa.select(row_id, *texts).where(sa.or_(*(text.is_not(None) for text in texts)))
        if last is not None:
            query = query.where(row_id > last)
        rows = db.session.execute(query.order_by(row_id).limit(batch).with_for_update()).all()
        if not rows:
            db.session.commit()
            return
        page = [ColumnTally(tally.table, tally.column) for tally in tallies]
        for row in rows:
            changed = {}
            for text, column, tally in zip(row[1:], columns, page):
                if text is None:
                    continue
                if sealing.on_first_key(text):
                    tally.current += 1
                    continue
                try:
                    changed[column.name] = sealing.reseal(text)
                except InvalidToken:
                    tally.unopened.append(row[0])
                    continue
                tally.rotated += 1
            if changed:
                db.session.execute(stored.update().where(row_id == row[0]).values(changed))
        db.session.commit()
        for tally, done in zip(tallies, page):
            tally.rotated += done.rotated
            tally.current += done.current
            tally.unopened += done.unopened
        last = rows[-1][0]
