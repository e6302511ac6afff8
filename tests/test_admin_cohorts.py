"""Cohorts and their meetings: creating, editing, and moving meetings (which tells seat holders)."""
import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from conftest import ADMIN_PASSWORD, mail

from resilience import database, enrolment
from resilience.extensions import db
from resilience.models import AuditEvent, Cohort, Meeting, OutboxMessage
from resilience.status import Status


def test_creating_a_cohort_plans_its_ten_meetings(app, admin_client):
    response = admin_client.post("/admin/cohorts/new", data={
        "title": "Spring 2027 cohort", "slug": "spring-2027", "capacity": "6", "starts_on": "2027-04-06",
        "timezone": "America/Chicago", "location": "12 Elm St, Madison, WI", "application_deadline": "2027-03-20",
        "applications_open": "y", "fee_text": "", "offer_days": "5"})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/cohorts/spring-2027/meetings"
    with app.app_context():
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == "spring-2027"))
        assert len(cohort.meetings) == 10 and cohort.fee_text is None
        assert cohort.meetings[0].local_start == datetime(2027, 4, 6, 18, 0, tzinfo=cohort.zone)
    html = admin_client.get("/admin/cohorts/spring-2027/meetings").get_data(as_text=True)
    assert html.count("<fieldset") == 10 and 'value="2027-04-06"' in html


@pytest.mark.parametrize("field, value, message", [
    ("slug", "Spring 2027", "Use lower-case letters, digits and hyphens only."),
    ("capacity", "7", "A cohort has between 1 and 6 seats."),
    ("capacity", "0", "A cohort has between 1 and 6 seats."),
    ("starts_on", "next tuesday", "Not a valid date value."),
    ("application_deadline", "2027-05-01", "Applications must close before the first meeting."),
    ("timezone", "Mars/Olympus", "Not a valid choice."),
    ("title", "", "Please give the cohort a title."),
])
def test_cohort_form_explains_each_mistake_and_keeps_the_rest(app, admin_client, field, value, message):
    data = {"title": "Spring 2027 cohort", "slug": "spring-2027", "capacity": "6", "starts_on": "2027-04-06",
            "timezone": "America/Chicago", "location": "12 Elm St", "applications_open": "y", field: value}
    response = admin_client.post("/admin/cohorts/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html and 'value="12 Elm St"' in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Cohort)) == 0


def test_capacity_cannot_drop_below_the_seats_taken(app, admin_client, make_cohort, make_application):
    slug = make_cohort(title="Winter")
    for _ in range(4):
        make_application(slug, status="accepted")
    form = admin_client.get(f"/admin/cohorts/{slug}/edit").get_data(as_text=True)
    assert 'value="Winter"' in form
    data = {"title": "Winter", "slug": slug, "capacity": "3", "starts_on": "2027-01-12",
            "timezone": "America/New_York", "location": "Portland", "applications_open": "y", "offer_days": "5"}
    html = admin_client.post(f"/admin/cohorts/{slug}/edit", data=data).get_data(as_text=True)
    assert "4 seats are already taken, so the capacity cannot be lower than 4. Nothing was changed." in html
    with app.app_context():
        assert db.session.scalar(sa.select(Cohort.capacity).where(Cohort.slug == slug)) == 6
    assert admin_client.post(f"/admin/cohorts/{slug}/edit", data={**data, "capacity": "4"}).status_code == 303


def meetings_form(page: str) -> dict:
    """The meetings form's fields as the browser would send them, hidden meeting ids included."""
    return dict(re.findall(r'<input[^>]*name="(meetings-\d+-\w+)"[^>]*value="([^"]*)"', page))


def preview_form(page: str) -> dict:
    """The preview's hidden fields, as the browser sends them back."""
    return {name: html.unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}


def events(app, action: str) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.detail).where(AuditEvent.action == action)
                                       .order_by(AuditEvent.id)))


def outbox_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))


def test_moving_a_meeting_shows_what_changes_who_is_emailed_and_the_email_first(app, admin_client, make_cohort,
                                                                               make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    make_application(slug, first_name="Maya", last_name="Okafor", email="maya@example.org", status=Status.ENROLLED)
    make_application(slug, first_name="Sam", last_name="Lee", email="sam@example.org", status=Status.ACCEPTED)
    make_application(slug, first_name="Pat", last_name="Kim", email="pat@example.org", status=Status.PENDING)
    page = admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True)
    assert "<legend>Ketamine session 1</legend>" in page and "Check the changes" in page
    data = meetings_form(page)
    assert data["meetings-3-date"] == "2027-01-23" and len(data) == 70  # ten meetings × (id, revision, date, start, end, place, link)
    data |= {"meetings-3-date": "2027-01-24", "meetings-3-starts": "10:00", "meetings-3-ends": "14:00"}
    before = outbox_count(app)
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data)
    preview = response.get_data(as_text=True)
    assert response.status_code == 200 and "Nothing has been saved or sent yet." in preview
    text = " ".join(re.sub(r"<[^>]+>", " ", preview).split())
    assert ("Ketamine session 1 From Sat, Jan 23, 9:30 am – 1:30 pm EST → to "
            "Sun, Jan 24, 10:00 am – 2:00 pm EST") in text
    assert "Preparation meeting 1" not in text  # only what changes
    assert "Each of these 2 people will get an email with an updated calendar invite" in text
    assert "Maya Okafor · maya@example.org · Enrolled" in text and "Sam Lee · sam@example.org · Offered a place" in text
    assert "Pat Kim" not in text and "pat@example.org" not in text
    assert "As Maya will read it." in text and "Ketamine session 1 · Subject: New time for session day 1" in text
    assert "Hello Maya," in preview and "It was on Saturday, January 23, 2027 at 9:30 am EST." in preview
    assert "It is now on Sunday, January 24, 2027, 10:00 am – 2:00 pm EST." in preview
    assert "Send the changes" in preview and "Go back and edit" in preview
    assert outbox_count(app) == before and events(app, "meeting changed") == []  # nothing sent, nothing saved
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.max(Meeting.revision))) == 0

    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=preview_form(preview) | {"confirm": "1"})
    assert response.status_code == 303
    assert "1 meeting changed" in admin_client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        moved = db.session.scalar(sa.select(Meeting).join(Cohort).where(
            Cohort.slug == slug, Meeting.kind == "ketamine", Meeting.sequence == 1))
        assert moved.starts_at == datetime(2027, 1, 24, 15, 0, tzinfo=UTC) and moved.revision == 1
    assert sorted(m["to"] for m in mail(app, kind="meeting_moved")) == ["maya@example.org", "sam@example.org"]
    assert events(app, "meeting changed") == [
        "Ketamine session 1: Sat, Jan 23, 9:30 am – 1:30 pm EST → Sun, Jan 24, 10:00 am – 2:00 pm EST"]


def test_a_bad_time_is_explained_with_what_was_typed_kept(app, admin_client, make_cohort):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    data = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    data |= {"meetings-3-date": "2027-01-24", "meetings-3-ends": "09:00"}
    bad = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data | {"confirm": "1"})
    assert bad.status_code == 422 and "The meeting must end after it starts." in bad.get_data(as_text=True)
    assert 'value="2027-01-24"' in bad.get_data(as_text=True)  # what was typed is kept
    assert events(app, "meeting changed") == []


def test_going_back_from_the_preview_keeps_what_was_typed_and_sends_nothing(app, admin_client, make_cohort,
                                                                            make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    make_application(slug, status=Status.ENROLLED)
    data = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    data |= {"meetings-1-date": "2027-01-16", "meetings-1-location": "Room 2"}
    preview = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data).get_data(as_text=True)
    before = outbox_count(app)
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=preview_form(preview) | {"back": "1"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<legend>Preparation meeting 2</legend>" in page
    assert 'value="2027-01-16"' in page and 'value="Room 2"' in page and "Check the changes" in page
    assert "Please check the meetings" not in page
    assert outbox_count(app) == before and events(app, "meeting changed") == []
    # Saved from there, it is the same change.
    page_data = meetings_form(page)
    assert page_data == data
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=page_data | {"confirm": "1"})
    assert response.status_code == 303 and len(mail(app, kind="meeting_moved")) == 1


def test_the_audit_says_from_what_to_what_and_the_place(app, admin_client, make_cohort):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    data = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    data |= {"meetings-1-date": "2027-01-16", "meetings-1-starts": "18:30", "meetings-1-ends": "20:00",
             "meetings-1-location": "Room 2",  # preparation 2: a new time and a new place
             "meetings-9-location": "Online", "meetings-9-join_url": "https://meet.example/room",  # integration 4
             "meetings-0-join_url": "https://meet.example/prep"}  # preparation 1: only a join link
    preview = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data).get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", " ", preview).split())
    assert "Where: from Online → to Room 2" in text
    assert "A new join link: shown to participants on their status page, with no email." in text
    assert "No one is emailed: no one holds a seat in this cohort yet." in text and "Save the changes" in text
    assert admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data | {"confirm": "1"}).status_code == 303
    assert events(app, "meeting changed") == [
        "Preparation meeting 2: Fri, Jan 15, 6:00 – 8:00 pm EST → Sat, Jan 16, 6:30 – 8:00 pm EST; Online → Room 2",
        "Integration meeting 4: 120 Harbor Street, Portland, ME → Online"]
    assert events(app, "join link changed") == ["Preparation meeting 1", "Integration meeting 4"]
    with app.app_context():
        assert "meet.example" not in " ".join(detail or "" for detail in db.session.scalars(
            sa.select(AuditEvent.detail)))


def test_a_long_place_keeps_the_audit_detail_within_its_column(app, make_cohort):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    with app.app_context():
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))
        meeting = cohort.meetings[3]
        database.begin_write()
        enrolment.change_meeting(meeting, meeting.starts_at + timedelta(days=1), meeting.ends_at + timedelta(days=1),
                                 "A" * 300)
        db.session.commit()
        [detail] = db.session.scalars(sa.select(AuditEvent.detail).where(AuditEvent.action == "meeting changed"))
    assert len(detail) < 300 and detail.endswith("A" * 79 + "…")
    assert detail.startswith("Ketamine session 1: Sat, Jan 23, 9:30 am – 1:30 pm EST → Sun, Jan 24, 9:30 am – "
                             "1:30 pm EST; 120 Harbor Street, Portland, ME → AAA")


def test_several_moved_meetings_mean_an_email_each(app, admin_client, make_cohort, make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    make_application(slug, first_name="Maya", email="maya@example.org", status=Status.ENROLLED)
    data = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    data |= {"meetings-8-starts": "18:30", "meetings-9-starts": "18:30"}
    preview = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data).get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", " ", preview).split())
    assert "This person will get 2 emails, one for each moved meeting, with an updated calendar invite" in text
    assert "As Maya will read them: one for each moved meeting." in text
    assert "Integration meeting 3 · Subject: New time for integration meeting 3" in text
    assert "Integration meeting 4 · Subject: New time for integration meeting 4" in text
    assert preview.count("<details class=\"email-preview\"") == 2 and preview.count("email-preview\" open") == 1
    assert text.index("Integration meeting 3") < text.index("Integration meeting 4")
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=preview_form(preview) | {"confirm": "1"})
    assert "2 meetings changed" in admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert len(mail(app, kind="meeting_moved", to="maya@example.org")) == 2


def test_a_new_join_link_alone_emails_no_one(app, admin_client, make_cohort, make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    make_application(slug, status=Status.ENROLLED)
    data = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    data["meetings-0-join_url"] = "https://meet.example/room"
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data)
    preview = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No one is emailed: only the join link changed; participants see it on their status page." in preview
    assert "Save the changes" in preview and "Send the changes" not in preview and "Subject:" not in preview
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=preview_form(preview) | {"confirm": "1"})
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The join link was saved. Participants see it on their status page; no one was emailed." in page
    assert mail(app, kind="meeting_moved") == []


def test_a_new_place_alone_is_emailed_as_a_new_place_not_a_new_time(app, admin_client, make_cohort, make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    make_application(slug, status=Status.ENROLLED, first_name="Maya")
    data = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    data["meetings-0-location"] = "Room 2, 120 Harbor Street"
    preview = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data).get_data(as_text=True)
    assert "The place of preparation meeting 1 in the" in preview and "The time of" not in preview
    admin_client.post(f"/admin/cohorts/{slug}/meetings", data=preview_form(preview) | {"confirm": "1"})
    [email] = mail(app, kind="meeting_moved")
    assert email["subject"] == "New place for preparation meeting 1"
    assert "The place of preparation meeting 1" in email["text"] and "It was at: Online" in email["text"]
    assert "Where: Room 2, 120 Harbor Street" in email["text"]
    assert "It was on" not in email["text"]


def test_saving_the_meetings_as_they_are_changes_nothing(app, admin_client, make_cohort):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    data = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data)
    assert response.status_code == 303
    assert "Nothing was changed." in admin_client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_preview_and_its_confirmation_work_as_plain_forms(app, make_admin, make_cohort, make_application):
    """No JavaScript, CSRF on: the page's own fields, hidden ones and the pressed button are all it takes,
    and odd characters in a place survive the trip through the preview."""
    app.config["WTF_CSRF_ENABLED"] = True
    make_admin()
    slug = make_cohort(starts_on=date(2027, 1, 12))
    make_application(slug, email="maya@example.org", status=Status.ENROLLED)
    client = app.test_client()
    login = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    assert client.post("/admin/login", data={"csrf_token": token, "email": "ana@practice.example",
                                             "password": ADMIN_PASSWORD}).status_code == 303
    page = client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True)
    data = meetings_form(page) | {"csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                                                          page).group(1)}
    data["meetings-3-location"] = 'Studio "B" & garden <rear>'
    preview = client.post(f"/admin/cohorts/{slug}/meetings", data=data).get_data(as_text=True)
    assert "Studio &#34;B&#34; &amp; garden &lt;rear&gt;" in preview
    sent = preview_form(preview)
    assert "csrf_token" in sent and len(sent) == 71
    assert re.search(r'<button class="button" type="submit" name="confirm" value="1">Send the changes</button>', preview)
    assert client.post(f"/admin/cohorts/{slug}/meetings", data=sent | {"confirm": "1"}).status_code == 303
    with app.app_context():
        moved = db.session.scalar(sa.select(Meeting).join(Cohort).where(
            Cohort.slug == slug, Meeting.kind == "ketamine", Meeting.sequence == 1))
        assert moved.location == 'Studio "B" & garden <rear>'
    assert [m["to"] for m in mail(app, kind="meeting_moved")] == ["maya@example.org"]


def test_meetings_are_matched_by_their_id_not_their_place_on_the_page(app, admin_client, make_cohort):
    """Moving the first meeting past the second changes the page's order: the form shown after
    that moves the meeting each row shows, not whichever used to be in that row."""
    slug = make_cohort(starts_on=date(2027, 1, 12))
    data = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    first = {k.split("-", 2)[2]: v for k, v in data.items() if k.startswith("meetings-0-")}
    second = {k.split("-", 2)[2]: v for k, v in data.items() if k.startswith("meetings-1-")}
    data |= {"meetings-0-date": "2027-01-16", "confirm": "1"}  # preparation 1 now after preparation 2
    assert admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data).status_code == 303
    data = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    assert data["meetings-0-meeting_id"] == second["meeting_id"]  # the rows swapped places
    data |= {"meetings-0-location": "Room 4", "confirm": "1"}
    assert admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data).status_code == 303
    with app.app_context():
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))
        by_id = {str(m.id): m for m in cohort.meetings}
        assert by_id[first["meeting_id"]].local_start.date() == date(2027, 1, 16)
        assert by_id[first["meeting_id"]].location == first["location"]
        assert by_id[second["meeting_id"]].location == "Room 4"
        assert by_id[second["meeting_id"]].local_start.date().isoformat() == second["date"]


def test_confirming_an_old_preview_never_undoes_another_clinicians_move(app, admin_client, make_cohort,
                                                                       make_application):
    """Ana previews a new place for meeting 1; meanwhile Ben moves meeting 2; Ana's "Send the
    changes" is refused, and meeting 2 keeps Ben's time (no second email about it)."""
    slug = make_cohort(starts_on=date(2027, 1, 12))
    make_application(slug, status=Status.ENROLLED)
    anas = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    anas["meetings-0-location"] = "Room 2"
    preview = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=anas).get_data(as_text=True)
    bens = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    bens |= {"meetings-1-starts": "19:00", "meetings-1-ends": "21:00", "confirm": "1"}
    admin_client.post(f"/admin/cohorts/{slug}/meetings", data=bens)
    assert len(mail(app, kind="meeting_moved")) == 1
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=preview_form(preview) | {"confirm": "1"})
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The meetings of this cohort changed while you were editing them. Nothing was saved" in page
    assert len(mail(app, kind="meeting_moved")) == 1
    with app.app_context():
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))
        assert cohort.meetings[1].local_start.hour == 19 and cohort.meetings[0].location != "Room 2"


@pytest.mark.parametrize("button", [{}, {"confirm": "1"}, {"back": "1"}], ids=["preview", "send", "back"])
def test_a_form_for_meetings_that_are_no_longer_the_cohorts_changes_nothing(app, admin_client, make_cohort,
                                                                            make_application, button):
    """Whether it asks for the preview or sends straight from one, a stale form is refused and says so;
    going back to edit simply shows it again."""
    slug, other = make_cohort(starts_on=date(2027, 1, 12)), make_cohort(starts_on=date(2027, 3, 2))
    make_application(slug, status=Status.ENROLLED)
    data = meetings_form(admin_client.get(f"/admin/cohorts/{other}/meetings").get_data(as_text=True))
    data |= {"meetings-0-date": "2027-01-13", **button}
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data)
    if button.get("back"):
        assert response.status_code == 200 and 'value="2027-01-13"' in response.get_data(as_text=True)
    else:
        assert response.status_code == 303
        page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
        assert "The meetings of this cohort changed while you were editing them. Nothing was saved" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.max(Meeting.revision))) == 0
    assert mail(app, kind="meeting_moved") == [] and events(app, "meeting changed") == []


def test_unknown_cohort_pages_are_404(admin_client):
    for url in ("/admin/cohorts/nope/edit", "/admin/cohorts/nope/meetings", "/admin/cohorts/nope/applications.csv",
                "/admin/cohorts/%00/edit"):
        assert admin_client.get(url).status_code == 404


@pytest.mark.parametrize("field, value", [("starts_on", "9999-12-25"), ("starts_on", "1999-01-05"),
                                          ("application_deadline", "0001-01-01")])
def test_dates_far_from_now_are_refused_with_the_form_kept(app, admin_client, field, value):
    data = {"title": "Spring 2027 cohort", "slug": "spring-2027", "capacity": "6", "starts_on": "2027-04-06",
            "timezone": "America/Chicago", "location": "12 Elm St", "applications_open": "y", field: value}
    response = admin_client.post("/admin/cohorts/new", data=data)
    assert response.status_code == 422
    assert "Please check the year" in response.get_data(as_text=True)


def test_a_meeting_date_in_the_year_9999_is_refused(admin_client, make_cohort):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data={
        "meetings-0-date": "9999-12-31", "meetings-0-starts": "20:00", "meetings-0-ends": "21:00",
        "meetings-0-location": "Online"})
    assert response.status_code == 422 and "Please check the year" in response.get_data(as_text=True)


@pytest.mark.parametrize("meeting_id", [None, "", "abc", "1.5", "١"])
def test_a_meetings_form_from_before_meetings_had_ids_is_refused_kindly(app, admin_client, make_cohort, meeting_id):
    """A tab opened before the release that added the ids, or an id no meeting has."""
    slug = make_cohort(starts_on=date(2027, 1, 12))
    data = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    data = {k: v for k, v in data.items() if not k.endswith("-meeting_id")}
    if meeting_id is not None:
        data |= {f"meetings-{n}-meeting_id": meeting_id for n in range(10)}
    data |= {"meetings-0-date": "2027-01-13"}
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data)
    assert response.status_code == 303
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The meetings of this cohort changed while you were editing them. Nothing was saved" in page
    assert "<legend>Preparation meeting 1</legend>" in page and 'value="2027-01-12"' in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.max(Meeting.revision))) == 0


def test_a_join_link_is_kept_only_for_online_meetings(app, admin_client, make_cohort):
    slug = make_cohort()
    data = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    data["meetings-0-join_url"] = "https://meet.example/room"  # the first meeting is online
    data["meetings-3-join_url"] = "https://meet.example/room"  # a ketamine session is in person
    html = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data).get_data(as_text=True)
    assert "Only online meetings have a join link" in html
    data["meetings-3-join_url"] = ""
    assert admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data | {"confirm": "1"}).status_code == 303
    with app.app_context():
        links = [m.join_url for m in db.session.scalars(sa.select(Meeting).order_by(Meeting.starts_at))]
    assert links[0] == "https://meet.example/room" and links[1:] == [None] * 9


def test_each_meeting_links_to_its_roster_by_its_place_in_time(admin_client, make_cohort):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    page = admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True)
    links = re.findall(rf'<a href="/admin/cohorts/{slug}/meetings/(\d+)/attendance">Roster'
                       r'<span class="visually-hidden"> and attendance for ([^<]+)</span>', page)
    assert links[0] == ("1", "Preparation meeting 1") and links[3] == ("4", "Ketamine session 1")
    assert [number for number, _ in links] == [str(n) for n in range(1, 11)]
    assert admin_client.get(f"/admin/cohorts/{slug}/meetings/4/attendance").status_code == 200


def test_the_cohorts_page_shows_them_a_page_at_a_time(admin_client, make_cohort):
    """After years of cohorts, the page stays short: the latest first, 25 a page."""
    from datetime import timedelta

    from conftest import NOW

    for n in range(30):
        make_cohort(title=f"Cohort number {n:02d}", starts_on=NOW.date() - timedelta(weeks=8 * n))
    first = admin_client.get("/admin/cohorts").get_data(as_text=True)
    assert "Cohort number 00" in first and "Cohort number 24" in first and "Cohort number 25" not in first
    assert "30 cohorts, page 1 of 2" in first and 'href="/admin/cohorts?page=2"' in first
    second = admin_client.get("/admin/cohorts?page=2").get_data(as_text=True)
    assert "Cohort number 25" in second and "Cohort number 29" in second and "Cohort number 24" not in second
    assert 'href="/admin/cohorts?page=1"' in second
    assert "Cohort number 29" in admin_client.get("/admin/cohorts?page=9").get_data(as_text=True)  # the last page
    for page in ("0", "x", "99999999999"):
        assert "Cohort number 00" in admin_client.get(f"/admin/cohorts?page={page}").get_data(as_text=True)
