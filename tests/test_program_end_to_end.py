"""One whole cohort, end to end: eight people apply, two talk with a clinician first, six are
offered a place, five confirm, one offer lapses and its seat goes to the first on the
waitlist, someone withdraws, and every participant is reminded of every meeting.

Everything goes through HTTP as people would (the applicants' status pages, the clinicians'
panel) over a real SMTP server on loopback, with the app's clock moved forward between
steps and `flask periodic` run as cron would.
"""
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from conftest import ADMINS, NOW, applications, deliver, over_smtp, sign_in
from icalendar import Calendar

from resilience import enrolment
from resilience.extensions import db
from resilience.models import Cohort, OutboxMessage, ScreeningSlot
from resilience.status import OutboxStatus

SITE = "https://resilience.example"
STATUS_LINK = re.compile(re.escape(SITE) + r"(/status/[A-Za-z0-9_-]{16,64})")
ANA, BEN = ADMINS  # Ana is the clinician who signs in and talks with applicants; Ben is told too
PEOPLE = ["Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Gray", "Harper"]


@pytest.fixture
def app_config(app_config, smtp):
    return over_smtp(app_config, smtp)


# --- the clock and cron -------------------------------------------------------------------

def at(app, moment: datetime) -> None:
    """Move the whole app's clock (site, worker, periodic) to this moment."""
    assert moment >= app.config["NOW"], "time only moves forward in this story"
    app.config["NOW"] = moment


def periodic(app) -> str:
    """`flask --app resilience periodic`, as cron runs it."""
    result = app.test_cli_runner().invoke(args=["periodic"])
    assert result.exit_code == 0, result.output
    return result.output


def nothing_due(output: str) -> bool:
    return "0 meeting reminder(s), 0 confirm-by reminder(s) queued; 0 offer(s) lapsed" in output


# --- mail ---------------------------------------------------------------------------------

def email(name: str) -> str:
    return f"{name.lower()}@example.org"


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def calendar_in(message, filename: str) -> Calendar:
    [part] = [p for p in message.iter_attachments() if p.get_filename() == filename]
    assert part.get_content_type() == "text/calendar"
    return Calendar.from_ical(part.get_content())


def uids_and_sequences(calendar: Calendar) -> dict[str, int]:
    return {str(event["uid"]): int(event["sequence"]) for event in calendar.walk("VEVENT")}


class Mailbox:
    """What each address has received so far over SMTP, and what arrived since we last looked."""

    def __init__(self, smtp):
        self.smtp = smtp
        self.seen = 0

    def new(self) -> list[tuple[str, str]]:
        """(recipient, subject) of every message received since the last call."""
        fresh = self.smtp.messages[self.seen:]
        self.seen = len(self.smtp.messages)
        out = []
        for recipients, message in fresh:
            assert len(recipients) == 1 and message["To"] == recipients[0]  # one recipient per message
            assert "ketamine" not in message["Subject"].lower()
            body = text_of(message)
            assert "not watched for emergencies" in body and "988" in body
            out.append((recipients[0], message["Subject"]))
        return out

    def last(self, address: str, subject: str):
        found = [m for m in self.smtp.to(address) if m["Subject"] == subject]
        assert found, f"{address} has no email {subject!r}; has {[m['Subject'] for m in self.smtp.to(address)]}"
        return found[-1]


def send_mail(app, mailbox: Mailbox) -> list[tuple[str, str]]:
    """Run the outbox worker once (`flask outbox send`) and return what arrived."""
    report = deliver(app)
    assert report.retrying == report.failed == 0, str(report)
    arrived = mailbox.new()
    assert len(arrived) == report.sent
    return arrived


def status_path_from(message) -> str:
    """The private status link in an email's text, as a path (the link is the applicant's key)."""
    [path] = set(STATUS_LINK.findall(text_of(message)))
    return path


# --- people's clicks ----------------------------------------------------------------------

def apply(client, form_data, slug: str, name: str) -> None:
    response = client.post("/apply", data=form_data(slug, first_name=name, last_name="Example", email=email(name)))
    assert response.status_code == 303 and response.headers["Location"] == "/apply/sent"  # the link comes by email
    assert "Thank you. Please check your email." in client.get("/apply/sent").get_data(as_text=True)


def press(client, status_path: str, action: str, **fields) -> str:
    """The applicant presses a button on their status page; returns the page they land on."""
    response = client.post(status_path, data={"action": action, **fields})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    return page.get_data(as_text=True)


def slot_choices(page: str) -> list[int]:
    """The screening times offered on a status page, as slot ids."""
    return [int(value) for tag in re.findall(r'<input[^>]*name="slot"[^>]*>', page) if 'type="radio"' in tag
            for value in re.findall(r'value="(\d+)"', tag)]


def clinician(app):
    """A browser in which Ana signs in (afresh: an hour idle signs her out, and days pass here)."""
    browser = app.test_client()
    assert sign_in(browser, email=ANA).status_code == 303
    return browser


def decide(app, application_id: int, status: str, evaluated: bool = False) -> str:
    """A clinician presses a decision button on the application's page, reads what it will do and
    confirms; returns the page shown after it (the question again, when the decision is refused)."""
    browser = clinician(app)
    question = browser.get(f"/admin/applications/{application_id}/decide?status={status}")
    assert question.status_code == 200 and "What will happen" in question.get_data(as_text=True) or \
        "This cannot be done now." in question.get_data(as_text=True)
    data = {"status": status, **({"evaluated": "y"} if evaluated else {})}
    response = browser.post(f"/admin/applications/{application_id}/status", data=data)
    if response.status_code == 422:
        return response.get_data(as_text=True)
    assert response.status_code == 303
    return browser.get(response.headers["Location"]).get_data(as_text=True)


def seats_shown(app, slug: str) -> tuple[int, int]:
    """(seats taken, capacity) as the clinicians' dashboard and the public badge both show them;
    the two must agree, and neither may ever show more than the capacity taken."""
    dashboard = clinician(app).get("/admin/").get_data(as_text=True)
    counts = dict(re.findall(r"<dt>([^<]+)</dt><dd><a [^>]*>(\d+)<span", dashboard))
    taken = int(counts["Offered a place"]) + int(counts["Enrolled"])
    [open_seats] = re.findall(r"(\d+) of 6 seats open", dashboard)
    badge = app.test_client().get(f"/cohorts/{slug}/availability", headers={"HX-Request": "true"})
    seats_left = int(re.search(r'data-seats-left="(\d+)"', badge.get_data(as_text=True))[1])
    capacity = int(re.search(r'data-capacity="(\d+)"', badge.get_data(as_text=True))[1])
    assert capacity == 6
    assert taken <= capacity, f"the dashboard shows {taken} seats taken of {capacity}"
    assert int(open_seats) == seats_left == capacity - taken
    with app.app_context():  # and the truth underneath agrees
        assert enrolment.availability(enrolment.cohort_by_slug(slug)).seats_taken == taken
    return taken, capacity


# --- the story ----------------------------------------------------------------------------

def test_a_whole_cohort_from_applying_to_the_last_reminder(app, smtp, make_cohort, make_admin, form_data):
    mailbox = Mailbox(smtp)
    public = app.test_client()
    ana_id = make_admin(email=ANA, name="Dr. Ana Reyes")
    slug = make_cohort(title="Winter 2027 cohort", starts_on=NOW.date() + timedelta(days=45))  # Sun, Jan 10, 2027
    assert seats_shown(app, slug) == (0, 6)

    # Thursday, November 26: eight people apply from the blog, a few minutes apart.
    for n, name in enumerate(PEOPLE):
        at(app, NOW + timedelta(minutes=5 * n))
        apply(public, form_data, slug, name)
    ids = {a.first_name: a.id for a in applications(app)}
    assert sorted(ids) == sorted(PEOPLE)
    arrived = send_mail(app, mailbox)
    assert Counter(arrived) == Counter(
        [(email(name), "We have your application") for name in PEOPLE]
        + [(admin, "New application for the Winter 2027 cohort") for admin in ADMINS for _ in PEOPLE])
    status_paths = {name: status_path_from(mailbox.last(email(name), "We have your application")) for name in PEOPLE}
    assert seats_shown(app, slug) == (0, 6)

    # Friday: Ana publishes four video slots for Monday at 10 am New York time, and invites two people to talk.
    at(app, datetime(2026, 11, 27, 14, 0, tzinfo=UTC))
    browser = clinician(app)
    published = browser.post("/admin/screening", data={
        "clinician": str(ana_id), "day": "2026-11-30", "starts": "10:00", "minutes": "30", "count": "4",
        "mode": "video", "place": "https://meet.example/ana", "timezone": "America/New_York"})
    assert published.status_code == 303
    assert "4 times published." in browser.get("/admin/screening").get_data(as_text=True)
    with app.app_context():
        slot_ids = list(db.session.scalars(sa.select(ScreeningSlot.id).order_by(ScreeningSlot.starts_at)))
    for name in ("Avery", "Blake"):
        decide(app, ids[name], "screening")
    assert sorted(send_mail(app, mailbox)) == [(email("Avery"), "An invitation to talk with us"),
                                              (email("Blake"), "An invitation to talk with us")]
    assert seats_shown(app, slug) == (0, 6)

    # Each follows the link in the invitation, sees the open times and books one.
    for name, slot_id, open_times in (("Avery", slot_ids[0], slot_ids), ("Blake", slot_ids[1], slot_ids[1:])):
        at(app, app.config["NOW"] + timedelta(hours=2))
        invitation = mailbox.last(email(name), "An invitation to talk with us")
        path = status_path_from(invitation)
        assert path == status_paths[name]
        page = public.get(path).get_data(as_text=True)
        assert slot_choices(page) == open_times  # Blake no longer sees the time Avery booked
        assert "Monday, November 30, 2026" in page
        landed = press(public, path, "book", slot=str(slot_id))
        assert "your conversation is booked for" in landed
        assert slot_choices(landed) == [other for other in open_times if other != slot_id]  # to move to, if need be
        arrived = send_mail(app, mailbox)
        assert sorted(arrived) == sorted([(email(name), "Your conversation with us: Mon, Nov 30"),
                                          (ANA, f"Screening conversation booked: {name}, Mon, Nov 30")])
        for address, subject in arrived:
            message = mailbox.last(address, subject)
            invite = calendar_in(message, "conversation.ics")
            assert str(invite["method"]) == "REQUEST"
            [event] = invite.walk("VEVENT")
            assert event.decoded("dtstart").astimezone(UTC) == (
                datetime(2026, 11, 30, 15, 0, tzinfo=UTC) + timedelta(minutes=30 * slot_ids.index(slot_id)))
    assert seats_shown(app, slug) == (0, 6)

    avery = " ".join(text_of(mailbox.last(email("Avery"), "Your conversation with us: Mon, Nov 30")).split())
    assert "Your conversation with Dr. Ana Reyes: When: Monday, November 30, 2026, 10:00 – 10:30 am EST" in avery
    assert "How: Video call: https://meet.example/ana" in avery

    # Monday afternoon: both conversations took place. Ana records them and offers both a place.
    at(app, datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
    browser = clinician(app)
    for name, slot_id in zip(("Avery", "Blake"), slot_ids[:2], strict=True):
        held = browser.post(f"/admin/screening/{slot_id}/held", data={
            f"slot{slot_id}-note": "Good conversation; medically fine.", "back": "application"})
        assert held.headers["Location"] == f"/admin/applications/{ids[name]}#conversations"
        assert "Recorded as held." in browser.get(held.headers["Location"]).get_data(as_text=True)
    for taken, name in enumerate(("Avery", "Blake"), start=1):
        page = decide(app, ids[name], "accepted")
        assert f"{name} Example: accepted. Now offered a place." in page
        assert seats_shown(app, slug) == (taken, 6)
    # Four more are accepted straight from pending: their evaluation took place elsewhere.
    for taken, name in enumerate(("Casey", "Devon", "Emery", "Finley"), start=3):
        page = decide(app, ids[name], "accepted", evaluated=True)
        assert f"{name} Example: accepted. Now offered a place." in page
        assert seats_shown(app, slug) == (taken, 6)
    # The cohort is full: a seventh acceptance is refused and changes nothing.
    page = decide(app, ids["Gray"], "accepted", evaluated=True)
    assert "The Winter 2027 cohort is full: all 6 seats are taken. Nothing was changed." in page
    assert seats_shown(app, slug) == (6, 6)
    # The last two wait, in the order they applied.
    for name in ("Gray", "Harper"):
        page = decide(app, ids[name], "waitlisted")
        assert f"{name} Example: waitlisted." in page
    assert seats_shown(app, slug) == (6, 6)
    arrived = send_mail(app, mailbox)
    offered_to = ["Avery", "Blake", "Casey", "Devon", "Emery", "Finley"]
    assert Counter(arrived) == Counter(
        [(email(name), "A place is offered to you in the Winter 2027 cohort") for name in offered_to]
        + [(email(name), "Your application: on the waitlist for the Winter 2027 cohort") for name in ("Gray", "Harper")])
    for name in offered_to:
        text = " ".join(text_of(mailbox.last(email(name), "A place is offered to you in the Winter 2027 cohort")).split())
        assert "Saturday, December 5, 2026 at 12:00 pm EST" in text  # confirm by: five days, in New York time
    for name, place in (("Gray", "1st"), ("Harper", "2nd")):
        text = " ".join(text_of(mailbox.last(email(name), "Your application: on the waitlist for the Winter 2027 cohort")).split())
        assert f"You are {place} in line." in text
        assert "All 6 seats are taken right now." in text
        assert "seats are not taken yet" not in text

    # Tuesday: five of the six confirm on their status pages; Finley does not.
    at(app, datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    for name in ("Avery", "Blake", "Casey", "Devon", "Emery"):
        landed = press(public, status_paths[name], "confirm")
        assert "your place is confirmed" in landed
        assert seats_shown(app, slug) == (6, 6)
    arrived = send_mail(app, mailbox)
    assert sorted(arrived) == sorted((email(name), "Your place in the Winter 2027 cohort is confirmed")
                                     for name in ("Avery", "Blake", "Casey", "Devon", "Emery"))
    for name in ("Avery", "Blake", "Casey", "Devon", "Emery"):
        invite = calendar_in(mailbox.last(email(name), "Your place in the Winter 2027 cohort is confirmed"),
                             "meetings.ics")
        assert str(invite["method"]) == "REQUEST"
        assert len(invite.walk("VEVENT")) == 10
        text = " ".join(text_of(mailbox.last(email(name), "Your place in the Winter 2027 cohort is confirmed")).split())
        assert "The first meeting is on Sunday, January 10, 2027, 6:00 – 8:00 pm EST (online)." in text

    # Cron runs periodic. Nothing is due on Wednesday.
    at(app, datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    assert nothing_due(periodic(app))
    assert send_mail(app, mailbox) == []
    # Thursday, 49 and then 47 hours before Finley's confirm-by time: one kind reminder, once.
    at(app, datetime(2026, 12, 3, 16, 0, tzinfo=UTC))  # 49 hours before: not yet
    assert nothing_due(periodic(app))
    at(app, datetime(2026, 12, 3, 18, 0, tzinfo=UTC))
    assert "1 confirm-by reminder(s)" in periodic(app)
    assert nothing_due(periodic(app))
    assert send_mail(app, mailbox) == [(email("Finley"), "A reminder about the place offered to you")]
    reminder = " ".join(text_of(mailbox.last(email("Finley"), "A reminder about the place offered to you")).split())
    assert "yours to confirm until Saturday, December 5, 2026 at 12:00 pm EST" in reminder
    assert status_paths["Finley"] in reminder
    finley_page = public.get(status_paths["Finley"]).get_data(as_text=True)
    assert "Saturday, December 5, 2026 at 12:00 pm EST</strong> (1 day and 23 hours from now)" in finley_page
    at(app, datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    assert nothing_due(periodic(app))
    at(app, datetime(2026, 12, 5, 16, 59, tzinfo=UTC))  # a minute before: still Finley's to confirm
    assert nothing_due(periodic(app))
    assert send_mail(app, mailbox) == []
    assert seats_shown(app, slug) == (6, 6)

    # Saturday noon in New York passes: the offer lapses, the seat is free, the clinicians hear who is next.
    at(app, datetime(2026, 12, 5, 17, 5, tzinfo=UTC))
    assert "1 offer(s) lapsed" in periodic(app)
    assert nothing_due(periodic(app))
    assert seats_shown(app, slug) == (5, 6)
    arrived = send_mail(app, mailbox)
    assert Counter(arrived) == Counter([(email("Finley"), "About the place we offered you")]
                                       + [(admin, "A seat is free in the Winter 2027 cohort") for admin in ADMINS])
    lapsed = mailbox.last(email("Finley"), "About the place we offered you")
    # The email names the confirm-by time that passed (12:00 pm), not the moment cron ran (12:05 pm).
    lapsed_text = " ".join(text_of(lapsed).split())
    assert "cohort passed on Saturday, December 5, 2026 at" in lapsed_text
    assert "passed on Saturday, December 5, 2026 at 12:00 pm EST" in lapsed_text  # the confirm-by time, not cron's
    cancel = calendar_in(lapsed, "cancelled-meetings.ics")
    assert str(cancel["method"]) == "CANCEL" and len(cancel.walk("VEVENT")) == 10
    offer_copy = calendar_in(mailbox.last(email("Finley"), "A place is offered to you in the Winter 2027 cohort"),
                             "meetings.ics")
    offered_seq, cancelled_seq = uids_and_sequences(offer_copy), uids_and_sequences(cancel)
    assert offered_seq.keys() == cancelled_seq.keys()
    assert all(cancelled_seq[uid] > offered_seq[uid] for uid in offered_seq)
    for admin in ADMINS:
        text = text_of(mailbox.last(admin, "A seat is free in the Winter 2027 cohort"))
        assert "Finley E." in text and "did not confirm in time" in text
        assert "First in line on the waitlist: Gray E." in text
        assert f"{SITE}/admin/applications/{ids['Gray']}" in text and "Harper" not in text
    # The lapsed offer cannot be confirmed any more.
    landed = press(public, status_paths["Finley"], "confirm")
    assert "The time to confirm this place has passed, so the offer has lapsed. Nothing was changed." in landed
    assert "The time to confirm has passed" in landed
    landed = " ".join(landed.split())
    assert "passed on Saturday, December 5, 2026 at 12:00 pm EST" in landed
    assert seats_shown(app, slug) == (5, 6)
    assert nothing_due(periodic(app))
    assert send_mail(app, mailbox) == []

    # Ana offers the freed seat to Gray, who confirms the next morning.
    at(app, datetime(2026, 12, 5, 18, 0, tzinfo=UTC))
    assert "Gray Example: accepted. Now offered a place." in decide(app, ids["Gray"], "accepted", evaluated=True)
    assert seats_shown(app, slug) == (6, 6)
    assert send_mail(app, mailbox) == [(email("Gray"), "A place is offered to you in the Winter 2027 cohort")]
    at(app, datetime(2026, 12, 6, 15, 0, tzinfo=UTC))
    assert "your place is confirmed" in press(public, status_paths["Gray"], "confirm")
    assert send_mail(app, mailbox) == [(email("Gray"), "Your place in the Winter 2027 cohort is confirmed")]
    assert seats_shown(app, slug) == (6, 6)
    assert nothing_due(periodic(app))

    # Tuesday, December 8: Blake withdraws. The calendar events go away; the clinicians hear Harper is next.
    at(app, datetime(2026, 12, 8, 15, 0, tzinfo=UTC))
    landed = press(public, status_paths["Blake"], "withdraw", sure="y")
    assert "Your application has been withdrawn" in landed
    assert seats_shown(app, slug) == (5, 6)
    arrived = send_mail(app, mailbox)
    assert Counter(arrived) == Counter([(email("Blake"), "Your application has been withdrawn")]
                                       + [(admin, "A seat is free in the Winter 2027 cohort") for admin in ADMINS])
    invite = calendar_in(mailbox.last(email("Blake"), "Your place in the Winter 2027 cohort is confirmed"), "meetings.ics")
    cancel = calendar_in(mailbox.last(email("Blake"), "Your application has been withdrawn"), "cancelled-meetings.ics")
    assert str(cancel["method"]) == "CANCEL"
    assert all(str(event["status"]) == "CANCELLED" for event in cancel.walk("VEVENT"))
    invited_seq, cancelled_seq = uids_and_sequences(invite), uids_and_sequences(cancel)
    assert len(invited_seq) == 10 and invited_seq.keys() == cancelled_seq.keys()
    assert all(cancelled_seq[uid] > invited_seq[uid] for uid in invited_seq)
    for admin in ADMINS:
        text = text_of(mailbox.last(admin, "A seat is free in the Winter 2027 cohort"))
        assert "Blake E." in text and "withdrew" in text
        assert "First in line on the waitlist: Harper E." in text
        assert f"{SITE}/admin/applications/{ids['Harper']}" in text
    withdrawn = " ".join(text_of(mailbox.last(email("Blake"), "Your application has been withdrawn")).split())
    assert "removes the meetings from your calendar" in withdrawn
    harper_page = " ".join(public.get(status_paths["Harper"]).get_data(as_text=True).split())
    assert "You are <strong>1st in line</strong>" in harper_page and "1 of 6 seats are not taken yet" in harper_page

    # The weeks of the program. Cron runs before, at the start of and twice more inside the two
    # days before each meeting: every enrolled participant is reminded of every meeting, once,
    # about 48 hours ahead; no one else is.
    enrolled = ["Avery", "Casey", "Devon", "Emery", "Gray"]
    with app.app_context():
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.slug == slug))
        meetings = [(m.starts_at, m.kind, m.neutral_name, m.local_start) for m in cohort.meetings]
    assert len(meetings) == 10 and meetings[0][0] == datetime(2027, 1, 10, 23, 0, tzinfo=UTC)
    reminders = []
    for starts_at, kind, neutral_name, local_start in meetings:
        subject = f"Reminder: {neutral_name.lower()} on {local_start:%a}, {local_start:%b} {local_start.day}"
        reminders.append(subject)
        at(app, starts_at - timedelta(hours=49))
        assert nothing_due(periodic(app))
        at(app, starts_at - timedelta(hours=47))
        assert f"{len(enrolled)} meeting reminder(s)" in periodic(app)
        assert sorted(send_mail(app, mailbox)) == sorted((email(name), subject) for name in enrolled)
        for before in (timedelta(hours=30), timedelta(hours=1)):  # cron keeps running: nothing more
            at(app, starts_at - before)
            assert nothing_due(periodic(app))
            assert send_mail(app, mailbox) == []
        ride_home = "a sober adult you trust must take you home" in " ".join(
            text_of(mailbox.last(email("Avery"), subject)).split())
        assert ride_home == (kind == "ketamine")
        at(app, starts_at + timedelta(hours=3))
        assert seats_shown(app, slug) == (5, 6)
    assert reminders[0] == "Reminder: preparation meeting 1 on Sun, Jan 10"
    assert reminders[3] == "Reminder: session day 1 on Thu, Jan 21"

    # --- Every email arrived exactly once, and nothing is left in the outbox.
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage)).all()
        assert {row.status for row in rows} == {OutboxStatus.SENT}
        assert len({row.dedupe_key for row in rows}) == len(rows)
        assert len(rows) == len(smtp.messages)
    deliveries = [(tuple(to), m["Subject"], text_of(m)) for to, m in smtp.messages]
    assert len(set(deliveries)) == len(deliveries)
    assert len({m["Message-ID"] for _, m in smtp.messages}) == len(smtp.messages)

    # Each person's whole correspondence, in order.
    offered, confirmed = ("A place is offered to you in the Winter 2027 cohort",
                          "Your place in the Winter 2027 cohort is confirmed")
    expected = {
        "Avery": ["We have your application", "An invitation to talk with us", "Your conversation with us: Mon, Nov 30",
                  offered, confirmed, *reminders],
        "Blake": ["We have your application", "An invitation to talk with us", "Your conversation with us: Mon, Nov 30",
                  offered, confirmed, "Your application has been withdrawn"],
        "Casey": ["We have your application", offered, confirmed, *reminders],
        "Devon": ["We have your application", offered, confirmed, *reminders],
        "Emery": ["We have your application", offered, confirmed, *reminders],
        "Finley": ["We have your application", offered, "A reminder about the place offered to you",
                   "About the place we offered you"],
        "Gray": ["We have your application", "Your application: on the waitlist for the Winter 2027 cohort",
                 offered, confirmed, *reminders],
        "Harper": ["We have your application", "Your application: on the waitlist for the Winter 2027 cohort"],
    }
    for name, subjects in expected.items():
        assert [m["Subject"] for m in smtp.to(email(name))] == subjects, name
    new_application = ["New application for the Winter 2027 cohort"] * 8
    seat_free = ["A seat is free in the Winter 2027 cohort"] * 2
    assert [m["Subject"] for m in smtp.to(ANA)] == [
        *new_application, "Screening conversation booked: Avery, Mon, Nov 30",
        "Screening conversation booked: Blake, Mon, Nov 30", *seat_free]
    assert [m["Subject"] for m in smtp.to(BEN)] == [*new_application, *seat_free]
    assert len(smtp.messages) == sum(map(len, expected.values())) + 12 + 10
