"""Flat as data grows: the program page shows the next few cohorts with a way to see them
all, a page at a time; the dashboard shows the cohorts that matter now, each waitlist's first
few with how many more; the list's orders have their indexes."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW

from resilience.extensions import db


def titles(html: str) -> list[str]:
    return re.findall(r'<h[23] id="cohort-[a-z0-9-]+-title">([^<]+)</h[23]>', html)


def test_the_program_page_shows_the_next_three_cohorts_and_a_link_to_all_of_them(client, make_cohort):
    make_cohort(title="Long gone", starts_on=NOW.date() - timedelta(days=200), application_deadline=None)
    for n in (5, 1, 4, 2, 3):  # stored out of order
        make_cohort(title=f"Cohort starting in week {n}", starts_on=NOW.date() + timedelta(weeks=n + 2))
    html = client.get("/").get_data(as_text=True)
    assert titles(html) == [f"Cohort starting in week {n}" for n in (1, 2, 3)]
    assert re.search(r'<a href="/cohorts">See all 5 upcoming cohorts</a>', html)
    assert "Long gone" not in html


def test_with_three_cohorts_or_fewer_the_program_page_shows_them_all_and_no_link(client, make_cohort):
    for n in (1, 2):
        make_cohort(title=f"Cohort {n}", starts_on=NOW.date() + timedelta(weeks=n + 2))
    html = client.get("/").get_data(as_text=True)
    assert titles(html) == ["Cohort 1", "Cohort 2"]
    assert "See all" not in html


def test_the_page_of_all_upcoming_cohorts_goes_a_page_at_a_time(client, make_cohort):
    make_cohort(title="Long gone", starts_on=NOW.date() - timedelta(days=200), application_deadline=None)
    for n in range(1, 13):
        make_cohort(title=f"Cohort {n:02}", starts_on=NOW.date() + timedelta(weeks=n + 2))
    first = client.get("/cohorts")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert titles(html) == [f"Cohort {n:02}" for n in range(1, 11)]
    assert "12 upcoming cohorts, page 1 of 2" in html
    assert '<a href="/cohorts?page=2">Next page</a>' in html
    html = client.get("/cohorts?page=2").get_data(as_text=True)
    assert titles(html) == ["Cohort 11", "Cohort 12"]
    assert '<a href="/cohorts?page=1">Previous page</a>' in html
    assert "Long gone" not in html
    # Each cohort has its seats badge (polled) and its apply button, as on the program page.
    assert 'id="availability-' in html and "/apply?cohort=" in html
    # A page past the end, or no page at all, is the last or first page, not an error.
    assert titles(client.get("/cohorts?page=9").get_data(as_text=True)) == ["Cohort 11", "Cohort 12"]
    assert titles(client.get("/cohorts?page=x").get_data(as_text=True))[0] == "Cohort 01"


def test_with_no_upcoming_cohort_the_page_of_cohorts_says_so(client):
    html = client.get("/cohorts").get_data(as_text=True)
    assert "No cohort is scheduled right now" in html


def test_upcoming_is_decided_in_each_cohorts_own_time_zone(client, make_cohort):
    tomorrow = NOW.date() + timedelta(days=1)  # NOW is 3 pm UTC: already tomorrow in Kiribati
    make_cohort(title="Starts tomorrow in Kiribati", starts_on=tomorrow, timezone="Pacific/Kiritimati",
                application_deadline=None)
    make_cohort(title="Starts tomorrow in New York", starts_on=tomorrow, application_deadline=None)
    make_cohort(title="Starts today in Honolulu", starts_on=NOW.date(), timezone="Pacific/Honolulu",
                application_deadline=None)  # 5 am there: started
    for path in ("/", "/cohorts"):
        assert titles(client.get(path).get_data(as_text=True)) == ["Starts tomorrow in New York"]


def test_the_apply_form_still_offers_every_open_cohort(client, make_cohort):
    for n in range(1, 6):
        make_cohort(title=f"Cohort {n}", starts_on=NOW.date() + timedelta(weeks=n + 2))
    make_cohort(title="Closed one", applications_open=False)
    html = client.get("/apply").get_data(as_text=True)
    assert all(f"Cohort {n}" in html for n in range(1, 6)) and "Closed one" not in html


def test_the_dashboard_shows_the_first_five_waiting_and_how_many_more(admin_client, make_cohort, make_application):
    slug = make_cohort(title="Spring cohort")
    for n in range(1, 9):
        make_application(slug, first_name=f"Waiting{n}", last_name="Tester", status="waitlisted",
                         created_at=NOW - timedelta(days=10 - n))
    html = admin_client.get("/admin/").get_data(as_text=True)
    shown = re.findall(r">(Waiting\d) T\.</a>", html)
    assert shown == [f"Waiting{n}" for n in range(1, 6)]
    assert re.search(r'and 3 more</a>', html)
    assert f'href="/admin/applications?cohort={slug}&amp;status=waitlisted"' in html


def test_the_dashboard_shows_the_cohorts_that_matter_now_and_links_the_rest(app, admin_client, make_cohort):
    for n in range(1, 6):  # finished, the first the longest ago
        make_cohort(title=f"Finished {n}", starts_on=NOW.date() - timedelta(days=400 - 50 * n),
                    application_deadline=None)
    make_cohort(title="Running now", starts_on=NOW.date() - timedelta(days=10), application_deadline=None)
    for n in range(1, 10):
        make_cohort(title=f"Upcoming {n}", starts_on=NOW.date() + timedelta(weeks=n + 2))
    html = admin_client.get("/admin/").get_data(as_text=True)
    shown = re.findall(r'<h2 id="dash-[a-z0-9-]+">([^<]+)</h2>', html)
    assert "Running now" in shown
    assert [t for t in shown if t.startswith("Upcoming")] == [f"Upcoming {n}" for n in range(6, 0, -1)]
    assert [t for t in shown if t.startswith("Finished")] == ["Finished 5", "Finished 4", "Finished 3"]
    assert re.search(r'3 later cohorts and 2 earlier ones are on <a href="/admin/cohorts">the cohorts page</a>', html)


def test_the_lists_orders_and_filters_use_an_index(app):
    """SQLite's plan for each order of the list (newest first, the default): no full sort."""
    from resilience.admin.forms import SORTS
    from resilience.models import Application

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("reads SQLite's query plan (PostgreSQL chooses by its statistics)")
        for key in ("newest", "oldest", "name", "attention"):
            plan = " ".join(str(row[-1]) for row in db.session.execute(sa.text(
                "EXPLAIN QUERY PLAN " + str(sa.select(Application).order_by(*SORTS[key][1]).limit(25)
                                            .compile(compile_kwargs={"literal_binds": True})))))
            # (most to check first may sort within one count, a few rows at a time: no full sort)
            assert "INDEX" in plan and "TEMP B-TREE FOR ORDER BY" not in plan, (key, plan)
        plan = " ".join(str(row[-1]) for row in db.session.execute(sa.text(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM application WHERE cohort_id = 1 AND status = 'accepted'")))
        assert "application_waitlist_line" in plan, plan


def test_the_dashboards_first_five_waiting_follow_the_clinicians_order(admin_client, make_cohort, make_application):
    """Someone moved up the waitlist (ranked) comes before everyone in it by time of application."""
    slug = make_cohort(title="Spring cohort")
    for n in range(1, 9):
        make_application(slug, first_name=f"Waiting{n}", last_name="Tester", status="waitlisted",
                         created_at=NOW - timedelta(days=10 - n), waitlist_rank={7: 1, 4: 2}.get(n))
    html = admin_client.get("/admin/").get_data(as_text=True)
    assert re.findall(r">(Waiting\d) T\.</a>", html) == ["Waiting7", "Waiting4", "Waiting1", "Waiting2", "Waiting3"]
    assert re.search(r'and 3 more</a>', html)


def test_move_up_and_move_down_are_two_words_apart(admin_client, make_cohort, make_application):
    slug = make_cohort()
    for n in range(1, 4):
        make_application(slug, first_name=f"Waiting{n}", status="waitlisted", created_at=NOW - timedelta(days=10 - n))
    html = admin_client.get("/admin/").get_data(as_text=True)
    assert re.search(r'Move up<span class="visually-hidden"> Waiting2</span></button>\s+<button', html)


@pytest.mark.parametrize("page", ["/admin/", "/admin/cohorts/{running}/meetings/1/attendance",
                                  "/admin/cohorts/{running}/message", "/admin/applications?cohort={running}"])
def test_pages_that_list_people_open_no_ones_answers(app, admin_client, make_cohort, make_application, request,
                                                      page):
    """The dashboard, a meeting's roster, the page for writing to participants and the list show
    names, seats, waitlists and absences, never what people answered: no sealed answers are
    opened for them (where applicants came from is opened once per process and kept)."""
    from resilience.models import Admin, Attendance, Cohort, Meeting

    running = make_cohort(title="Running", starts_on=NOW.date() - timedelta(days=10), application_deadline=None)
    recruiting = make_cohort(title="Recruiting")
    absent = make_application(running, status="enrolled", accepted_at=NOW, enrolled_at=NOW, first_name="Maya")
    make_application(running, status="enrolled", accepted_at=NOW, enrolled_at=NOW)
    make_application(recruiting, status="accepted", accepted_at=NOW)
    for _ in range(3):
        make_application(recruiting, status="waitlisted", waitlisted_at=NOW)
    with app.app_context():
        first = db.session.scalar(sa.select(Meeting).join(Cohort).where(Cohort.slug == running)
                                  .order_by(Meeting.starts_at).limit(1))
        db.session.add(Attendance(meeting_id=first.id, application_id=absent, mark="absent",
                                  admin_id=db.session.scalar(sa.select(Admin.id))))
        db.session.commit()
    assert admin_client.get("/admin/").status_code == 200  # (where they came from: opened now, and kept)

    opened = request.getfixturevalue("answers_opened")  # (counted from here on)
    response = admin_client.get(page.format(running=running))
    assert response.status_code == 200 and "Maya" in response.get_data(as_text=True)
    assert opened == []
