"""The operator's side: commands and configuration."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import NOW
from resilience import ConfigurationError, create_app
from resilience.extensions import db
from resilience.models import Cohort


def test_init_db_creates_the_tables_and_can_run_twice(runner):
    assert "Database ready" in runner.invoke(args=["init-db"]).output
    assert runner.invoke(args=["init-db"]).exit_code == 0


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


def test_demo_cohort_appears_on_the_program_page(client, runner):
    runner.invoke(args=["seed-demo"])
    html = client.get("/").get_data(as_text=True)
    assert "6 of 6 seats open" in html and html.count('class="meeting meeting--') == 10


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


def test_development_generates_and_keeps_its_secrets_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path))
    first = create_app()
    second = create_app()
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert first.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'resilience.sqlite3'}"


def test_settings_come_from_prefixed_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RESILIENCE_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'other.db'}")
    monkeypatch.setenv("RESILIENCE_CONTACT_EMAIL", "care@practice.example")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("other.db")
    assert app.config["CONTACT_EMAIL"] == "care@practice.example"
