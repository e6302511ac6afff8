import os
from datetime import UTC, datetime, timedelta
from itertools import count

import jinja2
import pytest
import sqlalchemy as sa

from resilience import create_app, program
from resilience.extensions import db
from resilience.models import Application, Cohort, Meeting

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
TEST_DATABASE_URL = os.environ.get("RESILIENCE_TEST_DATABASE_URL")


@pytest.fixture
def app_config(tmp_path):
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATA_KEY": "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA=",
        # RESILIENCE_TEST_DATABASE_URL runs the suite on another database, e.g. PostgreSQL.
        "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'test.sqlite3'}",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,  # tests post far more than any person would; see test_rate_limits.py
        "RESEND_ANSWER_SECONDS": 0,  # test_resend.py checks the lost-link page's steady pace itself
        "NOW": NOW,
        # One iteration: signing in is not what these tests measure (production uses scrypt).
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        # Tables come from the models here, with no migration record; test_migrations.py turns this on.
        "CHECK_SCHEMA": False,
    }


class NoMissingModelAttributes(jinja2.Undefined):
    """A template that reads an attribute a model does not have (a column since removed,
    a typo) fails the test instead of quietly printing nothing."""

    def __init__(self, hint=None, obj=jinja2.utils.missing, name=None, exc=jinja2.exceptions.UndefinedError):
        super().__init__(hint, obj, name, exc)
        if isinstance(obj, db.Model):
            self._fail_with_undefined_error()


def empty_database(app) -> None:
    """No tables at all, not even alembic_version."""
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            else:
                tables = sa.MetaData()
                tables.reflect(connection)
                tables.drop_all(connection)


@pytest.fixture
def bare_app(app_config, tmp_path, monkeypatch):
    """The site over an empty database, as a new installation starts."""
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(app_config)
    app.jinja_env.undefined = NoMissingModelAttributes
    empty_database(app)
    yield app
    empty_database(app)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(bare_app):
    """The site with its tables made straight from the models, for speed: test_migrations.py
    proves that the migrations make exactly these tables."""
    with bare_app.app_context():
        db.create_all()
    return bare_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def htmx_client(app):
    client = app.test_client()
    client.environ_base["HTTP_HX_REQUEST"] = "true"
    return client


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_numbers = count(1)


@pytest.fixture
def make_cohort(app):
    """Build and store a cohort with its ten default meetings; returns its slug."""

    def make(**overrides) -> str:
        n = next(_numbers)
        starts_on = overrides.pop("starts_on", NOW.date() + timedelta(days=45))
        fields = {
            "slug": f"cohort-{n}",
            "title": f"Test cohort {n}",
            "capacity": 6,
            "starts_on": starts_on,
            "timezone": "America/New_York",
            "location": "120 Harbor Street, Portland, ME",
            "application_deadline": starts_on - timedelta(days=14),
            "applications_open": True,
            **overrides,
        }
        with app.app_context():
            cohort = Cohort(**fields)
            for meeting in program.default_meetings(starts_on, fields["timezone"], fields["location"]):
                cohort.meetings.append(Meeting(**meeting))
            db.session.add(cohort)
            db.session.commit()
            return cohort.slug

    return make


def answers(**overrides) -> dict:
    return {
        "attend_all": "yes", "ride_home": "yes", "logistics_notes": "",
        "therapist": "", "provider": "Dr. Rivera, 555 010 2000", "emergency_name": "Sam Lee",
        "emergency_relationship": "sister", "emergency_phone": "555 010 3000",
        "pregnant": "no", "blood_pressure": "no", "heart": "no", "psychosis": "no",
        "substance_use": "no", "liver": "no", "raised_pressure": "no", "thyroid": "no",
        "anaesthesia_reaction": "no", "medications": "none", "health_notes": "",
        "intention": "I want to feel steadier with people.", "hopes": "", "experience": "",
        "knows_applicants": "", "referral": None,
        **overrides,
    }


@pytest.fixture
def make_application(app):
    """Store an application directly (status and all); returns its id."""

    def make(cohort_slug: str, **overrides) -> int:
        n = next(_numbers)
        with app.app_context():
            cohort = db.session.scalar(db.select(Cohort).where(Cohort.slug == cohort_slug))
            email = overrides.pop("email", f"person{n}@example.org")
            fields = {
                "first_name": f"Person{n}", "last_name": "Tester",
                "email": email, "email_key": email.lower(), "phone": "555 010 1000",
                "home_area": "Portland, ME", "answers": answers(),
                "consented_at": NOW, "health_consent_at": NOW,
                "created_at": NOW, "status_changed_at": NOW,
                **overrides,
            }
            application = Application(cohort=cohort, **fields)
            db.session.add(application)
            db.session.commit()
            return application.id

    return make


@pytest.fixture
def form_data():
    """A complete, valid application form as a browser would send it."""

    def build(cohort_slug: str, **overrides) -> dict:
        data = {
            "cohort": cohort_slug,
            "submission_id": f"submission-{next(_numbers):08d}",
            "first_name": "Alex", "last_name": "Morgan", "pronouns": "they/them",
            "email": "alex@example.org", "phone": "+1 207 555 0100", "home_area": "Portland, ME",
            **answers(),
            "knows_applicants": "",
            "ack_not_acceptance": "y", "ack_commitment": "y", "ack_adult": "y",
            "ack_not_emergency": "y", "consent_health": "y",
        }
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}

    return build


def mail(app, kind=None, to=None) -> list[dict]:
    """The emails queued so far (optionally of one kind, to one address), oldest first."""
    from resilience.models import OutboxMessage

    with app.app_context():
        query = sa.select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        if to:
            query = query.where(OutboxMessage.to_address == to)
        return [{"kind": m.kind, "to": m.to_address, "subject": m.subject, "text": " ".join(m.text_body.split()),
                 "attachments": m.attachments} for m in db.session.scalars(query)]


def applications(app) -> list[Application]:
    with app.app_context():
        return list(db.session.scalars(db.select(Application).order_by(Application.id)))


class SMTPServer:
    """A real SMTP server on loopback (aiosmtpd) that keeps every message it receives."""

    def __init__(self):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.messages = []
        self.refuse = set()  # addresses answered with a permanent 550
        self.refuse_sender = False  # answer MAIL FROM with 553, as a misconfigured account would get
        self.controller = None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refuse_sender:
            return "553 Sender address not allowed"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def start(self):
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address):
        return [message for recipients, message in self.messages if recipients == [address]]


ADMINS = ["ana@practice.example", "ben@practice.example"]


def over_smtp(app_config: dict, smtp: SMTPServer) -> dict:
    """The test settings with mail going to the loopback SMTP server, two clinicians to tell,
    and links built for a public address."""
    return {**app_config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "ADMIN_EMAILS": ADMINS,
            "PUBLIC_URL": "https://resilience.example"}


def deliver(app):
    """Run the outbox worker once, as `flask outbox send` does."""
    from resilience import outbox

    with app.app_context():
        return outbox.deliver_due()


@pytest.fixture
def smtp():
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_admin(app):
    def make(email="ana@practice.example", name="Dr. Ana Reyes", password=ADMIN_PASSWORD, active=True) -> int:
        from resilience.models import Admin

        with app.app_context():
            admin = Admin(email=email, display_name=name, active=active)
            admin.set_password(password)
            db.session.add(admin)
            db.session.commit()
            return admin.id

    return make


def sign_in(client, email="ana@practice.example", password=ADMIN_PASSWORD):
    return client.post("/admin/login", data={"email": email, "password": password})


@pytest.fixture
def answers_opened(monkeypatch) -> list:
    """Grows by one each time sealed answers are opened (from now on, in this test)."""
    from resilience import questions

    opened = []
    real_open = questions.open_answers
    monkeypatch.setattr(questions, "open_answers", lambda envelope: opened.append(1) or real_open(envelope))
    return opened


@pytest.fixture
def admin_client(app, make_admin):
    """A browser signed in as a clinician."""
    make_admin()
    client = app.test_client()
    assert sign_in(client).status_code == 303
    return client


def emailed_status_path(app, to=None) -> str:
    """The private status page the newest "application received" email (to this address) links
    to: after applying, the link reaches the person only by email."""
    import re

    text = mail(app, kind="received", to=to)[-1]["text"]
    return re.search(r"/status/[A-Za-z0-9_-]{20,}", text)[0]
