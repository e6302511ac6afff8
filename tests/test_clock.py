"""RESILIENCE_NOW: outside production it sets the clock of the whole site and of `periodic`,
to preview a cohort's later weeks; production, and a time that cannot be read, refuse it."""
import re
from datetime import UTC, date, timedelta

import pytest
from conftest import answers

from resilience import ConfigurationError, create_app, database, enrolment, program
from resilience.extensions import db
from resilience.models import Application, Cohort, Meeting, OutboxMessage

DATA_KEY = "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA="


def site(monkeypatch, tmp_path, now, **settings):
    """The site as an operator starts it: configured only by RESILIENCE_* variables."""
    variables = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s3cret", "DATA_KEY": DATA_KEY,
                 "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'preview.sqlite3'}",
                 "WTF_CSRF_ENABLED": "false", "NOW": now, **settings}
    for name, value in variables.items():
        monkeypatch.setenv(f"RESILIENCE_{name}", value)
    app = create_app()
    with app.app_context():
        database.upgrade()
    return app


def winter_cohort(app) -> str:
    """Starts Tuesday, January 12, 2027; applications close at the end of December 29, 2026."""
    with app.app_context():
        cohort = Cohort(slug="winter-2027", title="Winter 2027 cohort", capacity=6, starts_on=date(2027, 1, 12),
                        timezone="America/New_York", location="120 Harbor Street, Portland, ME",
                        application_deadline=date(2027, 1, 12) - timedelta(days=14), applications_open=True)
        for meeting in program.default_meetings(cohort.starts_on, cohort.timezone, cohort.location):
            cohort.meetings.append(Meeting(**meeting))
        db.session.add(cohort)
        db.session.commit()
    return "winter-2027"


def apply(client, slug) -> str:
    form = {"cohort": slug, "first_name": "Alex", "last_name": "Morgan", "email": "alex@example.org",
            "phone": "+1 207 555 0100", "home_area": "Portland, ME", **answers(referral=""),
            "ack_not_acceptance": "y", "ack_commitment": "y", "ack_adult": "y", "ack_not_emergency": "y",
            "consent_health": "y"}
    response = client.post("/apply", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    with client.application.app_context():  # the link reaches the applicant by email
        text = db.session.scalars(db.select(OutboxMessage.text_body).where(OutboxMessage.kind == "received")).all()[-1]
    return re.search(r"/status/[A-Za-z0-9_-]{20,}", text)[0]


def page_of(client, path) -> str:
    return " ".join(client.get(path).get_data(as_text=True).split())


def test_the_site_runs_on_the_time_it_is_given(monkeypatch, tmp_path):
    app = site(monkeypatch, tmp_path, "2026-12-02T13:59:30")  # just before 9:00 am in New York; the clock runs on
    client = app.test_client()
    slug = winter_cohort(app)
    status = apply(client, slug)
    assert "It arrived safely on Wednesday, December 2, 2026." in page_of(client, status)

    with app.app_context():
        [application_id] = db.session.scalars(db.select(Application.id)).all()
        enrolment.change_status(application_id, "accepted", actor="admin", evaluated=True)
    page = page_of(client, status)
    assert "Please confirm by <strong>Monday, December 7, 2026 at 9:00 am EST</strong>" in page
    assert re.search(r"\(5 days( and 0 hours)? from now\)", page)


def test_the_program_page_closes_a_cohort_on_the_given_clock(monkeypatch, tmp_path):
    app = site(monkeypatch, tmp_path, "2026-12-30T12:00-05:00")
    winter_cohort(app)
    page = page_of(app.test_client(), "/")
    assert "The application deadline for this cohort has passed." in page


def test_periodic_lapses_offers_on_the_given_clock(monkeypatch, tmp_path):
    app = site(monkeypatch, tmp_path, "2026-12-02T13:59:30")
    apply(app.test_client(), winter_cohort(app))
    with app.app_context():
        [application_id] = db.session.scalars(db.select(Application.id)).all()
        enrolment.change_status(application_id, "accepted", actor="admin", evaluated=True)

    five_days_later = site(monkeypatch, tmp_path, "2026-12-07T14:00:01Z")  # just past the offer's time to confirm
    result = five_days_later.test_cli_runner().invoke(args=["periodic"])
    assert result.output == ("2026-12-07 14:00 UTC: 0 meeting reminder(s), 0 confirm-by reminder(s) queued; "
                             "1 offer(s) lapsed.\n")
    with five_days_later.app_context():
        assert db.session.get(Application, application_id).status == "lapsed"


def test_the_given_clock_runs_on_from_there(monkeypatch, tmp_path):
    """A preview behaves like those days: an email due in a minute is sent a minute later."""
    import time
    from datetime import datetime

    from resilience import clock

    app = site(monkeypatch, tmp_path, "2027-01-20T15:00")
    with app.app_context():
        first = clock.now()
        time.sleep(0.05)
        assert datetime(2027, 1, 20, 15, 0, tzinfo=UTC) <= first < clock.now() < first + timedelta(seconds=5)


def test_production_refuses_a_pretend_clock(monkeypatch, tmp_path):
    with pytest.raises(ConfigurationError, match="RESILIENCE_NOW sets a pretend clock and is refused in production"):
        site(monkeypatch, tmp_path, "2026-12-02T14:00", ENV="production")


@pytest.mark.parametrize("value", ["next tuesday", "2027-02-30T09:00", "14:00"])
def test_a_time_that_cannot_be_read_is_refused(monkeypatch, tmp_path, value):
    with pytest.raises(ConfigurationError, match="is not a time like 2027-01-15T09:30"):
        site(monkeypatch, tmp_path, value)


def test_without_it_the_clock_is_the_real_one(monkeypatch, tmp_path):
    app = site(monkeypatch, tmp_path, "")
    assert app.config["NOW"] is None and "CLOCK_OFFSET" not in app.config
