"""The public forms: the application (built from resilience/questions.py) and the
status page's actions."""
import re

from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectChoice,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, Email, InputRequired, Optional, StopValidation, ValidationError

from .. import content, enrolment, formatting, questions
from ..forms import SiteForm, limit
from ..models import Cohort

_PHONE = re.compile(r"^\+?[0-9 ().\-]{7,40}$")


def phone_number(form, field):
    if field.data and (not _PHONE.match(field.data) or sum(c.isdigit() for c in field.data) < 7):
        raise ValidationError("Please enter a phone number with its area code, for example 555 123 4567.")


FIELD_CLASSES = {questions.TEXT: StringField, questions.LONG_TEXT: TextAreaField, questions.EMAIL: EmailField,
                 questions.PHONE: TelField, questions.CHOICE: RadioField, questions.AGREE: BooleanField}


def follow_up_check(question: questions.Question):
    """A follow-up is answered only after the answers that ask for it; otherwise what was typed
    under it (before changing one's mind, say) is not kept."""
    def check(form, field):
        if form[question.follows].data not in question.when:
            field.data = ""
            raise StopValidation()
        if not field.data:
            raise StopValidation(question.required_message)
    return check


def field_for(question: questions.Question):
    """The form field that asks one question, with the checks its wording promises."""
    if question.follows:
        checks = [follow_up_check(question)]
    elif question.required_message is None:
        checks = [Optional()]
    elif question.kind == questions.CHOICE:
        checks = [InputRequired(message=question.required_message)]
    else:
        checks = [DataRequired(message=question.required_message)]
    if question.max_length:
        checks.append(limit(question.max_length))
    if question.kind == questions.EMAIL:
        # Mail servers cannot all deliver to accented names before the @.
        checks.append(Email(message="Please enter an email address like name@example.com.", allow_smtputf8=False))
    if question.kind == questions.PHONE:
        checks.append(phone_number)
    options = {"description": question.hint or ""}
    render_kw = {"autocomplete": question.autocomplete} if question.autocomplete else {}
    if question.kind == questions.EMAIL:
        render_kw["spellcheck"] = "false"
    if question.kind == questions.CHOICE:
        options["choices"] = [SelectChoice(value, label) for value, label in question.choices]
    return FIELD_CLASSES[question.kind](question.label, checks, render_kw=render_kw or None, **options)


_MARK = re.compile(r"[0-9a-f]{12}")  # content.fingerprint
WORDS_CHANGED = ("We changed these words while you were filling in the form. Please read them again, and tick "
                 "the box if you agree.")


class ApplicationForm(SiteForm):
    class Meta:
        def bind_field(self, form, unbound_field, options):
            # Every text answer is cleaned the same way before it is validated.
            if issubclass(unbound_field.field_class, StringField):
                options["filters"] = [questions.clean_text, *unbound_field.kwargs.get("filters", ())]
            return unbound_field.bind(form=form, **options)

    # Filled when the form is shown; a repeated submit of the same form reuses it.
    submission_id = HiddenField()
    ref = HiddenField(filters=[lambda v: v[:200] if isinstance(v, str) else v])

    # The marks of the agreements' words the form showed (content.fingerprint), in order: a box
    # ticked beside words the clinicians changed while the form was open is asked again.
    agreement_words = HiddenField(filters=[lambda v: v[:200] if isinstance(v, str) else v])

    cohort = RadioField("Which cohort are you applying for?", validate_choice=False,
                        validators=[InputRequired("Please choose the cohort you are applying for.")])

    SECTIONS = questions.SECTIONS
    QUESTIONS = ("cohort", *questions.QUESTIONS)

    def __init__(self, *args, cohorts: list[Cohort] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.offer(cohorts)
        self._looked_up: dict[str, Cohort | None] = {}
        texts = content.current()
        self.marks = {}
        for name in content.AGREEMENTS:
            self[name].label.text = texts.line(f"agreement.{name}")
            self.marks[name] = content.fingerprint(self[name].label.text)
        self.agreement_words.data = self.agreement_words.data or " ".join(self.marks.values())

    def offer(self, cohorts: list[Cohort]) -> None:
        """The cohorts the form lists to choose from: those open now."""
        self.open_cohorts = {c.slug: c for c in cohorts}
        self.cohort.choices = [SelectChoice(c.slug, c.title) for c in cohorts]

    def changed_agreements(self) -> list[str]:
        """The agreements whose words are not the ones the form showed (when it says which it showed)."""
        shown = self.agreement_words.data.split() if isinstance(self.agreement_words.data, str) else []
        if len(shown) != len(self.marks) or not all(_MARK.fullmatch(mark) for mark in shown):
            return []
        return [name for name, mark in zip(self.marks, shown) if mark != self.marks[name]]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        changed = self.changed_agreements()
        for name in changed:
            self[name].data = False
            self[name].errors = [WORDS_CHANGED]
        self.agreement_words.data = " ".join(self.marks.values())  # asked again beside the words shown now
        return valid and not changed

    def selected_cohort(self) -> Cohort | None:
        """The cohort chosen, whether or not it takes applications (read once, by its slug, when
        the form does not list it)."""
        slug = self.cohort.data
        if slug in self.open_cohorts or not isinstance(slug, str):
            return self.open_cohorts.get(slug)
        if slug not in self._looked_up:
            self._looked_up[slug] = enrolment.cohort_by_slug(slug)
        return self._looked_up[slug]

    def validate_cohort(self, field):
        cohort = self.selected_cohort()
        if cohort is None:
            raise ValidationError("Please choose the cohort you are applying for.")
        try:
            enrolment.check_can_apply(cohort)
        except enrolment.ApplicationRefused as refusal:
            raise ValidationError(refusal.message) from None

    @classmethod
    def step_questions(cls, step: int) -> list[str]:
        """The names of the questions asked in one step of the form (the cohort comes first)."""
        return (["cohort"] if step == 1 else []) + [
            q.name for section in cls.SECTIONS if section.step == step for q in section.questions]

    def validate_single(self, name: str) -> bool:
        """Validate one field as the full submit would (for inline validation)."""
        field = self[name]
        inline = getattr(type(self), f"validate_{name}", None)  # called as (form, field)
        return field.validate(self, [inline] if inline else [])

    def contact(self) -> dict:
        contact = {name: self[name].data for name in questions.CONTACT_FIELDS}
        contact["pronouns"] = contact["pronouns"] or None
        return contact

    def answers(self) -> dict:
        """What is sealed: every answer beyond the contact fields and the agreements."""
        return {name: self[name].data for name in questions.SEALED_FIELDS}


for _question in questions.QUESTIONS.values():
    setattr(ApplicationForm, _question.name, field_for(_question))


def _slot_label(slot) -> str:
    """Monday, November 30, 2026, 10:00 – 10:30 am EST: video call with Dr. Ana Reyes"""
    return (f"{formatting.long_date(slot.local_start)}, {formatting.time_range(slot.local_start, slot.local_end)}: "
            f"{slot.mode_name.lower()} with {slot.admin.display_name}")


class StatusActionForm(SiteForm):
    """What an applicant can do on their status page: book (or cancel) a screening
    conversation, confirm an offered place, go back on the waitlist after an offer
    lapsed, or withdraw."""

    ACTIONS = ("book", "cancel", "confirm", "wait", "withdraw")
    action = StringField(validators=[AnyOf(ACTIONS)])
    slot = RadioField("Choose a time", coerce=str, validate_choice=False)
    sure = BooleanField("Yes, withdraw my application")

    def __init__(self, *args, open_slots=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.slot.choices = [(str(slot.id), _slot_label(slot)) for slot in open_slots]

    def validate_slot(self, field):
        """Which time: the rules then say whether it is still free (someone may have taken it)."""
        if self.action.data in ("book", "cancel") and not re.fullmatch(r"[0-9]{1,9}", field.data or ""):
            raise ValidationError("Please choose one of the times shown.")

    def validate_sure(self, field):
        if self.action.data == "withdraw" and not field.data:
            raise ValidationError("Please tick the box to confirm that you want to withdraw.")


class ResendForm(SiteForm):
    """A lost status link: the address the applicant applied with."""

    email = EmailField(
        "Email address",
        [DataRequired("Please enter the email address you applied with."), limit(254),
         Email(message="Please enter an email address like name@example.com.", allow_smtputf8=False)],
        filters=[questions.clean_text],
        description="The address you gave when you applied.",
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
