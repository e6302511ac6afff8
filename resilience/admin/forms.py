"""Forms the clinicians use: sign-in, decisions, notes, cohorts and their meetings."""
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, available_timezones

import sqlalchemy as sa
from flask import current_app, request
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SearchField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
    URLField,
)
from wtforms.validators import (
    URL,
    AnyOf,
    DataRequired,
    InputRequired,
    NumberRange,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)

from .. import clock, enrolment, program
from ..forms import SiteForm, limit
from ..models import SCREENING_MODES, Application, Cohort
from ..questions import clean_text
from ..status import AttendanceMark, Status
from . import NUMBER

TIMEZONES = [
    SelectChoice(zone, label) for zone, label in (
        ("America/New_York", "Eastern (New York)"),
        ("America/Chicago", "Central (Chicago)"),
        ("America/Denver", "Mountain (Denver)"),
        ("America/Phoenix", "Mountain, no daylight saving (Phoenix)"),
        ("America/Los_Angeles", "Pacific (Los Angeles)"),
        ("America/Anchorage", "Alaska (Anchorage)"),
        ("Pacific/Honolulu", "Hawaii (Honolulu)"),
    ) if zone in available_timezones()
]


def one_line(what: str):
    """A name or an address is one line: it goes into calendar files and email subjects."""
    def check(form, field):
        if isinstance(field.data, str) and ("\n" in field.data or "\r" in field.data):
            raise ValidationError(f"Please keep the {what} on one line.")
    return check


def plausible_date(form, field):
    """Dates a clinician means: not before 2020 and not more than five years ahead."""
    if field.data is not None:
        today = clock.now().date()
        if not date(2020, 1, 1) <= field.data <= today.replace(year=today.year + 5):
            raise ValidationError("Please check the year: dates must be within the next five years.")


def sign_in_email(value: str) -> str:
    """An address typed into the sign-in form as the account lookup and the per-account
    limit both read it: cleaned like every typed text (no control characters, no outer
    spaces), in lower case."""
    return clean_text(value).lower()


class LoginForm(SiteForm):
    email = EmailField("Email address", [DataRequired("Please enter your email address."), limit(254)],
                       filters=[clean_text], render_kw={"autocomplete": "username"})
    password = PasswordField("Password", [DataRequired("Please enter your password."), limit(200)],
                             render_kw={"autocomplete": "current-password"})


class DecisionForm(SiteForm):
    """The decision confirmed; accepting without a conversation recorded as held also says the
    medical evaluation took place another way; a short personal line may go into the email."""
    status = StringField(validators=[AnyOf([status.value for status in Status], message="Unknown decision.")])
    evaluated = BooleanField("The medical evaluation took place",
                             description="No screening conversation is recorded as held: tick this if you evaluated "
                                         "the applicant by phone or elsewhere.")
    message = TextAreaField("A personal message (optional)", [Optional(), limit(1000)], filters=[clean_text],
                            description="Added to the email, signed with your name. Please never repeat their "
                                        "answers: email is not private.")


class IdsField(Field):
    """Application numbers ticked in a list (each a checkbox with the same name)."""

    understood = True

    def process_formdata(self, valuelist):
        self.data = [int(value) for value in valuelist if isinstance(value, str) and NUMBER.fullmatch(value)]
        self.understood = len(self.data) == len(valuelist)

    def pre_validate(self, form):
        if not self.understood:
            raise StopValidation("Some of the ticked applications were not understood. Nothing was changed.")


class BulkForm(SiteForm):
    """The same decision for the applications ticked in the list; `confirmed` once the
    clinician has seen what it will do."""
    application_id = IdsField(validators=[DataRequired("Please tick at least one application first.")])
    status = SelectField("With the ticked applications", id="bulk-status", validate_choice=False, validators=[
        AnyOf([status.value for status in enrolment.BULK_DECISIONS],
              message="Only inviting to talk, waitlisting and declining are done for several applications at "
                      "once. Nothing was changed.")], choices=[
        SelectChoice(status.value, status.action) for status in enrolment.BULK_DECISIONS])
    confirmed = HiddenField()


class AssignForm(SiteForm):
    clinician = SelectField("Clinician", description="The one who follows this application; both can still act on it.")

    def __init__(self, *args, clinicians=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.clinician.choices = [SelectChoice("", "No one in particular")] + [
            SelectChoice(str(a.id), a.display_name) for a in clinicians]
        self.clinicians = {str(a.id): a for a in clinicians}


class NoteForm(SiteForm):
    body = TextAreaField("Add a private note", [DataRequired("Please write the note first."),
                                                limit(4000)], filters=[clean_text],
                         description="Only the clinicians see notes. They are encrypted when stored.")


class CohortForm(SiteForm):
    title = StringField("Title", [DataRequired("Please give the cohort a title."), limit(200), one_line("title")],
                        filters=[clean_text],
                        description="For example: Spring 2027 cohort.")
    slug = StringField("Short name for links", [
        DataRequired("Please choose a short name."), limit(80),
        Regexp(r"^[a-z0-9][a-z0-9-]*$", message="Use lower-case letters, digits and hyphens only."),
    ], description="Used in links such as /apply?cohort=spring-2027. Changing it breaks links already shared.")
    capacity = IntegerField("Seats", [InputRequired("Please give the number of seats."),
                                      NumberRange(1, program.DEFAULT_CAPACITY,
                                                  message=f"A cohort has between 1 and {program.DEFAULT_CAPACITY} seats.")],
                            default=program.DEFAULT_CAPACITY)
    starts_on = DateField("First meeting", [InputRequired("Please give the date of the first meeting."),
                                            plausible_date],
                          description="New cohorts get ten meetings planned from this date; adjust them afterwards.")
    timezone = SelectField("Time zone", choices=TIMEZONES, default="America/New_York")
    location = StringField("Where the in-person meetings are", [DataRequired("Please give the address."), limit(300),
                                                                  one_line("address")], filters=[clean_text])
    application_deadline = DateField("Applications close after", [Optional(), plausible_date],
                                     description="Leave empty to take applications until the first meeting.")
    applications_open = BooleanField("Taking applications", default=True)
    fee_text = TextAreaField("Fee (optional)", [Optional(), limit(500)], filters=[clean_text],
                             description="Shown on the program page. Leave empty to show no fee.")
    offer_days = IntegerField("Days to confirm an offered place", [
        InputRequired("Please give the number of days."),
        NumberRange(1, 21, message="Please give between 1 and 21 days.")], default=5,
        description="After this many days an unconfirmed offer lapses and the seat is free again. The applicant "
                    "is reminded two days before.")

    def __init__(self, *args, cohort: Cohort | None = None, **kwargs):
        super().__init__(*args, obj=cohort, **kwargs)
        self.cohort = cohort

    def validate_slug(self, field):
        other = enrolment.cohort_by_slug(field.data)
        if other is not None and other is not self.cohort:
            raise ValidationError("Another cohort already uses this short name.")

    def validate_application_deadline(self, field):
        if field.data and self.starts_on.data and field.data >= self.starts_on.data:
            raise ValidationError("Applications must close before the first meeting.")

    def fields_for_cohort(self) -> dict:
        names = ("title", "slug", "capacity", "starts_on", "timezone", "location", "application_deadline",
                 "applications_open", "fee_text", "offer_days")
        values = {name: self[name].data for name in names}
        values["fee_text"] = values["fee_text"] or None
        return values


class MeetingRow(Form):
    meeting_id = HiddenField()  # which meeting this row moves; a stale form's ids are refused by the rule
    revision = HiddenField()  # the meeting as the clinician saw it: moved by someone else since, it is refused
    date = DateField("Date", [InputRequired("Please give a date."), plausible_date])
    starts = TimeField("Starts", [InputRequired("Please give a start time.")])
    ends = TimeField("Ends", [InputRequired("Please give an end time.")])
    location = StringField("Where", [DataRequired("Please say where, or “Online”."), limit(300), one_line("place")],
                           filters=[clean_text])
    join_url = URLField("Join link (online meetings)", [Optional(), limit(500), URL(
        require_tld=True, message="Please give the whole link, starting with https://.")],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        description="Shown only to enrolled participants.")

    def validate_join_url(self, field):
        if field.data and not field.data.startswith(("https://", "http://")):
            raise ValidationError("Please give the whole link, starting with https://.")
        if field.data and (self.location.data or "").strip().lower() != "online":
            raise ValidationError("Only online meetings have a join link: set Where to “Online”, or leave this empty.")

    def validate_ends(self, field):
        if self.starts.data and field.data and field.data <= self.starts.data:
            raise ValidationError("The meeting must end after it starts.")


class MeetingsForm(SiteForm):
    meetings = FieldList(FormField(MeetingRow), min_entries=program.MEETING_COUNT, max_entries=program.MEETING_COUNT)

    def changes(self) -> dict[int | None, tuple]:
        """Each meeting's new (date, start, end, place, join link, revision seen), by meeting id
        (None where a row has none; a revision that is not a number is None)."""
        number = lambda value: int(value) if re.fullmatch(r"[0-9]{1,9}", value or "") else None
        return {number(row["meeting_id"]): (row["date"], row["starts"], row["ends"], row["location"].strip(),
                                            row["join_url"] or None, number(row["revision"]))
                for row in self.meetings.data}


SLOT_LENGTHS = [SelectChoice(str(n), f"{n} minutes") for n in (20, 30, 45, 60, 90)]


class SlotsForm(SiteForm):
    """Publish screening times: one, or several back to back."""
    clinician = SelectField("Clinician")
    day = DateField("Date", [InputRequired("Please give a date."), plausible_date])
    starts = TimeField("First time starts", [InputRequired("Please give a start time.")])
    minutes = SelectField("Length", choices=SLOT_LENGTHS, default="30")
    count = IntegerField("How many, back to back", [InputRequired("Please give a number."),
                                                    NumberRange(1, 12, message="Between 1 and 12 at a time.")],
                         default=1)
    mode = SelectField("How", choices=[SelectChoice(key, label) for key, label in SCREENING_MODES.items()])
    place = StringField("Where or which link (optional)", [Optional(), limit(300), one_line("place")], filters=[clean_text],
                        description="An address for in-person talks, a video link, or leave empty for phone calls "
                                    "(the clinician calls the applicant).")
    timezone = SelectField("Time zone", choices=TIMEZONES, default="America/New_York")

    def __init__(self, *args, clinicians=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.clinician.choices = [SelectChoice(str(a.id), a.display_name) for a in clinicians]
        self.clinicians = {str(a.id): a for a in clinicians}

    def validate_starts(self, field):
        if self.day.data and field.data and self.timezone.data in {zone.value for zone in TIMEZONES} and \
                self.first_start() <= clock.now():
            raise ValidationError("That time has already passed.")

    def first_start(self) -> datetime:
        return datetime.combine(self.day.data, self.starts.data, ZoneInfo(self.timezone.data)).astimezone(UTC)


class SlotMoveForm(SiteForm):
    """A new time for one screening slot, in its own time zone."""
    day = DateField("New date", [InputRequired("Please give a date."), plausible_date])
    starts = TimeField("New time", [InputRequired("Please give a time.")])

    def moment(self, zone: str) -> datetime:
        return datetime.combine(self.day.data, self.starts.data, ZoneInfo(zone)).astimezone(UTC)


class HeldForm(SiteForm):
    note = TextAreaField("Private note on the conversation", [Optional(), limit(4000)], filters=[clean_text],
                         description="Only the clinicians see it; it is encrypted when stored.")


class WaitlistMoveForm(SiteForm):
    """Move one person up or down a cohort's waitlist."""
    application_id = StringField(validators=[Regexp(r"^[0-9]{1,9}$")])
    move = StringField(validators=[AnyOf(("up", "down"))])



class FilterForm(SiteForm):
    """Filters read from the query string. A filter that cannot be used is ignored: a choice
    not on offer quietly, anything typed kept in its box with a word on why."""

    class Meta:
        csrf = False

    def __init__(self, *args, **kwargs):
        super().__init__(request.args, *args, **kwargs)

    def chosen(self) -> dict[str, str]:
        """Each filter's value, or its default where what was asked for is not a choice."""
        self.validate()
        values = {}
        for field in self:
            if not field.errors and field.data is not None:
                values[field.name] = field.data
                continue
            values[field.name] = field.default or ""
            if isinstance(field, SelectField):  # not a choice on offer: the box shows the default
                field.data, field.errors = field.default or "", []
        return values


def _search_text(value):
    return clean_text(value)[:100] if isinstance(value, str) else value


# The list's orders: what the clinician picks, and the columns it sorts by.
SORTS = {
    "newest": ("Newest first", (Application.created_at.desc(), Application.id.desc())),
    "oldest": ("Oldest first", (Application.created_at, Application.id)),
    "name": ("By last name", (Application.last_name, Application.first_name, Application.id)),
    "status": ("By status", (sa.case({status.value: n for n, status in enumerate(Status)}, value=Application.status),
                             Application.created_at)),
    "attention": ("Most to check first", (Application.attention.desc(), Application.created_at)),
}


class ApplicationFilters(FilterForm):
    cohort = SelectField("Cohort")
    status = SelectField("Status", choices=[SelectChoice("", "Any status")]
                         + [SelectChoice(status.value, status.label) for status in Status])
    attention = SelectField("Answers", choices=[SelectChoice("", "Any answers"),
                                                SelectChoice("yes", "Some need attention"),
                                                SelectChoice("no", "None need attention")])
    clinician = SelectField("Looked after by")
    q = SearchField("Name or email", filters=[_search_text], render_kw={"autocomplete": "off"})
    sort = SelectField("Order", default="newest",
                       choices=[SelectChoice(key, label) for key, (label, _) in SORTS.items()])

    def __init__(self, cohorts: list[Cohort], clinicians: list):
        super().__init__()
        self.cohort.choices = [SelectChoice("", "All cohorts")] + [SelectChoice(c.slug, c.title) for c in cohorts]
        self.clinician.choices = [SelectChoice("", "Anyone"), SelectChoice("mine", "Me"),
                                  SelectChoice("none", "No one yet")] + [
            SelectChoice(str(a.id), a.display_name) for a in clinicians]


class AuditFilters(FilterForm):
    action = SelectField("What")
    admin = SelectField("Who")
    application = StringField("Application number", [Optional(), Regexp(
        r"^[0-9]{1,9}$", message="Please type the application’s number, digits only: it was left out of the filter.")],
                              filters=[lambda v: v.strip() if isinstance(v, str) else v],
                              render_kw={"inputmode": "numeric"})

    def __init__(self, actions: list[tuple[str, str]], admins: list):
        """actions: (stored action, its words) pairs."""
        super().__init__()
        self.action.choices = [SelectChoice("", "Everything")] + [SelectChoice(a, words) for a, words in actions]
        self.admin.choices = [SelectChoice("", "Anyone")] + [SelectChoice(str(a.id), a.display_name) for a in admins]


class ExportForm(SiteForm):
    """What to download from one cohort's applications: a GET form (a download changes nothing
    but the audit log). Its controls' ids carry the cohort's slug, as the cohorts page shows
    one such form per cohort."""

    class Meta:
        csrf = False

    status = SelectField("Whose applications", choices=[SelectChoice("", "Everyone")]
                         + [SelectChoice(status.value, status.label) for status in Status],
                         description="Choose “Enrolled” for the group’s roster.")
    include = BooleanField("Include their answers", render_kw={"value": "answers"},
                           description="The answers hold health information: keep the file on an encrypted device, "
                                       "share it with no one outside the clinical team, and delete it when done.")

    def __init__(self, cohort: Cohort):
        super().__init__(formdata=None)
        for field in self:
            field.id = f"{field.id}-{cohort.slug}"


class AttendanceForm(SiteForm):
    """One mark for one person on a meeting's roster: the button pressed says which."""
    application_id = StringField(validators=[Regexp(r"^[0-9]{1,9}$")])
    mark = StringField(validators=[AnyOf([mark.value for mark in AttendanceMark])])


# --- Messages (admin/messages.py) ----------------------------------------------------------

class MessageForm(SiteForm):
    """A clinician's words to an applicant, or to a cohort's participants."""
    message_body = TextAreaField("Message", [DataRequired("Please write the message first."), limit(4000)],
                                 filters=[clean_text])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.message_body.description = (f"Sent by email from the practice’s address; replies come to "
                                         f"{current_app.config['CONTACT_EMAIL']}. Never include their answers.")


class CohortMessageForm(MessageForm):
    """Writing to every enrolled participant: the button pressed (preview, edit, send) and,
    from the preview, who it was shown to, so a send reaches exactly the people previewed."""
    action = StringField(validators=[AnyOf(("preview", "edit", "send"), message="Unknown action.")], default="preview")
    recipients = HiddenField(validators=[Optional(), Regexp(r"^[0-9]{1,9}(,[0-9]{1,9})*$")])

    def previewed(self) -> set[int] | None:
        """The application ids the preview listed, or None if there was no preview."""
        return {int(n) for n in self.recipients.data.split(",")} if self.recipients.data else None


# --- Two-step sign-in (admin/auth.py, admin/account.py) ------------------------------------

# A code from an authenticator app: phones offer the number pad and the code just received.
ONE_TIME_CODE = {"autocomplete": "one-time-code", "inputmode": "numeric", "autocapitalize": "off",
                 "spellcheck": "false"}


class SignInCodeForm(SiteForm):
    """The second step of signing in: the app's code, or (behind "Use a recovery code
    instead") one of the recovery codes; each has its own form on the page."""
    code = StringField("6-digit code", [Optional(), limit(40)], render_kw=ONE_TIME_CODE,
                       description="From your authenticator app. A new code comes every 30 seconds.")
    recovery_code = StringField("Recovery code", [Optional(), limit(60)],
                                render_kw={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"},
                                description="One of the ten codes you kept when you turned on two-step sign-in. "
                                            "Each works once.")

    def with_recovery_code(self) -> bool:
        """Whether the recovery code's form was the one sent."""
        return "recovery_code" in request.form


class TwoFactorConfirmForm(SiteForm):
    code = StringField("Code the app shows", [DataRequired("Please type the 6-digit code your authenticator app "
                                                           "shows."), limit(40)],
                       id="setup-code", render_kw=ONE_TIME_CODE,
                       description="Six digits. If it changes while you type, the new one works too.")


class TwoFactorProofForm(SiteForm):
    """Proof it is the clinician before a change to their second factor: the password, or a
    code from the app now. `purpose` keeps the ids apart where two such forms share a page."""
    proof = PasswordField("Your password, or a code from your app",
                          [DataRequired("Please type your password, or the code your app shows now."), limit(200)],
                          render_kw={"autocomplete": "current-password", "autocapitalize": "off",
                                     "spellcheck": "false"})

    def __init__(self, *args, purpose: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.proof.id = f"{purpose}-proof"
