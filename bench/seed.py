"""Throw-away instance folders with seeded databases, for bench/run.

`.venv/bin/python bench/seed.py FOLDER APPLICATIONS [COHORTS] [--upcoming]` makes FOLDER (an instance
folder: resilience.sqlite3 at the current schema, secret_key, data_key) with COHORTS cohorts
(default 12: a third finished, one under way, the rest upcoming) and APPLICATIONS applications
spread over them in a realistic mix of statuses, answers sealed like the real ones, and one
clinician (EMAIL / PASSWORD below). Applications go in with SQLAlchemy Core, in batches.
"""
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

from resilience import clock, create_app, database, program, questions
from resilience.extensions import db
from resilience.models import Admin, Application, Cohort, Meeting, new_token
from resilience.status import Status

EMAIL = "bench@practice.example"
PASSWORD = "bench password, not a real one"
SECRET_KEY = "bench-secret-key"
DATA_KEY = "vYyv6n0yBvUQ4x3UQrj1S2Lk0Xz1mC5Uq8d9q2Jv0mA="  # the tests' key; nothing real is sealed
TIMEZONE = "America/New_York"
LOCATION = "120 Harbor Street, Portland, ME"
BATCH = 5000

FIRST = ["Alex", "Sam", "Jordan", "Maria", "Wei", "Aisha", "Tomás", "Priya", "Noah", "Lena", "Kofi", "Ana"]
LAST = ["Morgan", "Lee", "Rivera", "Nguyen", "Okafor", "Schmidt", "Haddad", "Kowalski", "Park", "Silva"]
AREAS = ["Portland, ME", "South Portland, ME", "Falmouth, ME", "Westbrook, ME", "Biddeford, ME"]
INTENTIONS = [
    "I want to feel steadier with people.",
    "After years of therapy I feel stuck, and I would like to try something different with others.",
    "To understand why I keep going back to the same place, and to stop.",
    "I lost my brother last year and I have not been able to talk about it with anyone.",
]
MEDICATIONS = ["none", "Sertraline 50mg", "Lisinopril 10mg daily", "none", "Bupropion 150mg, melatonin"]
# The mix of statuses besides the seats: (status, weight).
MIX = [(Status.PENDING, 30), (Status.SCREENING, 6), (Status.WAITLISTED, 14), (Status.DECLINED, 25),
       (Status.WITHDRAWN, 18), (Status.LAPSED, 7)]
STAMP = {Status.SCREENING: "invited_at", Status.WAITLISTED: "waitlisted_at", Status.DECLINED: "declined_at",
         Status.WITHDRAWN: "withdrawn_at", Status.LAPSED: "lapsed_at", Status.ACCEPTED: "accepted_at",
         Status.ENROLLED: "enrolled_at"}


def site_config(folder: Path) -> dict:
    return {"SECRET_KEY": SECRET_KEY, "DATA_KEY": DATA_KEY,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'resilience.sqlite3'}"}


def answers(rng: random.Random) -> dict:
    """Answers like an applicant's (see tests/conftest.py answers()), some needing attention."""
    worry = rng.random() < 0.2
    return {
        "attend_all": "yes" if rng.random() < 0.9 else "not_sure", "ride_home": "yes",
        "logistics_notes": rng.choice(["", "", "I work Tuesdays until 5 but can leave early."]),
        "therapist": rng.choice(["", "Dr. Chen, 555 010 4000"]), "provider": "Dr. Rivera, 555 010 2000",
        "emergency_name": rng.choice(["Sam Lee", "Jo Park", "Chris Silva"]),
        "emergency_relationship": rng.choice(["sister", "partner", "friend"]), "emergency_phone": "555 010 3000",
        "pregnant": "no", "blood_pressure": "yes" if worry else "no", "heart": "no", "psychosis": "no",
        "substance_use": "no", "liver": "no", "raised_pressure": "no", "thyroid": "no",
        "anaesthesia_reaction": "no", "medications": rng.choice(MEDICATIONS),
        "health_notes": "Controlled with medication." if worry else "",
        "intention": rng.choice(INTENTIONS), "hopes": rng.choice(["", "To sleep better and feel less alone."]),
        "experience": rng.choice(["", "Some years of talk therapy."]),
        "knows_applicants": "", "referral": rng.choice([None, None, "blog-post-12", "www.psychologytoday.com"]),
    }


def cohort_dates(count: int, upcoming_only: bool) -> list:
    today = clock.now().date()
    if upcoming_only:
        return [today + timedelta(days=21 + 7 * n) for n in range(count)]
    # A third finished, one under way, the rest upcoming, eight weeks apart.
    first = today - timedelta(weeks=8 * (count // 3) + 3)
    return [first + timedelta(weeks=8 * n) for n in range(count)]


def seed(folder: Path, applications: int, cohorts: int = 12, upcoming_only: bool = False, seed: int = 12) -> dict:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secret_key").write_text(SECRET_KEY)
    (folder / "data_key").write_text(DATA_KEY)
    Fernet(DATA_KEY)  # a valid key
    rng = random.Random(seed)
    started = time.perf_counter()
    app = create_app(site_config(folder))
    with app.app_context():
        database.upgrade()
        admin = Admin(email=EMAIL, display_name="Bench Clinician", active=True)
        admin.set_password(PASSWORD)
        db.session.add(admin)
        rows = []
        for n, starts_on in enumerate(cohort_dates(cohorts, upcoming_only)):
            cohort = Cohort(slug=f"cohort-{starts_on:%Y-%m-%d}-{n}", title=f"Cohort starting {starts_on:%B %-d, %Y}",
                            capacity=program.DEFAULT_CAPACITY, starts_on=starts_on, timezone=TIMEZONE,
                            location=LOCATION, application_deadline=starts_on - timedelta(days=14),
                            applications_open=True, fee_text="$2,400 for all ten meetings.")
            for meeting in program.default_meetings(starts_on, TIMEZONE, LOCATION):
                cohort.meetings.append(Meeting(**meeting))
            rows.append(cohort)
        db.session.add_all(rows)
        db.session.commit()
        cohort_rows = [(c.id, c.starts_on, c.capacity) for c in rows]
        admin_id = admin.id

        table = Application.__table__
        statuses, weights = zip(*MIX)
        batch, seats = [], {}
        now = clock.now()
        for n in range(applications):
            cohort_id, starts_on, capacity = cohort_rows[n % len(cohort_rows)]
            created = datetime.combine(starts_on, datetime.min.time(), UTC) - timedelta(
                days=rng.uniform(15, 120), seconds=rng.randrange(86400))
            created = min(created, now - timedelta(minutes=n % 997 + 1))
            taken = seats.get(cohort_id, 0)
            if taken < capacity:  # each cohort's seats, most confirmed, one or two still offered
                status = Status.ENROLLED if taken < capacity - 2 or starts_on < now.date() else Status.ACCEPTED
                seats[cohort_id] = taken + 1
            else:
                status = rng.choices(statuses, weights)[0]
            changed = created + timedelta(days=rng.uniform(0, 10))
            filled = answers(rng)
            email = f"applicant{n}@example.org"
            row = {
                "cohort_id": cohort_id, "token": new_token(), "submission_id": None,
                "first_name": rng.choice(FIRST), "last_name": rng.choice(LAST), "email": email, "email_key": email,
                "phone": f"555 01{n % 10} {1000 + n % 9000}", "pronouns": rng.choice([None, "she/her", "he/him",
                                                                                       "they/them"]),
                "home_area": rng.choice(AREAS), "answers": filled, "agreed_texts": {},
                "consented_at": created, "health_consent_at": created, "status": status,
                "created_at": created, "status_changed_at": changed,
                "accepted_at": None, "waitlisted_at": None, "declined_at": None, "enrolled_at": None,
                "withdrawn_at": None, "invited_at": None, "lapsed_at": None, "confirm_by_at": None,
                "waitlist_rank": None, "calendar_sequence": 0, "attention": questions.attention_count(filled),
                "assigned_admin_id": admin_id if rng.random() < 0.3 else None, "erased_at": None,
            }
            if status in STAMP:
                row[STAMP[status]] = changed
            if status in (Status.ACCEPTED, Status.ENROLLED):
                row["accepted_at"] = changed
            if status == Status.ACCEPTED:
                row["confirm_by_at"] = changed + timedelta(days=5)
            batch.append(row)
            if len(batch) == BATCH:
                db.session.execute(sa.insert(table), batch)  # SealedAnswers seals each row's answers
                batch = []
        if batch:
            db.session.execute(sa.insert(table), batch)
        db.session.commit()
        upcoming = db.session.scalar(sa.select(Cohort.slug).where(Cohort.starts_on > now.date() + timedelta(days=14))
                                     .order_by(Cohort.starts_on))
        db.session.remove()
        db.engine.dispose()
    return {"folder": folder, "applications": applications, "cohorts": cohorts, "slug": upcoming,
            "seconds": time.perf_counter() - started}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("applications", type=int)
    parser.add_argument("cohorts", type=int, nargs="?", default=12)
    parser.add_argument("--upcoming", action="store_true", help="every cohort upcoming (default: a third finished)")
    args = parser.parse_args()
    result = seed(args.folder, args.applications, args.cohorts, upcoming_only=args.upcoming)
    print(f"{result['applications']:,} applications in {result['cohorts']} cohorts seeded in "
          f"{result['seconds']:.1f} s into {result['folder']} (availability of {result['slug']})")
