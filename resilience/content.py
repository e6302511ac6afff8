"""The site's texts the clinicians change in the admin panel (/admin/content): each defined
once here with its label, hint, kind and the text shipped with the code; stored as versions
(models.SiteText, who and when); rendered from Markdown and sanitised; clinicians' photos
checked, resized and kept under instance/photos/.

The current text of a key is its latest version, or its default when none was saved. Pages
read all current texts in one query (`current()`, cached for the request).
"""
import hashlib
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import nh3
import sqlalchemy as sa
from flask import current_app, g
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError

from . import clock, database, questions
from .enrolment import audit
from .extensions import db
from .models import Admin, SiteText

LINE, MARKDOWN, FAQ, PHOTO, AGREEMENT = "line", "markdown", "faq", "photo", "agreement"
LONGEST = {LINE: 200, MARKDOWN: 20_000, FAQ: 40_000, PHOTO: 40, AGREEMENT: 600}


@dataclass(frozen=True)
class Text:
    key: str
    group: str
    label: str
    kind: str
    default: str
    hint: str = ""


CLINICIANS = (1, 2)

TEXTS: dict[str, Text] = {text.key: text for text in (
    # --- The program page ---------------------------------------------------------------------
    Text("program.intro", "The program page", "Program description", MARKDOWN, """\
Rediscovering Resilience is for adults who have been carrying a lot for a long time, such as low mood, anxiety, or \
the after-effects of hard experiences, and who want to rebuild a sense of steadiness with the support of a small group.

Ketamine, given at a measured dose in a supervised medical setting, can loosen familiar patterns of thought for a few \
hours and make room for a fresh view of them. That window closes again on its own. What makes the difference is what \
surrounds it: careful preparation, a group that feels safe, and time afterwards to make sense of the experience and \
put it to use. The six weeks are built around exactly that.

The work draws on positive psychology: **mindfulness** to notice what is happening without being swept along by it, \
**self-compassion** to meet yourself more kindly, and **creative self-expression** (writing, drawing, movement) for \
what is hard to say in words.""", "Under “What the program is” on the program page."),
    Text("phase.preparation", "The program page", "Phase: preparation", MARKDOWN,
         "Meet the group and the clinicians, agree how we keep each other safe, and learn the mindfulness and "
         "self-compassion practices we will lean on.", "A sentence or two under “3 Preparation”."),
    Text("phase.ketamine", "The program page", "Phase: ketamine sessions", MARKDOWN,
         "Three in-person mornings. A clinician-guided ketamine experience, held together as a group, followed by "
         "quiet time and gentle sharing.", "A sentence or two under “3 Ketamine sessions”."),
    Text("phase.integration", "The program page", "Phase: integration", MARKDOWN,
         "Make sense of what came up, through conversation, writing, art and movement, and carry it into daily life. "
         "The last meeting plans follow-up care.", "A sentence or two under “4 Integration”."),
    Text("faq", "The program page", "Questions people ask", FAQ, """\
## Who is this group for?

Adults (18 or older) who want to work on their resilience in a small group, who can come to all ten meetings, and \
who can get to the in-person sessions. It helps to have a therapist, prescriber or primary-care provider already; if \
you do not, tell us and we will talk it through.

## Who is it not for?

Ketamine is not safe for everyone, and a group is not the right place for every moment of life. The program is \
usually not a fit right now if you are in crisis or at risk of harming yourself, if you have had psychosis or mania, \
if you are pregnant or breastfeeding, if you have uncontrolled high blood pressure or certain heart conditions, or if \
you are struggling with substance use.

If you are not sure, apply anyway and say so. A clinician will talk it through with you, and if the group is not \
right for now we will help you find support that is.

## What happens on a ketamine day?

A quiet morning: a check-in, a clinician-guided session of about an hour while you rest, time to come back slowly, \
and gentle sharing. [Read the whole day, step by step.](#ketamine-day)

## Why do I need someone to take me home?

Ketamine affects balance, judgement and reaction time for some hours after you feel clear. After each of the three \
ketamine sessions a sober adult you trust must take you home, and you should not drive, cycle or travel alone until \
the next day. If arranging this is hard, tell us in your application.

## Is what I share kept private?

Yes. Your application answers are encrypted when stored, read only by our two clinicians, and never sent by email. \
In the group, everyone agrees that what is shared there stays there. As in all therapy, the clinicians may need to \
act if someone’s safety is at risk; they will explain this at your evaluation.

## Who are the clinicians, and what does it cost?

Two clinicians lead every meeting. [Meet them, and read about fees, insurance, refunds and what happens if you need \
to stop.](/practice)

## What happens after I apply?

You get a confirmation by email with a private link to follow your application. A clinician reads it, and if the \
group may suit you, invites you to a medical evaluation. Then we tell you: a place offered, a place on the waitlist, \
or other support that may suit you better. Applying never commits you to anything.

## What if the cohort is full?

You can still apply. Sending an application does not hold a seat and neither does waiting: a seat is taken only \
when a clinician offers it. If someone withdraws, a clinician offers the seat to the next person on the waitlist for \
whom the group is a good fit.

## Can I change my mind?

Of course, at any point, before or after a place is offered. Your private status page has a button to withdraw, or \
you can write to us or call; there is nothing to explain unless you want to.""",
         "Each question starts on its own line with “## ”; its answer follows. They show in this order."),
    # --- The clinicians ---------------------------------------------------------------------
    Text("clinician.1.name", "Clinicians", "First clinician: name", LINE, "Dr. Ana Reyes"),
    Text("clinician.1.credentials", "Clinicians", "First clinician: credentials", LINE,
         "Psychiatrist (MD), board-certified in psychiatry; licensed in Maine"),
    Text("clinician.1.bio", "Clinicians", "First clinician: short bio", MARKDOWN, """\
Ana has worked with adults living with depression, anxiety and the after-effects of trauma for fifteen years, first \
in a community mental-health center and now in private practice. She trained in ketamine-assisted psychotherapy and \
leads the medical side of the program: the evaluation before anyone joins, the dose on each ketamine morning, and \
the checks before you go home.

Outside the practice she walks the coast path, badly plays the cello, and keeps a notebook of small good moments."""),
    Text("clinician.1.photo", "Clinicians", "First clinician: photo", PHOTO, ""),
    Text("clinician.2.name", "Clinicians", "Second clinician: name", LINE, "Jordan Ellis"),
    Text("clinician.2.credentials", "Clinicians", "Second clinician: credentials", LINE,
         "Licensed clinical social worker (LCSW); group therapist"),
    Text("clinician.2.bio", "Clinicians", "Second clinician: short bio", MARKDOWN, """\
Jordan has led therapy groups for twelve years, for people recovering from loss, burnout and long stretches of \
feeling alone. Their work leans on mindfulness, self-compassion and creative practice, and they lead most of the \
preparation and integration meetings: how the group agrees to look after one another, and how each person carries \
what they found into ordinary weeks.

Jordan also keeps in touch with your own therapist or prescriber, with your permission, when the group ends."""),
    Text("clinician.2.photo", "Clinicians", "Second clinician: photo", PHOTO, ""),
    # --- Fees and policies -------------------------------------------------------------------
    Text("fees", "Fees and policies", "Fees and what they cover", MARKDOWN, """\
The program fee covers all ten meetings: the three preparation meetings, the three ketamine mornings (the medicine, \
the medical monitoring and both clinicians in the room throughout) and the four integration meetings. It also \
covers the medical evaluation before you join and a follow-up call with a clinician a month after the last meeting.

Each cohort's fee is shown with its dates. There is no charge for applying, for the first conversation, or for \
being on the waitlist.

If the fee stands between you and the group, tell us when you apply. A few places in each cohort are offered at a \
reduced fee, and asking never counts against anyone."""),
    Text("payment", "Fees and policies", "Paying, cancelling and refunds", MARKDOWN, """\
- **When you pay.** Nothing is due until you accept a place. A deposit of a quarter of the fee holds your seat; the \
rest is due a week before the first meeting. You can also pay in three monthly instalments at no extra cost.
- **How you pay.** By card, bank transfer or check. We send a receipt for every payment.
- **If you cancel before the group starts.** More than two weeks before the first meeting, everything is refunded. \
Within two weeks, everything except the deposit is refunded, and the deposit too if someone from the waitlist \
takes your place.
- **If we cancel or move a cohort.** You choose: a full refund, or a place in the next cohort."""),
    Text("insurance", "Fees and policies", "Insurance and HSA", MARKDOWN, """\
We are not in network with insurance plans. On request we give you a detailed receipt (a “superbill”) with the codes \
your plan needs, and many people are reimbursed in part for the therapy meetings under their out-of-network benefits. \
Plans rarely pay for the ketamine itself. Call your plan before you start and ask what they cover for \
out-of-network group psychotherapy.

You can usually pay with a health savings account (HSA) or flexible spending account (FSA) card, because the \
program is medical care. Check with your account's administrator if you are unsure."""),
    Text("stopping", "Fees and policies", "If you need to stop", MARKDOWN, """\
Life happens, and sometimes the group is not right at that moment. You can stop at any point, and nobody will ask \
you to explain. Tell either clinician, by phone, by email or on your status page.

- We will offer you a conversation with a clinician, to make sure you have the support you need next.
- Meetings that have not yet happened are refunded, less any ketamine session already prepared for you within the \
last two days.
- If a clinician judges it unsafe for you to take part in a ketamine session (for example, because of high blood \
pressure on the day), you still take part in the group, and we arrange a make-up session or refund that session.
- If you stop for health reasons, you are welcome to apply for a later cohort, and we will keep a place for you \
where we can."""),
    Text("online", "Fees and policies", "How online meetings work", MARKDOWN, """\
Some preparation and integration meetings are online (each meeting says where it happens). The three ketamine \
sessions are always in person.

- We meet on a secure video service for health care; the link is on your status page and in your reminder email.
- You need a quiet, private room, a laptop or tablet, and headphones if others are nearby. A phone works if that is \
what you have.
- Cameras on, when you can: it helps the group feel like a group. Nobody records a meeting, ever.
- If your connection drops, rejoin with the same link. If you cannot, call us and a clinician will call you back."""),
    # --- Reaching us ---------------------------------------------------------------------------
    Text("phone", "Reaching us", "Phone number", LINE, "(207) 555-0143",
         "The practice's number, as people should dial it."),
    Text("phone_hours", "Reaching us", "When the phone is answered", LINE,
         "Monday to Friday, 9 am to 5 pm Eastern time; leave a message at other times and we call back the next "
         "working day", "Shown after the phone number."),
    Text("reply_time", "Reaching us", "Reply time", LINE, "within five working days",
         "When applicants hear back. Finishes the sentence “You will hear from us by email …”; shown on the "
         "page of fees and policies, after sending the form, and in the confirmation email."),
    # --- Agreements and consent: the words an applicant ticks. Their shipped words are the
    # questions' own (resilience/questions.py); each application records the version it agreed to.
    *(Text(f"agreement.{name}", "Agreements and consent", label, AGREEMENT, questions.QUESTIONS[name].label,
           "The words beside a box the applicant ticks. Each application keeps the version its person agreed "
           "to; a change applies to forms sent from now on.")
      for name, label in (("ack_not_acceptance", "Applying is not acceptance"),
                          ("ack_commitment", "All ten meetings, and confidentiality"),
                          ("ack_adult", "18 or older"),
                          ("ack_not_emergency", "Not watched for emergencies"),
                          ("consent_health", "Consent to store and read health information"))),
)}
GROUPS = tuple(dict.fromkeys(text.group for text in TEXTS.values()))
AGREEMENTS = tuple(q.name for q in questions.QUESTIONS.values() if q.kind == questions.AGREE)
assert {f"agreement.{name}" for name in AGREEMENTS} <= TEXTS.keys(), "every box an applicant ticks is a site text"


# --- Rendering --------------------------------------------------------------------------------

_markdown = MarkdownIt("commonmark", {"html": False, "typographer": False}).disable("image")
_ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "h3", "h4", "h5", "h6", "blockquote", "code",
                 "pre", "hr"}
_HEADING = re.compile(r"<(/?)h([1-6])>")


@lru_cache(maxsize=512)
def render(body: str) -> Markup:
    """Markdown to safe HTML: raw HTML is shown as text, images are not drawn (photos are
    uploads), headings start below the page's own, links open nothing but the web, mail and
    the phone, and carry rel="noopener noreferrer"."""
    html = _markdown.render(body)
    html = _HEADING.sub(lambda m: f"<{m[1]}h{min(int(m[2]) + 2, 6)}>", html)
    return Markup(nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                            url_schemes={"http", "https", "mailto", "tel"}, link_rel="noopener noreferrer"))


_QUESTION = re.compile(r"^##[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def questions(body: str) -> list[tuple[str, Markup]]:
    """An FAQ text as (question, answer) pairs, in order: each question is a line starting "## "."""
    parts = _QUESTION.split(body)
    return [(question.strip(), render(answer.strip())) for question, answer in zip(parts[1::2], parts[2::2])
            if question.strip()]


def preview(key: str, body: str) -> Markup:
    """What the public pages would show for these words."""
    kind = TEXTS[key].kind
    if kind == FAQ:
        return Markup("").join(Markup("<details open><summary>{}</summary>{}</details>").format(q, a)
                               for q, a in questions(body))
    if kind in (LINE, AGREEMENT):
        return Markup("<p>{}</p>").format(body)
    return render(body)


# --- Reading --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Clinician:
    number: int
    name: str
    credentials: str
    bio: Markup
    photo: str  # the stored file's name, or ""

    @property
    def initials(self) -> str:
        words = [w for w in re.sub(r"^(Dr|Mx|Ms|Mr|Mrs)\.?\s+", "", self.name).split() if w[:1].isalpha()]
        return "".join(w[0] for w in words[:1] + words[-1:] if words).upper()


class Texts:
    """The current texts, as the pages use them."""

    def __init__(self, latest: dict[str, SiteText]):
        self.latest = latest

    def line(self, key: str) -> str:
        row = self.latest.get(key)
        return row.body if row else TEXTS[key].default

    def html(self, key: str) -> Markup:
        return render(self.line(key))

    def dial(self) -> str:
        """The phone number as a tel: link wants it."""
        return re.sub(r"[^0-9+]", "", self.line("phone"))

    def faq(self) -> list[tuple[str, Markup]]:
        return questions(self.line("faq"))

    def clinicians(self) -> list[Clinician]:
        return [Clinician(n, self.line(f"clinician.{n}.name"), self.line(f"clinician.{n}.credentials"),
                          self.html(f"clinician.{n}.bio"), self.line(f"clinician.{n}.photo")) for n in CLINICIANS]


def fingerprint(words: str) -> str:
    """A short mark of some words: the form carries the marks of the agreements it showed, so
    that words changed while someone filled it in are asked about again."""
    return hashlib.sha256(words.encode()).hexdigest()[:12]


def current() -> Texts:
    """Every current text, in one query; kept for the rest of the request."""
    if "site_texts" not in g:
        rows = db.session.scalars(_CURRENT).all()
        g.site_texts = Texts({row.key: row for row in rows})
    return g.site_texts


_CURRENT = sa.select(SiteText).where(SiteText.id.in_(sa.select(sa.func.max(SiteText.id)).group_by(SiteText.key)))


def versions(key: str) -> list[SiteText]:
    """A text's versions, newest first, with who saved each."""
    return db.session.scalars(sa.select(SiteText).where(SiteText.key == key).order_by(SiteText.version.desc())
                              .options(sa.orm.joinedload(SiteText.admin))).all()


def agreed_versions() -> dict[str, int]:
    """The versions of the agreements' words this request showed and checked (`current()`),
    to record with an application: {"agreement.ack_adult": 1, …}. Words never saved are stored
    first as version 1, the words the site shipped with, so that every application points at
    words kept in the database, whatever later releases ship."""
    keys = [f"agreement.{name}" for name in AGREEMENTS]
    latest = current().latest
    missing = [key for key in keys if key not in latest]
    if missing:
        database.begin_write()
        db.session.add_all(SiteText(key=key, version=1, body=TEXTS[key].default, created_at=clock.now())
                           for key in missing)
        try:
            db.session.commit()
        except IntegrityError:  # another form sent at the same moment stored the same words first
            db.session.rollback()
    return {key: latest[key].version if key in latest else 1 for key in keys}


@dataclass(frozen=True)
class Agreed:
    words: str
    version: int
    since: datetime  # when this version was saved


def agreed_words(versions: dict[str, int]) -> list[Agreed]:
    """The words of the agreements an application recorded, in the form's order."""
    pairs = [(key, version) for key, version in versions.items() if isinstance(version, int)]
    if not pairs:
        return []
    rows = db.session.scalars(sa.select(SiteText).where(sa.tuple_(SiteText.key, SiteText.version).in_(pairs))).all()
    found = {row.key: row for row in rows}
    return [Agreed(found[key].body, found[key].version, found[key].created_at)
            for key in (f"agreement.{name}" for name in AGREEMENTS) if key in found]


# --- Changing -------------------------------------------------------------------------------

def clean(key: str, body: str) -> str:
    """The words as stored: line endings made plain, control characters dropped, trimmed."""
    body = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", (body or "").replace("\r\n", "\n").replace("\r", "\n"))
    return " ".join(body.split()) if TEXTS[key].kind in (LINE, PHOTO, AGREEMENT) else body.strip()


def save(key: str, body: str, admin: Admin, restored_from: int | None = None) -> SiteText:
    """Store a new version of a text (audited with its key only), unless it is the current
    words already. The first change of a text keeps the words the site shipped with as its
    version 1, so they too can be restored. The caller has checked the words (the form's rules)."""
    body = clean(key, body)
    database.begin_write()
    latest = db.session.scalar(sa.select(SiteText).where(SiteText.key == key)
                               .order_by(SiteText.version.desc()).limit(1))
    if latest is None:
        latest = SiteText(key=key, version=1, body=TEXTS[key].default, created_at=clock.now())
        db.session.add(latest)
    if latest.body == body and restored_from is None:
        db.session.commit()
        return latest
    row = SiteText(key=key, version=latest.version + 1, body=body, admin_id=admin.id,
                   restored_from=restored_from, created_at=clock.now())
    db.session.add(row)
    if restored_from:
        audit.record("site text restored", admin=admin, detail=key)
    else:
        audit.record("site text changed", admin=admin, detail=key)
    db.session.commit()
    g.pop("site_texts", None)
    return row


def restore(key: str, version: int, admin: Admin) -> SiteText | None:
    """Bring an earlier version back as the newest one; None if there is no such version."""
    earlier = db.session.scalar(sa.select(SiteText).where(SiteText.key == key, SiteText.version == version))
    if earlier is None:
        return None
    return save(key, earlier.body, admin, restored_from=version)


# --- Photos ---------------------------------------------------------------------------------

PHOTO_BYTES = 5 * 1024 * 1024
PHOTO_PIXELS = 40_000_000  # a 5 MB file may still unpack to gigabytes: refused before decoding
PHOTO_SIZE = 480
PHOTO_NAME = re.compile(r"[0-9a-f]{32}\.jpg")


class PhotoRefused(Exception):
    def __init__(self, reason: str):  # "missing", "not_an_image", "too_big", "too_many_pixels"
        super().__init__(reason)
        self.reason = reason


def photo_folder() -> Path:
    return Path(current_app.instance_path) / "photos"


def store_photo(data: bytes) -> str:
    """Check an uploaded photo (a real JPEG, PNG or WebP, not too large), crop it square,
    resize it, re-encode it as JPEG without its metadata (EXIF, location) and keep it under
    instance/photos/ with a random name, which is returned."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise PhotoRefused("missing")
    if len(data) > PHOTO_BYTES:
        raise PhotoRefused("too_big")
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG", "PNG", "WEBP")) as image:
            if image.width * image.height > PHOTO_PIXELS:
                raise PhotoRefused("too_many_pixels")
            image.load()
            picture = ImageOps.exif_transpose(image).convert("RGB")
    except PhotoRefused:
        raise
    except Image.DecompressionBombError:
        raise PhotoRefused("too_many_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise PhotoRefused("not_an_image") from None
    picture = ImageOps.fit(picture, (PHOTO_SIZE, PHOTO_SIZE), Image.Resampling.LANCZOS)
    folder = photo_folder()
    folder.mkdir(mode=0o700, exist_ok=True)
    name = f"{secrets.token_hex(16)}.jpg"
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85, optimize=True, progressive=True)
    path = folder / name
    path.write_bytes(buffer.getvalue())
    path.chmod(0o600)
    return name
