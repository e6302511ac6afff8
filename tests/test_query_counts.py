"""The number of SQL statements each page runs is the same with a handful of cohorts and
applications as with years of them: nothing is read row by row, and the pages that list
things are bounded. (Rows read are bounded too where the page shows it: the program page is
no bigger with thirty upcoming cohorts than with three.)"""
from datetime import timedelta
from itertools import count

import sqlalchemy as sa
from conftest import NOW, answers, sign_in

from resilience import program
from resilience.extensions import db
from resilience.models import Application, Cohort, Meeting
from resilience.status import Status

_numbers = count(1)

# Per cohort: three seats held (never more than its capacity), then everyone else across the
# other statuses.
HOLDING = [Status.ENROLLED, Status.ENROLLED, Status.ACCEPTED]
OTHERS = [Status.PENDING, Status.SCREENING, Status.WAITLISTED, Status.DECLINED, Status.WAITLISTED, Status.WITHDRAWN,
          Status.LAPSED]

# A sane ceiling for any one page (the admin pages check the session, the clinician, the two
# factors; the list builds its filters): a page over it reads something row by row.
MOST = 40


def add_cohorts(app, finished: int, running: int, upcoming: int, applications: int) -> list[str]:
    """Store cohorts (with their ten meetings) and their applications, fast: one INSERT for
    all the applications. Returns the upcoming cohorts' slugs."""
    starts = ([NOW.date() - timedelta(days=120 + 30 * n) for n in range(finished)]
              + [NOW.date() - timedelta(days=10 + n) for n in range(running)]
              + [NOW.date() + timedelta(days=30 + 7 * n) for n in range(upcoming)])
    sealed = answers()
    with app.app_context():
        cohorts = []
        for starts_on in starts:
            n = next(_numbers)
            cohort = Cohort(slug=f"sized-{n}", title=f"Cohort {n}", capacity=6, starts_on=starts_on,
                            timezone="America/New_York", location="120 Harbor Street, Portland, ME",
                            application_deadline=None, applications_open=True)
            for meeting in program.default_meetings(starts_on, cohort.timezone, cohort.location):
                cohort.meetings.append(Meeting(**meeting))
            cohorts.append(cohort)
        db.session.add_all(cohorts)
        db.session.commit()
        rows = []
        for cohort in cohorts:
            for i in range(applications):
                n = next(_numbers)
                status = HOLDING[i] if i < len(HOLDING) else OTHERS[i % len(OTHERS)]
                created = NOW - timedelta(minutes=n)
                rows.append({
                    "cohort_id": cohort.id, "first_name": f"Person{n}", "last_name": f"Tester{n % 97}",
                    "email": f"person{n}@example.org", "email_key": f"person{n}@example.org",
                    "phone": "555 010 1000", "home_area": "Portland, ME", "answers": sealed, "attention": n % 3,
                    "consented_at": created, "health_consent_at": created, "created_at": created,
                    "status_changed_at": created, "status": status,
                    "accepted_at": created if status in (Status.ACCEPTED, Status.ENROLLED) else None,
                    "confirm_by_at": NOW + timedelta(days=2) if status == Status.ACCEPTED else None,
                })
        db.session.execute(sa.insert(Application), rows)
        db.session.commit()
        return [c.slug for c in cohorts if c.starts_on > NOW.date()]


def statements_per_page(app, client, paths) -> dict[str, tuple[int, int]]:
    """Each path: (SQL statements run, bytes of HTML), rendered afresh (no cached page)."""
    found = {}
    with app.app_context():
        engine = db.engine
    seen = []

    def counted(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", counted)
    try:
        for path in paths:
            app.extensions.get("page_cache", {}).clear()
            for opened_once in ("referrals", "knows_applicants answers"):  # (as a new worker: it opens them once)
                app.extensions.pop(opened_once, None)
            seen.clear()
            response = client.get(path)
            assert response.status_code == 200, path
            found[path] = (len(seen), len(response.get_data()))
    finally:
        sa.event.remove(engine, "before_cursor_execute", counted)
    return found


def test_every_page_runs_as_many_statements_with_years_of_data_as_with_a_few(app, client, make_admin):
    make_admin()
    sign_in(client)
    upcoming = add_cohorts(app, finished=1, running=1, upcoming=3, applications=10)
    with app.app_context():
        waiting = db.session.scalar(sa.select(Application.id).where(
            Application.status == Status.WAITLISTED, Application.cohort.has(Cohort.slug == upcoming[0])))

    def paths():
        return ["/", "/cohorts", f"/cohorts/{upcoming[0]}/availability", "/apply", "/admin/",
                "/admin/applications", "/admin/applications?sort=name&status=waitlisted",
                f"/admin/applications?cohort={upcoming[0]}&sort=oldest", f"/admin/applications/{waiting}",
                "/admin/cohorts"]

    few = statements_per_page(app, client, paths())
    # Years later: forty cohorts, 8,000 applications (the cohort above is still the first upcoming).
    add_cohorts(app, finished=10, running=1, upcoming=25, applications=200)
    many = statements_per_page(app, client, paths())
    print({path: (few[path], many[path]) for path in few})

    assert {path: statements for path, (statements, _) in many.items()} == {
        path: statements for path, (statements, _) in few.items()}
    assert all(statements <= MOST for statements, _ in many.values()), many
    # What is shown is bounded: the program page shows the same three cohorts (a few bytes more
    # for "See all 28"), the list one page, the dashboard the cohorts that matter now.
    assert many["/"][1] < few["/"][1] * 1.05
    assert many["/admin/applications"][1] < few["/admin/applications"][1] * 3
    assert many["/admin/"][1] < 300_000
