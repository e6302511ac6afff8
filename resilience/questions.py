"""The application's questions, in one place: sections, wording, limits, which answers a
clinician should not miss, and how typed text is cleaned. The public form is built from
these, and the admin pages lay the stored answers out by them.

What is kept where: the "about you" answers are contact fields (plain columns, readable in
lists); the agreements only record that and when the person agreed; everything else is
sealed together with where the person came from, encrypted at rest, in an envelope that
carries the version of these questions it was written with.
"""
import re
from dataclasses import dataclass

# Kinds of question: how each is asked and checked.
TEXT, LONG_TEXT, EMAIL, PHONE, CHOICE, AGREE = "text", "long_text", "email", "phone", "choice", "agree"
# Where a section's answers are kept.
CONTACT, SEALED, AGREEMENT = "contact", "sealed", "agreement"

YES_NO_UNSURE = (("yes", "Yes"), ("no", "No"), ("unsure", "Not sure"))
WORRYING = ("yes", "unsure")  # on a health question: the clinician should look closer

DEFAULT_REQUIRED = {CHOICE: "Please choose one answer.", AGREE: "Please tick this box to continue."}


@dataclass(frozen=True)
class Question:
    name: str
    label: str
    kind: str = TEXT
    required: bool | str = True  # True, or the message to show when it is left empty
    max_length: int | None = None
    hint: str | None = None
    # Contact fields name what browsers may fill in; "off" keeps health answers and other
    # people's details out of the browser's autofill history.
    autocomplete: str | None = None
    attention: tuple[str, ...] = ()  # answers a clinician should not miss
    why: str = ""  # why such an answer needs a clinician, in a few words
    # A follow-up question: asked (and kept) only when the question it follows has one of these answers.
    follows: str | None = None
    when: tuple[str, ...] = ()

    @property
    def required_message(self) -> str | None:
        if self.required is True:
            return DEFAULT_REQUIRED.get(self.kind, "Please answer this question.")
        return self.required or None

    @property
    def choices(self) -> tuple[tuple[str, str], ...]:
        return YES_NO_UNSURE if self.kind == CHOICE else ()


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    kept: str
    questions: tuple[Question, ...]
    intro: str | None = None
    step: int = 1  # with JavaScript, the form comes a step at a time (see STEPS)


# The form's steps, in order; the choice of cohort comes in the first.
STEPS = ("Your cohort and you", "Dates and support", "Your health", "Your intentions", "Agreements and consent")


def _private(**kwargs) -> dict:
    return {"autocomplete": "off", **kwargs}


def _health(name: str, label: str, why: str) -> tuple[Question, Question]:
    """A health question, and the few words a "yes" or "not sure" asks for."""
    return (Question(name, label, CHOICE, attention=WORRYING, why=why),
            Question(f"{name}_detail", "If you answered Yes or Not sure: a few words about it", LONG_TEXT,
                     required="Please write a few words about it: what, and when.", max_length=1000,
                     follows=name, when=WORRYING, **_private(hint="What it is or was, and when.")))


SECTIONS = (
    Section("about", "About you", CONTACT, (
        Question("first_name", "First name", required="Please enter your first name.", max_length=100,
                 hint="The name we will use when we write to you.", autocomplete="given-name"),
        Question("last_name", "Last name", required="Please enter your last name.", max_length=100,
                 autocomplete="family-name"),
        Question("pronouns", "Pronouns (optional)", required=False, max_length=60, autocomplete="off"),
        Question("email", "Email address", EMAIL, required="Please enter your email address.", max_length=254,
                 hint="We send your confirmation and every update here.", autocomplete="email"),
        Question("phone", "Phone number", PHONE, required="Please enter a phone number.", max_length=40,
                 autocomplete="tel"),
        Question("home_area", "City and state you live in", max_length=200, autocomplete="address-level2",
                 hint="The ketamine sessions are in person, and our clinicians can only work with people "
                      "in the states where they are licensed."),
    )),
    Section("logistics", "Dates and getting home", SEALED, (
        Question("attend_all", "Can you attend all ten meetings on the dates listed?", CHOICE,
                 hint="They are the ten meetings listed with your cohort, at its local times.", attention=("no", "unsure"), why="The group needs everyone at every meeting."),
        Question("ride_home", "After each ketamine session, can a sober adult you trust take you home?", CHOICE,
                 hint="You may not drive, cycle or take a taxi alone until the next day.",
                 attention=("no", "unsure"), why="No one goes home alone after a ketamine session."),
        Question("logistics_notes", "Anything about dates, travel or access needs we should know? (optional)",
                 LONG_TEXT, required=False, max_length=1000),
    ), intro="The group needs everyone at every meeting, and each ketamine session ends with a ride home. "
             "If something makes this hard, say so: it can often be worked out.", step=2),
    Section("support", "Your support", SEALED, (
        Question("therapist", "Your current therapist, if you have one (optional)", required=False,
                 max_length=300, **_private(hint="Their name and how to reach them.")),
        Question("provider", "Your prescriber or primary-care provider", max_length=300,
                 **_private(hint="Their name and how to reach them. We only contact them with your permission.")),
        Question("emergency_name", "Emergency contact’s name", max_length=100, **_private()),
        Question("emergency_relationship", "How you know them", max_length=60,
                 **_private(hint="For example: partner, sister, friend.")),
        Question("emergency_phone", "Emergency contact’s phone", PHONE, max_length=40, **_private()),
    ), intro="Who supports you outside the group. We contact your providers only with your permission, "
             "and your emergency contact only in an emergency.", step=2),
    Section("health", "Health screen", SEALED, (
        *_health("pregnant", "Are you pregnant, trying to become pregnant, or breastfeeding?",
                "Ketamine is not given in pregnancy or while breastfeeding."),
        *_health("blood_pressure", "Do you have high blood pressure that is not well controlled?",
                "Ketamine raises blood pressure for a while."),
        *_health("heart", "Have you had heart disease, a heart attack, a stroke or an aneurysm?",
                "Ketamine raises heart rate and blood pressure."),
        *_health("psychosis", "Have you ever had psychosis or mania, or a diagnosis of schizophrenia "
                             "or bipolar disorder?",
                "Ketamine can bring on psychosis or mania."),
        *_health("substance_use", "Have you had problems with ketamine, alcohol or other substances?",
                "Ketamine can be misused; plan support with them."),
        *_health("liver", "Do you have liver disease?", "The liver clears ketamine."),
        *_health("raised_pressure", "Have you been told you have raised pressure in your eyes "
                                   "(such as glaucoma) or in your head?",
                "Ketamine raises pressure in the eyes and head."),
        *_health("thyroid", "Do you have an overactive thyroid that is not well controlled?",
                "Ketamine and an overactive thyroid both strain the heart."),
        *_health("anaesthesia_reaction", "Have you had a bad reaction to ketamine or to anaesthesia before?",
                "A past reaction may happen again."),
        Question("medications", "Medications and supplements you take", LONG_TEXT,
                 required="Please list your medications, or write “none”.", max_length=2000,
                 **_private(hint="With doses if you know them. Write “none” if you take none.")),
        Question("health_notes", "Anything else about your health you would like us to know? (optional)",
                 LONG_TEXT, required=False, max_length=2000, **_private()),
    ), intro="These questions help the clinicians prepare for your medical evaluation. Answering “yes” or "
             "“not sure” does not rule you out.", step=3),
    Section("intentions", "Your intentions", SEALED, (
        Question("intention", "What draws you to this group now?", LONG_TEXT, max_length=3000,
                 hint="A few sentences is plenty."),
        Question("hopes", "What would you like to feel or do differently after these six weeks? (optional)",
                 LONG_TEXT, required=False, max_length=3000),
        Question("experience", "Any experience with group therapy, meditation or psychedelic-assisted therapy? "
                               "(optional)", LONG_TEXT, required=False, max_length=2000),
        Question("knows_applicants", "Do you know anyone who may also apply? (optional)", LONG_TEXT,
                 required=False, max_length=500,
                 **_private(hint="Groups feel safest when members do not already know each other. We use this "
                                 "only to plan the groups, and never tell anyone what you wrote.")),
    ), intro="There are no right answers. Write as much or as little as feels right.", step=4),
    Section("agreements", "Before you send", AGREEMENT, (
        Question("ack_not_acceptance", "I understand that applying is not acceptance: a clinician decides, after "
                                       "a medical evaluation, whether this group is right for me.", AGREE),
        Question("ack_commitment", "If I am offered a place, I intend to come to all ten meetings and to keep "
                                   "what others share in the group confidential.", AGREE),
        Question("ack_adult", "I am 18 or older.", AGREE, required="Please confirm you are 18 or older."),
        Question("ack_not_emergency", "I understand this site and its inbox are not watched for emergencies. "
                                      "In a crisis I will call or text 988, or my local emergency number.", AGREE),
    ), step=5),
    Section("consent", "Your consent", AGREEMENT, (
        Question("consent_health", "I agree that the practice may store my answers, including my health "
                                   "information, and that its clinicians may read them to decide about my "
                                   "application.", AGREE,
                 required="We can only consider your application with this consent.",
                 hint="Your answers are encrypted when stored and are never sent by email. "
                      "You can ask us to delete them at any time."),
    ), intro="We ask for this separately because your answers include health information.", step=5),
)

QUESTIONS = {question.name: question for section in SECTIONS for question in section.questions}
CONTACT_FIELDS = tuple(q.name for s in SECTIONS if s.kept == CONTACT for q in s.questions)
SEALED_FIELDS = tuple(q.name for s in SECTIONS if s.kept == SEALED for q in s.questions)


# --- Cleaning what people type -----------------------------------------------------------------

# Control characters (NUL above all) are never part of an answer and some databases
# refuse them; tabs and line breaks are kept.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value):
    """Typed text as it is kept: no control characters, Unix line breaks, no outer spaces."""
    if isinstance(value, str):
        value = _CONTROL.sub("", value).replace("\r\n", "\n").strip()
    return value


# --- The sealed answers ------------------------------------------------------------------------

# The version of these questions that sealed answers are written with. When a question
# is renamed or its choices change, raise it and teach open_answers() the older one.
ANSWERS_VERSION = 1


def seal_answers(answers: dict) -> dict:
    """The envelope stored (encrypted) for an application's answers."""
    return {"v": ANSWERS_VERSION, "answers": answers}


def open_answers(envelope: dict) -> dict:
    """The answers inside a stored envelope, as the current questions name them."""
    if envelope.get("v") != ANSWERS_VERSION:
        raise ValueError(f"Answers sealed with questions version {envelope.get('v')!r} cannot be read.")
    return envelope["answers"]


def needs_attention(name: str, value) -> bool:
    return value in QUESTIONS[name].attention


def attention_count(answers: dict) -> int:
    """How many answers a clinician should not miss (kept in the clear so the list can show
    and filter by it; which answers they are stays sealed)."""
    return sum(1 for name in SEALED_FIELDS if needs_attention(name, answers.get(name)))


def attention_rows(answers: dict) -> list[tuple[str, str, str]]:
    """The answers that need a clinician, as (question, answer, why), in the form's order;
    an answer's follow-up words come with it ("Yes: a stent in 2019")."""
    return [(QUESTIONS[name].label, _with_follow_up(name, answers), QUESTIONS[name].why)
            for name in SEALED_FIELDS if needs_attention(name, answers.get(name))]


FOLLOW_UPS = {question.follows: question.name for question in QUESTIONS.values() if question.follows}


def _with_follow_up(name: str, answers: dict) -> str:
    words = answers.get(FOLLOW_UPS.get(name, ""))
    return f"{shown(name, answers.get(name))}: {words}" if isinstance(words, str) and words else shown(
        name, answers.get(name))


def shown(name: str, value) -> str:
    """An answer as a clinician reads it: the choice's words, or what was typed."""
    if not isinstance(value, str):  # never expected; shown as it is rather than hidden
        return "—" if value is None else str(value)
    return dict(QUESTIONS[name].choices).get(value, value) or "—"


def answered_sections(answers: dict) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """The sealed answers under their sections' titles: (question, answer, needs attention)."""
    return [
        (section.title, [(q.label, shown(q.name, answers.get(q.name)), needs_attention(q.name, answers.get(q.name)))
                         for q in section.questions if not q.follows or answers.get(q.name)])
        for section in SECTIONS if section.kept == SEALED
    ]
