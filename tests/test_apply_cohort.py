"""The cohort beside the form: a person applying sees the ten meetings, the place, the fee,
the deadline and the seats left of the cohort they apply for; with several open cohorts and
none named in the link, they choose one first."""
import re

from conftest import answers

from resilience.status import Status


def facts(html: str) -> str:
    found = re.search(r'<aside class="chosen-cohort"(?![^>]*hidden).*?</aside>', html, re.DOTALL)
    assert found, "no cohort beside the form"
    return found.group(0)


def test_the_form_shows_the_chosen_cohorts_meetings_place_fee_deadline_and_seats(client, make_cohort, make_application):
    slug = make_cohort(title="Winter cohort", fee_text="$1,800 for the ten meetings; a sliding scale is available")
    make_application(slug, status=Status.ENROLLED)

    aside = facts(client.get(f"/apply?cohort={slug}&ref=blog").get_data(as_text=True))

    assert "Winter cohort" in aside
    assert aside.count('class="meeting ') == 10
    assert "Sun, Jan 10" in aside and "6:00 – 8:00 pm EST" in aside  # the first meeting, local time
    assert "120 Harbor Street, Portland, ME" in aside
    assert "$1,800 for the ten meetings" in aside
    assert "Apply by" in aside and "December 27, 2026" in aside
    assert "5 of 6 seats open" in aside
    assert "Times are New York time" in aside


def test_times_are_the_cohorts_own(client, make_cohort):
    slug = make_cohort(timezone="America/Los_Angeles")
    aside = facts(client.get(f"/apply?cohort={slug}").get_data(as_text=True))
    assert "PST" in aside and "EST" not in aside
    assert "Times are Los Angeles time" in aside


def test_the_attend_all_question_points_at_the_dates_shown(client, make_cohort):
    slug = make_cohort()
    html = client.get(f"/apply?cohort={slug}").get_data(as_text=True)
    question = re.search(r'<fieldset[^>]*>\s*<legend[^>]*>\s*Can you attend all ten meetings.*?</fieldset>', html, re.DOTALL)
    assert question and "the ten meetings listed with your cohort" in question.group(0)


def test_with_several_open_cohorts_the_person_chooses_one_first(client, make_cohort):
    first = make_cohort(title="Winter cohort")
    second = make_cohort(title="Spring cohort", fee_text="$1,900")

    html = client.get("/apply?ref=blog").get_data(as_text=True)

    assert "Choose your cohort" in html
    assert 'name="first_name"' not in html  # the questions come once a cohort is chosen
    assert f'href="/apply?cohort={first}&amp;ref=blog"' in html
    assert f'href="/apply?cohort={second}&amp;ref=blog"' in html
    assert "Spring cohort" in html and "$1,900" in html and "6 of 6 seats open" in html


def test_the_only_open_cohort_is_beside_the_form_straight_away(client, make_cohort):
    slug = make_cohort(title="Winter cohort")
    html = client.get("/apply").get_data(as_text=True)
    assert "Winter cohort" in facts(html)
    assert f'value="{slug}"' in html and 'name="first_name"' in html


def test_a_form_with_something_to_fix_keeps_its_cohort_beside_it(client, make_cohort, form_data):
    winter = make_cohort(title="Winter cohort")
    slug = make_cohort(title="Spring cohort")
    response = client.post("/apply", data=form_data(slug, email="not an address"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Spring cohort" in facts(html)
    # (the POST reads only the chosen cohort to check it; the form shown again offers every open one)
    offered = re.findall(r'<input([^>]*) name="cohort" required type="radio" value="([^"]+)"', html)
    assert [(value, "checked" in attributes) for attributes, value in offered] == [(winter, False), (slug, True)]


def test_a_full_cohort_beside_the_form_says_the_application_joins_the_waitlist(client, make_cohort, make_application):
    slug = make_cohort()
    for _ in range(6):
        make_application(slug, status=Status.ENROLLED, answers=answers())
    aside = facts(client.get(f"/apply?cohort={slug}").get_data(as_text=True))
    assert "All 6 seats are taken" in aside
