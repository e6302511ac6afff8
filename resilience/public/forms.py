"""The application form: every question, its wording and its limits, in one place."""
import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, EmailField, HiddenField, RadioField, StringField, TelField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Email, InputRequired, Length, Optional, ValidationError

from .. import enrolment
from ..models import Cohort

YES_NO_UNSURE = [SelectChoice("yes", "Yes"), SelectChoice("no", "No"), SelectChoice("unsure", "Not sure")]

# Control characters (NUL above all) are never part of an answer and some
# databases refuse them; tabs and line breaks are kept.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value):
    if isinstance(value, str):
        value = _CONTROL.sub("", value).replace("\r\n", "\n").strip()
    return value


def required(message="Please answer this question."):
    return DataRequired(message=message)


def limit(maximum: int):
    return Length(max=maximum, message=f"Please keep this under {maximum:,} characters.")


def choose(message="Please choose one answer."):
    return InputRequired(message=message)


def agree(message="Please tick this box to continue."):
    return DataRequired(message=message)


# Answers about health and other people are not kept in the browser's autofill history.
PRIVATE = {"autocomplete": "off"}

_PHONE = re.compile(r"^\+?[0-9 ().\-]{7,40}$")


def phone_number(form, field):
    if field.data and (not _PHONE.match(field.data) or sum(c.isdigit() for c in field.data) < 7):
        raise ValidationError("Please enter a phone number with its area code, for example 555 123 4567.")


class ApplicationForm(FlaskForm):
    class Meta:
        def bind_field(self, form, unbound_field, options):
            # Every text answer is cleaned the same way before it is validated.
            if issubclass(unbound_field.field_class, StringField):
                options["filters"] = [clean_text, *unbound_field.kwargs.get("filters", ())]
            return unbound_field.bind(form=form, **options)

    # Filled when the form is shown; a repeated submit of the same form reuses it.
    submission_id = HiddenField()
    ref = HiddenField(filters=[lambda v: v[:200] if isinstance(v, str) else v])

    cohort = RadioField("Which cohort are you applying for?", validate_choice=False,
                        validators=[choose("Please choose the cohort you are applying for.")])

    # About you
    first_name = StringField("First name", [required("Please enter your first name."), limit(100)],
                             description="The name we will use when we write to you.",
                             render_kw={"autocomplete": "given-name"})
    last_name = StringField("Last name", [required("Please enter your last name."), limit(100)],
                            render_kw={"autocomplete": "family-name"})
    pronouns = StringField("Pronouns (optional)", [Optional(), limit(60)], render_kw={"autocomplete": "off"})
    email = EmailField("Email address", [
        required("Please enter your email address."),
        limit(254),
        # Mail servers cannot all deliver to accented names before the @.
        Email(message="Please enter an email address like name@example.com.", allow_smtputf8=False),
    ], description="We send your confirmation and every update here.",
        render_kw={"autocomplete": "email", "spellcheck": "false"})
    phone = TelField("Phone number", [required("Please enter a phone number."), limit(40), phone_number],
                     render_kw={"autocomplete": "tel"})
    home_area = StringField("City and state you live in", [required(), limit(200)],
                            description="The ketamine sessions are in person, and our clinicians "
                                        "can only work with people in the states where they are licensed.",
                            render_kw={"autocomplete": "address-level2"})

    # Logistics
    attend_all = RadioField("Can you attend all ten meetings on the dates listed?", choices=YES_NO_UNSURE,
                            validators=[choose()])
    ride_home = RadioField(
        "After each ketamine session, can a sober adult you trust take you home?",
        choices=YES_NO_UNSURE, validators=[choose()],
        description="You may not drive, cycle or take a taxi alone until the next day.",
    )
    logistics_notes = TextAreaField("Anything about dates, travel or access needs we should know? (optional)",
                                    [Optional(), limit(1000)])

    # Support
    therapist = StringField("Your current therapist, if you have one (optional)", [Optional(), limit(300)],
                            description="Their name and how to reach them.", render_kw=PRIVATE)
    provider = StringField("Your prescriber or primary-care provider", [required(), limit(300)],
                           description="Their name and how to reach them. We only contact them "
                                       "with your permission.", render_kw=PRIVATE)
    emergency_name = StringField("Emergency contact’s name", [required(), limit(100)], render_kw=PRIVATE)
    emergency_relationship = StringField("How you know them", [required(), limit(60)],
                                         description="For example: partner, sister, friend.", render_kw=PRIVATE)
    emergency_phone = TelField("Emergency contact’s phone", [required(), limit(40), phone_number], render_kw=PRIVATE)

    # Health screen
    pregnant = RadioField("Are you pregnant, trying to become pregnant, or breastfeeding?",
                          choices=YES_NO_UNSURE, validators=[choose()])
    blood_pressure = RadioField("Do you have high blood pressure that is not well controlled?",
                                choices=YES_NO_UNSURE, validators=[choose()])
    heart = RadioField("Have you had heart disease, a heart attack, a stroke or an aneurysm?",
                       choices=YES_NO_UNSURE, validators=[choose()])
    psychosis = RadioField("Have you ever had psychosis or mania, or a diagnosis of schizophrenia "
                           "or bipolar disorder?", choices=YES_NO_UNSURE, validators=[choose()])
    substance_use = RadioField("Have you had problems with ketamine, alcohol or other substances?",
                               choices=YES_NO_UNSURE, validators=[choose()])
    liver = RadioField("Do you have liver disease?", choices=YES_NO_UNSURE, validators=[choose()])
    raised_pressure = RadioField("Have you been told you have raised pressure in your eyes "
                                 "(such as glaucoma) or in your head?", choices=YES_NO_UNSURE, validators=[choose()])
    thyroid = RadioField("Do you have an overactive thyroid that is not well controlled?",
                         choices=YES_NO_UNSURE, validators=[choose()])
    anaesthesia_reaction = RadioField("Have you had a bad reaction to ketamine or to anaesthesia before?",
                                      choices=YES_NO_UNSURE, validators=[choose()])
    medications = TextAreaField("Medications and supplements you take",
                                [required("Please list your medications, or write “none”."), limit(2000)],
                                description="With doses if you know them. Write “none” if you take none.",
                                render_kw=PRIVATE)
    health_notes = TextAreaField("Anything else about your health you would like us to know? (optional)",
                                 [Optional(), limit(2000)], render_kw=PRIVATE)

    # Intentions
    intention = TextAreaField("What draws you to this group now?", [required(), limit(3000)],
                              description="A few sentences is plenty.")
    hopes = TextAreaField("What would you like to feel or do differently after these six weeks? (optional)",
                          [Optional(), limit(3000)])
    experience = TextAreaField("Any experience with group therapy, meditation or "
                               "psychedelic-assisted therapy? (optional)", [Optional(), limit(2000)])
    knows_applicants = TextAreaField(
        "Do you know anyone who may also apply? (optional)", [Optional(), limit(500)],
        description="Groups feel safest when members do not already know each other. "
                    "We use this only to plan the groups, and never tell anyone what you wrote.",
        render_kw=PRIVATE,
    )

    # Acknowledgements and consent
    ack_not_acceptance = BooleanField("I understand that applying is not acceptance: a clinician decides, "
                                      "after a medical evaluation, whether this group is right for me.",
                                      [agree()])
    ack_commitment = BooleanField("If I am offered a place, I intend to come to all ten meetings and to keep "
                                  "what others share in the group confidential.", [agree()])
    ack_adult = BooleanField("I am 18 or older.", [agree("Please confirm you are 18 or older.")])
    ack_not_emergency = BooleanField("I understand this site and its inbox are not watched for emergencies. "
                                     "In a crisis I will call or text 988, or my local emergency number.",
                                     [agree()])
    consent_health = BooleanField(
        "I agree that the practice may store my answers, including my health information, "
        "and that its clinicians may read them to decide about my application.",
        [agree("We can only consider your application with this consent.")],
        description="Your answers are encrypted when stored and are never sent by email. "
                    "You can ask us to delete them at any time.",
    )

    SECTIONS = (
        ("about", "About you", ("first_name", "last_name", "pronouns", "email", "phone", "home_area")),
        ("logistics", "Dates and getting home", ("attend_all", "ride_home", "logistics_notes")),
        ("support", "Your support", ("therapist", "provider", "emergency_name",
                                     "emergency_relationship", "emergency_phone")),
        ("health", "Health screen", ("pregnant", "blood_pressure", "heart", "psychosis", "substance_use",
                                     "liver", "raised_pressure", "thyroid", "anaesthesia_reaction",
                                     "medications", "health_notes")),
        ("intentions", "Your intentions", ("intention", "hopes", "experience", "knows_applicants")),
        ("agreements", "Before you send", ("ack_not_acceptance", "ack_commitment", "ack_adult",
                                           "ack_not_emergency")),
        ("consent", "Your consent", ("consent_health",)),
    )
    # Answers a clinician should not miss when reading an application.
    NEEDS_ATTENTION = {
        "attend_all": ("no", "unsure"), "ride_home": ("no", "unsure"),
        **{name: ("yes", "unsure") for name in ("pregnant", "blood_pressure", "heart", "psychosis", "substance_use",
                                                "liver", "raised_pressure", "thyroid", "anaesthesia_reaction")},
    }
    QUESTIONS = ("cohort",) + tuple(name for _, _, names in SECTIONS for name in names)
    CONTACT_FIELDS = ("first_name", "last_name", "pronouns", "email", "phone", "home_area")
    # Everything sealed together (encrypted at rest) as the application's answers.
    ANSWER_FIELDS = (
        "attend_all", "ride_home", "logistics_notes",
        "therapist", "provider", "emergency_name", "emergency_relationship", "emergency_phone",
        "pregnant", "blood_pressure", "heart", "psychosis", "substance_use", "liver",
        "raised_pressure", "thyroid", "anaesthesia_reaction", "medications", "health_notes",
        "intention", "hopes", "experience",
    )

    def __init__(self, *args, cohorts: list[Cohort] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.open_cohorts = {c.slug: c for c in cohorts}
        self.cohort.choices = [SelectChoice(c.slug, c.title) for c in cohorts]

    def selected_cohort(self) -> Cohort | None:
        return self.open_cohorts.get(self.cohort.data) or (
            enrolment.cohort_by_slug(self.cohort.data) if self.cohort.data else None
        )

    def validate_cohort(self, field):
        cohort = self.selected_cohort()
        if cohort is None:
            raise ValidationError("Please choose the cohort you are applying for.")
        try:
            enrolment.check_can_apply(cohort)
        except enrolment.ApplicationRefused as refusal:
            raise ValidationError(refusal.message) from None

    def validate_single(self, name: str) -> bool:
        """Validate one field as the full submit would (for inline validation)."""
        field = self[name]
        inline = getattr(type(self), f"validate_{name}", None)  # called as (form, field)
        return field.validate(self, [inline] if inline else [])

    def contact(self) -> dict:
        contact = {name: self[name].data for name in self.CONTACT_FIELDS}
        contact["pronouns"] = contact["pronouns"] or None
        return contact

    def answers(self) -> dict:
        return {name: self[name].data for name in self.ANSWER_FIELDS}



class StatusActionForm(FlaskForm):
    """What an applicant can do on their status page: confirm an offered place, or withdraw."""

    action = StringField(validators=[AnyOf(("confirm", "withdraw"))])
    sure = BooleanField("Yes, withdraw my application")

    def validate_sure(self, field):
        if self.action.data == "withdraw" and not field.data:
            raise ValidationError("Please tick the box to confirm that you want to withdraw.")
