"""The list at a glance and several decisions at once: which answers need a clinician (on
the list and first on the application's page), who looks after whom ("mine"), and bulk
decisions that show what they will do, go through the same rules one by one, and report each."""
import re

import sqlalchemy as sa
from conftest import answers, mail

from resilience.extensions import db
from resilience.models import Application, AuditEvent


def status_of(app, application_id):
    with app.app_context():
        return db.session.get(Application, application_id).status


def names_listed(html: str) -> list[str]:
    return re.findall(r'<td data-label="Name"><a href="/admin/applications/\d+">([^<]+)</a></td>', html)


# --- Attention ---------------------------------------------------------------------------------

def test_the_list_shows_how_many_answers_need_attention_and_filters_by_it(admin_client, make_cohort, make_application):
    slug = make_cohort()
    make_application(slug, first_name="Calm", last_name="One")
    make_application(slug, first_name="Worried", last_name="Two",
                     answers=answers(blood_pressure="unsure", ride_home="no"))
    html = admin_client.get("/admin/applications").get_data(as_text=True)
    assert '<th scope="col">To check</th>' in html
    assert '<span class="flag"><span aria-hidden="true">⚑</span> 2 answers</span>' in html
    assert names_listed(admin_client.get("/admin/applications?attention=yes").get_data(as_text=True)) == ["Worried Two"]
    assert names_listed(admin_client.get("/admin/applications?attention=no").get_data(as_text=True)) == ["Calm One"]
    assert names_listed(admin_client.get("/admin/applications?sort=attention").get_data(as_text=True)) == [
        "Worried Two", "Calm One"]


def test_the_application_opens_with_the_answers_to_talk_through_and_why(admin_client, make_cohort, make_application):
    worried = make_application(make_cohort(), answers=answers(blood_pressure="unsure", attend_all="no"))
    html = admin_client.get(f"/admin/applications/{worried}").get_data(as_text=True)
    summary = html[html.index('id="attention-title"'):html.index('id="decision"')]
    assert "2 answers to talk through" in summary
    assert "Can you attend all ten meetings on the dates listed?</dt><dd><strong>No</strong>. " \
           '<span class="attention__why">The group needs everyone at every meeting.</span>' in summary
    assert "Do you have high blood pressure that is not well controlled?</dt><dd><strong>Not sure</strong>" in summary
    assert "Ketamine raises blood pressure for a while." in summary
    assert html.index('id="attention-title"') < html.index('id="decision-title"') < html.index('id="contact-title"')


def test_an_application_with_nothing_to_check_says_so(admin_client, make_cohort, make_application):
    calm = make_application(make_cohort())
    assert "No answer needs attention" in admin_client.get(f"/admin/applications/{calm}").get_data(as_text=True)


# --- Who looks after whom ----------------------------------------------------------------------

def test_a_clinician_takes_an_application_and_finds_it_under_mine(app, admin_client, make_admin, make_cohort,
                                                                   make_application):
    ben = make_admin(email="ben@practice.example", name="Dr. Ben Ota")
    slug = make_cohort()
    mine = make_application(slug, first_name="Maya", last_name="Okafor")
    make_application(slug, first_name="Ola", last_name="Berg")
    with app.app_context():
        from resilience.models import Admin
        ana = db.session.scalar(sa.select(Admin.id).where(Admin.email == "ana@practice.example"))
    response = admin_client.post(f"/admin/applications/{mine}/assign", data={"clinician": str(ana)})
    assert response.status_code == 303
    assert "Now looked after by Dr. Ana Reyes." in admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert names_listed(admin_client.get("/admin/applications?clinician=mine").get_data(as_text=True)) == ["Maya Okafor"]
    assert names_listed(admin_client.get("/admin/applications?clinician=none").get_data(as_text=True)) == ["Ola Berg"]
    assert names_listed(admin_client.get(f"/admin/applications?clinician={ben}").get_data(as_text=True)) == []
    with app.app_context():
        assert db.session.scalar(sa.select(AuditEvent.detail).where(AuditEvent.action == "assigned")) == \
            "to Dr. Ana Reyes"


def test_assigning_with_htmx_answers_in_place(admin_client, make_cohort, make_application):
    maya = make_application(make_cohort())
    html = admin_client.post(f"/admin/applications/{maya}/assign", data={"clinician": ""},
                             headers={"HX-Request": "true"}).get_data(as_text=True)
    assert '<section class="panel" id="assign"' in html
    assert "Now looked after by no one in particular." in html
    response = admin_client.post(f"/admin/applications/{maya}/assign", data={"clinician": "999"},
                                 headers={"HX-Request": "true"})
    assert response.status_code == 422 and "That clinician was not found. Nothing was changed." in response.get_data(
        as_text=True)


# --- Several at once ---------------------------------------------------------------------------

def test_bulk_decline_shows_what_will_happen_to_each_then_reports_each(app, admin_client, make_cohort,
                                                                        make_application):
    slug = make_cohort()
    maya = make_application(slug, first_name="Maya", last_name="Okafor")
    ola = make_application(slug, first_name="Ola", last_name="Berg", status="waitlisted")
    gone = make_application(slug, first_name="Kai", last_name="Adams", status="withdrawn")
    ids = [maya, ola, gone]
    response = admin_client.post("/admin/applications/bulk", data={"application_id": ids, "status": "declined"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Decline the 3 ticked applicants?" in page
    assert "Maya is emailed “About your application”." in page
    assert "Left as it is:</strong> This application is now “Withdrawn”, so it cannot be declined." in page
    assert ">Decline 2 of 3</button>" in page
    assert [status_of(app, i) for i in ids] == ["pending", "waitlisted", "withdrawn"] and mail(app) == []

    done = admin_client.post("/admin/applications/bulk", data={"application_id": ids, "status": "declined",
                                                                "confirmed": "yes"}).get_data(as_text=True)
    assert "Decline: 2 of 3 done" in done
    assert re.search(r"Maya Okafor</a>:\s+now", done) and re.search(r"Ola Berg</a>:\s+now", done)
    assert re.search(r"Kai Adams</a>:\s+<strong>not changed</strong>. This application is now “Withdrawn”", done)
    assert [status_of(app, i) for i in ids] == ["declined", "declined", "withdrawn"]
    assert sorted(m["kind"] for m in mail(app)) == ["declined", "declined"]


def test_bulk_invite_to_talk_and_waitlist_go_through_the_same_rules(app, admin_client, make_cohort, make_application):
    slug = make_cohort()
    first, second = make_application(slug), make_application(slug, status="screening")
    admin_client.post("/admin/applications/bulk", data={"application_id": [first, second], "status": "screening",
                                                        "confirmed": "yes"})
    assert [status_of(app, first), status_of(app, second)] == ["screening", "screening"]
    assert [m["kind"] for m in mail(app)] == ["screening"]  # the second was already invited: refused, no email
    admin_client.post("/admin/applications/bulk", data={"application_id": [first, second], "status": "waitlisted",
                                                        "confirmed": "yes"})
    assert [status_of(app, first), status_of(app, second)] == ["waitlisted", "waitlisted"]


def test_bulk_refuses_what_is_decided_one_at_a_time_and_nonsense(app, admin_client, make_cohort, make_application):
    maya = make_application(make_cohort())
    for data in ({"application_id": [maya], "status": "accepted", "confirmed": "yes"},
                 {"application_id": ["x1"], "status": "declined", "confirmed": "yes"},
                 {"status": "declined", "confirmed": "yes"}):
        response = admin_client.post("/admin/applications/bulk", data=data)
        assert response.status_code == 303, data
        page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
        assert 'class="flash flash--error"' in page, data
    assert status_of(app, maya) == "pending" and mail(app) == []


def test_the_list_has_a_bulk_form_with_a_labelled_checkbox_per_row(admin_client, make_cohort, make_application):
    maya = make_application(make_cohort(), first_name="Maya", last_name="Okafor")
    html = admin_client.get("/admin/applications").get_data(as_text=True)
    assert '<form class="bulk" method="post" action="/admin/applications/bulk">' in html
    assert f'<input type="checkbox" name="application_id" value="{maya}" id="application_id-{maya}">' in html
    assert '<span class="visually-hidden">Select Maya Okafor</span>' in html
    assert re.findall(r'<option value="(\w+)">', html[html.index('class="bulk__bar"'):]) == [
        "screening", "waitlisted", "declined"]


def test_by_status_sorts_in_the_programs_order(admin_client, make_cohort, make_application):
    slug = make_cohort()
    for first, status in (("W", "withdrawn"), ("A", "accepted"), ("P", "pending"), ("E", "enrolled"),
                          ("S", "screening")):
        make_application(slug, first_name=first, last_name="X", status=status)
    html = admin_client.get("/admin/applications?sort=status").get_data(as_text=True)
    assert names_listed(html) == ["P X", "S X", "A X", "E X", "W X"]


def test_bulk_says_when_ticked_applications_no_longer_exist(app, admin_client, make_cohort, make_application):
    maya = make_application(make_cohort(), first_name="Maya", last_name="Okafor")
    page = admin_client.post("/admin/applications/bulk", data={"application_id": [maya, 424242],
                                                                "status": "declined"}).get_data(as_text=True)
    assert "Decline the 1 ticked applicant?" in page and "1 of the ticked applications no longer exists" in page
    done = admin_client.post("/admin/applications/bulk", data={"application_id": [maya, 424242], "status": "declined",
                                                                "confirmed": "yes"}).get_data(as_text=True)
    assert "Decline: 1 of 1 done" in done and "1 of the ticked applications no longer exists" in done
    response = admin_client.post("/admin/applications/bulk", data={"application_id": [424242], "status": "declined"})
    assert "None of the ticked applications exists any more." in admin_client.get(
        response.headers["Location"]).get_data(as_text=True)


def test_a_refused_bulk_goes_back_to_the_list_it_came_from_and_nowhere_else(admin_client, make_cohort):
    slug = make_cohort()
    for referrer, back in ((f"http://localhost/admin/applications?cohort={slug}&status=pending",
                            f"/admin/applications?cohort={slug}&status=pending"),
                           ("http://localhost/admin/applications/bulk", "/admin/applications"),
                           ("https://elsewhere.example/admin/applications", "/admin/applications")):
        response = admin_client.post("/admin/applications/bulk", data={"status": "declined"},
                                     headers={"Referer": referrer})
        assert response.status_code == 303 and response.headers["Location"].endswith(back), referrer
        assert "elsewhere" not in response.headers["Location"]
