"""Clinicians' sessions kept on the server: signing out ends a session wherever its cookie
was copied; idle and absolute lifetimes are enforced by the server; a clinician sees where
they are signed in and can sign out everywhere else. And the per-account sign-in limit
counts every spelling of one address against one budget."""
import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import ADMIN_PASSWORD, NOW, sign_in

from resilience.extensions import db

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_ON_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
                    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")


def records(app) -> list:
    """Every session record, oldest first (detached, for reading)."""
    from resilience.models import AdminSession

    with app.app_context():
        rows = db.session.scalars(sa.select(AdminSession).order_by(AdminSession.id)).all()
        db.session.expunge_all()
        return rows


def browser(app, user_agent=FIREFOX, address="192.0.2.10"):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": user_agent, "REMOTE_ADDR": address})
    return client


def copy_of(app, client, address="198.51.100.66"):
    """Another browser, elsewhere, holding a copy of this browser's session cookie."""
    other = browser(app, user_agent="curl/8.5.0", address=address)
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def at(app, **delta):
    app.config["NOW"] = NOW + timedelta(**delta)


def refused(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def login_page(client) -> str:
    return client.get("/admin/login").get_data(as_text=True)


# --- Signing out ends the session everywhere ------------------------------------------------

def test_a_cookie_copied_before_sign_out_is_refused_after_it(app, make_admin, make_cohort):
    make_admin()
    make_cohort()
    laptop = browser(app)
    sign_in(laptop)
    copy = copy_of(app, laptop)
    assert copy.get("/admin/applications").status_code == 200  # a copied cookie works while signed in
    laptop.post("/admin/logout")
    assert refused(copy.get("/admin/applications"))
    assert refused(copy.get("/admin/"))
    response = copy.get("/admin/applications", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/admin/login")
    [record] = records(app)
    assert record.ended_reason == "signed out" and record.ended_at == NOW


def test_a_copied_cookie_cannot_be_kept_alive_past_the_absolute_lifetime_by_polling(app, admin_client):
    copy = copy_of(app, admin_client)
    for minutes in range(30, 12 * 60 + 1, 30):  # busy every half hour: never idle
        at(app, minutes=minutes)
        assert copy.get("/admin/applications").status_code == 200, minutes
    at(app, hours=12, minutes=1)
    assert refused(copy.get("/admin/applications"))
    assert refused(admin_client.get("/admin/"))  # the same session: ended for the original too
    assert "You were signed out because a session lasts at most 12 hours." in login_page(admin_client)
    assert records(app)[0].ended_reason == "expired"


def test_the_absolute_lifetime_is_a_setting(app, admin_client):
    app.config["SESSION_MAX_HOURS"] = 2
    for minutes in (50, 100, 120):
        at(app, minutes=minutes)
        assert admin_client.get("/admin/").status_code == 200
    at(app, minutes=121)
    assert refused(admin_client.get("/admin/"))
    assert "a session lasts at most 2 hours" in login_page(admin_client)


def test_idle_time_is_counted_on_the_server(app, admin_client):
    copy = copy_of(app, admin_client)
    at(app, minutes=59)
    assert copy.get("/admin/").status_code == 200
    at(app, minutes=59 + 61)
    assert refused(copy.get("/admin/"))
    assert refused(admin_client.get("/admin/"))
    [record] = records(app)
    assert record.ended_reason == "idle" and record.ended_at == NOW + timedelta(minutes=120)
    assert "You were signed out after 60 minutes without activity." in login_page(copy)


def test_activity_is_written_down_at_most_once_a_minute(app, admin_client, make_cohort):
    slug = make_cohort()
    at(app, seconds=30)
    admin_client.get("/admin/")
    assert records(app)[0].last_seen_at == NOW
    at(app, minutes=2)
    admin_client.get("/admin/")
    assert records(app)[0].last_seen_at == NOW + timedelta(minutes=2)
    at(app, minutes=10)
    admin_client.get(f"/cohorts/{slug}/availability", headers={"HX-Request": "true"})  # a public page
    admin_client.get("/")
    assert records(app)[0].last_seen_at == NOW + timedelta(minutes=2)


def test_signing_in_records_the_browser_and_address_and_keeps_only_a_hash_of_the_key(app, make_admin):
    make_admin()
    laptop = browser(app, user_agent="X" * 500)
    sign_in(laptop)
    [record] = records(app)
    assert record.user_agent == "X" * 200 and record.ip_address == "192.0.2.10"
    assert record.created_at == record.last_seen_at == NOW and record.ended_at is None
    cookie = app.session_interface.get_signing_serializer(app).loads(laptop.get_cookie("session").value)
    key = cookie["admin_session"]
    assert record.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in record.key_hash


def test_signing_in_again_in_the_same_browser_ends_the_session_it_had(app, admin_client):
    at(app, minutes=5)
    assert sign_in(admin_client).status_code == 303
    first, second = records(app)
    assert first.ended_reason == "signed out" and second.ended_at is None
    assert admin_client.get("/admin/").status_code == 200


def test_a_session_from_before_server_records_must_sign_in_again(app, admin_client):
    """A cookie signed in by the release before this one carries no session key."""
    with admin_client.session_transaction() as session:
        for name in [name for name in session if name.startswith("admin_session")]:
            del session[name]
    assert refused(admin_client.get("/admin/"))


def test_a_disabled_clinician_is_signed_out_and_their_sessions_end(app, admin_client):
    from resilience.models import Admin

    copy = copy_of(app, admin_client)
    with app.app_context():
        db.session.scalar(sa.select(Admin)).active = False
        db.session.commit()
    assert refused(copy.get("/admin/"))
    assert refused(admin_client.get("/admin/"))
    assert records(app)[0].ended_reason == "account disabled"


def test_disabling_ends_every_session_at_once(app, admin_client, make_admin):
    from resilience import admin_sessions
    from resilience.models import Admin

    ben = browser(app)
    make_admin(email="ben@practice.example", name="Dr. Ben Okoro")
    sign_in(ben, "ben@practice.example")
    with app.app_context():
        ana = db.session.scalar(sa.select(Admin).where(Admin.email == "ana@practice.example"))
        assert admin_sessions.end_all(ana, admin_sessions.DISABLED) == 1
    ana_record, ben_record = records(app)
    assert ana_record.ended_reason == "account disabled" and ben_record.ended_at is None
    assert refused(admin_client.get("/admin/")) and ben.get("/admin/").status_code == 200


# --- The account page ---------------------------------------------------------------------

def test_the_account_page_needs_a_signed_in_clinician(client, make_admin):
    make_admin()
    assert refused(client.get("/admin/account"))
    assert refused(client.post("/admin/account/sign-out-others"))


def test_the_account_page_lists_where_the_clinician_is_signed_in(app, make_admin):
    make_admin()
    make_admin(email="ben@practice.example", name="Dr. Ben Okoro")
    laptop, phone = browser(app), browser(app, SAFARI_ON_IPHONE, "203.0.113.7")
    sign_in(laptop)
    at(app, minutes=20)
    sign_in(phone)
    sign_in(browser(app), "ben@practice.example")  # someone else's session is not listed
    ended = browser(app, address="203.0.113.99")
    sign_in(ended)
    ended.post("/admin/logout")  # nor an ended one
    at(app, minutes=45)
    html = laptop.get("/admin/account").get_data(as_text=True)
    assert "Your account" in html and "Dr. Ana Reyes" in html and "ana@practice.example" in html
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "Firefox on Windows" in text and "Safari on iPhone" in text
    assert "192.0.2.10" in text and "203.0.113.7" in text and "203.0.113.99" not in text
    assert "Dr. Ben Okoro" not in text
    assert text.count("This browser") == 1
    this_row = next(row for row in re.findall(r"<tr>.*?</tr>", html, re.DOTALL) if "This browser" in row)
    assert "192.0.2.10" in this_row
    assert "Sign out my other sessions" in html
    assert 'href="/admin/account"' in html  # the nav links here


def test_signing_out_the_other_sessions_keeps_this_one(app, make_admin):
    make_admin()
    laptop, phone = browser(app), browser(app, SAFARI_ON_IPHONE, "203.0.113.7")
    sign_in(laptop)
    sign_in(phone)
    copy = copy_of(app, phone)
    response = laptop.post("/admin/account/sign-out-others")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/account"
    html = laptop.get("/admin/account").get_data(as_text=True)
    assert "Signed out of 1 other session." in html and "Safari on iPhone" not in html
    assert laptop.get("/admin/applications").status_code == 200
    assert refused(phone.get("/admin/")) and refused(copy.get("/admin/"))
    assert "You were signed out from another browser." in login_page(phone)
    assert [record.ended_reason for record in records(app)] == [None, "signed out elsewhere"]
    from resilience.admin.exports import action_words

    audit = laptop.get("/admin/audit").get_data(as_text=True)
    assert action_words("signed out other sessions") in audit and "1 session" in audit


def test_signing_out_the_other_sessions_with_htmx_answers_in_place(app, make_admin):
    make_admin()
    laptop, phone = browser(app), browser(app, SAFARI_ON_IPHONE, "203.0.113.7")
    sign_in(laptop)
    sign_in(phone)
    response = laptop.post("/admin/account/sign-out-others", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="sessions"' in html and "Signed out of 1 other session." in html and "Safari on iPhone" not in html
    assert refused(phone.get("/admin/"))


def test_with_no_other_sessions_the_page_says_so(app, admin_client):
    html = admin_client.get("/admin/account").get_data(as_text=True)
    assert "You are signed in only in this browser." in html
    response = admin_client.post("/admin/account/sign-out-others", follow_redirects=True)
    assert "There were no other sessions to sign out." in response.get_data(as_text=True)


class TestWithCSRF:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "WTF_CSRF_ENABLED": True}

    def test_signing_out_the_others_needs_the_token_from_the_page(self, app, make_admin):
        from test_csrf import token_from

        make_admin()
        laptop, phone = browser(app), browser(app, SAFARI_ON_IPHONE, "203.0.113.7")
        for client in (laptop, phone):
            token = token_from(client.get("/admin/login").get_data(as_text=True))
            client.post("/admin/login", data={"email": "ana@practice.example", "password": ADMIN_PASSWORD,
                                              "csrf_token": token})
        assert laptop.post("/admin/account/sign-out-others").status_code == 400
        assert phone.get("/admin/").status_code == 200
        page = laptop.get("/admin/account").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        assert laptop.post("/admin/account/sign-out-others", data={"csrf_token": token}).status_code == 303
        assert refused(phone.get("/admin/"))


    def test_a_form_from_a_copied_cookie_after_sign_out_is_sent_to_sign_in(self, app, make_admin):
        from test_csrf import token_from

        make_admin()
        laptop = browser(app)
        token = token_from(laptop.get("/admin/login").get_data(as_text=True))
        laptop.post("/admin/login", data={"email": "ana@practice.example", "password": ADMIN_PASSWORD,
                                          "csrf_token": token})
        copy = copy_of(app, laptop)
        page = laptop.get("/admin/account").get_data(as_text=True)
        laptop.post("/admin/logout", data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page)[1]})
        assert refused(copy.post("/admin/account/sign-out-others", data={"csrf_token": "stale"}))


# --- Item 2: one budget per account, however the address is typed ------------------------

def test_the_limit_and_the_lookup_read_the_address_the_same_way():
    from resilience.admin.forms import sign_in_email

    assert sign_in_email("  ANA\x01@Practice.Example\x00 ") == "ana@practice.example"
    assert sign_in_email("a\x7fna@practice.example\t") == "ana@practice.example"


VARIANTS = ["ana\x01@practice.example", "ana@practice.example\x00", "\x00ana@practice.example",
            "ANA@Practice.EXAMPLE", "  ana@practice.example\t", "ana\x7f@practice.example"]


class TestOneBudgetPerAccount:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True}

    @staticmethod
    def guess(app, email, n, password="guess"):
        return sign_in(browser(app, address=f"10.9.{n // 200}.{n % 200}"), email, password)

    @pytest.mark.parametrize("variant", VARIANTS, ids=repr)
    def test_each_spelling_of_the_address_counts_against_the_same_budget(self, app, make_admin, variant):
        make_admin()
        for n in range(19):
            assert self.guess(app, "ana@practice.example", n).status_code == 422
        assert self.guess(app, variant, 19).status_code == 422  # the twentieth, spelled differently
        assert self.guess(app, "ana@practice.example", 20, ADMIN_PASSWORD).status_code == 429

    def test_spellings_alone_use_up_the_budget(self, app, make_admin):
        make_admin()
        for n in range(20):
            assert self.guess(app, VARIANTS[n % len(VARIANTS)], n).status_code == 422
        for n, variant in enumerate(VARIANTS, 100):
            assert self.guess(app, variant, n, ADMIN_PASSWORD).status_code == 429
        make_admin(email="ben@practice.example", name="Dr. Ben Okoro")
        assert self.guess(app, "ben@practice.example", 200, ADMIN_PASSWORD).status_code == 303

    def test_the_locked_out_clinician_is_told_what_to_do(self, app, make_admin):
        make_admin()
        for n in range(20):
            self.guess(app, "ana@practice.example", n)
        response = self.guess(app, "ana@practice.example", 50, ADMIN_PASSWORD)
        text = " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())
        assert response.status_code == 429
        assert "Please slow down a little" in text
        assert "signing in to this account is paused" in text
        assert re.search(r"Please try again in about (\d+ minutes|a minute)", text)
        assert "If you did not make these attempts" in text and "tell the person who runs the site" in text
        assert 'name="email"' in response.get_data(as_text=True)  # the form stays, for after the wait

    def test_too_many_tries_from_one_connection_say_so(self, app, make_admin):
        make_admin()
        laptop = browser(app)
        for _ in range(10):
            sign_in(laptop, password="guess")
        response = sign_in(laptop)
        text = " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())
        assert response.status_code == 429
        assert "Too many sign-in attempts came from your connection." in text
        assert "signing in to this account is paused" not in text


class TestBehindAProxy:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "PROXY_COUNT": 1}

    def test_the_address_recorded_is_the_visitors_as_the_limits_see_it(self, app, make_admin):
        make_admin()
        laptop = browser(app, address="10.0.0.2")  # the proxy
        laptop.post("/admin/login", data={"email": "ana@practice.example", "password": ADMIN_PASSWORD},
                    headers={"X-Forwarded-For": "203.0.113.50"})
        assert records(app)[0].ip_address == "203.0.113.50"


def test_ended_sessions_are_forgotten_after_a_while(app, make_admin):
    from resilience import admin_sessions

    make_admin()
    old, current = browser(app), browser(app)
    sign_in(old)
    old.post("/admin/logout")
    at(app, days=100)
    sign_in(current)
    with app.app_context():
        assert admin_sessions.forget_ended(timedelta(days=90)) == 1
    [record] = records(app)
    assert record.ended_at is None and current.get("/admin/").status_code == 200


def test_the_sign_in_page_says_no_one_is_signed_in_in_words(client):
    page = client.get("/admin/login").get_data(as_text=True)
    assert "Not signed in." in page and "Signed in as nobody" not in page
