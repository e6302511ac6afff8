"""Backing up a live SQLite database and restoring it elsewhere: every answer decrypts."""
import shutil
import threading

import pytest
import sqlalchemy as sa
from conftest import TEST_DATABASE_URL, applications

from resilience import create_app
from resilience.extensions import db
from resilience.models import Application

on_sqlite = pytest.mark.skipif(bool(TEST_DATABASE_URL) and not TEST_DATABASE_URL.startswith("sqlite"),
                               reason="flask backup copies SQLite; PostgreSQL is backed up with pg_dump")


@on_sqlite
def test_a_live_database_backed_up_and_restored_elsewhere_opens_every_answer(app, app_config, client, make_cohort,
                                                                             form_data, tmp_path, monkeypatch):
    slug = make_cohort()
    for n in range(20):
        assert client.post("/apply", data=form_data(slug, email=f"before{n}@example.org",
                                                   medications=f"Medication {n}")).status_code == 303
    writing, written = threading.Event(), []

    def keep_applying():  # the site is in use while the copy is taken
        other = app.test_client()
        n = 0
        while not writing.is_set():
            response = other.post("/apply", data=form_data(slug, email=f"during{n}@example.org"))
            written.append(response.status_code)
            n += 1

    writer = threading.Thread(target=keep_applying)
    writer.start()
    try:
        result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backup.sqlite3")])
    finally:
        writing.set()
        writer.join()
    assert result.exit_code == 0, result.output
    assert "every answer opened with the data key" in result.output
    assert written and set(written) == {303}

    # Restored on another machine: the copy and the data key.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(tmp_path / "backup.sqlite3", elsewhere / "resilience.sqlite3")
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(elsewhere))
    restored = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{elsewhere / 'resilience.sqlite3'}"})
    with restored.app_context():
        rows = db.session.scalars(sa.select(Application).order_by(Application.id)).all()
        assert len(rows) >= 20 and f"{len(rows)} applications" in result.output
        assert [row.answers["medications"] for row in rows[:20]] == [f"Medication {n}" for n in range(20)]
        assert all(row.answers["intention"] for row in rows)
        db.engine.dispose()
    assert len(applications(app)) == 20 + len(written)  # (the live one kept everything too)


@on_sqlite
def test_a_backup_never_overwrites_a_file_and_says_so(app, tmp_path):
    (tmp_path / "taken.sqlite3").write_text("an older backup")
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "taken.sqlite3")])
    assert result.exit_code == 1 and "exists already" in result.output
    assert (tmp_path / "taken.sqlite3").read_text() == "an older backup"


@on_sqlite
def test_a_backup_with_a_key_that_cannot_open_the_answers_is_refused_and_removed(app, app_config, client,
                                                                                 make_cohort, form_data, tmp_path):
    slug = make_cohort()
    assert client.post("/apply", data=form_data(slug)).status_code == 303
    app.config["DATA_KEY"] = "0" * 43 + "="
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "b.sqlite3")])
    assert result.exit_code == 1 and "cannot open the answers of application 1" in result.output
    assert not (tmp_path / "b.sqlite3").exists()


@pytest.mark.skipif(not (TEST_DATABASE_URL or "").startswith("postgresql"), reason="on PostgreSQL")
def test_on_postgresql_the_backup_command_points_to_pg_dump(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "b.sqlite3")])
    assert result.exit_code == 1 and "back it up with pg_dump" in result.output


@on_sqlite
def test_a_backup_is_readable_by_its_owner_alone(app, client, make_cohort, form_data, tmp_path):
    """It holds names, addresses and phone numbers in the clear: never left readable by others,
    whatever the umask of whoever runs the command."""
    import os
    import stat

    slug = make_cohort()
    assert client.post("/apply", data=form_data(slug)).status_code == 303
    old = os.umask(0o022)
    try:
        result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "b.sqlite3")])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "b.sqlite3").stat().st_mode) == 0o600


@on_sqlite
def test_a_mistyped_database_path_is_never_created(tmp_path):
    from resilience.backup import BackupRefused, backup_sqlite

    with pytest.raises(BackupRefused, match="cannot be opened"):
        backup_sqlite(str(tmp_path / "no-such.sqlite3"), tmp_path / "b.sqlite3", "0" * 43 + "=")
    assert not (tmp_path / "no-such.sqlite3").exists() and not (tmp_path / "b.sqlite3").exists()
