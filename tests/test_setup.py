"""The operator's side: the commands that set the site up, and its configuration.

Here the schema is built as an operator builds it, by the migrations (init-db).
"""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW, sign_in

from resilience import ConfigurationError, create_app, database
from resilience.extensions import db
from resilience.models import Admin, Cohort


@pytest.fixture
def app(bare_app):
    with bare_app.app_context():
        database.upgrade()
    return bare_app


def test_seed_demo_adds_one_cohort_six_weeks_ahead_with_ten_meetings(app, runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0 and "Added demo cohort" in result.output
    with app.app_context():
        [cohort] = db.session.scalars(sa.select(Cohort)).all()
        assert cohort.capacity == 6 and cohort.applications_open
        assert 42 <= (cohort.starts_on - NOW.date()).days <= 48
        kinds = [m.kind for m in cohort.meetings]
        assert (kinds.count("preparation"), kinds.count("ketamine"), kinds.count("integration")) == (3, 3, 4)
        assert all(m.location != "Online" for m in cohort.meetings if m.kind == "ketamine")
        assert (cohort.meetings[-1].starts_at - cohort.meetings[0].starts_at) < timedelta(weeks=6)


def test_seed_demo_if_empty_leaves_existing_cohorts_alone(app, runner, make_cohort):
    make_cohort()
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "Cohorts already exist" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Cohort)) == 1


def test_what_make_run_prepares_is_a_program_page_with_the_demo_cohort(bare_app):
    runner = bare_app.test_cli_runner()
    assert "Database created" in runner.invoke(args=["init-db"]).output
    assert "Added demo cohort" in runner.invoke(args=["seed-demo", "--if-empty"]).output
    html = bare_app.test_client().get("/").get_data(as_text=True)
    assert "6 of 6 seats open" in html and html.count('class="meeting meeting--') == 10


def test_create_admin_reads_the_password_from_stdin(app, runner):
    result = runner.invoke(args=["create-admin", "ben@practice.example", "--name", "Dr. Ben Ito",
                                 "--password-stdin"], input="a long enough password\n")
    assert result.exit_code == 0 and "Created an admin account for ben@practice.example" in result.output
    client = app.test_client()
    assert sign_in(client, "ben@practice.example", "a long enough password").status_code == 303
    assert "Signed in as Dr. Ben Ito" in client.get("/admin/").get_data(as_text=True)


def test_create_admin_asks_twice_on_a_terminal_and_refuses_short_or_duplicate(app, runner):
    result = runner.invoke(args=["create-admin", "ben@practice.example"],
                           input="a long enough password\na long enough password\n")
    assert result.exit_code == 0
    again = runner.invoke(args=["create-admin", "ben@practice.example", "--password-stdin"], input="another long one\n")
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(args=["create-admin", "cy@practice.example", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    mismatch = runner.invoke(args=["create-admin", "dee@practice.example"],
                             input="a long enough password\nanother one entirely\n")
    assert mismatch.exit_code != 0 and "do not match" in mismatch.output
    with app.app_context():
        assert db.session.scalars(sa.select(Admin.email)).all() == ["ben@practice.example"]


def test_a_fresh_install_creates_the_database_when_the_first_admin_is_made(bare_app):
    result = bare_app.test_cli_runner().invoke(args=["create-admin", "ana@practice.example", "--password-stdin"],
                                               input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert sign_in(bare_app.test_client(), password="a long enough password").status_code == 303


def test_production_hashes_passwords_with_scrypt(monkeypatch, tmp_path):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path))
    app = create_app()
    assert app.config["PASSWORD_HASH_METHOD"] == "scrypt"
    with app.app_context():
        admin = Admin(email="ana@practice.example", display_name="Ana")
        admin.set_password("correct horse battery staple")
        assert admin.password_hash.startswith("scrypt:") and "horse" not in admin.password_hash
        assert admin.check_password("correct horse battery staple") and not admin.check_password("wrong")


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RESILIENCE_ENV", "production")
    monkeypatch.setenv("RESILIENCE_DATA_KEY", "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA=")
    with pytest.raises(ConfigurationError, match="RESILIENCE_SECRET_KEY must be set"):
        create_app()
    monkeypatch.setenv("RESILIENCE_SECRET_KEY", "s3cret")
    monkeypatch.delenv("RESILIENCE_DATA_KEY")
    with pytest.raises(ConfigurationError, match="RESILIENCE_DATA_KEY must be set"):
        create_app()


def test_production_cookies_are_secure(monkeypatch, tmp_path):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RESILIENCE_ENV", "production")
    monkeypatch.setenv("RESILIENCE_SECRET_KEY", "s")
    monkeypatch.setenv("RESILIENCE_DATA_KEY", "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA=")
    assert create_app().config["SESSION_COOKIE_SECURE"] is True


def test_development_generates_and_keeps_its_secrets_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path))
    first = create_app()
    second = create_app()
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["DATA_KEY"] == second.config["DATA_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert first.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'resilience.sqlite3'}"


def test_settings_come_from_prefixed_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RESILIENCE_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'other.db'}")
    monkeypatch.setenv("RESILIENCE_CONTACT_EMAIL", "care@practice.example")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("other.db")
    assert app.config["CONTACT_EMAIL"] == "care@practice.example"
