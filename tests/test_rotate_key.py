"""`flask --app resilience rotate-key`: with a new data key put first in RESILIENCE_DATA_KEY,
every sealed value (answers, notes, messages, email bodies waiting in the outbox) is
re-encrypted with it, a page at a time, so the old key can then be removed. Stopped
halfway, it carries on where it stopped; a value no key opens is named by table and id,
never shown; nothing it prints holds anyone's words."""
import pytest
import sqlalchemy as sa
from conftest import answers
from cryptography.fernet import Fernet, InvalidToken

from resilience import keys
from resilience.extensions import db
from resilience.models import Application, AuditEvent, Message, Note, OutboxMessage, SealedJSON

OLD = "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA="  # conftest's DATA_KEY
NEW = Fernet.generate_key().decode()
STRAY = Fernet.generate_key().decode()  # a key the site no longer has

# Words that must never appear in what the command prints or records.
SECRETS = ["Quetiapinexyz", "Lighthousekeeper", "Marigoldsister", "Vertigoquill", "Harborlantern", "Saltmarsh"]
SEALED = {("application", "answers"), ("message", "body"), ("note", "body"),
          ("outbox_message", "text_body"), ("outbox_message", "html_body")}


@pytest.fixture
def sealed_rows(app, admin_client, make_cohort, make_application):
    """Two applications, a note and a message to each (so two emails in the outbox), all
    sealed with the old key alone, as a site has them before the key is rotated."""
    app.config["DATA_KEY"] = OLD
    slug = make_cohort(title="Winter 2027 cohort")
    dana = make_application(slug, first_name="Dana", answers=answers(medications="Quetiapinexyz 25mg nightly",
                                                                        intention="Lighthousekeeper dreams"))
    eli = make_application(slug, first_name="Eli", answers=answers(emergency_name="Marigoldsister Vance",
                                                                      health_notes="Vertigoquill episodes"))
    for application_id, note, words in ((dana, "Vertigoquill follow-up call booked.", "Harborlantern parking is free."),
                                        (eli, "Saltmarsh referral letter received.", "Saltmarsh side door opens at six.")):
        assert admin_client.post(f"/admin/applications/{application_id}/notes", data={"body": note}).status_code == 303
        assert admin_client.post(f"/admin/applications/{application_id}/messages",
                                 data={"message_body": words}).status_code == 303
    return {"dana": dana, "eli": eli, "before": readable(app)}


def readable(app, but_note=None) -> dict:
    """Everything sealed, as the site reads it with its current data key (but one note)."""
    with app.app_context():
        db.session.remove()
        return {
            "answers": {a.id: a.answers for a in db.session.scalars(sa.select(Application))},
            "notes": {n.id: n.body for n in db.session.scalars(sa.select(Note).where(Note.id != but_note))},
            "messages": {m.id: m.body for m in db.session.scalars(sa.select(Message))},
            "emails": {m.id: (m.text_body, m.html_body) for m in db.session.scalars(sa.select(OutboxMessage))},
        }


def stored(app) -> dict:
    """The sealed values as stored: (table, column, id) -> the text in the database."""
    values = {}
    with app.app_context(), db.engine.connect() as connection:
        for table, column in SEALED:
            for row_id, text in connection.execute(sa.text(f"SELECT id, {column} FROM {table}")):
                values[table, column, row_id] = text
    return values


def opened_by(key: str, text: str) -> bool:
    try:
        Fernet(key).decrypt(text.encode())
        return True
    except InvalidToken:
        return False


def rotate(runner, *args):
    return runner.invoke(args=["rotate-key", *args])


def assert_no_secrets(text: str) -> None:
    for word in SECRETS:
        assert word not in text


def audit_details(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(event.actor, event.detail) for event in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "data key rotated").order_by(AuditEvent.id))]


def test_after_rotating_every_row_reads_the_same_with_the_new_key_alone(app, runner, admin_client, sealed_rows):
    app.config["DATA_KEY"] = f"{NEW},{OLD}"
    result = rotate(runner)
    assert result.exit_code == 0, result.output
    output = result.output
    assert "application.answers: 2 re-encrypted, 0 already on the first key." in output
    assert "note.body: 2 re-encrypted, 0 already on the first key." in output
    assert "message.body: 2 re-encrypted, 0 already on the first key." in output
    assert "outbox_message.text_body: 2 re-encrypted, 0 already on the first key." in output
    assert "outbox_message.html_body: 2 re-encrypted, 0 already on the first key." in output
    assert output.rstrip().endswith("Every sealed value is on the first key. "
                                    "You can now remove the old key from RESILIENCE_DATA_KEY.")
    assert_no_secrets(output)

    app.config["DATA_KEY"] = NEW
    assert readable(app) == sealed_rows["before"]
    assert all(opened_by(NEW, text) and not opened_by(OLD, text) for text in stored(app).values())
    page = admin_client.get(f"/admin/applications/{sealed_rows['dana']}").get_data(as_text=True)
    for words in ("Quetiapinexyz 25mg nightly", "Lighthousekeeper dreams", "Vertigoquill follow-up call booked.",
                  "Harborlantern parking is free."):
        assert words in page, words

    [(actor, detail)] = audit_details(app)
    assert actor == "system" and "10 re-encrypted" in detail
    assert_no_secrets(detail)


def test_every_sealed_column_of_the_models_is_rotated(app, runner):
    """A column sealed tomorrow is rotated without anyone adding it to a list."""
    sealed = {(table.name, column.name) for table in db.metadata.sorted_tables for column in table.columns
              if isinstance(column.type, SealedJSON)}
    assert SEALED <= sealed  # more may come (a clinician's second factor, say): the command covers them too
    app.config["DATA_KEY"] = f"{NEW},{OLD}"
    output = rotate(runner).output
    for table, column in sealed:
        assert f"{table}.{column}: 0 re-encrypted, 0 already on the first key." in output


def test_a_rotation_stopped_halfway_carries_on_where_it_stopped(app, runner, sealed_rows, monkeypatch):
    app.config["DATA_KEY"] = f"{NEW},{OLD}"
    resealed = keys.sealing.reseal
    calls = []

    def interrupted(text, *args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C, or the machine going down, in the middle of a page
        calls.append(text)
        return resealed(text, *args, **kwargs)

    monkeypatch.setattr(keys.sealing, "reseal", interrupted)
    result = rotate(runner, "--batch", "1")
    assert result.exit_code == 1
    on_new = sum(opened_by(NEW, text) for text in stored(app).values())
    assert 0 < on_new <= 3  # the pages finished before the stop are kept
    assert f"Stopped after re-encrypting {on_new} values." in result.output
    assert "Run rotate-key again: it carries on where it stopped." in result.output
    assert audit_details(app) == []

    monkeypatch.setattr(keys.sealing, "reseal", resealed)
    result = rotate(runner, "--batch", "1")
    assert result.exit_code == 0, result.output
    totals = [line for line in result.output.splitlines() if line.startswith("In all:")]
    assert totals == [f"In all: {10 - on_new} re-encrypted, {on_new} already on the first key."]
    assert "You can now remove the old key from RESILIENCE_DATA_KEY." in result.output

    app.config["DATA_KEY"] = NEW
    assert readable(app) == sealed_rows["before"]
    result = rotate(runner)  # a third run finds nothing left to do
    assert "In all: 0 re-encrypted, 10 already on the first key." in result.output


def test_a_value_no_key_opens_is_named_by_table_and_id_and_nothing_else_is_harmed(app, runner, sealed_rows):
    with app.app_context():
        note = db.session.scalar(sa.select(Note).order_by(Note.id))
        note_id = note.id
        lost = Fernet(STRAY).encrypt(b'"Vertigoquill lost words"').decode()
        db.session.execute(sa.text("UPDATE note SET body = :body WHERE id = :id"), {"body": lost, "id": note_id})
        db.session.commit()
    app.config["DATA_KEY"] = f"{NEW},{OLD}"
    result = rotate(runner)
    assert result.exit_code == 1
    assert f"note.body: 1 re-encrypted, 0 already on the first key, 1 that no key opens (note {note_id})." \
           in result.output
    assert "application.answers: 2 re-encrypted" in result.output
    assert "You can now remove the old key" not in result.output
    assert "Keep the old key" in result.output
    assert_no_secrets(result.output)
    assert stored(app)["note", "body", note_id] == lost  # left exactly as it was

    app.config["DATA_KEY"] = NEW
    before = sealed_rows["before"]
    before["notes"].pop(note_id)
    assert readable(app, but_note=note_id) == before
    [(actor, detail)] = audit_details(app)
    assert actor == "system" and "1 that no key opens" in detail


def test_with_one_key_it_changes_nothing_and_says_everything_is_on_it(app, runner, sealed_rows):
    before = stored(app)
    result = rotate(runner)
    assert result.exit_code == 0, result.output
    assert "Only one data key is set in RESILIENCE_DATA_KEY" in result.output
    assert "application.answers: 0 re-encrypted, 2 already on the first key." in result.output
    assert "In all: 0 re-encrypted, 10 already on the first key." in result.output
    assert "Every sealed value is on the first key." in result.output
    assert "remove the old key" not in result.output
    assert stored(app) == before


def test_batch_must_be_a_positive_number(runner):
    result = rotate(runner, "--batch", "0")
    assert result.exit_code == 2 and "--batch" in result.output


def test_before_the_database_is_upgraded_it_refuses_and_says_what_to_run(bare_app):
    bare_app.config["CHECK_SCHEMA"] = True
    bare_app.config["DATA_KEY"] = f"{NEW},{OLD}"
    result = bare_app.test_cli_runner().invoke(args=["rotate-key"])
    assert result.exit_code == 1
    assert "run `flask --app resilience db upgrade` first, then rotate-key." in result.output
