"""Upgrading the schema: a new database, a database of the release before migrations
(built exactly as its init-db did), and databases this release must refuse to touch.

Runs on SQLite, and on PostgreSQL when RESILIENCE_TEST_DATABASE_URL names one (as in CI).
"""
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import NOW, answers, empty_database, sign_in
from werkzeug.security import generate_password_hash

from resilience import program, sealing
from resilience.extensions import db
from resilience.models import Application, Meeting, Note, OutboxMessage
from resilience.status import Status

PREVIOUS_RELEASE = Path(__file__).parent / "previous_release"
HEAD = "0014"


def pending_differences(app) -> list:
    """What `flask db migrate` would still write: nothing, when the models and migrations agree."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def schema(app) -> dict:
    """Everything the database says about its tables, including what Alembic's comparison
    leaves out: the text of each CHECK, each index's WHERE, each foreign key's ON DELETE."""
    text = lambda value: " ".join(str(value).split()) if value is not None else None
    with app.app_context(), db.engine.connect() as connection:
        inspector = sa.inspect(connection)
        return {table: {
            "columns": sorted((c["name"], str(c["type"]), c["nullable"], text(c["default"]))
                              for c in inspector.get_columns(table)),
            "primary key": (inspector.get_pk_constraint(table)["name"],
                            inspector.get_pk_constraint(table)["constrained_columns"]),
            "unique": sorted((u["name"], u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "foreign keys": sorted((f["name"], f["constrained_columns"], f["referred_table"],
                                    sorted(f["options"].items())) for f in inspector.get_foreign_keys(table)),
            "checks": sorted((c["name"], text(c["sqltext"])) for c in inspector.get_check_constraints(table)),
            "indexes": sorted((i["name"], i["column_names"], bool(i["unique"]),
                               text(i["dialect_options"].get(f"{connection.dialect.name}_where")))
                              for i in inspector.get_indexes(table)),
        } for table in sorted(set(inspector.get_table_names()) - {"alembic_version"})}


def init_db(app):
    return app.test_cli_runner().invoke(args=["init-db"])


def raw(app, sql: str, **params):
    with app.app_context(), db.engine.connect() as connection:
        return connection.execute(sa.text(sql), params).all()


def tables(app) -> set[str]:
    with app.app_context(), db.engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


# --- A new database ----------------------------------------------------------------------------

def test_a_new_database_gets_every_table_from_the_migrations_and_they_match_the_models(bare_app):
    result = init_db(bare_app)
    assert result.exit_code == 0, result.output
    assert f"Database created at schema revision {HEAD}" in result.output
    assert {"cohort", "meeting", "application", "note", "outbox_message", "audit_event", "admin"} <= tables(bare_app)
    assert pending_differences(bare_app) == []


def test_the_migrations_make_exactly_the_tables_the_models_describe(bare_app):
    """Down to each CHECK's text and each index's WHERE, for a new database and for one of
    the previous release: a status added to status.py without a revision fails here."""
    with bare_app.app_context():
        db.create_all()
    from_models = schema(bare_app)
    assert "ck_application_status" in str(from_models["application"]["checks"])
    empty_database(bare_app)
    init_db(bare_app)
    assert schema(bare_app) == from_models
    empty_database(bare_app)
    build_previous_release(bare_app)
    init_db(bare_app)
    assert schema(bare_app) == from_models


def test_running_init_db_again_changes_nothing_and_says_so(bare_app):
    init_db(bare_app)
    result = init_db(bare_app)
    assert result.exit_code == 0 and f"already at schema revision {HEAD}" in result.output


def test_the_operators_command_is_the_same_upgrade(tmp_path):
    """`flask --app resilience db upgrade`, run as an operator runs it, on a file database."""
    env = {**os.environ, "RESILIENCE_INSTANCE_PATH": str(tmp_path), "RESILIENCE_SECRET_KEY": "x",
           "RESILIENCE_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'site.sqlite3'}"}
    env.pop("RESILIENCE_TEST_DATABASE_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "resilience"]
    upgrade = subprocess.run([*flask, "db", "upgrade"], env=env, capture_output=True, text=True, check=False)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "Running upgrade 0002 -> 0003" in upgrade.stderr
    current = subprocess.run([*flask, "db", "current"], env=env, capture_output=True, text=True, check=False)
    assert f"{HEAD} (head)" in current.stdout
    again = subprocess.run([*flask, "init-db"], env=env, capture_output=True, text=True, check=False)
    assert f"already at schema revision {HEAD}" in again.stdout


# --- A database of the release before migrations -----------------------------------------------

KEY = "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA="  # conftest's DATA_KEY
STATUSES = ["pending", "waitlisted", "accepted", "enrolled", "declined", "withdrawn"]


def build_previous_release(app) -> dict:
    """A database exactly as the previous release's init-db made it (its create_all DDL,
    kept in tests/previous_release/), holding what that release stored: a cohort and its
    meetings, an application in every status with answers sealed the old way and the two
    plain columns, notes, queued and sent emails, audit events and a clinician."""
    with app.app_context(), db.engine.begin() as connection:
        ddl = (PREVIOUS_RELEASE / f"schema.{connection.dialect.name}.sql").read_text()
        for statement in ddl.split(";\n"):
            if statement.strip():
                connection.exec_driver_sql(statement)
        at = NOW.replace(tzinfo=None)
        insert = lambda table, **row: connection.execute(sa.table(table, *map(sa.column, row)).insert(), row)
        insert("admin", id=1, email="ana@practice.example", display_name="Dr. Ana Reyes", active=True, created_at=at,
               password_hash=generate_password_hash("correct horse battery staple", method="pbkdf2:sha256:1"))
        insert("cohort", id=1, slug="winter-2027", title="Winter 2027 cohort", capacity=6,
               starts_on=NOW.date() + timedelta(days=45), timezone="America/New_York", location="120 Harbor Street",
               application_deadline=None, applications_open=True, fee_text="$2,400", created_at=at)
        for n, meeting in enumerate(program.default_meetings(NOW.date() + timedelta(days=45), "America/New_York",
                                                             "120 Harbor Street"), start=1):
            insert("meeting", id=n, cohort_id=1, kind=meeting["kind"], sequence=meeting["sequence"],
                   starts_at=meeting["starts_at"].replace(tzinfo=None), ends_at=meeting["ends_at"].replace(tzinfo=None),
                   location=meeting["location"], revision=0)
        people = {}
        for n, status in enumerate(STATUSES, start=1):
            old_answers = {k: v for k, v in answers(medications=f"Medication {n} 50mg").items()
                           if k not in ("knows_applicants", "referral")}
            token = f"previous-release-token-{n:02d}-abcdefghijklmnop"
            insert("application", id=n, cohort_id=1, token=token, submission_id=None, first_name=f"Person{n}",
                   last_name="Earlier", email=f"person{n}@example.org", email_key=f"person{n}@example.org",
                   phone="555 010 1000", pronouns=None, home_area="Portland, ME",
                   answers=sealing.seal(old_answers, KEY), consent_version="2026-11-26", consented_at=at,
                   health_consent_at=at, knows_applicants=f"Knows someone {n}" if n % 2 else None,
                   referral=f"blog-post-{n}" if n != 3 else None, status=status, created_at=at + timedelta(minutes=n),
                   status_changed_at=at + timedelta(minutes=n),
                   accepted_at=at if status in ("accepted", "enrolled") else None,
                   confirm_by=date(2026, 12, 3) if status == "accepted" else None)
            people[status] = {"id": n, "token": token, "medications": f"Medication {n} 50mg",
                              "knows": f"Knows someone {n}" if n % 2 else "", "referral": f"blog-post-{n}" if n != 3 else None}
            insert("audit_event", at=at, actor="admin", admin_id=1, action="status", application_id=n, cohort_id=1,
                   from_status="pending", to_status=status, detail=None)
        insert("note", id=1, application_id=1, admin_id=1, body=sealing.seal("Called her; sounds steady.", KEY),
               created_at=at)
        for n, status in ((1, "queued"), (2, "sent"), (3, "failed")):
            insert("outbox_message", id=n, kind="received", dedupe_key=f"application:{n}:received", to_address=f"person{n}@example.org",
                   subject="We have your application", text_body="Hello", html_body="<p>Hello</p>", attachments="[]",
                   application_id=n, status=status, attempts=1, next_attempt_at=at, created_at=at,
                   last_error="SMTPRecipientsRefused: 550" if status == "failed" else None)
    return people


COUNTS = {"admin": 1, "cohort": 1, "meeting": 10, "application": 6, "note": 1, "outbox_message": 3, "audit_event": 6}


def test_a_database_of_the_previous_release_is_recognised_upgraded_and_keeps_every_row(bare_app):
    people = build_previous_release(bare_app)
    result = init_db(bare_app)
    assert result.exit_code == 0, result.output
    assert "Recognised a database of the release before migrations" in result.output
    assert f"upgraded to {HEAD}" in result.output and "Every row was kept." in result.output

    for table, count in COUNTS.items():
        assert raw(bare_app, f"SELECT COUNT(*) FROM {table}")[0][0] == count, table
    with bare_app.app_context():
        for person in people.values():
            application = db.session.get(Application, person["id"])
            assert application.answers["medications"] == person["medications"]
            assert application.answers["knows_applicants"] == person["knows"]
            assert application.referral == person["referral"]
        assert db.session.scalar(sa.select(Note.body)) == "Called her; sounds steady."
        assert sorted(db.session.scalars(sa.select(OutboxMessage.status))) == ["failed", "queued", "sent"]
        assert db.session.scalar(sa.select(Meeting.location).where(Meeting.kind == "ketamine").limit(1)) == (
            "120 Harbor Street")
    # The two plain columns are gone; what they held is sealed, in the versioned envelope.
    assert {"knows_applicants", "referral"}.isdisjoint(
        {c["name"] for c in _columns(bare_app, "application")})
    sealed = raw(bare_app, "SELECT answers FROM application WHERE id = 1")[0][0]
    assert "Knows someone" not in sealed and "blog-post" not in sealed
    assert sealing.unseal(sealed, KEY)["v"] == 1
    # "Confirm by December 3" meant until that day ended in New York.
    with bare_app.app_context():
        offered = db.session.get(Application, people["accepted"]["id"])
        assert offered.confirm_by_at == datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
        assert offered.cohort.offer_days == 5 and offered.calendar_sequence == 0
    assert pending_differences(bare_app) == []


def test_the_screening_migration_can_be_taken_back_and_done_again(bare_app):
    """0004 back to 0003: screening and lapsed applications become pending and waitlisted, the
    confirm-by moment becomes its day again; then forward, with every row kept."""
    people = build_previous_release(bare_app)
    init_db(bare_app)
    with bare_app.app_context():
        db.session.get(Application, people["pending"]["id"]).status = Status.SCREENING
        db.session.commit()
    runner = bare_app.test_cli_runner()
    assert runner.invoke(args=["db", "downgrade", "0003"]).exit_code == 0
    assert raw(bare_app, "SELECT status FROM application WHERE id = :id", id=people["pending"]["id"])[0][0] == "pending"
    assert raw(bare_app, "SELECT confirm_by FROM application WHERE id = :id",
               id=people["accepted"]["id"])[0][0] in (date(2026, 12, 3), "2026-12-03")
    assert init_db(bare_app).exit_code == 0
    with bare_app.app_context():
        assert db.session.get(Application, people["accepted"]["id"]).confirm_by_at == datetime(
            2026, 12, 4, 5, 0, tzinfo=UTC)
    for table, count in COUNTS.items():
        assert raw(bare_app, f"SELECT COUNT(*) FROM {table}")[0][0] == count, table
    assert pending_differences(bare_app) == []


def _columns(app, table):
    with app.app_context(), db.engine.connect() as connection:
        return sa.inspect(connection).get_columns(table)


def test_after_the_upgrade_the_status_pages_and_admin_pages_show_what_was_stored(bare_app):
    people = build_previous_release(bare_app)
    assert init_db(bare_app).exit_code == 0
    client = bare_app.test_client()
    for status, words in (("pending", "Received: waiting for a clinician’s review"), ("waitlisted", "On the waitlist"),
                          ("accepted", "A place is offered to you"), ("enrolled", "You are in the group"),
                          ("declined", "Not this cohort"), ("withdrawn", "Withdrawn")):
        page = client.get(f"/status/{people[status]['token']}").get_data(as_text=True)
        assert words in page and "Winter 2027 cohort" in page

    assert sign_in(client).status_code == 303  # the clinician's account and password came through
    page = client.get("/admin/applications/1").get_data(as_text=True)
    assert "Medication 1 50mg" in page and "Knows someone 1" in page and "blog-post-1" in page
    assert "Called her; sounds steady." in page
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "Person3 E." in dashboard and "Person4 E." in dashboard and "4 of 6 seats open" in dashboard
    assert "1 email could not be delivered" in dashboard
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "Pending review → Enrolled" in audit


def test_the_answers_migration_can_be_taken_back_and_done_again(bare_app):
    people = build_previous_release(bare_app)
    init_db(bare_app)
    runner = bare_app.test_cli_runner()
    assert runner.invoke(args=["db", "downgrade", "0002"]).exit_code == 0
    row = raw(bare_app, "SELECT answers, knows_applicants, referral FROM application WHERE id = 1")[0]
    assert sealing.unseal(row.answers, KEY)["medications"] == people["pending"]["medications"]
    assert (row.knows_applicants, row.referral) == ("Knows someone 1", "blog-post-1")
    assert init_db(bare_app).exit_code == 0
    with bare_app.app_context():
        assert db.session.get(Application, 1).answers["knows_applicants"] == "Knows someone 1"
    assert pending_differences(bare_app) == []


# --- Databases this release must not touch ----------------------------------------------------

def test_a_wrong_data_key_stops_the_upgrade_and_leaves_the_database_as_it_was(bare_app):
    build_previous_release(bare_app)
    bare_app.config["DATA_KEY"] = "0" * 43 + "="
    result = init_db(bare_app)
    assert result.exit_code == 1
    assert "RESILIENCE_DATA_KEY cannot open the answers of application 1. Nothing was changed." in result.output
    bare_app.config["DATA_KEY"] = KEY
    assert {"knows_applicants", "referral"} <= {c["name"] for c in _columns(bare_app, "application")}
    assert "alembic_version" not in tables(bare_app) or raw(bare_app, "SELECT * FROM alembic_version") == []
    assert raw(bare_app, "SELECT knows_applicants FROM application WHERE id = 1")[0][0] == "Knows someone 1"


def test_unknown_tables_without_a_migration_record_are_refused_and_kept(bare_app):
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE cohort (id INTEGER PRIMARY KEY, name VARCHAR(20))")
        connection.exec_driver_sql("INSERT INTO cohort (id, name) VALUES (1, 'kept')")
    result = init_db(bare_app)
    assert result.exit_code == 1
    assert "not the tables of the release before migrations" in result.output
    assert "no column cohort.slug" in result.output and "an unexpected column cohort.name" in result.output
    assert "Nothing was changed." in result.output
    assert raw(bare_app, "SELECT name FROM cohort") == [("kept",)]
    assert tables(bare_app) <= {"cohort", "alembic_version"}


def test_a_database_a_newer_release_upgraded_is_refused(bare_app):
    init_db(bare_app)
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    result = init_db(bare_app)
    assert result.exit_code == 1
    assert "schema revision '9999', which this release does not know" in result.output
    assert raw(bare_app, "SELECT version_num FROM alembic_version") == [("9999",)]


def test_stamping_a_database_of_the_previous_release_is_refused(bare_app, caplog):
    """Stamping is the usual advice for an unversioned database; here it would skip the answers' upgrade."""
    build_previous_release(bare_app)
    result = bare_app.test_cli_runner().invoke(args=["db", "stamp", "head"])
    assert result.exit_code == 1
    assert "`flask --app resilience db upgrade` recognises it" in caplog.text  # Flask-Migrate logs its errors
    assert "alembic_version" not in tables(bare_app) or raw(bare_app, "SELECT * FROM alembic_version") == []
    assert init_db(bare_app).exit_code == 0  # and the right command still works


def test_two_upgrades_at_once_do_the_work_once(bare_app, tmp_path):
    """Two operators (or two deploy scripts) run init-db at the same moment: one upgrades, the
    other waits for it and finds the work done. (Separate processes: Alembic runs one upgrade
    per process.)"""
    people = build_previous_release(bare_app)
    env = {**os.environ, "RESILIENCE_INSTANCE_PATH": str(tmp_path), "RESILIENCE_SECRET_KEY": "x",
           "RESILIENCE_DATA_KEY": KEY, "RESILIENCE_SQLALCHEMY_DATABASE_URI": bare_app.config["SQLALCHEMY_DATABASE_URI"]}
    runs = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "resilience", "init-db"], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = sorted(run.communicate(timeout=120)[0] for run in runs)
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert "already at schema revision" in outputs[0] and "Recognised a database" in outputs[1]
    with bare_app.app_context():
        assert db.session.get(Application, people["pending"]["id"]).answers["knows_applicants"] == "Knows someone 1"
    assert pending_differences(bare_app) == []


def test_the_site_says_it_is_being_updated_until_the_database_is_upgraded(bare_app):
    """Between installing a release and running the upgrade, nothing new is written into old tables."""
    bare_app.config["CHECK_SCHEMA"] = True
    people = build_previous_release(bare_app)
    client = bare_app.test_client()
    for url in ("/", "/apply", f"/status/{people['pending']['token']}", "/admin/login"):
        response = client.get(url)
        assert response.status_code == 503 and "The site is being updated" in response.get_data(as_text=True), url
    assert client.get("/healthz").get_json()["database"].startswith("needs upgrade")
    assert init_db(bare_app).exit_code == 0
    assert "Rediscovering Resilience" in client.get("/").get_data(as_text=True)
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_answers_this_release_sealed_before_its_upgrade_are_not_sealed_twice(bare_app):
    """A worker running the new code before `db upgrade` writes the new envelope into the old table."""
    build_previous_release(bare_app)
    envelope = {"v": 1, "answers": {**answers(medications="Written early"), "knows_applicants": "Jo",
                                    "referral": "blog"}}
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE application SET answers = :sealed, knows_applicants = NULL, referral = NULL "
                                   "WHERE id = 2"), {"sealed": sealing.seal(envelope, KEY)})
    assert init_db(bare_app).exit_code == 0
    with bare_app.app_context():
        application = db.session.get(Application, 2)
        assert application.answers["medications"] == "Written early"
        assert (application.answers["knows_applicants"], application.referral) == ("Jo", "blog")


def test_every_application_of_a_long_history_is_upgraded(bare_app):
    """0003 works through the applications a page (500) at a time."""
    build_previous_release(bare_app)
    with bare_app.app_context(), db.engine.begin() as connection:
        sealed = sealing.seal(answers(), KEY)
        connection.execute(sa.text(
            "INSERT INTO application (id, cohort_id, token, first_name, last_name, email, email_key, phone, home_area, "
            "answers, consent_version, consented_at, health_consent_at, knows_applicants, status, created_at, "
            "status_changed_at) VALUES (:id, 1, :token, 'P', 'Q', :email, :email, '555 010 1000', 'ME', :sealed, 't', "
            ":at, :at, :knows, 'declined', :at, :at)"),
            [{"id": n, "token": f"long-history-token-{n:05d}-abcdef", "email": f"p{n}@example.org", "sealed": sealed,
              "at": NOW.replace(tzinfo=None), "knows": f"friend {n}"} for n in range(10, 1010)])
    assert init_db(bare_app).exit_code == 0
    with bare_app.app_context():
        rows = db.session.scalars(sa.select(Application).where(Application.id >= 10)).all()
        assert len(rows) == 1000
        assert all(a.answers["knows_applicants"] == f"friend {a.id}" for a in rows)


def test_rows_that_already_pointed_nowhere_do_not_block_the_upgrade(bare_app):
    """Something outside the site (the sqlite3 shell, foreign keys off) left an audit event of a deleted
    application. The upgrade neither blames itself for it nor stops; it only refuses to add more."""
    people = build_previous_release(bare_app)
    if raw(bare_app, "SELECT 1")[0] and "sqlite" not in bare_app.config["SQLALCHEMY_DATABASE_URI"]:
        pytest.skip("PostgreSQL never lets a row point nowhere")
    with bare_app.app_context(), db.engine.connect() as connection:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        connection.connection.driver_connection.execute("DELETE FROM application WHERE id = 6")
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
    result = init_db(bare_app)
    assert result.exit_code == 0, result.output
    with bare_app.app_context():
        assert db.session.get(Application, people["enrolled"]["id"]).answers["medications"] == "Medication 4 50mg"


def test_no_offer_lapses_the_moment_the_upgrade_is_done(bare_app):
    """Before this release "confirm by" was only words: an offer whose day has passed gets three
    more days (and its reminder); one in a cohort already under way gets no time limit."""
    people = build_previous_release(bare_app)
    accepted = people["accepted"]["id"]
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE application SET confirm_by = :day WHERE id = :id"),
                           {"day": NOW.date() - timedelta(days=10), "id": accepted})
    assert init_db(bare_app).exit_code == 0
    with bare_app.app_context():
        assert db.session.get(Application, accepted).confirm_by_at == NOW + timedelta(days=3)
    assert "0 offer(s) lapsed" in bare_app.test_cli_runner().invoke(args=["periodic"]).output


def test_an_offer_in_a_cohort_under_way_gets_no_time_limit_from_the_upgrade(bare_app):
    people = build_previous_release(bare_app)
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE meeting SET starts_at = :at, ends_at = :at"), {"at": NOW - timedelta(days=3)})
        connection.execute(sa.text("UPDATE application SET confirm_by = :day WHERE id = :id"),
                           {"day": NOW.date() - timedelta(days=10), "id": people["accepted"]["id"]})
    assert init_db(bare_app).exit_code == 0
    with bare_app.app_context():
        assert db.session.get(Application, people["accepted"]["id"]).confirm_by_at is None
    bare_app.config["NOW"] = NOW + timedelta(days=30)
    assert "0 offer(s) lapsed" in bare_app.test_cli_runner().invoke(args=["periodic"]).output


def test_an_old_offer_in_a_cohort_starting_within_the_grace_gets_no_time_limit(bare_app):
    people = build_previous_release(bare_app)
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE meeting SET starts_at = :at, ends_at = :at"), {"at": NOW + timedelta(hours=2)})
    assert init_db(bare_app).exit_code == 0
    with bare_app.app_context():
        assert db.session.get(Application, people["accepted"]["id"]).confirm_by_at is None
        assert db.session.get(Application, people["enrolled"]["id"]).confirm_by_at is None  # it had no day
    bare_app.config["NOW"] = NOW + timedelta(hours=3)
    assert "0 offer(s) lapsed" in bare_app.test_cli_runner().invoke(args=["periodic"]).output


# --- 0006: the outbox's email bodies sealed ---------------------------------------------------

def _outbox_at_0005(app, bodies: dict[int, tuple[str, str]]) -> None:
    """A database upgraded to 0005 whose outbox holds these (text, HTML) bodies in the clear, as 0005 wrote them."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0005"]).exit_code == 0
    with app.app_context(), db.engine.begin() as connection:
        for n, (text, html) in bodies.items():
            connection.execute(sa.text(
                "INSERT INTO outbox_message (id, kind, dedupe_key, to_address, subject, text_body, html_body, "
                "attachments, status, attempts, next_attempt_at, created_at) VALUES (:id, 'received', :key, "
                "'dana@example.org', 'We have your application', :text, :html, '[]', 'queued', 0, :at, :at)"),
                {"id": n, "key": f"before-0006:{n}", "text": text, "html": html, "at": NOW.replace(tzinfo=None)})


def test_the_outbox_bodies_written_in_the_clear_are_sealed_by_0006_and_still_read(bare_app):
    _outbox_at_0005(bare_app, {n: (f"Dear Dana, the side door {n} is open. It’s fine.", f"<p>Dear Dana {n}</p>")
                               for n in range(1, 1203)})  # more than two pages of 500
    assert init_db(bare_app).exit_code == 0
    stored = raw(bare_app, "SELECT text_body, html_body FROM outbox_message ORDER BY id")
    assert len(stored) == 1202
    # (words with a space or a "<": a sealed value is base64, which can hold "Dana" by chance)
    assert not any("Dear Dana" in text or "<p>" in html for text, html in stored)
    assert sealing.unseal(stored[0][0], KEY) == "Dear Dana, the side door 1 is open. It’s fine."
    with bare_app.app_context():
        first, last = db.session.get(OutboxMessage, 1), db.session.get(OutboxMessage, 1202)
        assert first.text_body == "Dear Dana, the side door 1 is open. It’s fine."
        assert (last.html_body, last.subject) == ("<p>Dear Dana 1202</p>", "We have your application")
    assert pending_differences(bare_app) == []


def test_0006_can_be_taken_back_and_done_again(bare_app):
    _outbox_at_0005(bare_app, {1: ("Hello Dana", "<p>Hello Dana</p>")})
    assert init_db(bare_app).exit_code == 0
    runner = bare_app.test_cli_runner()
    assert runner.invoke(args=["db", "downgrade", "0005"]).exit_code == 0
    assert raw(bare_app, "SELECT text_body, html_body FROM outbox_message") == [("Hello Dana", "<p>Hello Dana</p>")]
    assert init_db(bare_app).exit_code == 0
    with bare_app.app_context():
        assert db.session.get(OutboxMessage, 1).html_body == "<p>Hello Dana</p>"
    assert "Hello Dana" not in str(raw(bare_app, "SELECT text_body, html_body FROM outbox_message"))


def test_bodies_this_release_sealed_before_0006_are_not_sealed_twice(bare_app):
    _outbox_at_0005(bare_app, {1: (sealing.seal("Written early", KEY), sealing.seal("<p>Written early</p>", KEY)),
                               2: ("Plain", "<p>Plain</p>")})
    assert init_db(bare_app).exit_code == 0
    with bare_app.app_context():
        assert db.session.get(OutboxMessage, 1).text_body == "Written early"
        assert db.session.get(OutboxMessage, 2).html_body == "<p>Plain</p>"


def test_bodies_sealed_with_another_key_stop_0006_and_change_nothing(bare_app):
    other = "0" * 43 + "="
    _outbox_at_0005(bare_app, {1: ("Plain", "<p>Plain</p>"), 2: (sealing.seal("Other key", other), "<p>x</p>")})
    result = init_db(bare_app)
    assert result.exit_code == 1
    assert "RESILIENCE_DATA_KEY cannot open the email bodies of outbox message 2. Nothing was changed." in result.output
    assert raw(bare_app, "SELECT version_num FROM alembic_version") == [("0005",)]
    assert raw(bare_app, "SELECT text_body FROM outbox_message WHERE id = 1") == [("Plain",)]


def test_0005_counts_the_answers_that_need_attention_in_every_stored_application(bare_app):
    """The list's "To check" column for applications stored before it existed: counted from
    their sealed answers during the upgrade; which answers they are stays sealed."""
    people = build_previous_release(bare_app)
    worried = people["waitlisted"]["id"]
    flagged = {k: v for k, v in answers(blood_pressure="unsure", ride_home="no").items()
               if k not in ("knows_applicants", "referral")}
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE application SET answers = :answers WHERE id = :id"),
                           {"answers": sealing.seal(flagged, KEY), "id": worried})
    assert init_db(bare_app).exit_code == 0
    counts = dict(raw(bare_app, "SELECT id, attention FROM application"))
    assert counts == {person["id"]: 2 if person["id"] == worried else 0 for person in people.values()}
    assert raw(bare_app, "SELECT assigned_admin_id FROM application WHERE id = :id", id=worried)[0][0] is None


def _migration_0012():
    import importlib.util
    spec = importlib.util.spec_from_file_location("m0012", Path(__file__).parents[1] / "migrations/versions/0012_agreed_texts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_0012_keeps_the_words_the_form_has_always_shown():
    """The words 0012 stores as version 1 are the ones the form showed with consent version
    2026-11-26 (the shipped defaults have not changed since)."""
    from resilience import content
    assert _migration_0012().WORDS == {f"agreement.{name}": content.TEXTS[f"agreement.{name}"].default
                                       for name in content.AGREEMENTS}


def test_0012_gives_every_stored_application_the_words_it_agreed_to(bare_app):
    people = build_previous_release(bare_app)
    assert init_db(bare_app).exit_code == 0
    assert {"consent_version"}.isdisjoint({c["name"] for c in _columns(bare_app, "application")})
    with bare_app.app_context():
        for person in people.values():
            agreed = db.session.get(Application, person["id"]).agreed_texts
            assert agreed == {key: 1 for key in _migration_0012().WORDS}
    client = bare_app.test_client()
    assert sign_in(client).status_code == 303
    page = client.get("/admin/applications/1").get_data(as_text=True)
    agreed = page[page.index("What they agreed to"):]
    assert "I am 18 or older." in agreed and "(version 1, from Thursday, November 26, 2026)" in agreed
    assert "may store my answers, including my health information" in agreed
    assert pending_differences(bare_app) == []


def test_0012_can_be_taken_back_and_done_again_keeping_the_clinicians_words(bare_app):
    build_previous_release(bare_app)
    assert init_db(bare_app).exit_code == 0
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO site_text (key, version, body, created_at) "
                                   "VALUES ('agreement.ack_adult', 2, 'I am an adult.', '2026-11-28 12:00:00')"))
    runner = bare_app.test_cli_runner()
    assert runner.invoke(args=["db", "downgrade", "0011"]).exit_code == 0
    assert set(raw(bare_app, "SELECT consent_version FROM application")) == {("2026-11-26",)}
    assert init_db(bare_app).exit_code == 0
    assert raw(bare_app, "SELECT version, body FROM site_text WHERE key = 'agreement.ack_adult' ORDER BY version") == [
        (1, "I am 18 or older."), (2, "I am an adult.")]
    assert raw(bare_app, "SELECT COUNT(*) FROM site_text")[0][0] == 6
    with bare_app.app_context():
        assert db.session.get(Application, 1).agreed_texts["agreement.ack_adult"] == 1
    assert pending_differences(bare_app) == []
