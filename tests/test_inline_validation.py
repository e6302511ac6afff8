"""Inline validation: htmx posts the form on change and gets back that one field."""
import re


def test_invalid_email_comes_back_as_the_field_with_its_error(htmx_client, make_cohort, form_data):
    slug = make_cohort()
    response = htmx_client.post("/apply/validate?field=email", data=form_data(slug, email="alex@"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div class="field field--emailfield field--error" id="field-email"')
    assert 'aria-invalid="true"' in html and 'value="alex@"' in html
    assert "Please enter an email address like name@example.com." in html
    assert "<html" not in html and 'id="field-first_name"' not in html
    # the polite live region is updated out of band with the same message
    assert re.search(r'<div id="form-announcer" hx-swap-oob="innerHTML">Email address: Please enter', html)


def test_valid_field_comes_back_clean_and_announces_nothing(htmx_client, make_cohort, form_data):
    slug = make_cohort()
    html = htmx_client.post("/apply/validate?field=email", data=form_data(slug)).get_data(as_text=True)
    assert "field--error" not in html and "aria-invalid" not in html
    assert '<div id="form-announcer" hx-swap-oob="innerHTML"></div>' in html


def test_inline_validation_uses_the_same_rules_as_submit(htmx_client, make_cohort, form_data):
    slug = make_cohort()
    html = htmx_client.post("/apply/validate?field=intention",
                            data=form_data(slug, intention="x" * 3001)).get_data(as_text=True)
    assert "Please keep this under 3,000 characters." in html


def test_radio_and_checkbox_questions_validate_inline(htmx_client, make_cohort, form_data):
    slug = make_cohort()
    html = htmx_client.post("/apply/validate?field=heart", data=form_data(slug, heart=None)).get_data(as_text=True)
    assert '<fieldset aria-describedby="heart-error">' in html and "Please choose one answer." in html
    html = htmx_client.post("/apply/validate?field=consent_health",
                            data=form_data(slug, consent_health=None)).get_data(as_text=True)
    assert "We can only consider your application with this consent." in html
    assert re.search(r'<input aria-describedby="consent_health-hint consent_health-error" aria-invalid="true" '
                     r'id="consent_health" name="consent_health" required type="checkbox"', html)


def test_cohort_choice_validates_inline_with_its_dates_and_seats(htmx_client, make_cohort, form_data):
    slug = make_cohort()
    html = htmx_client.post("/apply/validate?field=cohort", data=form_data(slug)).get_data(as_text=True)
    assert "6 of 6 seats open" in html and "field--error" not in html


def test_fields_are_wired_for_htmx_with_a_real_form_behind_them(client, make_cohort):
    make_cohort()
    html = client.get("/apply").get_data(as_text=True)
    assert ('<div class="field field--emailfield" id="field-email" hx-post="/apply/validate?field=email" '
            'hx-trigger="change" hx-target="this" hx-swap="outerHTML">') in html
    assert '<div id="form-announcer" class="visually-hidden" aria-live="polite"></div>' in html
    assert re.search(r'<script src="/static/js/htmx\.min\.[0-9a-f]{12}\.js" defer></script>', html)


def test_only_questions_of_the_form_can_be_validated(htmx_client, make_cohort):
    make_cohort()
    for name in ("csrf_token", "submission_id", "__class__", ""):
        assert htmx_client.post(f"/apply/validate?field={name}", data={}).status_code == 404


def test_inline_validation_does_not_reveal_who_has_applied(htmx_client, make_cohort, make_application, form_data):
    slug = make_cohort()
    make_application(slug, email="alex@example.org")
    html = htmx_client.post("/apply/validate?field=email", data=form_data(slug)).get_data(as_text=True)
    assert "already" not in html and "field--error" not in html
