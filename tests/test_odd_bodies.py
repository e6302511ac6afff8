"""Whatever body a form is sent (JSON, a file where text belongs), the answer is a clear page,
never a server error, and nothing odd is stored for the clinicians to trip over."""
import io
import json

import pytest
from conftest import applications


def routes(slug: str, application_id: int, token: str, slot_id: int) -> list[str]:
    return ["/apply", "/apply/validate?field=email", "/apply/validate?field=logistics_notes", f"/status/{token}",
            "/status/resend", f"/admin/applications/{application_id}/status",
            f"/admin/applications/{application_id}/notes", "/admin/cohorts/new", f"/admin/cohorts/{slug}/edit",
            f"/admin/cohorts/{slug}/meetings", f"/admin/cohorts/{slug}/waitlist", "/admin/screening",
            *(f"/admin/screening/{slot_id}/{action}" for action in ("move", "cancel", "remove", "held")),
            "/admin/login"]


@pytest.fixture
def site(admin_client, make_cohort, make_application, app):
    from datetime import timedelta

    from conftest import NOW

    from resilience import enrolment
    from resilience.extensions import db
    from resilience.models import Admin
    from resilience.status import Status

    slug = make_cohort()
    application_id = make_application(slug, status=Status.SCREENING)
    [application] = applications(app)
    with app.app_context():
        clinician = db.session.scalar(db.select(Admin))
        [slot] = enrolment.add_slots(clinician, NOW + timedelta(days=2), 30, 1, "phone", None, "America/New_York",
                                     clinician)
        enrolment.book(application_id, slot.id)
        slot_id = slot.id
    return slug, application_id, application.token, slot_id


JSON_BODIES = [[], "text", 5, None, {"email": 5}, {"body": 5}, {"status": ["accepted"]}, {"action": {"a": 1}},
               {"first_name": {"a": 1}, "logistics_notes": {"a": 1}}, {"meetings-0-date": 20270101},
               {"action": "book", "slot": [1]}, {"move": "up", "application_id": {"a": 1}}]


@pytest.mark.parametrize("body", JSON_BODIES, ids=repr)
def test_a_json_body_gets_a_clear_answer(admin_client, site, body):
    for url in routes(*site):
        response = admin_client.post(url, data=json.dumps(body), content_type="application/json")
        assert response.status_code < 500, (url, response.status_code)


@pytest.mark.parametrize("field", ["first_name", "email", "submission_id", "ref", "cohort", "body",
                                   "meetings-0-date", "status", "action", "password", "slot", "day", "starts",
                                   "note", "application_id", "move", "evaluated", "count"])
def test_a_file_where_text_belongs_gets_a_clear_answer(admin_client, site, field):
    for url in routes(*site):
        response = admin_client.post(url, data={field: (io.BytesIO(b"x" * 10), "x.txt")},
                                     content_type="multipart/form-data")
        assert response.status_code < 500, (url, response.status_code)


def test_an_answer_sent_as_json_is_never_stored(app, client, admin_client, make_cohort, form_data):
    slug = make_cohort()
    body = {**form_data(slug), "logistics_notes": {"a": 1}}
    response = client.post("/apply", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 422 and applications(app) == []
    assert "Send my application" in response.get_data(as_text=True)


def test_an_odd_answer_stored_by_an_earlier_release_is_still_shown_to_the_clinicians(
        admin_client, make_cohort, make_application):
    """The release before this one stored JSON answers as they came, objects included."""
    from conftest import answers

    application_id = make_application(make_cohort(), answers=answers(logistics_notes={"a": 1}, hopes=["x"]))
    page = admin_client.get(f"/admin/applications/{application_id}").get_data(as_text=True)
    assert "{&#39;a&#39;: 1}" in page and "[&#39;x&#39;]" in page
