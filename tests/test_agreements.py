"""The agreements an applicant ticks are site texts the clinicians can change: the form shows
the current words, each application records the version its person ticked, the clinicians
read those very words on the application, and words changed while someone was filling in the
form are asked about again."""
import re

import sqlalchemy as sa
from conftest import applications

from resilience import content, questions
from resilience.extensions import db
from resilience.models import SiteText

NEW_WORDS = "I agree that the practice may keep my answers, my health information among them, for its clinicians."


def edit(client, name, words):
    response = client.post(f"/admin/content/agreement.{name}", data={"body": words, "action": "save"})
    assert response.status_code == 303, response.get_data(as_text=True)


def marks_in(page: str) -> str:
    return re.search(r'name="agreement_words" type="hidden" value="([^"]*)"', page)[1]


def test_the_form_shows_the_agreements_current_words(client, admin_client, make_cohort):
    slug = make_cohort()
    shipped = questions.QUESTIONS["consent_health"].label
    assert shipped in client.get(f"/apply?cohort={slug}").get_data(as_text=True)
    edit(admin_client, "consent_health", NEW_WORDS)
    page = client.get(f"/apply?cohort={slug}").get_data(as_text=True)
    assert NEW_WORDS in page and shipped not in page


def test_an_application_shows_the_consent_version_own_words(app, client, admin_client, make_cohort, form_data):
    slug = make_cohort()
    shipped = questions.QUESTIONS["consent_health"].label
    assert client.post("/apply", data=form_data(slug, email="first@example.org")).status_code == 303
    edit(admin_client, "consent_health", NEW_WORDS)
    assert client.post("/apply", data=form_data(slug, email="second@example.org")).status_code == 303

    first, second = applications(app)
    assert first.agreed_texts["agreement.consent_health"] == 1
    assert second.agreed_texts["agreement.consent_health"] == 2
    assert second.agreed_texts["agreement.ack_adult"] == 1

    page = admin_client.get(f"/admin/applications/{first.id}").get_data(as_text=True)
    agreed = page[page.index("What they agreed to"):]
    assert shipped in agreed and NEW_WORDS not in agreed and "version 1" in agreed
    assert "I am 18 or older." in agreed
    page = admin_client.get(f"/admin/applications/{second.id}").get_data(as_text=True)
    agreed = page[page.index("What they agreed to"):]
    assert NEW_WORDS in agreed and shipped not in agreed and "version 2" in agreed


def test_a_restored_version_is_a_new_version_and_applications_keep_theirs(app, client, admin_client, make_cohort,
                                                                           form_data):
    slug = make_cohort()
    edit(admin_client, "ack_adult", "I am 18 years old or older.")
    assert client.post("/apply", data=form_data(slug, email="first@example.org")).status_code == 303
    assert admin_client.post("/admin/content/agreement.ack_adult/versions/1/restore").status_code == 303
    assert client.post("/apply", data=form_data(slug, email="second@example.org")).status_code == 303
    first, second = applications(app)
    # 1: the shipped words, 2: the edit, 3: the shipped words again
    assert (first.agreed_texts["agreement.ack_adult"], second.agreed_texts["agreement.ack_adult"]) == (2, 3)
    page = admin_client.get(f"/admin/applications/{first.id}").get_data(as_text=True)
    assert "I am 18 years old or older." in page


def test_words_changed_while_the_form_was_open_are_asked_again(app, client, admin_client, make_cohort, form_data):
    slug = make_cohort()
    shown = marks_in(client.get(f"/apply?cohort={slug}").get_data(as_text=True))
    edit(admin_client, "consent_health", NEW_WORDS)  # while the person was typing

    response = client.post("/apply", data=form_data(slug, agreement_words=shown, first_name="Robin"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and applications(app) == []
    assert "We changed these words while you were filling in the form" in page
    assert NEW_WORDS in page and 'value="Robin"' in page  # the new words, and nothing typed is lost
    box = re.search(r'<input[^>]*id="consent_health"[^>]*>', page)[0]
    assert "checked" not in box and 'aria-invalid="true"' in box
    assert 'id="ack_adult"' in page and "checked" in re.search(r'<input[^>]*id="ack_adult"[^>]*>', page)[0]

    # Ticked again beside the words shown now, the form goes.
    response = client.post("/apply", data=form_data(slug, agreement_words=marks_in(page), first_name="Robin"))
    assert response.status_code == 303
    [application] = applications(app)
    assert application.agreed_texts["agreement.consent_health"] == 2


def test_the_marks_of_unchanged_words_let_the_form_go(app, client, make_cohort, form_data):
    slug = make_cohort()
    shown = marks_in(client.get(f"/apply?cohort={slug}").get_data(as_text=True))
    assert len(shown.split()) == 5
    assert client.post("/apply", data=form_data(slug, agreement_words=shown)).status_code == 303


def test_marks_that_say_nothing_are_no_reason_to_ask_again(app, client, make_cohort, form_data):
    slug = make_cohort()
    for n, sent in enumerate(("", "nonsense", "a b c", "a b c d e", "x" * 500, "\x00 \u2028")):
        response = client.post("/apply", data=form_data(slug, agreement_words=sent, email=f"p{n}@example.org"))
        assert response.status_code == 303, sent
    assert len(applications(app)) == 6


def test_the_first_application_keeps_the_shipped_words_as_version_one(app, client, make_cohort, form_data):
    slug = make_cohort()
    assert client.post("/apply", data=form_data(slug)).status_code == 303
    with app.app_context():
        stored = dict(db.session.execute(sa.select(SiteText.key, SiteText.body).where(SiteText.version == 1)).all())
    for name in content.AGREEMENTS:
        assert stored[f"agreement.{name}"] == questions.QUESTIONS[name].label


def test_the_agreements_are_edited_with_the_other_texts_on_one_line(client, admin_client):
    page = admin_client.get("/admin/content").get_data(as_text=True)
    assert "Agreements and consent" in page and "Consent to store and read health information" in page
    response = admin_client.post("/admin/content/agreement.ack_adult", data={"body": "I am\n18.", "action": "save"})
    assert response.status_code == 422 and "Please keep this on one line." in response.get_data(as_text=True)
    response = admin_client.post("/admin/content/agreement.ack_adult", data={"body": "x" * 601, "action": "save"})
    assert response.status_code == 422
    edit(admin_client, "ack_adult", "I am   18 or older,  truly.")
    page = admin_client.get("/admin/content/agreement.ack_adult").get_data(as_text=True)
    assert "I am 18 or older, truly." in page and "(shown now)" in page


def test_a_version_nobody_saved_is_named_as_the_words_the_site_shipped_with(app, client, admin_client, make_cohort,
                                                                             form_data):
    assert client.post("/apply", data=form_data(make_cohort())).status_code == 303  # stores version 1
    edit(admin_client, "ack_adult", "I am 18 or older, truly.")
    page = admin_client.get("/admin/content/agreement.ack_adult").get_data(as_text=True)
    assert "the words the site shipped with, kept on" in page and "saved by Dr. Ana Reyes" in page
