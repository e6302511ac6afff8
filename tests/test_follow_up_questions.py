"""Follow-up questions: a "Yes" or "Not sure" on a health question asks for a few words,
with and without JavaScript, and the clinicians read those words beside the answer."""
import re

from conftest import applications

HEALTH = ("pregnant", "blood_pressure", "heart", "psychosis", "substance_use", "liver", "raised_pressure",
          "thyroid", "anaesthesia_reaction")


def test_each_health_question_has_a_follow_up_shown_for_yes_or_not_sure(client, make_cohort):
    slug = make_cohort()
    html = client.get(f"/apply?cohort={slug}").get_data(as_text=True)
    for name in HEALTH:
        block = re.search(rf'<div class="follow-up" data-follows="{name}" data-when="yes unsure">.*?</textarea>',
                          html, re.DOTALL)
        assert block, name
        assert "If you answered Yes or Not sure: a few words about it" in block.group(0)
        assert f'name="{name}_detail"' in block.group(0)


def test_a_yes_without_the_few_words_is_asked_for_them_keeping_everything_typed(client, make_cohort, form_data):
    slug = make_cohort()
    response = client.post("/apply", data=form_data(slug, heart="yes", intention="Steadier with people"))

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Please write a few words about it: what, and when." in html
    assert "Steadier with people" in html
    assert re.search(r'<input checked id="heart-0" name="heart"', html)


def test_the_few_words_are_stored_and_read_beside_the_answer(app, client, admin_client, make_cohort, form_data):
    slug = make_cohort()
    response = client.post("/apply", data=form_data(slug, heart="yes", heart_detail="A stent in 2019, fine since",
                                                    liver="unsure", liver_detail="A blood test was off last year"))
    assert response.status_code == 303
    stored = applications(app)[0]
    assert stored.answers["heart_detail"] == "A stent in 2019, fine since"

    page = admin_client.get(f"/admin/applications/{stored.id}").get_data(as_text=True)
    attention = re.search(r'<section[^>]*class="[^"]*attention.*?</section>', page, re.DOTALL).group(0)
    assert "A stent in 2019, fine since" in attention
    assert "A blood test was off last year" in attention


def test_words_left_under_a_no_are_not_kept(app, client, make_cohort, form_data):
    slug = make_cohort()
    client.post("/apply", data=form_data(slug, heart="no", heart_detail="typed, then changed to No"))
    assert applications(app)[0].answers["heart_detail"] == ""


def test_inline_validation_asks_for_the_words_only_after_a_yes(htmx_client, make_cohort, form_data):
    slug = make_cohort()
    after_yes = htmx_client.post("/apply/validate?field=heart_detail", data=form_data(slug, heart="yes"))
    after_no = htmx_client.post("/apply/validate?field=heart_detail", data=form_data(slug, heart="no"))
    assert "Please write a few words" in after_yes.get_data(as_text=True)
    assert "Please write a few words" not in after_no.get_data(as_text=True)


def test_the_spreadsheet_names_whose_few_words_each_column_holds(admin_client, client, make_cohort, form_data):
    slug = make_cohort()
    client.post("/apply", data=form_data(slug, heart="yes", heart_detail="A stent in 2019"))
    csv_text = admin_client.get(f"/admin/cohorts/{slug}/applications.csv?include=answers").get_data(as_text=True)
    assert "Have you had heart disease, a heart attack, a stroke or an aneurysm? (a few words)" in csv_text
    assert "A stent in 2019" in csv_text


def test_an_older_application_without_follow_ups_reads_as_before(admin_client, make_cohort, make_application):
    slug = make_cohort()
    application_id = make_application(slug)  # answers from before follow-up questions existed
    page = admin_client.get(f"/admin/applications/{application_id}").get_data(as_text=True)
    assert "a few words about it" not in page
