"""The clinicians' side of screening conversations and the waitlist: publishing times,
moving, cancelling and removing them, recording a conversation as held, ordering the waitlist."""
from datetime import timedelta

import sqlalchemy as sa
from conftest import NOW, sign_in

from resilience import enrolment
from resilience.extensions import db
from resilience.models import Admin, Application, AuditEvent, Note, OutboxMessage, ScreeningSlot
from resilience.status import Status

SLOT_FORM = {"clinician": "1", "day": "2026-12-01", "starts": "10:00", "minutes": "30", "count": "3",
             "mode": "video", "place": "https://meet.example/ana", "timezone": "America/New_York"}


def slots(app) -> list[ScreeningSlot]:
    with app.app_context():
        found = list(db.session.scalars(sa.select(ScreeningSlot).order_by(ScreeningSlot.starts_at)))
        for slot in found:
            db.session.expunge(slot)
        return found


def kinds(app, to: str) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(OutboxMessage.kind).where(OutboxMessage.to_address == to)
                                       .order_by(OutboxMessage.id)))


def booked(app, make_cohort, make_application, hours=48):
    """An invited applicant who booked a time with the clinician; returns (application id, slot id)."""
    application_id = make_application(make_cohort(), status=Status.SCREENING, email="maya@example.org")
    with app.app_context():
        clinician = db.session.scalar(sa.select(Admin))
        [slot] = enrolment.add_slots(clinician, NOW + timedelta(hours=hours), 30, 1, "phone", None,
                                     "America/New_York", clinician)
        enrolment.book(application_id, slot.id)
        return application_id, slot.id


def test_a_clinician_publishes_back_to_back_times(app, admin_client):
    response = admin_client.post("/admin/screening", data=SLOT_FORM)
    assert response.status_code == 303
    page = admin_client.get("/admin/screening").get_data(as_text=True)
    assert "3 times published" in page
    assert "Tue, Dec 1, 10:00 – 10:30 am EST" in page and "Tue, Dec 1, 11:00 – 11:30 am EST" in page
    assert [(s.local_start.hour, s.local_start.minute, s.minutes, s.mode) for s in slots(app)] == [
        (10, 0, 30, "video"), (10, 30, 30, "video"), (11, 0, 30, "video")]


def test_a_time_in_the_past_or_missing_is_refused_and_what_was_typed_is_kept(app, admin_client):
    response = admin_client.post("/admin/screening", data={**SLOT_FORM, "day": "2026-11-20", "count": "40"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and slots(app) == []
    assert "That time has already passed." in html and "Between 1 and 12 at a time." in html
    assert 'value="https://meet.example/ana"' in html and 'value="2026-11-20"' in html
    response = admin_client.post("/admin/screening", data={**SLOT_FORM, "clinician": "99", "mode": "carrier pigeon"})
    assert response.status_code == 422 and slots(app) == []


def test_invited_applicants_see_the_published_times_on_their_status_page(app, client, admin_client, make_cohort,
                                                                         make_application):
    admin_client.post("/admin/screening", data=SLOT_FORM)
    application_id = make_application(make_cohort(), status=Status.SCREENING)
    with app.app_context():
        token = db.session.get(Application, application_id).token
    page = client.get(f"/status/{token}").get_data(as_text=True)
    assert "Choose a time to talk" in page
    assert "Tuesday, December 1, 2026, 10:30 – 11:00 am EST: video call with Dr. Ana Reyes" in page


def test_the_application_page_shows_the_booking_and_records_the_conversation_as_held(
        app, admin_client, make_cohort, make_application):
    application_id, slot_id = booked(app, make_cohort, make_application)
    page = admin_client.get(f"/admin/applications/{application_id}").get_data(as_text=True)
    assert "Screening conversation" in page and "Saturday, November 28, 2026, 10:00 – 10:30 am EST" in page
    assert "Record as held" not in page  # not before it has begun
    app.config["NOW"] = NOW + timedelta(hours=49)
    sign_in(admin_client)  # two days later
    response = admin_client.post(f"/admin/screening/{slot_id}/held",
                                 data={f"slot{slot_id}-note": "Steady; no contraindications.", "back": "application"})
    assert response.headers["Location"] == f"/admin/applications/{application_id}#conversations"
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Recorded as held." in page and "Steady; no contraindications." in page
    assert "The medical evaluation took place" not in page  # accepting needs no more
    admin_client.post(f"/admin/applications/{application_id}/status", data={"status": "accepted"})
    with app.app_context():
        assert db.session.get(Application, application_id).status == Status.ACCEPTED
        assert db.session.scalar(sa.select(Note.body)) == "Steady; no contraindications."


def test_moving_a_booked_time_tells_the_applicant_the_old_and_the_new_time(
        app, admin_client, make_cohort, make_application):
    _, slot_id = booked(app, make_cohort, make_application)
    response = admin_client.post(f"/admin/screening/{slot_id}/move",
                                 data={f"slot{slot_id}-day": "2026-11-30", f"slot{slot_id}-starts": "14:00"})
    assert response.status_code == 303
    assert kinds(app, "maya@example.org")[-1] == "conversation_moved"
    with app.app_context():
        message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "conversation_moved",
                                                                   OutboxMessage.to_address == "maya@example.org"))
        text = " ".join(message.text_body.split())
    assert "It was: Saturday, November 28, 2026 at 10:00 am" in text
    assert "It is now: Monday, November 30, 2026, 2:00 – 2:30 pm EST" in text
    bad = admin_client.post(f"/admin/screening/{slot_id}/move", data={f"slot{slot_id}-day": "soon"})
    assert bad.status_code == 303 and "Please give the new date and time." in admin_client.get(
        "/admin/screening").get_data(as_text=True)


def test_cancelling_a_booking_frees_the_time_and_removing_takes_it_away(
        app, admin_client, make_cohort, make_application):
    _, slot_id = booked(app, make_cohort, make_application)
    admin_client.post(f"/admin/screening/{slot_id}/cancel")
    assert slots(app)[0].application_id is None
    assert kinds(app, "maya@example.org")[-1] == "conversation_cancelled"
    admin_client.post(f"/admin/screening/{slot_id}/remove")
    assert slots(app) == []
    assert "The time is removed." in admin_client.get("/admin/screening").get_data(as_text=True)
    assert admin_client.post("/admin/screening/999/remove").status_code == 404


def test_a_held_conversation_cannot_be_moved_or_removed(app, admin_client, make_cohort, make_application):
    _, slot_id = booked(app, make_cohort, make_application, hours=1)
    app.config["NOW"] = NOW + timedelta(hours=2)
    sign_in(admin_client)
    admin_client.post(f"/admin/screening/{slot_id}/held", data={})
    admin_client.post(f"/admin/screening/{slot_id}/remove")
    page = admin_client.get("/admin/screening").get_data(as_text=True)
    assert "That conversation is recorded as held, so it cannot be changed." in page
    assert len(slots(app)) == 1 and slots(app)[0].held_at is not None


def test_the_waitlist_can_be_reordered_and_applicants_see_their_new_place(
        app, client, admin_client, make_cohort, make_application):
    slug = make_cohort()
    first, second = (make_application(slug, status=Status.WAITLISTED, waitlist_rank=rank) for rank in (1, 2))
    response = admin_client.post(f"/admin/cohorts/{slug}/waitlist", data={"application_id": second, "move": "up"})
    assert response.headers["Location"] == f"/admin/#waitlist-{slug}"
    assert "Moved to 1st in line" in admin_client.get("/admin/").get_data(as_text=True)
    with app.app_context():
        tokens = [db.session.get(Application, i).token for i in (first, second)]
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "waitlist reordered"))
        assert (event.application_id, event.detail) == (second, "now 1 of 2")
    assert "You are <strong>2nd in line</strong>" in client.get(f"/status/{tokens[0]}").get_data(as_text=True)
    assert "You are <strong>1st in line</strong>" in client.get(f"/status/{tokens[1]}").get_data(as_text=True)
    for odd in ({"application_id": "x", "move": "up"}, {"application_id": first, "move": "sideways"},
                {"application_id": "424242", "move": "up"}):
        assert admin_client.post(f"/admin/cohorts/{slug}/waitlist", data=odd).status_code == 303


def test_the_dashboard_says_when_a_cohort_is_under_way_and_when_it_has_finished(app, admin_client, make_cohort):
    make_cohort(title="Running cohort", starts_on=NOW.date() - timedelta(days=10), application_deadline=None)
    make_cohort(title="Past cohort", starts_on=NOW.date() - timedelta(days=120), application_deadline=None)
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert "Running: week 2 of 6</span> · began" in page and "Finished</span> · ended" in page
    assert "Taking applications" not in page
