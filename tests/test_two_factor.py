"""Two-step sign-in for clinicians: a code from an authenticator app (TOTP) after the password,
enrolled by a QR code drawn on the server, ten one-time recovery codes, RESILIENCE_REQUIRE_2FA
to make it mandatory, and an operator's reset for a clinician who lost phone and codes."""
import re
from datetime import timedelta
from html import unescape

import pyotp
import pytest
import sqlalchemy as sa
from conftest import ADMIN_PASSWORD, NOW, sign_in

from resilience.extensions import db

CODE_PAGE = "/admin/login/code"
SETUP_PAGE = "/admin/account/two-factor"


def at(app, **delta):
    app.config["NOW"] = NOW + timedelta(**delta)


def text(response) -> str:
    return " ".join(unescape(response.get_data(as_text=True)).split())


def code(secret: str, app, steps_ago: int = 0) -> str:
    """The code an authenticator app shows at the app's (frozen) time."""
    return pyotp.TOTP(secret).at(app.config["NOW"] - timedelta(seconds=30 * steps_ago))


def begin(client) -> str:
    """Press "Turn on two-step sign-in"; returns the secret as the page shows it for typing by hand."""
    response = client.post("/admin/account/two-factor/begin")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    secret = re.search(r'<code class="two-factor__secret"[^>]*>([A-Z2-7 ]+)</code>', page)[1]
    return secret.replace(" ", "")


def recovery_codes(page: str) -> list[str]:
    return re.findall(r'<li class="recovery-codes__code"><code>([a-z0-9-]+)</code></li>', page)


def enrol(app, client) -> tuple[str, list[str]]:
    """Turn two-step sign-in on for the signed-in clinician; returns the secret and the recovery codes."""
    secret = begin(client)
    response = client.post("/admin/account/two-factor/confirm", data={"code": code(secret, app)})
    assert response.status_code == 200, response.get_data(as_text=True)
    codes = recovery_codes(response.get_data(as_text=True))
    at(app, seconds=30)  # the next sign-in needs a code the enrolment did not use
    return secret, codes


@pytest.fixture
def enrolled(app, admin_client):
    """Ana has two-step sign-in on; returns (secret, recovery codes)."""
    return enrol(app, admin_client)


def password_step(app, next_page=None):
    """A new browser past the password: returns it, at the code step."""
    client = app.test_client()
    url = "/admin/login" + (f"?next={next_page}" if next_page else "")
    response = client.post(url, data={"email": "ana@practice.example", "password": ADMIN_PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == CODE_PAGE
    return client


def audit(app) -> list[tuple[str, str | None]]:
    from resilience.models import AuditEvent

    with app.app_context():
        return [(event.action, event.detail) for event in
                db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


def admin_row(app):
    from resilience.models import Admin

    with app.app_context():
        admin = db.session.scalar(sa.select(Admin).where(Admin.email == "ana@practice.example"))
        db.session.expunge(admin)
        return admin


# --- Enrolment ------------------------------------------------------------------------------

def test_the_account_page_offers_two_step_sign_in(admin_client):
    page = text(admin_client.get("/admin/account"))
    assert 'id="two-factor"' in admin_client.get("/admin/account").get_data(as_text=True)
    assert "Two-step sign-in is off" in page and "Turn on two-step sign-in" in page


def test_turning_it_on_shows_a_qr_code_drawn_on_the_server_within_the_page_policy(app, admin_client):
    secret = begin(admin_client)
    response = admin_client.get("/admin/account")
    html = response.get_data(as_text=True)
    svg = re.search(r"<svg\b.*?</svg>", html, re.DOTALL)[0]
    assert "<path" in svg and 'role="img"' in svg
    assert "style" not in svg.lower() and "script" not in svg.lower() and " on" not in svg.split(">")[0]
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    # …the secret, in groups, for typing by hand, and a field for the first code.
    assert len(secret) == 32 and re.search(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", html)
    assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
    # The secret waits for a first code: sign-in still asks for the password alone.
    assert not admin_row(app).two_factor_on
    other = app.test_client()
    assert sign_in(other).headers["Location"] == "/admin/"


def test_the_secret_is_sealed_at_rest(app, admin_client):
    secret = begin(admin_client)
    with app.app_context(), db.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT totp_secret FROM admin").scalar()
    assert stored and secret not in stored


def test_a_wrong_first_code_is_refused_and_the_same_secret_kept(app, admin_client):
    secret = begin(admin_client)
    wrong = f"{(int(code(secret, app)) + 1) % 1000000:06d}"
    response = admin_client.post("/admin/account/two-factor/confirm", data={"code": wrong})
    page = text(response)
    assert response.status_code == 422
    assert "That code did not work" in page and 'aria-invalid="true"' in page
    assert f'value="{wrong}"' in page  # what was typed stays
    assert secret in page.replace(" ", "")  # the same secret: the app set up a moment ago still works
    assert not admin_row(app).two_factor_on
    for typed, words in (("", "Please type the 6-digit code"), ("12ab56", "Please type the 6-digit code")):
        assert words in text(admin_client.post("/admin/account/two-factor/confirm", data={"code": typed}))


def test_the_right_code_turns_it_on_and_shows_ten_recovery_codes_once(app, admin_client):
    secret = begin(admin_client)
    response = admin_client.post("/admin/account/two-factor/confirm", data={"code": code(secret, app)})
    page = response.get_data(as_text=True)
    codes = recovery_codes(page)
    assert response.status_code == 200 and len(codes) == 10 and len(set(codes)) == 10
    assert "Keep them somewhere safe" in text(response) and "Each code works once" in text(response)
    assert 'download="recovery-codes.txt"' in page and "data:text/plain" in page  # as a text file
    assert admin_row(app).two_factor_on
    account = admin_client.get("/admin/account").get_data(as_text=True)
    assert "Two-step sign-in is on" in account and "10 of 10 recovery codes left" in account
    assert not any(recovery in account for recovery in codes)  # shown once only
    with app.app_context(), db.engine.connect() as connection:
        stored = [row[0] for row in connection.exec_driver_sql("SELECT code_hash FROM recovery_code")]
    assert len(stored) == 10 and not set(codes) & set(stored)  # hashes only
    assert ("two-step sign-in turned on", None) in audit(app)


def test_codes_are_accepted_with_spaces_inside(app, admin_client):
    secret = begin(admin_client)
    typed = code(secret, app)
    response = admin_client.post("/admin/account/two-factor/confirm", data={"code": f" {typed[:3]} {typed[3:]} "})
    assert response.status_code == 200


def test_cancelling_a_setup_forgets_the_secret(app, admin_client):
    begin(admin_client)
    assert admin_client.post("/admin/account/two-factor/cancel").status_code == 303
    assert admin_row(app).totp_secret is None
    assert "Two-step sign-in is off" in text(admin_client.get("/admin/account"))


# --- Signing in with two factors -------------------------------------------------------------

def test_the_password_alone_no_longer_reaches_the_panel(app, enrolled, make_cohort):
    secret, _ = enrolled
    client = password_step(app)
    assert client.get("/admin/").headers["Location"].startswith("/admin/login")
    page = client.get(CODE_PAGE)
    words = text(page)
    assert page.status_code == 200 and "code from your authenticator app" in words
    html = page.get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
    assert "Use a recovery code instead" in words and "<details" in html  # a disclosure, no script needed
    response = client.post(CODE_PAGE, data={"code": code(secret, app)})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert [action for action, _ in audit(app)].count("signed in") == 2  # the fixture's, and this one


def test_half_signed_in_opens_no_other_page(app, enrolled, make_cohort):
    client = password_step(app)
    for page in ("/admin/applications", "/admin/account", "/admin/audit", "/admin/"):
        response = client.get(page)
        assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login"), page
    response = client.get("/admin/applications", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert client.post("/admin/account/two-factor/begin").status_code == 302


def test_a_wrong_code_is_refused_kindly_and_can_be_tried_again(app, enrolled):
    secret, _ = enrolled
    client = password_step(app)
    wrong = f"{(int(code(secret, app)) + 1) % 1000000:06d}"
    response = client.post(CODE_PAGE, data={"code": wrong})
    page = text(response)
    assert response.status_code == 422 and "That code did not work" in page and 'aria-invalid="true"' in page
    assert client.post(CODE_PAGE, data={"code": code(secret, app)}).status_code == 303


def test_a_code_from_the_step_before_is_accepted_but_not_older(app, enrolled):
    secret, _ = enrolled
    at(app, minutes=3)
    client = password_step(app)
    assert client.post(CODE_PAGE, data={"code": code(secret, app, steps_ago=2)}).status_code == 422
    assert client.post(CODE_PAGE, data={"code": code(secret, app, steps_ago=1)}).status_code == 303


def test_a_code_is_never_accepted_twice(app, enrolled):
    secret, _ = enrolled
    used = code(secret, app)
    first, second = password_step(app), password_step(app)
    assert first.post(CODE_PAGE, data={"code": used}).status_code == 303
    response = second.post(CODE_PAGE, data={"code": used})
    assert response.status_code == 422 and "already used" in text(response)
    # …nor one older than the last accepted, while it is still within the window.
    at(app, seconds=60)
    assert second.post(CODE_PAGE, data={"code": code(secret, app)}).status_code == 303
    third = password_step(app)
    assert third.post(CODE_PAGE, data={"code": code(secret, app, steps_ago=1)}).status_code == 422


def test_the_next_page_survives_the_second_step(app, enrolled):
    secret, _ = enrolled
    client = password_step(app, next_page="/admin/applications?status=pending")
    response = client.post(CODE_PAGE, data={"code": code(secret, app)})
    assert response.headers["Location"] == "/admin/applications?status=pending"


def test_the_half_signed_in_state_expires_after_five_minutes(app, enrolled):
    secret, _ = enrolled
    client = password_step(app)
    at(app, minutes=6)
    response = client.post(CODE_PAGE, data={"code": code(secret, app)})
    assert response.status_code == 303 and response.headers["Location"].startswith("/admin/login")
    assert "Please sign in again" in text(client.get(response.headers["Location"]))
    assert client.get("/admin/").status_code == 302
    assert client.get(CODE_PAGE).headers["Location"].startswith("/admin/login")


def test_the_code_page_without_a_password_first_goes_to_sign_in(client, make_admin):
    make_admin()
    assert client.get(CODE_PAGE).headers["Location"].startswith("/admin/login")
    response = client.post(CODE_PAGE, data={"code": "123456"})
    assert response.status_code == 303 and response.headers["Location"].startswith("/admin/login")


def test_a_recovery_code_works_once_and_the_count_drops(app, enrolled, admin_client):
    _, codes = enrolled
    client = password_step(app)
    page = client.post(CODE_PAGE, data={"recovery_code": codes[0].upper().replace("-", " ")})
    assert page.status_code == 303 and client.get("/admin/").status_code == 200
    assert ("recovery code used", "9 left") in audit(app)
    assert "9 of 10 recovery codes left" in text(client.get("/admin/account"))
    again = password_step(app)
    response = again.post(CODE_PAGE, data={"recovery_code": codes[0]})
    assert response.status_code == 422 and "did not work" in text(response)
    assert "<details open" in response.get_data(as_text=True)  # the recovery field stays open
    assert again.post(CODE_PAGE, data={"recovery_code": codes[1]}).status_code == 303


def test_a_recovery_code_typed_into_the_code_box_works_too(app, enrolled):
    _, codes = enrolled
    client = password_step(app)
    assert client.post(CODE_PAGE, data={"code": codes[3]}).status_code == 303


def test_no_secret_or_code_is_written_to_the_audit_log(app, enrolled):
    secret, codes = enrolled
    client = password_step(app)
    client.post(CODE_PAGE, data={"recovery_code": codes[0]})
    for _, detail in audit(app):
        assert not detail or (secret not in detail and not any(c in detail for c in codes))


class TestWithTheLimitsOn:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True}

    def test_wrong_codes_count_against_the_accounts_sign_in_limit(self, app, make_admin):
        make_admin()
        with app.app_context():
            from resilience import two_factor
            from resilience.models import Admin
            admin = db.session.scalar(sa.select(Admin))
            secret = two_factor.begin(admin)
            assert len(two_factor.confirm(admin, pyotp.TOTP(secret).at(NOW))) == 10
        at(app, seconds=30)
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = "10.0.0.1"
        assert sign_in(client).status_code == 303  # the password: one try of the account's twenty
        for n in range(19):
            client.environ_base["REMOTE_ADDR"] = f"10.0.1.{n}"  # from many addresses: the account's limit
            assert client.post(CODE_PAGE, data={"code": "000000"}).status_code == 422, n
        client.environ_base["REMOTE_ADDR"] = "10.0.2.1"
        response = client.post(CODE_PAGE, data={"code": pyotp.TOTP(secret).at(app.config["NOW"])})
        assert response.status_code == 429
        assert "too many sign-in attempts for this account" in text(response)
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = "10.0.3.1"
        assert sign_in(other).status_code == 429  # the password step shares the budget

    def test_codes_from_one_connection_are_slowed_down_too(self, app, make_admin):
        make_admin()
        with app.app_context():
            from resilience import two_factor
            from resilience.models import Admin
            admin = db.session.scalar(sa.select(Admin))
            two_factor.confirm(admin, pyotp.TOTP(two_factor.begin(admin)).at(NOW))
        at(app, seconds=30)
        client = app.test_client()
        assert sign_in(client).status_code == 303
        for _ in range(10):
            assert client.post(CODE_PAGE, data={"code": "000000"}).status_code == 422
        response = client.post(CODE_PAGE, data={"code": "000000"})
        assert response.status_code == 429 and "Too many sign-in attempts came from your connection" in text(response)


# --- RESILIENCE_REQUIRE_2FA -------------------------------------------------------------------

@pytest.mark.parametrize("value, required", [
    (True, True), ("true", True), ("True", True), (" TRUE ", True), (1, True), ("1", True), ("yes", True),
    ("on", True), (False, False), ("false", False), ("0", False), (0, False), ("", False), (None, False),
    ("no", False), ("off", False)])
def test_the_setting_is_read_robustly(value, required):
    from resilience import two_factor

    assert two_factor.required({"REQUIRE_2FA": value}) is required
    assert two_factor.required({}) is False


def test_when_required_a_clinician_without_it_must_set_it_up_first(app, make_admin, make_cohort):
    app.config["REQUIRE_2FA"] = True
    make_admin()
    client = app.test_client()
    assert sign_in(client).status_code == 303
    for page in ("/admin/", "/admin/applications", "/admin/account", "/admin/audit"):
        response = client.get(page)
        assert response.status_code == 303 and response.headers["Location"] == SETUP_PAGE, page
    response = client.get("/admin/applications", headers={"HX-Request": "true"})
    assert response.headers.get("HX-Redirect") == SETUP_PAGE
    assert client.post("/admin/account/sign-out-others").headers["Location"] == SETUP_PAGE
    page = text(client.get(SETUP_PAGE))
    assert "The practice asks every clinician to use two-step sign-in" in page
    html = client.get(SETUP_PAGE).get_data(as_text=True)
    assert 'href="/admin/applications"' not in html and "Sign out" in page  # only setting up, or signing out
    secret = begin(client)
    assert client.post("/admin/account/two-factor/confirm", data={"code": code(secret, app)}).status_code == 200
    assert client.get("/admin/applications").status_code == 200


def test_when_required_signing_out_still_works(app, make_admin):
    app.config["REQUIRE_2FA"] = "true"
    make_admin()
    client = app.test_client()
    sign_in(client)
    response = client.post("/admin/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/login"
    assert client.get("/admin/").headers["Location"].startswith("/admin/login")


def test_turning_it_off_asks_for_a_code_or_the_password(app, enrolled, admin_client):
    response = admin_client.post("/admin/account/two-factor/turn-off", data={"proof": "not it"})
    assert response.status_code == 422 and "did not match" in text(response)
    assert admin_row(app).two_factor_on
    response = admin_client.post("/admin/account/two-factor/turn-off", data={"proof": ADMIN_PASSWORD})
    assert response.status_code == 303
    assert "Two-step sign-in is off" in text(admin_client.get(response.headers["Location"]))
    row = admin_row(app)
    assert not row.two_factor_on and row.totp_secret is None
    assert ("two-step sign-in turned off", None) in audit(app)
    assert sign_in(app.test_client()).headers["Location"] == "/admin/"


def test_turning_it_off_with_a_code(app, enrolled, admin_client):
    secret, _ = enrolled
    response = admin_client.post("/admin/account/two-factor/turn-off", data={"proof": code(secret, app)})
    assert response.status_code == 303 and not admin_row(app).two_factor_on


def test_turning_it_off_is_refused_when_required(app, enrolled, admin_client):
    app.config["REQUIRE_2FA"] = True
    page = text(admin_client.get("/admin/account"))
    assert "The practice requires two-step sign-in" in page
    response = admin_client.post("/admin/account/two-factor/turn-off", data={"proof": ADMIN_PASSWORD})
    assert response.status_code == 422
    assert "The practice requires two-step sign-in, so it cannot be turned off" in text(response)
    assert admin_row(app).two_factor_on


def test_new_recovery_codes_replace_the_old_ones(app, enrolled, admin_client):
    _, old = enrolled
    response = admin_client.post("/admin/account/two-factor/recovery-codes", data={"proof": "wrong"})
    assert response.status_code == 422 and "did not match" in text(response)
    response = admin_client.post("/admin/account/two-factor/recovery-codes", data={"proof": ADMIN_PASSWORD})
    new = recovery_codes(response.get_data(as_text=True))
    assert response.status_code == 200 and len(new) == 10 and not set(new) & set(old)
    assert ("recovery codes renewed", None) in audit(app)
    client = password_step(app)
    assert client.post(CODE_PAGE, data={"recovery_code": old[0]}).status_code == 422
    assert client.post(CODE_PAGE, data={"recovery_code": new[0]}).status_code == 303


# --- The operator's reset -----------------------------------------------------------------------

def test_reset_2fa_clears_it_and_ends_the_clinicians_sessions(app, enrolled, admin_client, runner):
    result = runner.invoke(args=["reset-2fa", "ANA@practice.example"])
    assert result.exit_code == 0, result.output
    assert "Two-step sign-in is off for ana@practice.example" in result.output
    assert "1 session ended" in result.output
    row = admin_row(app)
    assert not row.two_factor_on and row.totp_secret is None and row.totp_last_step is None
    with app.app_context():
        assert db.session.execute(sa.text("SELECT COUNT(*) FROM recovery_code")).scalar() == 0
    assert admin_client.get("/admin/").headers["Location"].startswith("/admin/login")
    assert ("two-step sign-in reset", "by the operator (reset-2fa); 1 session ended") in audit(app)
    assert sign_in(app.test_client()).headers["Location"] == "/admin/"  # the password alone, until set up again


def test_reset_2fa_for_an_unknown_address_says_so(runner, make_admin):
    make_admin()
    result = runner.invoke(args=["reset-2fa", "nobody@practice.example"])
    assert result.exit_code != 0 and "No clinician's account for nobody@practice.example" in result.output


# --- Upgrading -------------------------------------------------------------------------------------

def test_after_the_upgrade_clinicians_sign_in_with_just_their_password(bare_app):
    from werkzeug.security import generate_password_hash

    runner = bare_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0007"]).exit_code == 0
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO admin (id, email, display_name, password_hash, active, created_at) "
            "VALUES (1, 'ana@practice.example', 'Dr. Ana Reyes', :hash, :active, :at)"),
            {"hash": generate_password_hash(ADMIN_PASSWORD, method="pbkdf2:sha256:1"), "active": True,
             "at": NOW.replace(tzinfo=None)})
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    client = bare_app.test_client()
    assert sign_in(client).headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert "Two-step sign-in is off" in text(client.get("/admin/account"))


def test_after_rotating_the_data_key_the_app_codes_still_work(app, enrolled, runner):
    """The secret is sealed like the answers, so rotate-key reseals it with the rest."""
    from cryptography.fernet import Fernet

    secret, _ = enrolled
    old_key = app.config["DATA_KEY"]
    app.config["DATA_KEY"] = f"{Fernet.generate_key().decode()},{old_key}"
    output = runner.invoke(args=["rotate-key"]).output
    assert "admin.totp_secret: 1 re-encrypted" in output
    app.config["DATA_KEY"] = app.config["DATA_KEY"].split(",")[0]  # the new key alone
    client = password_step(app)
    assert client.post(CODE_PAGE, data={"code": code(secret, app)}).status_code == 303


def test_a_disabled_account_cannot_finish_signing_in(app, enrolled):
    from resilience.models import Admin

    secret, _ = enrolled
    client = password_step(app)
    with app.app_context():
        db.session.scalar(sa.select(Admin)).active = False
        db.session.commit()
    response = client.post(CODE_PAGE, data={"code": code(secret, app)})
    assert response.status_code == 303 and response.headers["Location"].startswith("/admin/login")
    assert "took longer" not in text(client.get(response.headers["Location"]))
    assert client.get("/admin/").headers["Location"].startswith("/admin/login")
