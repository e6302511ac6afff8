"""Retention and erasure: `flask --app resilience purge` (also run by `periodic`) erases the
people behind applications declined or withdrawn more than RESILIENCE_RETENTION_DAYS ago and
behind every application of a cohort finished more than RESILIENCE_FINISHED_COHORT_RETENTION_DAYS
ago, and a clinician erases one person's data on their request, confirmed twice. An erased
application keeps only what counts need (cohort, status, dates, how many answers needed a
look); the person's name, addresses, answers, notes, messages and emails are gone from every
table, from the outbox and from the .eml files the development mail transport wrote."""
import csv
import email
import email.policy
import hashlib
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import NOW, answers, deliver, mail, sign_in
from cryptography.fernet import InvalidToken

from resilience import ConfigurationError, create_app, enrolment, sealing
from resilience.extensions import db
from resilience.models import (
    Admin,
    AdminSession,
    Application,
    ApplicationDraft,
    AuditEvent,
    Note,
    OutboxMessage,
    ScreeningSlot,
)
from resilience.status import Status

CLINICIANS = ["ana@practice.example", "ben@practice.example"]

# The person who asks to be forgotten: every one of these words is theirs alone.
QUILL = {"first_name": "Quillon", "last_name": "Vantablack", "email": "Quillon.Vantablack@example.org",
         "phone": "+1 207 555 7316", "home_area": "Xanadu Falls, ME", "pronouns": "xe/xem"}
QUILL_ANSWERS = {"intention": "Zephyrquartz lanterns at dusk", "medications": "Obsidiacol 5mg",
                 "emergency_name": "Perpetua Vantablack", "emergency_phone": "555 010 8642",
                 "provider": "Dr. Hollowmere, 555 010 9753"}
QUILL_WORDS = ["Quillon", "Vantablack", "555 7316", "Xanadu Falls", "xe/xem", "Zephyrquartz", "Obsidiacol",
               "Perpetua", "010 8642", "Hollowmere"]
# Someone else, whose data must stay exactly as it was.
BRISA = {"first_name": "Brisa", "last_name": "Otterlake", "email": "brisa.otterlake@example.org",
         "phone": "+1 207 555 2468", "home_area": "Bangor, ME"}
BRISA_WORDS = ["Brisa", "Otterlake", "555 2468", "Bangor, ME", "Moonfeather"]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "ADMIN_EMAILS": CLINICIANS}


def everything_stored(app) -> str:
    """Every column of every row of every table (sealed values opened with the site's keys,
    JSON as stored), and every .eml file the development mail transport wrote: one text."""
    found = []
    with app.app_context(), db.engine.connect() as connection:
        tables = sa.MetaData()
        tables.reflect(connection)
        for table in tables.sorted_tables:
            for row in connection.execute(sa.select(table)):
                for value in row:
                    if value is None:
                        continue
                    found.append(str(value))
                    if isinstance(value, str):
                        try:
                            found.append(json.dumps(sealing.unseal(value), ensure_ascii=False))
                        except (InvalidToken, ValueError, UnicodeEncodeError):
                            pass
    for path in sorted((Path(app.instance_path) / "outbox").glob("*")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found += [f"{name}: {value}" for name, value in message.items()]
        found += [part.get_content() if part.get_content_maintype() == "text" else part.get_payload(decode=True)
                  .decode("utf-8", "replace") for part in message.walk() if not part.is_multipart()]
    return "\n".join(found)


def traces(app, words) -> list[str]:
    stored = everything_stored(app).casefold()
    return [word for word in words if word.casefold() in stored]


def queued_mail_words(app) -> str:
    """Every queued email as the worker would send it: recipient, subject, both bodies."""
    with app.app_context():
        return "\n".join(f"{m.to_address} {m.subject} {m.text_body} {m.html_body} {json.dumps(m.attachments)}"
                         for m in db.session.scalars(sa.select(OutboxMessage)))


def get(app, application_id) -> Application:
    with app.app_context():
        application = db.session.get(Application, application_id)
        db.session.expunge(application)
        return application


def page(response) -> str:
    return " ".join(response.get_data(as_text=True).split())


def counts(app) -> dict:
    with app.app_context():
        return dict(db.session.execute(sa.select(Application.status, sa.func.count()).group_by(Application.status)).all())


def purge(app, runner, *args, at=NOW):
    app.config["NOW"] = at
    result = runner.invoke(args=["purge", *args])
    return result


def submit(app, slug, person, **answer_overrides) -> int:
    """Apply through the rules the form uses: the received email and the clinicians' notice are queued."""
    with app.app_context():
        cohort = enrolment.cohort_by_slug(slug)
        application, _ = enrolment.submit_application(
            cohort, submission_id=None, answers={k: v for k, v in answers(**answer_overrides).items()
                                                 if k != "referral"},
            referral="blog", **{"pronouns": None, **person})
        return application.id


# --- Purge: what it picks, and the boundaries ------------------------------------------------------

def test_purge_erases_applications_declined_or_withdrawn_more_than_180_days_ago_and_no_others(
        app, runner, make_cohort, make_application):
    slug = make_cohort()
    day = timedelta(days=1)
    old_declined = make_application(slug, first_name="Olddecline", status="declined",
                                    declined_at=NOW - 180 * day - timedelta(seconds=1))
    old_withdrawn = make_application(slug, first_name="Oldwithdraw", status="withdrawn",
                                     withdrawn_at=NOW - 181 * day)
    no_timestamp = make_application(slug, first_name="Nostamp", status="declined",
                                    status_changed_at=NOW - 200 * day)  # no declined_at: an older release's row
    exactly = make_application(slug, first_name="Exactly", status="declined", declined_at=NOW - 180 * day)
    recent = make_application(slug, first_name="Recent", status="withdrawn", withdrawn_at=NOW - 179 * day)
    # The status counts, not an old date: reopened after an old decline, or simply old and pending.
    reopened = make_application(slug, first_name="Reopened", status="pending", declined_at=NOW - 300 * day,
                                status_changed_at=NOW - 1 * day)
    old_pending = make_application(slug, first_name="Oldpending", created_at=NOW - 400 * day,
                                   status_changed_at=NOW - 400 * day)
    before = counts(app)

    result = purge(app, runner)

    assert result.exit_code == 0, result.output
    assert ("Erased 3 applications: 3 declined or withdrawn over 180 days ago, 0 from cohorts finished "
            "over 365 days ago.") in result.output
    for erased in (old_declined, old_withdrawn, no_timestamp):
        application = get(app, erased)
        assert application.erased_at == NOW
        assert (application.first_name, application.last_name, application.email, application.phone) == ("", "", "",
                                                                                                          "")
    for kept in (exactly, recent, reopened, old_pending):
        application = get(app, kept)
        assert application.erased_at is None and application.first_name != ""
    assert counts(app) == before  # anonymous counts are kept


def test_purge_erases_every_application_of_a_cohort_finished_more_than_365_days_ago(
        app, runner, make_cohort, make_application):
    # Ten meetings over six weeks: the last one ends in the evening 35 days after the start.
    long_ago = make_cohort(starts_on=NOW.date() - timedelta(days=365 + 37))
    just_within = make_cohort(starts_on=NOW.date() - timedelta(days=365 + 34))
    people = [make_application(long_ago, status=status) for status in ("enrolled", "enrolled", "withdrawn", "pending")]
    kept = [make_application(just_within, status="enrolled")]
    before = counts(app)

    result = purge(app, runner)

    assert result.exit_code == 0, result.output
    assert ("Erased 4 applications: 0 declined or withdrawn over 180 days ago, 4 from cohorts finished over "
            "365 days ago.") in result.output
    assert all(get(app, person).erased_at == NOW for person in people)
    assert get(app, kept[0]).erased_at is None
    assert counts(app) == before


def test_the_days_are_settings(app, runner, make_cohort, make_application):
    app.config.update(RETENTION_DAYS=30, FINISHED_COHORT_RETENTION_DAYS=60)
    recent_cohort = make_cohort(starts_on=NOW.date() - timedelta(days=110))  # ended about 74 days ago
    declined = make_application(make_cohort(), status="declined", declined_at=NOW - timedelta(days=31))
    enrolled = make_application(recent_cohort, status="enrolled")

    result = purge(app, runner)

    assert ("Erased 2 applications: 1 declined or withdrawn over 30 days ago, 1 from cohorts finished over "
            "60 days ago.") in result.output
    assert get(app, declined).erased_at and get(app, enrolled).erased_at


def test_purge_works_in_batches_and_running_it_again_erases_nothing_more(app, runner, make_cohort, make_application):
    slug = make_cohort()
    old = [make_application(slug, status="declined", declined_at=NOW - timedelta(days=200)) for _ in range(5)]

    first = purge(app, runner, "--batch", "2")
    again = purge(app, runner)

    assert "Erased 5 applications: 5 declined or withdrawn" in first.output
    assert "Erased 0 applications: 0 declined or withdrawn" in again.output
    assert all(get(app, application_id).erased_at == NOW for application_id in old)


def test_purge_forgets_clinicians_session_records_older_than_90_days(app, runner, make_admin):
    admin_id = make_admin()
    with app.app_context():
        db.session.add_all([
            AdminSession(admin_id=admin_id, key_hash="a" * 64, created_at=NOW - timedelta(days=120),
                         last_seen_at=NOW - timedelta(days=120), ended_at=NOW - timedelta(days=91),
                         ended_reason="signed out"),
            AdminSession(admin_id=admin_id, key_hash="b" * 64, created_at=NOW - timedelta(days=10),
                         last_seen_at=NOW - timedelta(days=10), ended_at=NOW - timedelta(days=10),
                         ended_reason="idle"),
        ])
        db.session.commit()

    result = purge(app, runner)

    assert "Removed 1 clinician session record that ended over 90 days ago." in result.output
    with app.app_context():
        assert db.session.scalars(sa.select(AdminSession.key_hash)).all() == ["b" * 64]


def test_purge_is_one_audit_event_of_counts_only(app, runner, make_cohort, make_application):
    slug = make_cohort()
    make_application(slug, first_name="Auditable", status="declined", declined_at=NOW - timedelta(days=200))
    make_application(slug, first_name="Auditable", status="withdrawn", withdrawn_at=NOW - timedelta(days=200))

    purge(app, runner)
    purge(app, runner)  # nothing to do: no second event

    with app.app_context():
        [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "purged")).all()
        assert (event.actor, event.admin_id, event.application_id, event.cohort_id) == ("system", None, None, None)
        assert "2" in event.detail and "Auditable" not in event.detail


def test_periodic_runs_the_purge(app, runner, make_cohort, make_application):
    application_id = make_application(make_cohort(), status="declined", declined_at=NOW - timedelta(days=200))

    result = runner.invoke(args=["periodic"])

    assert result.exit_code == 0, result.output
    assert "1 application(s) erased (retention), 0 session record(s) forgotten" in result.output
    assert get(app, application_id).erased_at == NOW
    with app.app_context():
        assert enrolment.run_due_work().purged.erased == 0  # done once


@pytest.mark.parametrize("name, value", [("RETENTION_DAYS", "six months"), ("RETENTION_DAYS", 0),
                                         ("FINISHED_COHORT_RETENTION_DAYS", -5), ("RETENTION_DAYS", True),
                                         ("FINISHED_COHORT_RETENTION_DAYS", 1.5),
                                         ("RETENTION_DAYS", 10**9)])
def test_a_setting_that_is_no_number_of_days_stops_the_site_and_the_command(app_config, tmp_path, monkeypatch,
                                                                             name, value):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path / "instance"))
    with pytest.raises(ConfigurationError, match=f"RESILIENCE_{name} .*a whole number of days"):
        create_app({**app_config, name: value})


def test_the_purge_command_says_what_is_wrong_with_a_setting(app, runner):
    app.config["RETENTION_DAYS"] = "six months"
    result = purge(app, runner)
    assert result.exit_code != 0
    assert "RESILIENCE_RETENTION_DAYS is 'six months': it must be a whole number of days" in result.output


def test_settings_given_as_text_of_digits_are_read_as_days(app_config, tmp_path, monkeypatch):
    monkeypatch.setenv("RESILIENCE_INSTANCE_PATH", str(tmp_path / "instance"))
    site = create_app({**app_config, "RETENTION_DAYS": "90", "FINISHED_COHORT_RETENTION_DAYS": " 400 "})
    assert (site.config["RETENTION_DAYS"], site.config["FINISHED_COHORT_RETENTION_DAYS"]) == (90, 400)
    defaults = create_app(app_config)
    assert (defaults.config["RETENTION_DAYS"], defaults.config["FINISHED_COHORT_RETENTION_DAYS"]) == (180, 365)


# --- Erasure on request: asked twice ---------------------------------------------------------------

@pytest.fixture
def quill(app, admin_client, make_cohort):
    """Quillon applied to two cohorts: invited to talk in one (a conversation booked), waitlisted
    in the other; a note, a message, emails sent (as .eml files) and queued. Brisa applied too."""
    spring, summer = make_cohort(title="Spring 2027 cohort"), make_cohort(title="Summer 2027 cohort")
    first = submit(app, spring, QUILL, **QUILL_ANSWERS)
    second = submit(app, summer, QUILL, **QUILL_ANSWERS)
    brisa = submit(app, spring, BRISA, intention="Moonfeather mornings")
    holder = submit(app, summer, {"first_name": "Holder", "last_name": "Seat", "email": "holder@example.org",
                                  "phone": "555", "home_area": "Augusta, ME"})
    with app.app_context():
        ana = db.session.scalar(sa.select(Admin))
        enrolment.change_status(first, Status.SCREENING, admin=ana)
        enrolment.change_status(second, Status.WAITLISTED, admin=ana)
        enrolment.change_status(holder, Status.ACCEPTED, admin=ana, evaluated=True)
        slots = enrolment.add_slots(ana, NOW + timedelta(days=2), 30, 2, "phone", None, "America/New_York", ana)
        enrolment.book(first, slots[0].id)
        held = ScreeningSlot(admin=ana, starts_at=NOW - timedelta(days=3), minutes=30, timezone="America/New_York",
                             mode="phone", application_id=second, booked_at=NOW - timedelta(days=5),
                             held_at=NOW - timedelta(days=3), created_at=NOW - timedelta(days=6))
        db.session.add(held)
        db.session.commit()
        slot_ids = [slots[0].id, held.id]
    assert admin_client.post(f"/admin/applications/{first}/notes",
                             data={"body": "Quillon sounds steady; Zephyrquartz again."}).status_code == 303
    assert admin_client.post(f"/admin/applications/{brisa}/notes", data={"body": "Brisa: Moonfeather."}).status_code == 303
    deliver(app)  # everything so far is sent: .eml files under instance/outbox/
    assert admin_client.post(f"/admin/applications/{first}/messages",
                             data={"message_body": "Dear Quillon, about Xanadu Falls parking."}).status_code == 303
    # The seat freed in Summer names Quillon, first on its waitlist, in the clinicians' email.
    with app.app_context():
        enrolment.change_status(holder, Status.WITHDRAWN, admin=db.session.scalar(sa.select(Admin)))
    admin_client.get("/admin/")  # the flashes of the requests above are shown, and gone from the session
    saved_draft(app, QUILL["email"], {**QUILL, "intention": "Zephyrquartz, saved for later"})
    saved_draft(app, BRISA["email"], {**BRISA, "intention": "Moonfeather, saved for later"})
    return {"first": first, "second": second, "brisa": brisa, "slots": slot_ids, "spring": spring,
            "summer": summer}


def saved_draft(app, address: str, fields: dict) -> None:
    """A form saved to finish later, as enrolment/drafts.py keeps it: sealed, known by the address's SHA-256."""
    with app.app_context():
        db.session.add(ApplicationDraft(key_hash=hashlib.sha256(address.encode()).hexdigest(), fields=fields,
                                        emailed_to=hashlib.sha256(address.strip().lower().encode()).hexdigest(),
                                        saved_at=NOW, expires_at=NOW + timedelta(days=30)))
        db.session.commit()


def drafts(app) -> list[str]:
    with app.app_context():
        return [draft.fields["first_name"] for draft in db.session.scalars(sa.select(ApplicationDraft))]


def erase_path(application_id) -> str:
    return f"/admin/applications/{application_id}/erase"


def erase(client, application_id, ids, word="ERASE"):
    return client.post(erase_path(application_id) + "/confirm",
                       data={"applications": ",".join(map(str, ids)), "confirmation": word})


def test_the_application_page_offers_to_erase_the_persons_data(admin_client, quill):
    html = admin_client.get(f"/admin/applications/{quill['first']}").get_data(as_text=True)
    assert f'href="{erase_path(quill["first"])}"' in html
    assert "Erase this person’s data…" in html


def test_the_erasure_page_says_what_goes_and_what_stays_and_lists_every_application_of_the_address(
        app, admin_client, quill):
    text = page(admin_client.get(erase_path(quill["first"])))
    assert "Erase Quillon Vantablack’s data?" in text
    assert "Spring 2027 cohort" in text and "Summer 2027 cohort" in text  # both of their applications
    assert "Brisa" not in text
    for removed in ("name", "email address", "phone", "answers", "private notes", "messages", "emails"):
        assert removed in text
    assert "What stays" in text and "counts" in text
    assert "cancelled without emailing anyone" in text  # their booked conversation
    assert "Nothing is erased yet." in text
    assert get(app, quill["first"]).erased_at is None


def test_one_confirmation_alone_erases_nothing(app, admin_client, quill):
    assert f'href="{erase_path(quill["first"])}/confirm"' in admin_client.get(erase_path(quill["first"])).get_data(
        as_text=True)
    response = admin_client.get(erase_path(quill["first"]) + "/confirm")

    assert response.status_code == 200
    text = page(response)
    assert "Erase the data of 2 applications?" in text and "Type ERASE to confirm" in text
    assert f'value="{quill["first"]},{quill["second"]}"' in response.get_data(as_text=True)
    assert get(app, quill["first"]).erased_at is None and get(app, quill["second"]).erased_at is None


@pytest.mark.parametrize("word", ["", "erase it", "ERASED", "yes"])
def test_the_second_confirmation_needs_the_word_and_anything_else_erases_nothing(app, admin_client, quill, word):
    response = erase(admin_client, quill["first"], [quill["first"], quill["second"]], word)

    assert response.status_code == 422
    assert "Please type ERASE to confirm. Nothing was erased." in page(response)
    assert get(app, quill["first"]).erased_at is None and get(app, quill["second"]).erased_at is None


def test_confirmed_twice_every_application_of_the_address_is_erased_and_the_page_says_so(app, admin_client, quill):
    before = counts(app)
    assert admin_client.get(erase_path(quill["first"]) + "/confirm").status_code == 200
    response = erase(admin_client, quill["first"], [quill["first"], quill["second"]])

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/applications/{quill['first']}")
    text = page(admin_client.get(response.headers["Location"]))
    assert "Erased the data of 2 applications." in text
    assert f"Erased application #{quill['first']}" in text
    assert "Quillon" not in text and "Zephyrquartz" not in text
    first, second = get(app, quill["first"]), get(app, quill["second"])
    assert first.erased_at == NOW and second.erased_at == NOW
    # Still in play when erased: withdrawn, with no email; counts otherwise kept.
    assert first.status == Status.WITHDRAWN and second.status == Status.WITHDRAWN
    after = counts(app)
    assert sum(after.values()) == sum(before.values())
    assert after[Status.WITHDRAWN] == before[Status.WITHDRAWN] + 2


def test_a_changed_set_of_applications_between_the_two_confirmations_erases_nothing(app, admin_client, quill):
    response = erase(admin_client, quill["first"], [quill["first"]])  # the page showed one; there are two
    assert response.status_code == 409
    assert "changed since" in page(response)
    assert get(app, quill["first"]).erased_at is None


def test_a_person_holding_a_seat_in_a_cohort_not_yet_finished_is_not_erased(
        app, admin_client, make_cohort, make_application):
    slug = make_cohort(title="Autumn 2027 cohort")
    enrolled = make_application(slug, status="enrolled", email="seated@example.org")
    other = make_application(make_cohort(), status="pending", email="seated@example.org")

    text = page(admin_client.get(erase_path(other)))
    assert "holds a seat in the Autumn 2027 cohort" in text and "Withdraw them first" in text
    assert 'name="confirmation"' not in text
    start = admin_client.get(erase_path(other) + "/confirm")
    confirm = erase(admin_client, other, [enrolled, other])

    assert start.status_code == 409 and confirm.status_code == 409
    assert "Withdraw them first" in page(confirm)
    assert get(app, enrolled).erased_at is None and get(app, other).erased_at is None


def test_a_participant_of_a_finished_cohort_may_be_erased_and_keeps_their_status(
        app, admin_client, make_cohort, make_application):
    finished = make_cohort(starts_on=NOW.date() - timedelta(days=60))
    enrolled = make_application(finished, status="enrolled", email="done@example.org")

    assert admin_client.get(erase_path(enrolled) + "/confirm").status_code == 200
    assert erase(admin_client, enrolled, [enrolled]).status_code == 303

    application = get(app, enrolled)
    assert application.erased_at == NOW and application.status == Status.ENROLLED


def test_the_old_status_link_shows_the_same_page_as_an_unknown_link(app, client, admin_client, quill):
    token = get(app, quill["first"]).token
    assert client.get(f"/status/{token}").status_code == 200

    erase(admin_client, quill["first"], [quill["first"], quill["second"]])

    gone = client.get(f"/status/{token}")
    unknown = client.get(f"/status/{'x' * len(token)}")
    assert gone.status_code == unknown.status_code == 404
    assert gone.get_data() == unknown.get_data()


def test_the_erasure_is_audited_with_the_application_only(app, admin_client, quill):
    erase(admin_client, quill["first"], [quill["first"], quill["second"]])
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "erased on request")
                                    .order_by(AuditEvent.application_id)).all()
        assert [event.application_id for event in events] == [quill["first"], quill["second"]]
        assert all(event.admin.email == "ana@practice.example" for event in events)
        assert not any(event.detail and "Quillon" in event.detail for event in events)
    audit = page(admin_client.get("/admin/audit"))
    assert "Erased on request" in audit and f"Erased application #{quill['first']}" in audit


def test_their_queued_emails_are_dropped_and_everyone_elses_stay(app, admin_client, quill):
    brisa_mail_before = mail(app, to=BRISA["email"])
    assert "Quillon" in queued_mail_words(app)  # a message to them, the clinicians' seat-freed email

    erase(admin_client, quill["first"], [quill["first"], quill["second"]])

    assert "Quillon" not in queued_mail_words(app) and "quillon" not in queued_mail_words(app).lower()
    assert mail(app, to=BRISA["email"]) == brisa_mail_before
    assert mail(app, kind="received", to="holder@example.org")  # others' emails, sent or not, are kept


def test_a_form_they_saved_to_finish_later_goes_too(app, admin_client, quill):
    assert sorted(drafts(app)) == ["Brisa", "Quillon"]
    erase(admin_client, quill["first"], [quill["first"], quill["second"]])
    assert drafts(app) == ["Brisa"]


def test_a_booked_conversation_ahead_is_freed_and_a_held_one_stays_with_the_anonymous_row(app, admin_client, quill):
    erase(admin_client, quill["first"], [quill["first"], quill["second"]])
    with app.app_context():
        ahead, held = (db.session.get(ScreeningSlot, slot_id) for slot_id in quill["slots"])
        assert ahead.application_id is None and ahead.booked_at is None
        assert ahead in enrolment.open_slots()
        assert held.application_id == quill["second"]


def test_an_erased_application_can_no_longer_be_decided_on_or_written_to(app, admin_client, quill):
    erase(admin_client, quill["first"], [quill["first"], quill["second"]])
    decided = admin_client.post(f"/admin/applications/{quill['first']}/status", data={"status": "pending"})
    written = admin_client.post(f"/admin/applications/{quill['first']}/messages",
                                data={"message_body": "Hello again, Zanzibarquill"})

    assert decided.status_code == 303 and written.status_code == 422
    assert "was erased" in page(admin_client.get(decided.headers["Location"]))
    assert "was erased" in page(written)
    assert get(app, quill["first"]).status == Status.WITHDRAWN
    assert "Zanzibarquill" not in queued_mail_words(app)


def test_an_erased_application_reads_calmly_everywhere_in_the_panel(app, admin_client, quill):
    erase(admin_client, quill["first"], [quill["first"], quill["second"]])
    label = f"Erased application #{quill['first']}"
    for path in ("/admin/applications", f"/admin/applications?cohort={quill['spring']}", "/admin/audit",
                 f"/admin/applications/{quill['first']}", "/admin/screening"):
        response = admin_client.get(path)
        assert response.status_code == 200, path
        text = page(response)
        assert "Quillon" not in text, path
    assert label in page(admin_client.get("/admin/applications"))
    erased_page = page(admin_client.get(f"/admin/applications/{quill['first']}"))
    assert "erased on request" in erased_page.lower()
    assert "Erase this person’s data…" not in erased_page
    assert admin_client.get(erase_path(quill["first"])).status_code in (200, 303)


def test_an_erased_participant_of_a_finished_cohort_keeps_their_seat_on_the_dashboard(
        app, admin_client, make_cohort, make_application):
    finished = make_cohort(starts_on=NOW.date() - timedelta(days=60), title="Past cohort")
    enrolled = make_application(finished, status="enrolled", first_name="Seatkeeper", email="keep@example.org")
    erase(admin_client, enrolled, [enrolled])

    dashboard = page(admin_client.get("/admin/"))
    assert f"Erased application #{enrolled}" in dashboard and "Seatkeeper" not in dashboard
    assert "5 of 6 seats open" in dashboard


def test_the_csv_holds_an_erased_row_without_breaking(app, admin_client, quill):
    erase(admin_client, quill["first"], [quill["first"], quill["second"]])
    for include in ("", "answers"):
        response = admin_client.get(f"/admin/cohorts/{quill['spring']}/applications.csv?include={include}")
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        erased = next(row for row in rows[1:] if row[0] == str(quill["first"]))
        assert erased[1] == "Withdrawn"
        assert "Quillon" not in response.get_data(as_text=True)


def test_people_who_named_them_in_their_answers_are_pointed_out_and_left_as_they_are(
        app, admin_client, make_cohort, make_application):
    slug = make_cohort()
    person = make_application(slug, first_name="Named", last_name="Person", email="named@example.org")
    namer = make_application(slug, first_name="Namer", email="namer@example.org",
                             answers=answers(knows_applicants="I know Named Person from work"))
    text = page(admin_client.get(erase_path(person)))
    assert f"application #{namer}" in text and "their own answers" in text


# --- THE test: no trace of the person anywhere ---------------------------------------------------

def test_after_erasure_no_table_queued_email_or_eml_file_holds_any_trace_of_the_person(app, admin_client, quill):
    assert set(traces(app, QUILL_WORDS)) == set(QUILL_WORDS)  # the search finds them before
    brisa_before = get(app, quill["brisa"])
    assert admin_client.get(erase_path(quill["first"]) + "/confirm").status_code == 200
    assert erase(admin_client, quill["first"], [quill["first"], quill["second"]]).status_code == 303

    assert traces(app, QUILL_WORDS + [QUILL["email"]]) == []
    # Everyone else's data is untouched.
    assert set(traces(app, BRISA_WORDS)) == set(BRISA_WORDS)
    with app.app_context():
        brisa = db.session.get(Application, quill["brisa"])
        assert (brisa.first_name, brisa.email, brisa.answers["intention"], brisa.token) == (
            "Brisa", BRISA["email"], "Moonfeather mornings", brisa_before.token)
        assert db.session.scalar(sa.select(Note.body).where(Note.application_id == quill["brisa"])) == (
            "Brisa: Moonfeather.")


def test_after_purge_no_table_queued_email_or_eml_file_holds_any_trace_of_the_person(
        app, admin_client, runner, make_cohort):
    # Quillon took part in a cohort that ended over a year ago; Brisa was declined last month.
    finished = make_cohort(starts_on=NOW.date() - timedelta(days=500))
    app.config["NOW"] = NOW - timedelta(days=520)
    quill_id = submit(app, finished, QUILL, **QUILL_ANSWERS)
    brisa_id = submit(app, make_cohort(), BRISA, intention="Moonfeather mornings")
    with app.app_context():
        ana = db.session.scalar(sa.select(Admin))
        enrolment.change_status(quill_id, Status.ACCEPTED, admin=ana, evaluated=True,
                                message="Welcome, Quillon: Zephyrquartz suits you.")
        enrolment.change_status(quill_id, Status.ENROLLED, actor="applicant")
        enrolment.add_note(quill_id, ana, "Quillon lives in Xanadu Falls.")
    deliver(app)
    app.config["NOW"] = NOW - timedelta(days=480)  # the group is under way
    with app.app_context():
        ana = db.session.scalar(sa.select(Admin))
        meeting = db.session.get(Application, quill_id).cohort.meetings[0]
        enrolment.mark_attendance(meeting.id, quill_id, "absent", ana)  # the clinicians are told, by name
        enrolment.write_to_participants(meeting.cohort_id, ana, "See you all on Tuesday.")
    app.config["NOW"] = NOW - timedelta(days=30)
    with app.app_context():
        enrolment.change_status(brisa_id, Status.DECLINED, admin=db.session.scalar(sa.select(Admin)))
    assert set(traces(app, QUILL_WORDS)) >= {"Quillon", "Vantablack", "Zephyrquartz", "Xanadu Falls"}

    result = purge(app, runner)

    assert "Erased 1 application: 0 declined or withdrawn over 180 days ago, 1 from cohorts finished" in result.output
    assert traces(app, QUILL_WORDS + [QUILL["email"]]) == []
    assert set(traces(app, BRISA_WORDS)) == set(BRISA_WORDS)
    with app.app_context():
        application = db.session.get(Application, quill_id)
        assert application.status == Status.ENROLLED and application.erased_at == NOW
        assert db.session.get(Application, brisa_id).answers["intention"] == "Moonfeather mornings"


def test_an_application_sealed_with_a_key_no_longer_set_is_still_erased(app, runner, make_cohort, make_application):
    application_id = make_application(make_cohort(), status="declined", declined_at=NOW - timedelta(days=200))
    with app.app_context(), db.engine.begin() as connection:
        other_key = "0" * 43 + "="
        connection.execute(sa.text("UPDATE application SET answers = :answers WHERE id = :id"),
                           {"answers": sealing.seal({"v": 1, "answers": {"intention": "lost"}}, other_key),
                            "id": application_id})
    result = purge(app, runner)
    assert "Erased 1 application" in result.output, result.output
    assert get(app, application_id).answers == {}


def test_the_attention_count_is_kept_for_the_anonymous_counts(app, admin_client, make_cohort, make_application):
    slug = make_cohort()
    application_id = make_application(slug, email="careful@example.org",
                                      answers=answers(blood_pressure="unsure", ride_home="no"))
    assert get(app, application_id).attention == 2
    erase(admin_client, application_id, [application_id])
    assert get(app, application_id).attention == 2


def test_erasure_needs_a_signed_in_clinician(app, client, make_cohort, make_application, make_admin):
    make_admin()
    application_id = make_application(make_cohort())
    response = erase(client, application_id, [application_id])
    assert response.status_code in (302, 303, 401)
    assert get(app, application_id).erased_at is None
    assert sign_in(client).status_code == 303


def test_the_status_token_is_replaced_by_a_new_random_one(app, admin_client, make_cohort, make_application):
    application_id = make_application(make_cohort(), email="tokens@example.org")
    old = get(app, application_id).token
    erase(admin_client, application_id, [application_id])
    new = get(app, application_id).token
    assert new != old and re.fullmatch(r"[A-Za-z0-9_-]{43}", new)


# --- The upgrade (0009) ------------------------------------------------------------------------

def test_the_upgrade_keeps_every_application_readable_and_erases_no_one(bare_app):
    from test_migrations import build_previous_release, init_db, pending_differences, raw

    people = build_previous_release(bare_app)
    runner = bare_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0008"]).exit_code == 0
    result = runner.invoke(args=["db", "upgrade", "0009"])
    assert result.exit_code == 0, result.output
    assert raw(bare_app, "SELECT version_num FROM alembic_version") == [("0009",)]

    assert raw(bare_app, "SELECT COUNT(*) FROM application WHERE erased_at IS NULL") == [(len(people),)]
    # Erased rows are nobody's: two erased participants of one cohort both have the empty address.
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE application SET email_key = '', erased_at = :at "
                                   "WHERE status IN ('accepted', 'enrolled')"), {"at": NOW.replace(tzinfo=None)})
    # …while two live applications from one address to one cohort are still refused.
    with pytest.raises(sa.exc.IntegrityError), bare_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE application SET email_key = 'same@example.org' "
                                   "WHERE status IN ('pending', 'waitlisted')"))
    assert init_db(bare_app).exit_code == 0  # on to the newest revision, where the models read every row
    with bare_app.app_context():
        for person in people.values():
            application = db.session.get(Application, person["id"])
            assert application.answers["medications"] == person["medications"]
            assert application.full_name.endswith(" Earlier") or application.erased_at  # (marked erased above)
    assert pending_differences(bare_app) == []

    # Taken back (erased rows stay erased), and done again.
    assert runner.invoke(args=["db", "downgrade", "0008"]).exit_code == 0
    assert raw(bare_app, "SELECT COUNT(*) FROM application WHERE first_name != ''") == [(len(people),)]
    assert init_db(bare_app).exit_code == 0
    assert raw(bare_app, "SELECT COUNT(*) FROM application WHERE erased_at IS NOT NULL") == [(0,)]
    assert pending_differences(bare_app) == []
