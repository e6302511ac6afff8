"""Cohorts and their meetings: creating, editing, and moving meetings (which tells seat holders)."""
import re
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from resilience.extensions import db
from resilience.models import Cohort, Meeting, OutboxMessage


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


def test_moving_a_meeting_sends_seat_holders_an_updated_invite(app, admin_client, make_cohort, make_application):
    slug = make_cohort(starts_on=date(2027, 1, 12))
    holder = make_application(slug, status="enrolled")
    make_application(slug, status="pending")
    page = admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True)
    assert "<legend>Ketamine session 1</legend>" in page
    data = meetings_form(page)
    assert data["meetings-3-date"] == "2027-01-23" and len(data) == 60  # ten meetings × (id, date, start, end, place, join link)
    data |= {"meetings-3-date": "2027-01-24", "meetings-3-starts": "10:00", "meetings-3-ends": "14:00"}
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data)
    assert response.status_code == 303
    assert "1 meeting changed" in admin_client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        moved = db.session.scalar(sa.select(Meeting).where(Meeting.kind == "ketamine", Meeting.sequence == 1))
        assert moved.starts_at == datetime(2027, 1, 24, 15, 0, tzinfo=timezone.utc) and moved.revision == 1
        invites = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "meeting_moved")).all()
        assert [m.application_id for m in invites] == [holder]
    bad = admin_client.post(f"/admin/cohorts/{slug}/meetings", data={**data, "meetings-3-ends": "09:00"})
    assert bad.status_code == 422 and "The meeting must end after it starts." in bad.get_data(as_text=True)
    assert 'value="2027-01-24"' in bad.get_data(as_text=True)  # what was typed is kept


def test_meetings_are_matched_by_their_id_not_their_place_on_the_page(app, admin_client, make_cohort):
    """Moving the first meeting past the second changes the page's order: a form opened
    before that still moves the meeting it showed, not whichever is now in that row."""
    slug = make_cohort(starts_on=date(2027, 1, 12))
    data = meetings_form(admin_client.get(f"/admin/cohorts/{slug}/meetings").get_data(as_text=True))
    first = {k.split("-", 2)[2]: v for k, v in data.items() if k.startswith("meetings-0-")}
    second = {k.split("-", 2)[2]: v for k, v in data.items() if k.startswith("meetings-1-")}
    data |= {"meetings-0-date": "2027-01-16"}  # preparation 1 now after preparation 2
    assert admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data).status_code == 303
    # The same old form again, rows in their old order, with a new place for preparation 2:
    data |= {"meetings-1-location": "Room 4"}
    assert admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data).status_code == 303
    with app.app_context():
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))
        by_id = {str(m.id): m for m in cohort.meetings}
        assert by_id[first["meeting_id"]].local_start.date() == date(2027, 1, 16)
        assert by_id[first["meeting_id"]].location == first["location"]
        assert by_id[second["meeting_id"]].location == "Room 4"
        assert by_id[second["meeting_id"]].local_start.date().isoformat() == second["date"]


def test_a_form_for_meetings_that_are_no_longer_the_cohorts_changes_nothing(app, admin_client, make_cohort):
    slug, other = make_cohort(starts_on=date(2027, 1, 12)), make_cohort(starts_on=date(2027, 3, 2))
    data = meetings_form(admin_client.get(f"/admin/cohorts/{other}/meetings").get_data(as_text=True))
    data |= {"meetings-0-date": "2027-01-13"}
    response = admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data)
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The meetings of this cohort changed while you were editing them. Nothing was saved" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.max(Meeting.revision))) == 0


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
    assert admin_client.post(f"/admin/cohorts/{slug}/meetings", data=data).status_code == 303
    with app.app_context():
        links = [m.join_url for m in db.session.scalars(sa.select(Meeting).order_by(Meeting.starts_at))]
    assert links[0] == "https://meet.example/room" and links[1:] == [None] * 9
