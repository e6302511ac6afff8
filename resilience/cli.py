"""Commands for the people who install and run the site: flask --app resilience …"""
import sys
import time
from datetime import timedelta
from pathlib import Path

import alembic.util
import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from . import clock, database, enrolment, keys, outbox, program, sealing
from .extensions import db
from .models import Admin, Cohort, Meeting

DEMO_LOCATION = "Harbor Street Practice, 120 Harbor Street, Suite 4, Portland, ME"
DEMO_TIMEZONE = "America/New_York"


def init_app(app: Flask) -> None:
    app.cli.add_command(init_db)
    app.cli.add_command(seed_demo)
    app.cli.add_command(outbox_commands)
    app.cli.add_command(send_reminders)
    app.cli.add_command(periodic)
    app.cli.add_command(create_admin)
    app.cli.add_command(rotate_key)
    app.cli.add_command(purge)
    app.cli.add_command(reset_two_factor)
    app.cli.add_command(backup)


MIN_PASSWORD = 12


@click.command("backup")
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup(destination):
    """Copy the SQLite database, while the site runs, into DESTINATION (a new file), and check
    that the copy is whole and that RESILIENCE_DATA_KEY opens every answer in it. Keep the key
    too, but apart from the copy: without it the answers cannot be read."""
    from .backup import BackupRefused, backup_sqlite

    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        raise click.ClickException("This database is PostgreSQL: back it up with pg_dump -Fc (docs/deploy.md).")
    try:
        done = backup_sqlite(url.database, destination, current_app.config["DATA_KEY"])
    except BackupRefused as refused:
        raise click.ClickException(str(refused)) from None
    click.echo(f"Backed up to {done.path} ({done.bytes:,} bytes): {done.applications} applications, every "
               "answer opened with the data key.")


@click.command("create-admin")
@click.argument("email")
@click.option("--name", help="How the clinician is shown in the panel (default: the part before @).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@with_appcontext
def create_admin(email, name, password_stdin):
    """Create a clinician's account for the admin panel."""
    _upgrade_or_stop()
    email = email.strip()
    if "@" not in email:
        raise click.UsageError("Give the clinician's email address.")
    if db.session.scalar(sa.select(Admin).where(sa.func.lower(Admin.email) == email.lower())):
        raise click.ClickException(f"An account for {email} already exists.")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"Please use a password of at least {MIN_PASSWORD} characters.")
    admin = Admin(email=email, display_name=name or email.split("@")[0], active=True)
    admin.set_password(password)
    db.session.add(admin)
    db.session.commit()
    click.echo(f"Created an admin account for {email}. Sign in at /admin/login.")


@click.group("outbox")
def outbox_commands():
    """Deliver queued emails."""


@outbox_commands.command("send")
@click.option("--loop", is_flag=True, help="Keep running as a worker, checking for due messages.")
@click.option("--poll", type=float, default=None, help="Seconds between checks with --loop.")
@with_appcontext
def outbox_send(loop, poll):
    """Send every email that is due (once, or forever with --loop)."""
    database.outbox_worker_commits()
    if loop:
        seconds = poll if poll is not None else current_app.config["OUTBOX_POLL_SECONDS"]
        click.echo(f"Outbox worker started; checking every {seconds:g} s. Ctrl-C stops it.")
        outbox.run_worker(seconds, log=click.echo)
        click.echo("Outbox worker stopped.")
        return
    report = outbox.deliver_due()
    counts = outbox.backlog()
    click.echo(f"Outbox: {report}. Waiting: {counts.waiting}, given up: {counts.failed}.")


@outbox_commands.command("retry-failed")
@with_appcontext
def outbox_retry_failed():
    """Queue the emails that gave up again, with fresh attempts (after fixing the cause)."""
    count = outbox.retry_failed()
    click.echo(f"Queued {count} failed email{'s' if count != 1 else ''} again.")


@click.command("send-reminders")
@with_appcontext
def send_reminders():
    """Queue reminders for meetings in the next 48 hours (safe to run from cron often)."""
    queued = enrolment.send_reminders()
    click.echo(f"Queued {queued} reminder{'s' if queued != 1 else ''}.")


@click.command("periodic")
@click.option("--loop", is_flag=True, help="Keep running, doing the due work every --every seconds.")
@click.option("--every", type=float, default=60.0, show_default=True, help="Seconds between runs with --loop.")
@with_appcontext
def periodic(loop, every):
    """Do everything time-driven that is due: meeting reminders, confirm-by reminders,
    lapsing offers. Idempotent: safe from cron every few minutes."""
    while True:
        done = enrolment.run_due_work()
        db.session.remove()
        if done or not loop:  # a loop speaks only when it did something
            click.echo(f"{clock.now():%Y-%m-%d %H:%M} UTC: {done}.")
        if not loop:
            if done.failed:
                raise click.exceptions.Exit(1)  # cron mails the operator
            return
        try:
            time.sleep(every)
        except KeyboardInterrupt:
            click.echo("Stopped.")
            return


@click.command("init-db")
@with_appcontext
def init_db():
    """Create the database's tables, or upgrade them to this release (every row is kept).

    The same upgrade as `flask --app resilience db upgrade`.
    """
    done = _upgrade_or_stop()
    before, after = done.before, database.current_revision()
    where = db.engine.url.render_as_string(hide_password=True)
    if done.adopted:
        click.echo(f"Recognised a database of the release before migrations: its tables matched, so it was marked "
                   f"as revision {database.BASELINE} and upgraded to {after}. Every row was kept.")
    elif before is None:
        click.echo(f"Database created at schema revision {after}: {where}")
    elif before == after:
        click.echo(f"Database ready, already at schema revision {after}: {where}")
    else:
        click.echo(f"Database upgraded from schema revision {before} to {after}: {where}")


def _upgrade_or_stop() -> database.Upgrade:
    """Upgrade the schema; a database this release cannot upgrade stops the command with why."""
    try:
        return database.upgrade()
    except (database.SchemaError, alembic.util.CommandError) as error:
        raise click.ClickException(str(error)) from None


@click.command("seed-demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Only add the demo cohort when there are no cohorts yet.")
def seed_demo(if_empty):
    """Add a demo cohort starting about six weeks from today, with its ten meetings."""
    _upgrade_or_stop()
    if if_empty and db.session.scalar(sa.select(sa.func.count()).select_from(Cohort)):
        click.echo("Cohorts already exist; demo cohort not added.")
        return
    cohort = build_demo_cohort()
    if db.session.scalar(sa.select(Cohort).where(Cohort.slug == cohort.slug)):
        click.echo(f"Demo cohort {cohort.slug} already exists.")
        return
    db.session.add(cohort)
    db.session.commit()
    click.echo(f"Added demo cohort {cohort.slug!r} starting {cohort.starts_on:%Y-%m-%d} with "
               f"{len(cohort.meetings)} meetings and {cohort.capacity} seats.")


def build_demo_cohort() -> Cohort:
    today = clock.now().date()
    starts_on = today + timedelta(days=42)
    starts_on += timedelta(days=(1 - starts_on.weekday()) % 7)  # the next Tuesday
    season = ("Winter", "Winter", "Spring", "Spring", "Spring", "Summer",
              "Summer", "Summer", "Autumn", "Autumn", "Autumn", "Winter")[starts_on.month - 1]
    cohort = Cohort(
        slug=f"{season.lower()}-{starts_on.year}",
        title=f"{season} {starts_on.year} cohort",
        capacity=program.DEFAULT_CAPACITY,
        starts_on=starts_on,
        timezone=DEMO_TIMEZONE,
        location=DEMO_LOCATION,
        application_deadline=starts_on - timedelta(days=14),
        applications_open=True,
        fee_text="$2,400 for all ten meetings, including the three ketamine sessions and "
                 "the medication. A few reduced-fee places are held for each cohort: ask "
                 "at your evaluation.",
    )
    for meeting in program.default_meetings(starts_on, DEMO_TIMEZONE, DEMO_LOCATION):
        cohort.meetings.append(Meeting(**meeting))
    return cohort


@click.command("rotate-key")
@click.option("--batch", type=click.IntRange(min=1), default=keys.PAGE, show_default=True,
              help="Rows re-encrypted per transaction.")
@with_appcontext
def rotate_key(batch):
    """Re-encrypt every sealed value (answers, notes, messages, queued emails) with the first
    key in RESILIENCE_DATA_KEY, so the old keys can be removed. Safe to stop and run again."""
    if current_app.config["CHECK_SCHEMA"] and not database.schema_is_current():
        raise click.ClickException("The database is not upgraded to this release yet: run "
                                   "`flask --app resilience db upgrade` first, then rotate-key.")
    one_key = sealing.key_count() == 1
    if one_key:
        click.echo("Only one data key is set in RESILIENCE_DATA_KEY, so there is nothing to re-encrypt; "
                   "checking that it opens every sealed value.")
    else:
        click.echo(f"Re-encrypting every sealed value with the first key in RESILIENCE_DATA_KEY, "
                   f"{batch} row{'s' if batch != 1 else ''} at a time.")
    rotation = keys.Rotation()
    try:
        keys.rotate_data_key(batch, rotation)
    except KeyboardInterrupt:
        db.session.rollback()
        click.echo(f"Stopped after re-encrypting {rotation.rotated} value{'s' if rotation.rotated != 1 else ''}. "
                   "What was done is kept. Run rotate-key again: it carries on where it stopped.")
        raise click.exceptions.Exit(1) from None
    for tally in rotation.columns:
        line = f"{tally.name}: {tally.rotated} re-encrypted, {tally.current} already on the first key"
        if tally.unopened:
            line += f", {len(tally.unopened)} that no key opens ({_rows(tally.table, tally.unopened)})"
        click.echo(line + ".")
    total = f"In all: {rotation.rotated} re-encrypted, {rotation.current} already on the first key"
    click.echo(total + (f", {rotation.unopened} that no key opens." if rotation.unopened else "."))
    if rotation.unopened:
        keep = "" if one_key else "Keep the old key in RESILIENCE_DATA_KEY for now. "
        click.echo(f"The values no key opens were left as they are: they were sealed with a key that is not set. "
                   f"{keep}If you have that key, add it after the first one in RESILIENCE_DATA_KEY, restart, and "
                   f"run rotate-key again; if not, restore those rows from a backup.")
        raise click.exceptions.Exit(1)
    if one_key:
        click.echo("Every sealed value is on the first key.")
    else:
        click.echo("Every sealed value is on the first key. You can now remove the old key from "
                   "RESILIENCE_DATA_KEY.")


def _rows(table: str, ids: list[int], shown: int = 20) -> str:
    named = ", ".join(f"{table} {row_id}" for row_id in ids[:shown])
    return named + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


@click.command("reset-2fa")
@click.argument("email")
@with_appcontext
def reset_two_factor(email):
    """Turn two-step sign-in off for a clinician who lost both their phone and their recovery
    codes: their recovery codes are deleted and every session of theirs ends. They then sign in
    with their password alone (and set it up again; at once if RESILIENCE_REQUIRE_2FA is on)."""
    from . import two_factor

    if current_app.config["CHECK_SCHEMA"] and not database.schema_is_current():
        raise click.ClickException("The database is not upgraded to this release yet: run "
                                   "`flask --app resilience db upgrade` first, then reset-2fa.")
    admin = db.session.scalar(sa.select(Admin).where(sa.func.lower(Admin.email) == email.strip().lower()))
    if admin is None:
        raise click.ClickException(f"No clinician's account for {email.strip()}. Nothing was changed.")
    was_on = admin.two_factor_on
    ended = two_factor.reset(admin)
    sessions = f"{ended} session{'s' if ended != 1 else ''} ended"
    if was_on:
        click.echo(f"Two-step sign-in is off for {admin.email}; their recovery codes are deleted; {sessions}.")
    else:
        click.echo(f"Two-step sign-in is off for {admin.email} (it was not on); {sessions}.")
    if two_factor.required(current_app.config):
        click.echo("RESILIENCE_REQUIRE_2FA is on: they set it up again right after signing in with their password.")
    else:
        click.echo("They now sign in with their password alone, and can turn two-step sign-in on again from "
                   "their account page.")



@click.command("purge")
@click.option("--batch", type=click.IntRange(min=1, max=1000), default=100, show_default=True,
              help="Applications erased per transaction.")
@with_appcontext
def purge(batch):
    """Erase the people behind applications declined or withdrawn more than
    RESILIENCE_RETENTION_DAYS ago (180 unless set) and behind every application of a cohort
    finished more than RESILIENCE_FINISHED_COHORT_RETENTION_DAYS ago (365), keeping the rows
    for anonymous counts; forget clinicians' session records older than 90 days. Idempotent:
    `periodic` runs it too."""
    from .refusals import SettingRefused

    if current_app.config["CHECK_SCHEMA"] and not database.schema_is_current():
        raise click.ClickException("The database is not upgraded to this release yet: run "
                                   "`flask --app resilience db upgrade` first, then purge.")
    try:
        done = enrolment.purge(batch)
    except SettingRefused as refused:
        raise click.ClickException(refused.message) from None
    click.echo(f"Erased {done.erased} application{'s' if done.erased != 1 else ''}: {done.closed} declined or "
               f"withdrawn over {done.closed_days} days ago, {done.finished} from cohorts finished over "
               f"{done.finished_days} days ago.")
    click.echo(f"Removed {done.sessions} clinician session record{'s' if done.sessions != 1 else ''} that ended "
               f"over {enrolment.retention.SESSION_RECORDS_KEPT.days} days ago.")
