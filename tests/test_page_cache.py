"""Fast pages that are never stale: the program page, the seats fragment and the blog badge
are served again (ETag, 304) until what they show changes, on every worker and every host;
pages and static files are compressed; static files carry a hash of their contents in their
names and are kept by browsers for a year."""
import gzip
import re
from datetime import timedelta

import brotli
import pytest
import sqlalchemy as sa
from conftest import NOW, sign_in
from test_admin_decisions import decide

from resilience import create_app
from resilience.extensions import db
from resilience.models import Application, Cohort, Meeting

HX = {"HX-Request": "true"}


def seats_line(response) -> str:
    return re.search(r"\d+ of \d+ seats open|all seats taken[^<]*|No seats[^<]*",
                     response.get_data(as_text=True))[0]


def poll(client, slug, etag=None):
    headers = {**HX, **({"If-None-Match": etag} if etag else {})}
    return client.get(f"/cohorts/{slug}/availability", headers=headers)


# --- ETag and 304 -----------------------------------------------------------------------------

def test_a_polling_tab_that_has_the_seats_gets_a_304(client, make_cohort):
    slug = make_cohort()
    first = poll(client, slug)
    assert first.status_code == 200 and first.headers["ETag"].startswith('W/"')
    assert first.headers["Cache-Control"] == "no-cache"
    assert {"HX-Request", "Accept-Encoding"} <= set(first.vary) and "Cookie" not in first.vary
    assert "Set-Cookie" not in first.headers
    again = poll(client, slug, first.headers["ETag"])
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == first.headers["ETag"]


def test_a_seat_taken_shows_on_the_next_poll(app, client, admin_client, make_cohort, make_application):
    slug = make_cohort()
    application_id = make_application(slug)
    first = poll(client, slug)
    assert seats_line(first) == "6 of 6 seats open"
    assert decide(admin_client, application_id, "accepted").status_code in (200, 303)
    after = poll(client, slug, first.headers["ETag"])
    assert after.status_code == 200 and seats_line(after) == "5 of 6 seats open"
    assert after.headers["ETag"] != first.headers["ETag"]


def test_an_application_that_holds_no_seat_leaves_the_page_as_it_was(app, client, make_cohort, form_data):
    slug = make_cohort()
    assert client.post("/apply", data=form_data(slug, email="first@example.org")).status_code == 303
    first = poll(client, slug)
    assert client.post("/apply", data=form_data(slug)).status_code == 303  # pending: no seat taken
    assert poll(client, slug, first.headers["ETag"]).status_code == 304


def test_the_program_page_follows_cohorts_meetings_and_site_texts(app, client, admin_client, make_cohort):
    slug = make_cohort()
    first = client.get("/")
    assert first.status_code == 200 and "Cookie" in first.vary
    etag = first.headers["ETag"]
    assert client.get("/", headers={"If-None-Match": etag}).status_code == 304

    with app.app_context():  # a clinician moves the first meeting an hour later
        meeting = db.session.scalar(sa.select(Meeting).join(Cohort).where(Cohort.slug == slug)
                                    .order_by(Meeting.starts_at).limit(1))
        meeting.starts_at += timedelta(hours=1)
        meeting.ends_at += timedelta(hours=1)
        db.session.commit()
    changed = client.get("/", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "7:00 – 9:00 pm" in changed.get_data(as_text=True)
    assert "7:00 – 9:00 pm" not in first.get_data(as_text=True)

    etag = changed.headers["ETag"]
    assert admin_client.post("/admin/content/program.intro",
                             data={"body": "A calmer way through hard times.", "action": "save"}).status_code == 303
    changed = client.get("/", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "A calmer way through hard times." in changed.get_data(as_text=True)

    etag = changed.headers["ETag"]
    with app.app_context():
        db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug)).title = "The spring circle"
        db.session.commit()
    changed = client.get("/", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "The spring circle" in changed.get_data(as_text=True)


def test_a_change_rolled_back_leaves_the_number_as_it_was(app, make_cohort):
    from resilience import page_cache

    slug = make_cohort()
    with app.app_context():
        before = page_cache.current_version()
        db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug)).capacity = 4
        db.session.flush()
        db.session.rollback()
        assert page_cache.current_version() == before


def test_a_change_after_a_savepoint_rolled_back_still_raises_the_number(app, client, make_cohort, make_application):
    """A savepoint that raised the number and was rolled back took the raise with it: a later
    change in the same transaction raises it again, so the seat it takes shows."""
    slug = make_cohort()
    application_id = make_application(slug)
    first = poll(client, slug)
    with app.app_context():
        savepoint = db.session.begin_nested()
        db.session.get(Application, application_id).status = "declined"
        db.session.flush()
        savepoint.rollback()
        db.session.get(Application, application_id).status = "enrolled"
        db.session.commit()
    assert poll(client, slug, first.headers["ETag"]).status_code == 200


def ola(cohort_id) -> dict:
    """An application's columns, for a plain INSERT."""
    return {"cohort_id": cohort_id, "token": "t" * 43, "first_name": "Ola", "last_name": "Berg",
            "email": "ola@example.org", "email_key": "ola@example.org", "phone": "555 010 1000",
            "home_area": "Portland, ME", "answers": {}, "consented_at": NOW, "health_consent_at": NOW,
            "created_at": NOW, "status_changed_at": NOW}


@pytest.mark.parametrize("change", ["update cohorts", "update seats", "delete meetings", "insert seats",
                                    "update cohorts, on the table", "update seats, on the table",
                                    "insert seats, on the table"])
def test_a_change_made_in_one_statement_raises_the_number_too(app, client, make_cohort, make_application, change):
    """INSERT, UPDATE and DELETE statements (no rows loaded, no flush) are followed as well,
    whether written for the model or for its table."""
    slug = make_cohort()
    application_id = make_application(slug)
    first = poll(client, slug)
    with app.app_context():
        enrolled = {**ola(sa.select(Cohort.id).where(Cohort.slug == slug).scalar_subquery()), "status": "enrolled",
                    "accepted_at": NOW}
        statement = {
            "update cohorts": sa.update(Cohort).where(Cohort.slug == slug).values(capacity=5),
            "update seats": sa.update(Application).where(Application.id == application_id).values(status="enrolled"),
            "delete meetings": sa.delete(Meeting).where(Meeting.sequence == 10),
            "insert seats": sa.insert(Application).values(**enrolled),
            "update cohorts, on the table": sa.update(Cohort.__table__).where(Cohort.slug == slug).values(capacity=5),
            "update seats, on the table": sa.update(Application.__table__).where(Application.id == application_id)
                                            .values(status="enrolled"),
            "insert seats, on the table": sa.insert(Application.__table__).values(**enrolled),
        }[change]
        db.session.execute(statement, execution_options={"synchronize_session": False})
        db.session.commit()
    assert poll(client, slug, first.headers["ETag"]).status_code == 200


def test_a_pending_application_stored_in_one_statement_is_counted_and_leaves_the_seats_as_they_were(
        app, client, make_cohort):
    """The dashboard's counts follow it; the seats, which it does not take, keep their ETag."""
    from resilience.models import PageVersion

    slug = make_cohort()
    first = poll(client, slug)
    with app.app_context():
        counted = db.session.scalar(sa.select(PageVersion.applications))
        db.session.execute(sa.insert(Application.__table__),
                           {**ola(db.session.scalar(sa.select(Cohort.id).where(Cohort.slug == slug))), "status": "pending"})
        db.session.commit()
        assert db.session.scalar(sa.select(PageVersion.applications)) == counted + 1
    assert poll(client, slug, first.headers["ETag"]).status_code == 304


def test_a_deadline_passing_shows_without_any_change_stored(app, client, make_cohort):
    slug = make_cohort(application_deadline=NOW.date())
    first = poll(client, slug)
    assert "Apply" in first.get_data(as_text=True)
    app.config["NOW"] = NOW + timedelta(days=1)  # the next day: the deadline has passed
    later = poll(client, slug, first.headers["ETag"])
    assert later.status_code == 200 and later.get_data() != first.get_data()


def test_a_seat_taken_through_one_host_shows_on_the_other(app, app_config, make_cohort, make_application, make_admin,
                                                          tmp_path, monkeypatch):
    """Two app servers on one database (as behind a load balancer): same ETags, and a seat taken
    through either is seen by both on the next poll."""
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path / "other-host"))
    other = create_app(app_config)
    slug = make_cohort()
    application_id = make_application(slug)
    make_admin()
    here, there = app.test_client(), other.test_client()
    first = poll(here, slug)
    assert poll(there, slug, first.headers["ETag"]).status_code == 304  # the same page, the same ETag
    poll(there, slug)  # the other host has it kept too
    assert sign_in(there).status_code == 303
    assert decide(there, application_id, "accepted").status_code in (200, 303)
    assert seats_line(poll(here, slug, first.headers["ETag"])) == "5 of 6 seats open"
    with other.app_context():
        db.engine.dispose()


def test_a_message_kept_for_this_browser_is_shown_not_a_kept_page(app, client, make_cohort):
    make_cohort()
    client.get("/")  # kept
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "You have signed out.")]
    assert "You have signed out." in client.get("/").get_data(as_text=True)


# --- Compression --------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, decode", [("br", brotli.decompress), ("gzip", gzip.decompress)])
def test_public_pages_are_compressed_for_browsers_that_accept_it(client, make_cohort, encoding, decode):
    slug = make_cohort()
    plain = client.get("/").get_data()
    for path in ("/", "/practice", f"/cohorts/{slug}/availability"):
        response = client.get(path, headers={"Accept-Encoding": f"{encoding}, deflate"})
        assert response.headers["Content-Encoding"] == encoding, path
        assert "Accept-Encoding" in response.vary
        body = decode(response.get_data())
        assert b"</html>" in body and len(response.get_data()) < len(body) / 2
    assert decode(client.get("/", headers={"Accept-Encoding": encoding}).get_data()) == plain
    assert "Content-Encoding" not in client.get("/").headers  # a client that accepts none gets it as it is


def test_private_pages_are_never_compressed(app, client, admin_client, make_cohort, make_application):
    """A page holding what a person wrote, or a secret, is not compressed (BREACH)."""
    slug = make_cohort()
    application_id = make_application(slug)
    with app.app_context():
        token = db.session.get(Application, application_id).token
    for who, path in ((client, f"/status/{token}"), (admin_client, f"/admin/applications/{application_id}"),
                      (admin_client, "/admin/"), (client, f"/apply?cohort={slug}")):
        response = who.get(path, headers={"Accept-Encoding": "br, gzip"})
        assert response.status_code == 200 and "Content-Encoding" not in response.headers, path


def test_a_page_carrying_a_form_token_is_never_compressed_even_if_it_forgets_no_store(app_config, tmp_path,
                                                                                     monkeypatch):
    """Whatever a future public page says about caching, one that carries a CSRF token beside
    other words is sent as it is."""
    from flask import render_template_string

    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path / "other"))
    site = create_app(app_config)
    site.add_url_rule("/a-new-form", "a_new_form",
                      lambda: render_template_string("<p>Sign up</p>" * 200 + "{{ csrf_token() }}"))
    response = site.test_client().get("/a-new-form", headers={"Accept-Encoding": "br, gzip"})
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    with site.app_context():
        db.engine.dispose()


# --- Static files -------------------------------------------------------------------------------

def test_static_files_have_hashed_names_kept_a_year(client):
    page = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page)[1]
    js = re.search(r'src="(/static/js/htmx\.min\.[0-9a-f]{12}\.js)"', page)[1]
    for path in (css, js):
        response = client.get(path, headers={"Accept-Encoding": "br"})
        assert response.status_code == 200 and response.headers["Content-Encoding"] == "br"
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert client.get(path, headers={"If-None-Match": response.headers["ETag"],
                                         "Accept-Encoding": "br"}).status_code == 304
    assert brotli.decompress(client.get(css, headers={"Accept-Encoding": "br"}).get_data()) == (
        client.get("/static/css/site.css").get_data())


def test_a_plain_or_outdated_static_name_still_works_and_is_asked_about_again(client):
    for path in ("/static/css/site.css", "/static/css/site.0123456789ab.css"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-cache", path
        assert b"{" in response.get_data()


@pytest.mark.parametrize("path", ["/static/../resilience/__init__.py", "/static/%2e%2e/pyproject.toml",
                                  "/static/css/nothing.css", "/static/css/nothing.0123456789ab.css",
                                  "/static/", "/static/css"])
def test_no_file_outside_static_and_no_missing_file_is_served(client, path):
    assert client.get(path).status_code == 404


def test_the_program_page_with_its_files_is_under_50_kb_on_the_wire(client, make_cohort):
    for _ in range(3):
        make_cohort()
    accept = {"Accept-Encoding": "br, gzip"}
    page = client.get("/", headers=accept)
    html = brotli.decompress(page.get_data()).decode()
    assets = set(re.findall(r'(?:href|src)="(/static/[^"]+)"', html))
    sizes = [len(page.get_data())] + [len(client.get(path, headers=accept).get_data()) for path in assets]
    assert assets and sum(sizes) < 50_000, sizes
    assert not re.search(r'(?:href|src)="https?://', html)  # nothing from another site


def test_each_page_of_all_cohorts_is_kept_apart(client, make_cohort):
    for n in range(12):
        make_cohort(title=f"Cohort number {n:02d}", starts_on=NOW.date() + timedelta(days=30 + 7 * n))
    first, second = client.get("/cohorts").get_data(as_text=True), client.get("/cohorts?page=2").get_data(as_text=True)
    assert "Cohort number 00" in first and "Cohort number 00" not in second
    assert "Cohort number 11" in second and "Cohort number 11" not in first


# --- Answered before the site opens a request ----------------------------------------------------

@pytest.fixture
def requests_opened(app):
    """How many requests reached the site's own request handling (its before-request hooks)."""
    opened = []
    app.before_request(lambda: opened.append(1))
    return opened


def test_a_page_served_again_is_answered_without_opening_a_request(client, make_cohort, requests_opened):
    slug = make_cohort()
    first = poll(client, slug)
    assert len(requests_opened) == 1
    again = poll(client, slug)
    assert len(requests_opened) == 1  # answered from what was kept
    assert again.get_data() == first.get_data()
    assert sorted(again.headers.items()) == sorted(first.headers.items())  # security headers, ETag, Vary
    not_modified = poll(client, slug, first.headers["ETag"])
    assert not_modified.status_code == 304 and not_modified.get_data() == b""
    assert not_modified.headers["ETag"] == first.headers["ETag"] and "Content-Length" not in not_modified.headers
    assert len(requests_opened) == 1


def test_a_kept_answer_follows_the_number_and_the_clock(app, requests_opened, client, admin_client, make_cohort,
                                                         make_application):
    slug = make_cohort(application_deadline=NOW.date())
    application_id = make_application(slug)
    first = poll(client, slug)
    assert decide(admin_client, application_id, "accepted").status_code in (200, 303)
    assert seats_line(poll(client, slug)) == "5 of 6 seats open"
    kept = poll(client, slug)
    app.config["NOW"] = NOW + timedelta(days=1)  # the deadline passes
    later = poll(client, slug)
    assert later.get_data() != kept.get_data() and later.headers["ETag"] != first.headers["ETag"]


@pytest.mark.parametrize("encoding, decode", [("br", brotli.decompress), ("gzip", gzip.decompress)])
def test_each_encoding_is_kept_apart(client, make_cohort, encoding, decode, requests_opened):
    make_cohort()
    plain = client.get("/").get_data()
    for _ in range(2):
        packed = client.get("/", headers={"Accept-Encoding": encoding})
        assert packed.headers["Content-Encoding"] == encoding and decode(packed.get_data()) == plain
    assert client.get("/").get_data() == plain
    assert len(requests_opened) == 2  # once plain, once packed; the rest from what was kept


def test_a_browser_with_a_session_is_always_answered_by_the_site(client, make_cohort, requests_opened):
    make_cohort()
    client.get("/")
    with client.session_transaction() as session:
        session["seen"] = True
    client.get("/")
    client.get("/")
    assert len(requests_opened) == 3


def test_a_boosted_request_never_puts_a_whole_page_in_place_of_the_seats(client, make_cohort):
    """htmx asks a boosted link for the whole page; a poll asks for the fragment: never swapped."""
    slug = make_cohort()
    whole = client.get(f"/cohorts/{slug}/availability", headers={**HX, "HX-Boosted": "true"})
    assert "<html" in whole.get_data(as_text=True)
    for _ in range(2):
        assert "<html" not in poll(client, slug).get_data(as_text=True)


def test_messages_kept_for_one_browser_are_never_shown_to_another(client, app, make_cohort):
    make_cohort()
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Message sent to Dana.")]
    mine = client.get("/", headers=HX)  # an htmx request for the whole page, from this browser
    assert "Message sent to Dana." in mine.get_data(as_text=True)
    other = app.test_client()
    with other.session_transaction() as session:
        session["seen"] = True
    for headers in (HX, {}):
        assert "Message sent to Dana." not in other.get("/", headers=headers).get_data(as_text=True)


def test_a_changed_setting_changes_the_etag(app, app_config, make_cohort, tmp_path, monkeypatch):
    """The pages show settings (the crisis line, the contact address): a restart with new ones
    never answers 304 for a page showing the old."""
    slug = make_cohort()
    etag = poll(app.test_client(), slug).headers["ETag"]
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path / "restarted"))
    restarted = create_app({**app_config, "CRISIS_LINE": "Call or text 988, any time"})
    assert poll(restarted.test_client(), slug, etag).status_code == 200
    with restarted.app_context():
        db.engine.dispose()


def test_without_the_number_the_site_renders_the_page_itself(app, client, make_cohort):
    slug = make_cohort()
    assert poll(client, slug).status_code == 200
    with app.app_context():
        db.session.execute(sa.text("DELETE FROM page_version"))
        db.session.commit()
    again = poll(client, slug)
    assert again.status_code == 200 and seats_line(again) == "6 of 6 seats open"


def test_tabs_that_already_have_the_page_cost_nothing_after_a_restart_too(app, app_config, make_cohort, tmp_path,
                                                                          monkeypatch):
    """After a restart or a release, every open tab polls with the ETag it has: from its second
    poll on, they are answered before a request is opened."""
    slug = make_cohort()
    etag = poll(app.test_client(), slug).headers["ETag"]
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path / "restarted"))
    restarted = create_app(app_config)
    opened = []
    restarted.before_request(lambda: opened.append(1))
    tab = restarted.test_client()
    assert poll(tab, slug, etag).status_code == 304
    before = len(opened)
    for _ in range(3):
        assert poll(tab, slug, etag).status_code == 304
    assert len(opened) == before
    with restarted.app_context():
        db.engine.dispose()


def test_hosts_set_up_from_the_environment_share_their_etags(tmp_path, monkeypatch):
    """Each host keeps its own instance folder (RESILIENCE_INSTANCE_PATH): that is no reason
    for a tab moving between hosts to download the page again."""
    monkeypatch.setenv("RESILIENCE_SECRET_KEY", "shared secret key")
    monkeypatch.setenv("RESILIENCE_DATA_KEY", "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA=")
    monkeypatch.setenv("RESILIENCE_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'shared.sqlite3'}")
    marks = []
    for host in ("host-1", "host-2"):
        monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path / host))
        site = create_app()
        marks.append(site.extensions["release"])
        with site.app_context():
            db.engine.dispose()
    assert marks[0] == marks[1]
    monkeypatch.setenv("RESILIENCE_CRISIS_LINE", "Call or text 988")
    assert create_app().extensions["release"] != marks[0]


@pytest.mark.parametrize("headers", [{"If-None-Match": 'W/"unclosed'}, {"If-None-Match": "*, ,,\"\"\x7f"},
                                     {"Accept-Encoding": "br;q=abc, gzip;q=-1, *;q=2"}, {"HX-Request": "\x00"}])
def test_odd_headers_on_a_kept_page_never_make_an_error(client, make_cohort, headers):
    slug = make_cohort()
    for _ in range(2):  # the site's answer, then the kept one
        assert client.get(f"/cohorts/{slug}/availability", headers={**HX, **headers}).status_code in (200, 304)
