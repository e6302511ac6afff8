"""The form in steps: with JavaScript the sections come one step at a time, each step checked
by the server before the next; without it, the single long page works as before."""
import re

from resilience import questions

STEP_NAMES = {1: "cohort", 2: "attend_all", 3: "heart", 4: "intention", 5: "consent_health"}


def test_every_section_belongs_to_one_of_five_steps_in_order(client, make_cohort):
    slug = make_cohort()
    html = client.get(f"/apply?cohort={slug}").get_data(as_text=True)
    steps = [int(n) for n in re.findall(r'<section class="form-section" data-step="(\d)"', html)]
    assert steps == sorted(steps) and set(steps) == {1, 2, 3, 4, 5}
    assert '<form class="application-form" method="post" action="/apply" novalidate data-steps="5"' in html
    assert len(questions.STEPS) == 5


def test_checking_a_step_returns_its_fields_with_what_to_fix(htmx_client, make_cohort, form_data):
    slug = make_cohort()
    response = htmx_client.post("/apply/validate?step=1", data=form_data(slug, email="alex@", phone=""))

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="field-first_name"' in html and 'id="field-email"' in html and 'id="field-cohort"' in html
    assert "Please enter an email address like name@example.com." in html
    assert "Please enter a phone number." in html
    assert 'id="field-heart"' not in html  # another step's question
    assert html.count("field--error") == 2


def test_a_step_without_problems_says_so(htmx_client, make_cohort, form_data):
    slug = make_cohort()
    for step in range(1, 6):
        html = htmx_client.post(f"/apply/validate?step={step}", data=form_data(slug)).get_data(as_text=True)
        assert "field--error" not in html, step
        assert f'id="field-{STEP_NAMES[step]}"' in html


def test_a_step_that_is_not_one_is_not_found(htmx_client, make_cohort):
    make_cohort()
    for step in ("0", "6", "x", "", "1.5", "-1"):
        assert htmx_client.post(f"/apply/validate?step={step}", data={}).status_code == 404, step
