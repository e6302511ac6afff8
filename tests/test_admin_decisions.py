"""Clinicians' decisions: each one, each refusal, and the hard seat limit under concurrency."""
import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW, applications, sign_in

from resilience.extensions import db
from resilience.models import Application, AuditEvent, OutboxMessage


def get(app, application_id) -> Application:
    with app.app_context():
        application = db.session.get(Application, application_id)
        db.session.expunge(application)
        return application


def audit(app, application_id):
    with app.app_context():
        return [(e.from_status, e.to_status, e.admin.display_name if e.admin else None) for e in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.application_id == application_id, AuditEvent.action == "status")
            .order_by(AuditEvent.id))]


def emails(app, application_id):
    with app.app_context():
        return [m.kind for m in db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.application_id == application_id).order_by(OutboxMessage.id))]


def decide(client, application_id, status, htmx=False, evaluated=True):
    """Press a decision button; an acceptance also ticks "the medical evaluation took place"."""
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"status": status, **({"evaluated": "y"} if evaluated and status == "accepted" else {})}
    return client.post(f"/admin/applications/{application_id}/status", data=data, headers=headers)


@pytest.mark.parametrize("status, label, email, look", [
    ("accepted", "Offered a place", "accepted", "offered"),
    ("waitlisted", "Waitlisted", "waitlisted", "waiting"),
    ("declined", "Declined", "declined", "closed"),
    ("withdrawn", "Withdrawn", "withdrawn", "closed"),
])
def test_each_decision_changes_the_status_audits_it_and_emails_the_applicant(
        app, admin_client, make_cohort, make_application, status, label, email, look):
    slug = make_cohort()
    application_id = make_application(slug, first_name="Maya", last_name="Okafor")
    response = decide(admin_client, application_id, status)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/applications/{application_id}"
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Maya Okafor: {status}. Now {label.lower()}." in page
    assert f'<span class="status-tag status-tag--{look}">{label}</span>' in page

    application = get(app, application_id)
    assert application.status == status and application.status_changed_at == NOW
    assert getattr(application, f"{status}_at") == NOW
    assert audit(app, application_id) == [("pending", status, "Dr. Ana Reyes")]
    assert emails(app, application_id) == [email]


def test_acceptance_gives_the_cohorts_number_of_days_to_confirm(app, admin_client, make_cohort, make_application):
    slug = make_cohort(starts_on=NOW.date() + timedelta(days=45))
    application_id = make_application(slug)
    decide(admin_client, application_id, "accepted")
    assert get(app, application_id).confirm_by_at == NOW + timedelta(days=5)  # the default: five days
    page = admin_client.get(f"/admin/applications/{application_id}").get_data(as_text=True)
    assert "to confirm by Tuesday, December 1, 2026 at 10:00 am EST" in page


def test_confirm_by_is_rounded_up_to_the_hour(app, admin_client, make_cohort, make_application):
    app.config["NOW"] = NOW + timedelta(minutes=7)
    application_id = make_application(make_cohort(starts_on=NOW.date() + timedelta(days=45)))
    decide(admin_client, application_id, "accepted")
    assert get(app, application_id).confirm_by_at == NOW + timedelta(days=5, hours=1)


def test_confirm_by_is_never_after_the_first_meeting(app, admin_client, make_cohort, make_application):
    slug = make_cohort(starts_on=NOW.date() + timedelta(days=3), application_deadline=None)
    application_id = make_application(slug)
    decide(admin_client, application_id, "accepted")
    with app.app_context():
        first = db.session.get(Application, application_id).cohort.meetings[0].starts_at
    assert get(app, application_id).confirm_by_at == first < NOW + timedelta(days=5)


def test_accepting_needs_a_held_conversation_or_the_clinicians_word_on_the_evaluation(
        app, admin_client, make_cohort, make_application):
    application_id = make_application(make_cohort())
    response = decide(admin_client, application_id, "accepted", evaluated=False)
    assert response.status_code == 422  # asked again, with the box to tick
    assert "please confirm that the medical evaluation took place" in response.get_data(as_text=True)
    assert 'name="evaluated"' in response.get_data(as_text=True)
    assert get(app, application_id).status == "pending" and emails(app, application_id) == []
    decide(admin_client, application_id, "accepted")
    assert get(app, application_id).status == "accepted"
    assert audit(app, application_id) == [("pending", "accepted", "Dr. Ana Reyes")]


def test_reopen_goes_back_to_pending_without_emailing(app, admin_client, make_cohort, make_application):
    slug = make_cohort()
    application_id = make_application(slug, status="declined")
    decide(admin_client, application_id, "pending")
    assert get(app, application_id).status == "pending"
    assert emails(app, application_id) == []
    assert audit(app, application_id) == [("declined", "pending", "Dr. Ana Reyes")]


def test_waitlisted_applicant_can_be_accepted_when_a_seat_is_free(app, admin_client, make_cohort, make_application):
    slug = make_cohort()
    application_id = make_application(slug, status="waitlisted")
    decide(admin_client, application_id, "accepted")
    assert get(app, application_id).status == "accepted"


@pytest.mark.parametrize("start, to, message", [
    ("declined", "accepted", "This application is now “Declined”, so it cannot be accepted."),
    ("withdrawn", "pending", "This application is now “Withdrawn”, so it cannot be reopened."),
    ("enrolled", "waitlisted", "This application is now “Enrolled”, so it cannot be waitlisted."),
    ("pending", "pending", "This application is now “Pending review”, so it cannot be reopened."),
    ("lapsed", "declined", "This application is now “Offer lapsed”, so it cannot be declined."),
])
def test_an_illegal_change_is_refused_clearly_and_changes_nothing(
        app, admin_client, make_cohort, make_application, start, to, message):
    slug = make_cohort()
    application_id = make_application(slug, status=start)
    response = decide(admin_client, application_id, to)
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert message in page and "Nothing was changed." in page
    assert get(app, application_id).status == start
    assert audit(app, application_id) == [] and emails(app, application_id) == []


def test_a_full_cohort_refuses_a_seventh_acceptance(app, admin_client, make_cohort, make_application):
    slug = make_cohort(title="Winter 2027 cohort")
    for _ in range(3):
        make_application(slug, status="accepted")
    for _ in range(3):
        make_application(slug, status="enrolled")
    seventh = make_application(slug, status="waitlisted")
    response = decide(admin_client, seventh, "accepted")
    assert response.status_code == 422
    assert "The Winter 2027 cohort is full: all 6 seats are taken. Nothing was changed." in response.get_data(as_text=True)
    assert get(app, seventh).status == "waitlisted"
    assert emails(app, seventh) == []


def test_unknown_decision_is_refused(app, admin_client, make_cohort, make_application):
    application_id = make_application(make_cohort())
    response = decide(admin_client, application_id, "superuser")
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "That decision was not understood. Nothing was changed." in page
    assert get(app, application_id).status == "pending"


def test_decision_on_a_missing_application_is_a_404(admin_client):
    assert decide(admin_client, 9999, "accepted").status_code == 404


def test_htmx_decision_returns_the_decision_and_an_out_of_band_seat_map(app, admin_client, make_cohort,
                                                                        make_application):
    slug = make_cohort()
    application_id = make_application(slug, first_name="Maya", last_name="Okafor")
    response = decide(admin_client, application_id, "accepted", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "decision-made, seats-changed"
    assert html.lstrip().startswith('<section class="panel decision" id="decision"')
    assert "Maya Okafor: accepted. Now offered a place." in html
    assert f'<div class="seat-map" id="seat-map-{slug}" hx-swap-oob="true">' in html
    assert "5 of 6 seats open" in html and "Maya O.</a>" in html
    assert "<html" not in html


def test_each_decision_button_says_what_it_does_and_asks_first(admin_client, make_cohort, make_application):
    application_id = make_application(make_cohort(), first_name="Maya", status="waitlisted")
    page = admin_client.get(f"/admin/applications/{application_id}").get_data(as_text=True)
    buttons = re.findall(r'<form method="get" action="/admin/applications/\d+/decide"\s+hx-get="[^"]+" '
                         r'hx-target="#decision-dialog" hx-swap="innerHTML">\s*'
                         r'<input type="hidden" name="status" value="(\w+)">\s*'
                         r'<button class="([^"]+)" type="submit">([^<]+)</button>', page)
    assert buttons == [("screening", "button", "Invite to talk"), ("accepted", "button", "Accept"),
                       ("declined", "button button--quiet", "Decline"),
                       ("pending", "button button--quiet", "Reopen"), ("withdrawn", "button button--quiet", "Withdraw")]
    assert "hx-confirm" not in page  # the confirmation says what will happen instead
    assert '<dialog id="decision-dialog"' in page


def test_htmx_refusal_is_shown_in_place(app, admin_client, make_cohort, make_application):
    slug = make_cohort(capacity=1)
    make_application(slug, status="accepted")
    waiting = make_application(slug, status="waitlisted")
    html = decide(admin_client, waiting, "accepted", htmx=True).get_data(as_text=True)
    assert 'role="alert" tabindex="-1" autofocus>The Test cohort' in html and "is full" in html
    assert get(app, waiting).status == "waitlisted"


def test_application_page_lays_out_every_answer_and_the_history(app, admin_client, client, make_cohort, form_data):
    slug = make_cohort()
    client.post("/apply", data=form_data(slug, medications="Sertraline 50mg", psychosis="unsure",
                                         psychosis_detail="A manic week in 2015", knows_applicants="My cousin Jo"))
    [application_id] = [a.id for a in applications(app)]
    decide(admin_client, application_id, "waitlisted")
    html = admin_client.get(f"/admin/applications/{application_id}").get_data(as_text=True)
    for words in ("Alex Morgan", "alex@example.org", "Health screen", "Sertraline 50mg",
                  "Have you ever had psychosis or mania", "Needs attention: </span>Not sure</dd>", "My cousin Jo",
                  "Dr. Rivera, 555 010 2000", "Waitlisted", "by Dr. Ana Reyes", "A manic week in 2015"):
        assert words in html, words
    assert 'class="answers__flag"><dt>Have you ever had psychosis' in html
    assert 'class="answers__flag"><dt>Can you attend all ten' not in html  # "Yes" there is good news


def test_notes_are_added_with_htmx_and_kept_private(app, admin_client, make_cohort, make_application):
    application_id = make_application(make_cohort())
    response = admin_client.post(f"/admin/applications/{application_id}/notes",
                                 data={"body": "Called her; evaluation booked for Tuesday."},
                                 headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section class="panel" id="notes"')
    assert "Called her; evaluation booked for Tuesday." in html and "Dr. Ana Reyes" in html
    with app.app_context():
        raw = db.session.execute(sa.text("SELECT body FROM note")).scalar_one()
    assert "evaluation" not in raw


def test_notes_work_without_javascript_and_empty_ones_are_refused(app, admin_client, make_cohort, make_application):
    application_id = make_application(make_cohort())
    response = admin_client.post(f"/admin/applications/{application_id}/notes", data={"body": "First call done."})
    assert response.status_code == 303
    assert "First call done." in admin_client.get(response.headers["Location"]).get_data(as_text=True)
    response = admin_client.post(f"/admin/applications/{application_id}/notes", data={"body": "   "})
    assert response.status_code == 422 and "Please write the note first." in response.get_data(as_text=True)


def test_twelve_clinicians_clicking_accept_at_once_seat_exactly_six(app, make_admin, make_cohort, make_application):
    make_admin()
    slug = make_cohort(title="Winter 2027 cohort")
    pending = [make_application(slug) for _ in range(12)]
    clients = []
    for _ in range(12):
        client = app.test_client()
        assert sign_in(client).status_code == 303
        clients.append(client)
    start = threading.Barrier(12)
    results = {}

    def accept(client, application_id):
        start.wait()
        response = decide(client, application_id, "accepted", htmx=True)
        results[application_id] = response.get_data(as_text=True)

    threads = [threading.Thread(target=accept, args=pair) for pair in zip(clients, pending)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = [get(app, application_id).status for application_id in pending]
    assert statuses.count("accepted") == 6 and statuses.count("pending") == 6
    refused = [html for html in results.values() if "all 6 seats are taken" in html]
    assert len(refused) == 6
    accepted_pages = [html for html in results.values() if ": accepted. Now offered a place." in html]
    assert len(accepted_pages) == 6
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.kind == "accepted")) == 6


def test_clinicians_cannot_confirm_a_place_for_the_applicant(app, admin_client, make_cohort, make_application):
    application_id = make_application(make_cohort(), status="accepted")
    page = admin_client.get(decide(admin_client, application_id, "enrolled").headers["Location"]).get_data(as_text=True)
    assert "Only the applicant can confirm their place" in page
    assert get(app, application_id).status == "accepted" and emails(app, application_id) == []


def test_reopening_an_offer_tells_the_applicant_and_the_admins_about_the_seat(
        app, admin_client, make_cohort, make_application):
    app.config["ADMIN_EMAILS"] = ["ana@practice.example"]
    slug = make_cohort()
    application_id = make_application(slug, status="accepted")
    make_application(slug, status="waitlisted", first_name="Yara", last_name="Quinn")
    decide(admin_client, application_id, "pending")
    assert get(app, application_id).status == "pending"
    assert emails(app, application_id) == ["offer_reopened"]
    with app.app_context():
        [freed] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "seat_freed")).all()
        assert "Yara Q." in freed.text_body


@pytest.mark.skipif(not __import__("conftest").TEST_DATABASE_URL,
                    reason="SQLite serialises whole transactions; the race needs PostgreSQL's row locks")
def test_a_request_that_waited_for_the_lock_judges_the_status_as_it_is_now(
        app, make_admin, make_cohort, make_application, monkeypatch):
    """X confirms while, meanwhile, a clinician reopens X and accepts Y into the last seat."""
    from resilience import enrolment
    from resilience.enrolment import seats

    admin_id = make_admin()
    slug = make_cohort()
    for _ in range(5):
        make_application(slug, status="accepted")
    x = make_application(slug, status="accepted")
    y = make_application(slug, status="pending")
    others_done = threading.Event()
    real_lock = seats.lock_cohort

    def slow_lock(cohort_id):
        if threading.current_thread().name == "applicant":
            others_done.wait(10)  # X's request stalls here, as if waiting for the lock
        return real_lock(cohort_id)

    monkeypatch.setattr(seats, "lock_cohort", slow_lock)  # where the decision takes the lock
    outcome = {}

    def applicant_confirms():
        with app.app_context():
            try:
                enrolment.change_status(x, "enrolled", actor="applicant")
                outcome["x"] = "enrolled"
            except enrolment.RefusedChange as refused:
                outcome["x"] = refused.message

    applicant = threading.Thread(target=applicant_confirms, name="applicant")
    applicant.start()
    with app.app_context():
        from resilience.models import Admin
        admin = db.session.get(Admin, admin_id)
        enrolment.change_status(x, "pending", admin=admin)
        enrolment.change_status(y, "accepted", admin=admin, evaluated=True)
    others_done.set()
    applicant.join()

    assert "cannot be enrolled" in outcome["x"]
    with app.app_context():
        holders = db.session.scalar(sa.select(sa.func.count()).select_from(Application)
                                    .where(Application.status.in_(("accepted", "enrolled"))))
    assert holders == 6
