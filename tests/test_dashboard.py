"""The dashboard in the program's time: each cohort's phase, offers awaiting confirmation
with the time left (or overdue), screening conversations coming up, counts in the program's
order and where applicants came from; the clock moved as the weeks pass."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW, answers, sign_in
from flask import url_for

from resilience.admin import application_url
from resilience.extensions import db
from resilience.models import Admin, Application, Cohort, ScreeningSlot
from resilience.status import Status


def dashboard(client) -> str:
    sign_in(client)  # again: when the clock moves on, the session ends
    return client.get("/admin/").get_data(as_text=True)


def glance(html: str, title: str) -> str:
    """One cohort's part of the dashboard."""
    start = html.index(f">{title}</h2>")
    end = html.find('<article class="panel cohort-glance"', start)
    return html[start:end if end != -1 else None]


def first_meeting(app, slug):
    with app.app_context():
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))
        return cohort.meetings[0].starts_at, cohort.meetings[-1].ends_at


def test_each_cohort_shows_its_phase(app, admin_client, make_cohort, make_application):
    make_cohort(title="Open cohort")
    make_cohort(title="Paused cohort", applications_open=False)
    full = make_cohort(title="Small cohort", capacity=1)
    make_application(full, status="enrolled")
    html = dashboard(admin_client)
    assert "Taking applications</span> · starts" in glance(html, "Open cohort")
    assert "Applications closed</span>" in glance(html, "Paused cohort")
    assert "Full</span>" in glance(html, "Small cohort")


def test_a_running_cohort_counts_its_weeks_and_a_finished_one_says_so(app, admin_client, make_cohort):
    slug = make_cohort(title="Spring cohort")
    first, last = first_meeting(app, slug)
    app.config["NOW"] = first + timedelta(days=15)
    assert "Running: week 3 of 6</span> · began" in glance(dashboard(admin_client), "Spring cohort")
    app.config["NOW"] = last + timedelta(days=1)
    part = glance(dashboard(admin_client), "Spring cohort")
    assert "Finished</span> · ended" in part
    assert "Waitlist, first in line" not in part  # the seats show who took part; no one waits any more


def test_offers_awaiting_confirmation_show_the_time_left_then_overdue(app, admin_client, make_cohort,
                                                                       make_application):
    slug = make_cohort(title="Spring cohort")
    make_application(slug, first_name="Maya", last_name="Okafor", status="accepted", accepted_at=NOW,
                     confirm_by_at=NOW + timedelta(days=2, hours=5))
    part = glance(dashboard(admin_client), "Spring cohort")
    assert "Offers awaiting confirmation" in part
    assert re.search(r"Maya Okafor</a>:\s+2 days and 5 hours left", part)
    app.config["NOW"] = NOW + timedelta(days=2, hours=6)
    part = glance(dashboard(admin_client), "Spring cohort")
    assert re.search(r"Maya Okafor</a>:\s+<strong class=\"warning-text\">overdue</strong> since Sat, Nov 28, 3:00 pm;"
                     r" it lapses at the next scheduled run", part)


def test_screening_conversations_coming_up_name_the_person_and_the_clinician(app, admin_client, make_cohort,
                                                                             make_application):
    slug = make_cohort(title="Spring cohort")
    maya = make_application(slug, first_name="Maya", last_name="Okafor", status="screening")
    past = make_application(slug, first_name="Ola", last_name="Berg", status="screening")
    with app.app_context():
        ana = db.session.scalar(sa.select(Admin))
        for application_id, start in ((maya, NOW + timedelta(days=1)), (past, NOW - timedelta(days=1))):
            db.session.add(ScreeningSlot(admin=ana, starts_at=start, minutes=30, timezone="America/New_York",
                                         mode="phone", application_id=application_id, booked_at=NOW))
        db.session.commit()
    part = glance(dashboard(admin_client), "Spring cohort")
    assert "Screening conversations coming up" in part
    assert re.search(r"Fri, Nov 27, 10:00 am EST:\s+<a href=\"/admin/applications/\d+\">Maya Okafor</a>\s+"
                     r"<span class=\"muted\">with Dr. Ana Reyes, phone call</span>", part)
    assert "Ola Berg" not in part


def test_counts_follow_the_programs_order_and_sources_are_counted(app, admin_client, make_cohort, make_application):
    slug = make_cohort(title="Spring cohort")
    for ref, status in (("blog-winter", "pending"), ("blog-winter", "enrolled"), (None, "waitlisted"),
                        ("psychologytoday.com", "declined")):
        make_application(slug, status=status, answers=answers(referral=ref))
    part = glance(dashboard(admin_client), "Spring cohort")
    labels = re.findall(r"<div><dt>([^<]+)</dt>", part)
    assert labels == ["Pending review", "Invited to talk", "Waitlisted", "Offered a place", "Enrolled",
                      "Offer lapsed", "Declined", "Withdrawn"]
    assert re.findall(r"<li>([^<]+): <strong>(\d+)</strong></li>", part) == [
        ("blog-winter", "2"), ("psychologytoday.com", "1"), ("Not known", "1")]


def test_an_application_counts_in_its_cohorts_sources_without_showing_answers(app, admin_client, make_cohort,
                                                                              make_application):
    slug = make_cohort(title="Spring cohort")
    make_application(slug, answers=answers(referral="blog", medications="Sertraline 50mg"))
    html = dashboard(admin_client)
    assert "blog: <strong>1</strong>" in html and "Sertraline" not in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Application)) == 1


def test_a_running_cohort_links_the_next_roster_and_flags_attendance_not_taken_and_absences(
        app, admin_client, make_cohort, make_application):
    from resilience import enrolment
    from resilience.models import Meeting
    from resilience.status import AttendanceMark

    slug = make_cohort(title="Spring cohort")
    maya = make_application(slug, first_name="Maya", last_name="Okafor", status="enrolled")
    ola = make_application(slug, first_name="Ola", last_name="Berg", status="enrolled")
    first, _ = first_meeting(app, slug)
    app.config["NOW"] = first + timedelta(days=1)  # the first meeting is over; the second is next
    part = glance(dashboard(admin_client), "Spring cohort")
    assert "Running the group" in part
    assert re.search(r'Next: <a href="/admin/cohorts/[\w-]+/meetings/2/attendance">Preparation meeting 2</a>', part)
    assert re.search(r'Attendance not taken</strong> for\s+<a href="/admin/cohorts/[\w-]+/meetings/1/attendance">'
                     r"Preparation meeting 1</a>", part)
    with app.app_context():
        meeting = db.session.scalar(sa.select(Meeting).where(Meeting.starts_at == first))
        admin = db.session.scalar(sa.select(Admin))
        enrolment.mark_attendance(meeting.id, maya, AttendanceMark.ATTENDED, admin)
        enrolment.mark_attendance(meeting.id, ola, AttendanceMark.ABSENT, admin)
    part = glance(dashboard(admin_client), "Spring cohort")
    assert "Attendance not taken" not in part
    assert re.search(r"Ola Berg</a>\s+missed <a [^>]+>Preparation meeting 1</a>", part)


def test_a_cohort_with_participants_links_the_message_to_all_of_them(admin_client, make_cohort, make_application):
    with_people = make_cohort(title="Spring cohort")
    make_application(with_people, status="enrolled")
    make_cohort(title="Empty cohort")
    html = dashboard(admin_client)
    assert f'<a href="/admin/cohorts/{with_people}/message">Write to its participants</a>' in glance(html, "Spring cohort")
    assert "Write to its participants" not in glance(html, "Empty cohort")


def test_sources_stay_right_as_applications_arrive_and_are_erased(app, admin_client, make_cohort, make_application):
    """Where applicants came from is opened once per application and kept in memory: a new
    application counts at once, an erased one no longer counts where it came from."""
    from test_retention import erase

    slug = make_cohort(title="Spring cohort")
    first = make_application(slug, answers=answers(referral="blog"))
    assert "blog: <strong>1</strong>" in glance(dashboard(admin_client), "Spring cohort")
    make_application(slug, answers=answers(referral="blog"))
    assert "blog: <strong>2</strong>" in glance(dashboard(admin_client), "Spring cohort")
    assert erase(admin_client, first, [first]).status_code in (200, 303)
    part = glance(dashboard(admin_client), "Spring cohort")
    assert "blog: <strong>1</strong>" in part and "Not known: <strong>1</strong>" in part
    assert first not in app.extensions["referrals"]  # nothing opened of an erased application stays in memory


def status_counts(html: str, title: str) -> dict[str, int]:
    part = glance(html, title)
    return {label: int(n) for label, n in re.findall(r"<dt>([^<]+)</dt><dd><a [^>]+>(\d+)<", part)}


def test_counts_stay_right_as_applications_arrive_change_and_move(app, admin_client, make_cohort, make_application):
    """The counts are kept in memory between loads until something could change them (the
    number raised in the same transaction): each change shows on the next load."""
    spring, summer = make_cohort(title="Spring cohort"), make_cohort(title="Summer cohort")
    first = make_application(spring)
    assert status_counts(dashboard(admin_client), "Spring cohort")["Pending review"] == 1
    second = make_application(spring)
    assert status_counts(dashboard(admin_client), "Spring cohort")["Pending review"] == 2
    with app.app_context():
        db.session.get(Application, first).status = "waitlisted"
        db.session.commit()
    counts = status_counts(dashboard(admin_client), "Spring cohort")
    assert (counts["Pending review"], counts["Waitlisted"]) == (1, 1)
    with app.app_context():  # one statement for many rows: no flush sees it
        db.session.execute(sa.update(Application).where(Application.status == "pending").values(status="declined"))
        db.session.commit()
    assert status_counts(dashboard(admin_client), "Spring cohort")["Declined"] == 1
    with app.app_context():
        summer_id = db.session.scalar(sa.select(Cohort.id).where(Cohort.slug == summer))
        db.session.get(Application, second).cohort_id = summer_id
        db.session.commit()
    html = dashboard(admin_client)
    assert status_counts(html, "Spring cohort")["Declined"] == 0
    assert status_counts(html, "Summer cohort")["Declined"] == 1
    with app.app_context():  # or through the relationship (the column is set only as it is written)
        db.session.get(Application, second).cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == spring))
        db.session.commit()
    assert status_counts(dashboard(admin_client), "Spring cohort")["Declined"] == 1


class EmptiedMeanwhile(dict):
    """What another thread (the development server's) does to the counts kept in memory: it
    empties them just after this request found its own there."""

    def __contains__(self, key):
        found = super().__contains__(key)
        self.clear()
        return found

    def get(self, key, default=None):
        value = super().get(key, default)
        self.clear()
        return value


@pytest.mark.parametrize("kept", ["status counts", "sources"])
def test_counts_emptied_by_another_thread_meanwhile_still_show(app, admin_client, make_cohort, make_application,
                                                                kept):
    slug = make_cohort(title="Spring cohort")
    make_application(slug, answers=answers(referral="blog"))
    dashboard(admin_client)
    app.extensions[kept] = EmptiedMeanwhile(app.extensions[kept])
    html = dashboard(admin_client)
    assert status_counts(html, "Spring cohort")["Pending review"] == 1 and "blog: <strong>1</strong>" in html


def test_every_person_on_the_dashboard_links_to_their_own_application(admin_client, make_cohort, make_application):
    """Seats, offers and the waitlist each link to the person's own page (the links are built
    once per page and filled in with each id)."""
    slug = make_cohort(capacity=2)
    people = {make_application(slug, status=status, first_name=name, accepted_at=NOW): name for status, name in (
        (Status.ENROLLED, "Ines"), (Status.ACCEPTED, "Omar"), (Status.WAITLISTED, "Wren"), (Status.WAITLISTED, "Yusuf"))}
    page = admin_client.get("/admin/").get_data(as_text=True)
    found = set(re.findall(r'<a href="(/admin/applications/\d+)">(\w+) ', page))
    assert {(f"/admin/applications/{application_id}", name) for application_id, name in people.items()} <= found
    for href, name in found:
        assert f"{name} Tester" in admin_client.get(href).get_data(as_text=True)


def test_an_application_link_is_the_one_url_for_builds_under_each_requests_root(app):
    """Requests one after another in one app context (as in a test or a script), under
    different roots: each link is the one url_for builds for that request."""
    with app.app_context():
        for base_url in ("http://localhost/", "http://localhost/clinic/", "http://localhost/"):
            with app.test_request_context("/admin/", base_url=base_url):
                for application_id in (1, 42, 2147483647, "7"):
                    assert application_url(application_id) == url_for("admin.application",
                                                                       application_id=int(application_id))
