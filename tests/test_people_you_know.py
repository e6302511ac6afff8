"""People you know: applicants to one cohort who name each other in "Do you know anyone who
may also apply?" are flagged to the clinicians, so friends, colleagues or partners are never
placed in one group by accident."""
import re

from conftest import answers
from test_page_policy import assert_strict

FLAG = "May know someone in this cohort"


def knows(text: str) -> dict:
    return {"answers": answers(knows_applicants=text)}


def flag(admin_client, application_id) -> str | None:
    """The flag panel on the application's admin page, or None when there is none."""
    html = admin_client.get(f"/admin/applications/{application_id}").get_data(as_text=True)
    found = re.search(r'<section[^>]*aria-labelledby="acquaintances-title".*?</section>', html, re.DOTALL)
    assert (found is not None) == (FLAG in html)
    assert_strict(html, f"/admin/applications/{application_id}")
    return " ".join(found[0].split()) if found else None


def links(panel: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/admin/applications/(\d+)"', panel)]


def test_naming_someone_by_email_flags_both_applications(admin_client, make_cohort, make_application):
    slug = make_cohort()
    bea = make_application(slug, first_name="Bea", last_name="Lind", email="bea.lind@example.org")
    ana = make_application(slug, first_name="Ana", last_name="Cruz",
                           **knows("My colleague may apply too: Bea.Lind@Example.org"))
    make_application(slug, first_name="Cal", last_name="Ortiz")  # named by no one

    on_ana = flag(admin_client, ana)
    assert links(on_ana) == [bea]
    assert "Bea Lind" in on_ana and "Pending review" in on_ana
    assert "Ana named Bea Lind in their answers." in on_ana
    assert "friends, colleagues, family or partners" in on_ana

    on_bea = flag(admin_client, bea)
    assert links(on_bea) == [ana]
    assert "Ana Cruz" in on_bea and "Ana named Bea Lind in their answers." in on_bea


def test_naming_someone_by_full_name_ignores_case_and_spacing(admin_client, make_cohort, make_application):
    slug = make_cohort()
    alex = make_application(slug, first_name="Alex", last_name="Rivera", status="waitlisted")
    sam = make_application(slug, first_name="Sam", last_name="Lee", **knows("my partner\n  ALEX   rivera."))
    assert links(flag(admin_client, sam)) == [alex]
    assert "Waitlisted" in flag(admin_client, sam)
    assert "Sam named Alex Rivera in their answers." in flag(admin_client, alex)


def test_two_people_who_name_each_other_are_shown_once(admin_client, make_cohort, make_application):
    slug = make_cohort()
    ana = make_application(slug, first_name="Ana", last_name="Cruz", email="ana@example.org", **knows("Bea Lind"))
    bea = make_application(slug, first_name="Bea", last_name="Lind", **knows("ana@example.org, a friend"))
    assert links(flag(admin_client, ana)) == [bea]
    assert "Ana and Bea named each other in their answers." in flag(admin_client, ana)
    assert links(flag(admin_client, bea)) == [ana]


def test_someone_in_another_cohort_is_not_flagged(admin_client, make_cohort, make_application):
    bea = make_application(make_cohort(), first_name="Bea", last_name="Lind", email="bea@example.org")
    ana = make_application(make_cohort(), first_name="Ana", last_name="Cruz", **knows("Bea Lind, bea@example.org"))
    assert flag(admin_client, ana) is None
    assert flag(admin_client, bea) is None


def test_no_flag_when_nobody_is_named(admin_client, make_cohort, make_application):
    slug = make_cohort()
    ana = make_application(slug, first_name="Ana", last_name="Cruz", **knows("No, nobody I know."))
    bea = make_application(slug, first_name="Bea", last_name="Lind")
    assert flag(admin_client, ana) is None and flag(admin_client, bea) is None


def test_a_first_name_alone_or_part_of_an_address_is_not_naming(admin_client, make_cohort, make_application):
    slug = make_cohort()
    ann = make_application(slug, first_name="Ann", last_name="Berg", email="ann@example.org")
    ana = make_application(slug, first_name="Ana", last_name="Cruz",
                           **knows("Ann from yoga, maybe; and joann@example.org; Ann Bergström"))
    assert flag(admin_client, ana) is None and flag(admin_client, ann) is None


def test_naming_yourself_is_not_knowing_someone(admin_client, make_cohort, make_application):
    slug = make_cohort()
    earlier = make_application(slug, first_name="Ana", last_name="Cruz", email="ana@example.org", status="withdrawn")
    ana = make_application(slug, first_name="Ana", last_name="Cruz", email="Ana@example.org",
                           **knows("Just me, Ana Cruz (ana@example.org)."))
    assert flag(admin_client, ana) is None
    assert flag(admin_client, earlier) is None


def test_a_withdrawn_acquaintance_is_still_shown_with_its_status(admin_client, make_cohort, make_application):
    slug = make_cohort()
    bea = make_application(slug, first_name="Bea", last_name="Lind", status="withdrawn", **knows("Ana Cruz"))
    ana = make_application(slug, first_name="Ana", last_name="Cruz")
    on_ana = flag(admin_client, ana)
    assert links(on_ana) == [bea]
    assert "Withdrawn" in on_ana and "Bea named Ana Cruz in their answers." in on_ana


def test_an_odd_answer_from_an_earlier_release_flags_nothing(admin_client, make_cohort, make_application):
    slug = make_cohort()
    make_application(slug, first_name="Bea", last_name="Lind")
    ana = make_application(slug, first_name="Ana", last_name="Cruz", **knows(None))
    odd = make_application(slug, first_name="Cal", last_name="Ortiz", answers=answers(knows_applicants={"a": 1}))
    assert flag(admin_client, ana) is None and flag(admin_client, odd) is None


def test_each_answer_is_opened_once_however_often_the_cohorts_pages_are_seen(app, admin_client, make_cohort,
                                                                              make_application, request):
    """Finding who names whom reads the cohort's sealed answers once (kept in this process's
    memory only); after that an application's page opens only the answers it shows, so it costs
    about the same with 5 or 5,000 applicants to the cohort."""
    slug = make_cohort()
    bea = make_application(slug, first_name="Bea", last_name="Lind", email="bea.lind@example.org")
    ana = make_application(slug, first_name="Ana", last_name="Cruz", **knows("bea.lind@example.org"))
    others = [make_application(slug) for _ in range(5)]
    assert links(flag(admin_client, ana)) == [bea]

    opened = request.getfixturevalue("answers_opened")  # (counted from here on)
    assert links(flag(admin_client, bea)) == [ana]
    assert links(flag(admin_client, ana)) == [bea]
    assert flag(admin_client, others[0]) is None
    assert len(opened) == 3  # each page: the answers it shows, and no one else's

    cal = make_application(slug, first_name="Cal", last_name="Ortiz", **knows("Bea Lind"))
    opened.clear()  # someone new applied: only their answers are opened, beside the page's own
    assert links(flag(admin_client, bea)) == [ana, cal]
    assert len(opened) == 2


def test_someone_who_applies_later_and_names_them_is_found_at_once(app, admin_client, make_cohort,
                                                                   make_application):
    slug = make_cohort()
    bea = make_application(slug, first_name="Bea", last_name="Lind")
    assert flag(admin_client, bea) is None
    ana = make_application(slug, first_name="Ana", last_name="Cruz", **knows("Bea Lind"))
    assert links(flag(admin_client, bea)) == [ana]


def test_an_erased_persons_answer_stops_flagging_and_is_not_kept_in_memory(app, admin_client, make_cohort,
                                                                          make_application):
    from test_retention import erase

    slug = make_cohort()
    bea = make_application(slug, first_name="Bea", last_name="Lind")
    ana = make_application(slug, first_name="Ana", last_name="Cruz", **knows("Bea Lind, my colleague"))
    assert links(flag(admin_client, bea)) == [ana]  # (what Ana said is now kept in this process)
    assert erase(admin_client, ana, [ana]).status_code in (200, 303)

    elsewhere = make_application(make_cohort(), first_name="Dee", last_name="Moss")
    assert flag(admin_client, elsewhere) is None  # a page of another cohort
    kept = repr(app.extensions)
    assert "my colleague" not in kept and "bea lind" not in kept
    assert flag(admin_client, bea) is None
