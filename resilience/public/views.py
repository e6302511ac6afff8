"""What visitors and applicants see: the program page, seats, the form, the status page."""
import secrets
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import MultiDict

from .. import calendar, clock, content, enrolment, errors, formatting, htmx, page_cache, program, questions, refusals
from ..extensions import limiter
from ..forms import page_number
from ..status import SEAT_HOLDING, Status
from . import bp
from .forms import ApplicationForm, StatusActionForm

# The Flask session's entry with the key of the form this browser saved to finish later.
DRAFT_KEY = "draft"


@bp.get("/")
@page_cache.cached
def program_page():
    # The next few cohorts only (3: the next season or so, what a reader coming from the blog
    # chooses between; the page stays small however many are planned), then a link to them all.
    upcoming = enrolment.upcoming_page(per_page=current_app.config["PROGRAM_PAGE_COHORTS"])
    return render_template(
        "public/program.html",
        cohorts=upcoming.cohorts,
        upcoming_total=upcoming.total,
        availability=enrolment.availabilities(upcoming.cohorts),
        phases=program.PHASES,
        weeks=program.timeline(),
    )


@bp.get("/cohorts")
@page_cache.cached
def all_cohorts():
    """Every upcoming cohort, a page at a time, each as the program page shows it."""
    upcoming = enrolment.upcoming_page(page_number(), per_page=COHORTS_PER_PAGE)
    return render_template("public/cohorts.html", upcoming=upcoming, cohorts=upcoming.cohorts,
                           availability=enrolment.availabilities(upcoming.cohorts))


COHORTS_PER_PAGE = 10


@bp.get("/cohorts/<slug>/availability")
@page_cache.cached
def availability(slug):
    cohort = enrolment.cohort_by_slug(slug) or abort(404)
    return htmx.render(
        "public/availability.html",
        "public/_availability.html",
        cohort=cohort,
        seats=enrolment.availability(cohort),
    )


def _address_and_email() -> str:
    return f"{get_remote_address()}:{request.form.get('email', '')[:254].strip().lower()}"


@bp.route("/apply", methods=["GET", "POST"])
@limiter.limit("60 per hour", methods=["POST"])  # a shared network (a library, an office) sends several
@limiter.limit("10 per hour", methods=["POST"], key_func=_address_and_email)  # one person, one inbox
def apply():
    if request.method == "GET":
        draft = enrolment.open_draft(session.get(DRAFT_KEY))
        return _prefill_and_render(ApplicationForm(formdata=MultiDict(draft.fields) if draft else None,
                                                   cohorts=enrolment.open_cohorts()), draft)
    form = ApplicationForm()  # (only the chosen cohort is read, and checked; every open one to show the form again)
    if form.validate_on_submit():  # (a valid form sent twice is recognised as it is stored)
        try:
            enrolment.submit_application(
                form.selected_cohort(),
                submission_id=form.submission_id.data,
                answers=form.answers(),
                referral=form.ref.data or None,
                agreed_texts=content.agreed_versions(),
                **form.contact(),
            )
        except enrolment.ApplicationRefused as refusal:
            if refusal.reason != "duplicate":
                form[refusal.field].errors.append(refusal.message)
            else:  # already applied: they are emailed their link, and told here just what a newcomer is
                return _sent(form.email.data)
        else:
            return _sent(form.email.data)
    elif enrolment.repeated_submission(form.submission_id.data, form.selected_cohort(), form.email.data):
        return _sent(form.email.data)  # sent twice, and no longer valid (the cohort closed meanwhile): stored once
    form.offer(enrolment.open_cohorts(with_meetings=False))
    return render_apply(form, status=422)


def _sent(email: str):
    """After a form is sent, the same page whether the address is new or already has an
    application (being in this program is health information): the link goes by email."""
    session["sent_to"] = email
    if DRAFT_KEY in session:  # a form saved earlier is now sent
        enrolment.discard_draft(session.pop(DRAFT_KEY))
    return redirect(url_for(".application_sent"), 303)


@bp.get("/apply/sent")
def application_sent():
    return render_template("public/sent.html", email=session.get("sent_to"))


def _prefill_and_render(form: ApplicationForm, draft=None):
    notice = None
    requested = request.args.get("cohort", "").strip()
    if requested:
        cohort = enrolment.cohort_by_slug(requested)
        if cohort is None:
            notice = "We could not find the cohort named in that link."
        elif cohort.slug in form.open_cohorts:
            form.cohort.data = cohort.slug
        else:
            reason = enrolment.closed_reason(cohort)
            notice = f"{cohort.title}: {refusals.CLOSED[reason or 'closed']}"
    if form.cohort.data is None and len(form.open_cohorts) == 1:
        form.cohort.data = next(iter(form.open_cohorts))
    form.ref.data = (draft.fields.get("ref") if draft else None) or _referral()
    if form.cohort.data is None and len(form.open_cohorts) > 1:  # the dates first, then the questions
        cohorts = list(form.open_cohorts.values())
        return render_template("public/choose_cohort.html", cohorts=cohorts, notice=notice, ref=form.ref.data,
                               availability=enrolment.availabilities(cohorts))
    form.submission_id.data = secrets.token_urlsafe(24)
    return render_apply(form, notice=notice, welcome_back=draft)


def _referral() -> str | None:
    """Where the visitor came from: ?ref= from the blog's link, else the referring host."""
    ref = request.args.get("ref", "").strip()
    if ref:
        return ref[:200]
    try:
        host = urlsplit(request.referrer or "").hostname
    except ValueError:  # a malformed Referer header is no referrer at all
        return None
    if host and host != request.host.split(":")[0]:
        return host[:200]
    return None


def render_apply(form: ApplicationForm, status: int = 200, notice: str | None = None, expired=False,
                 held_back: str | None = None, welcome_back=None):
    cohorts = list(form.open_cohorts.values())
    seats = enrolment.availabilities(cohorts)
    return (
        render_template(
            "public/apply.html",
            form=form,
            steps=questions.STEPS,
            cohorts=cohorts,
            availability=seats,
            cohort_hints=cohort_hints(cohorts, seats),
            notice=notice,
            expired=expired,
            held_back=held_back,
            welcome_back=welcome_back,
            draft_days=current_app.config["DRAFT_DAYS"],
        ),
        status,
    )


def cohort_hints(cohorts, seats) -> dict[str, str]:
    """The line under each cohort's radio button: when it starts and how many seats are open."""
    hints = {}
    for cohort in cohorts:
        open_seats = seats[cohort.id]
        room = ("all seats taken, waitlist open" if open_seats.full
                else f"{open_seats.seats_left} of {open_seats.capacity} seats open")
        hints[cohort.slug] = f"Starts {formatting.long_date(cohort.starts_on)} · {room}"
    return hints


@bp.post("/apply/validate")
@limiter.limit("600 per hour")
def validate_field():
    """Inline validation: check one field with the form's own rules, return that field."""
    form = ApplicationForm(cohorts=enrolment.open_cohorts(with_meetings=False))
    if "step" in request.args:
        return _validate_step(form, request.args["step"])
    name = request.args.get("field", "")
    if name not in ApplicationForm.QUESTIONS:
        abort(404)
    form.validate_single(name)
    hints = None
    if name == "cohort":
        cohorts = list(form.open_cohorts.values())
        hints = cohort_hints(cohorts, enrolment.availabilities(cohorts))
    return render_template("public/_validated_field.html", field=form[name], cohort_hints=hints)


def _validate_step(form: ApplicationForm, step: str):
    """Check one step of the form, as "Next" does: its fields come back, each with what to fix."""
    if step not in {str(n) for n in range(1, len(questions.STEPS) + 1)}:
        abort(404)
    names = form.step_questions(int(step))
    for name in names:
        form.validate_single(name)
    cohorts = list(form.open_cohorts.values())
    return render_template("public/_validated_step.html", fields=[form[name] for name in names],
                           cohort_hints=cohort_hints(cohorts, enrolment.availabilities(cohorts)))


@bp.errorhandler(429)
def too_many(error):
    """A finished application is never thrown away by a rate limit: the form comes back with
    every answer, saying honestly when it can be sent."""
    if request.endpoint == "public.apply" and request.method == "POST":
        form = ApplicationForm(cohorts=enrolment.open_cohorts())
        return render_apply(form, status=429, held_back=errors.retry_after())
    return errors.page_for(error)


@bp.errorhandler(CSRFError)
def expired_form(error):
    """A form sent without a valid token (an old tab, cookies cleared): keep every answer."""
    if request.endpoint == "public.apply":
        form = ApplicationForm(cohorts=enrolment.open_cohorts())
        return render_apply(form, status=400, expired=True)
    return errors.expired_page()


# What each button on the status page asks the rules for, and what the applicant reads when it is done.
STATUS_CHANGES = {
    "confirm": (Status.ENROLLED, "Thank you: your place is confirmed. We have emailed you the details."),
    "wait": (Status.WAITLISTED, "You are back on the waitlist. We have emailed you to confirm."),
    "withdraw": (Status.WITHDRAWN, "Your application has been withdrawn. We have emailed you to confirm."),
}


@bp.get("/status/<token>")
def status(token):
    return _status_page(enrolment.application_by_token(token) or abort(404))


@bp.post("/status/<token>")
@limiter.limit("30 per hour")
def status_action(token):
    """The applicant books or cancels a screening time, confirms the place offered, goes back
    on the waitlist after an offer lapsed, or withdraws."""
    application = enrolment.application_by_token(token) or abort(404)
    form = StatusActionForm(open_slots=_open_slots(application))
    if not form.validate():
        return _status_page(application, form, status=422)
    action = form.action.data
    try:
        if action == "book":
            slot = enrolment.book(application.id, int(form.slot.data))
            thanks = (f"Thank you: your conversation is booked for {formatting.moment(slot.local_start)}. "
                      "We have emailed you the details.")
        elif action == "cancel":
            enrolment.cancel_booking(int(form.slot.data), application_id=application.id)
            thanks = "Your conversation is cancelled. You can choose another time below whenever you are ready."
        else:
            to_status, thanks = STATUS_CHANGES[action]
            enrolment.change_status(application.id, to_status, actor="applicant")
    except enrolment.RefusedChange as refused:
        flash(_applicant_refusal(refused), "error")
    else:
        flash(thanks, "success")
    return redirect(url_for(".status", token=token), 303)


def _applicant_refusal(refused) -> str:
    """What the applicant reads when the rules say no: the slot refusals speak to them as they
    are; anything else means the page they acted on was out of date."""
    if refused.reason.startswith("slot_") or refused.reason in ("offer_lapsed", "not_your_booking",
                                                                "conversation_held"):
        return refused.message
    return ("Nothing was changed: that is no longer possible for your application. "
            "Its current status is shown below.")


@bp.get("/status/<token>/calendar.ics")
def status_calendar(token):
    """The cohort's meetings for someone offered a place or enrolled, to add to a calendar."""
    application = enrolment.application_by_token(token) or abort(404)
    if application.status not in SEAT_HOLDING or not application.cohort.meetings:
        abort(404)
    response = current_app.make_response(calendar.calendar_file(application.cohort, application.cohort.meetings,
                                                                 attendee=application))
    response.headers.update(_PRIVATE)
    response.headers["Content-Type"] = calendar.content_type(calendar.PUBLISH)
    response.headers["Content-Disposition"] = f'attachment; filename="{application.cohort.slug}.ics"'
    return response


def _open_slots(application):
    return enrolment.open_slots() if application.status == Status.SCREENING else []


# The link is the key to the page: keep it out of caches, referrers and search engines.
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}

# Pages that hold what someone typed (their health answers, once a form comes back with a
# mistake to fix, or a field checked inline): never kept by a browser's or a proxy's cache.
_TYPED = {"public.apply", "public.validate_field", "public.application_sent", "public.resend_status",
          "public.save_draft", "public.draft_saved"}


@bp.after_request
def keep_typed_answers_out_of_caches(response):
    if request.endpoint in _TYPED:
        response.headers["Cache-Control"] = "no-store"
    return response


def _status_page(application, form=None, status=200):
    open_slots = _open_slots(application)
    form = form or StatusActionForm(formdata=None, open_slots=open_slots)
    cohort = application.cohort
    response = current_app.make_response((
        render_template(
            "public/status.html", application=application, cohort=cohort, form=form,
            can_withdraw=Status.WITHDRAWN in enrolment.allowed_changes(application, actor="applicant"),
            open_slots=open_slots, booking=enrolment.booking(application),
            talked=enrolment.conversations_had(application), offer_passed=enrolment.offer_passed(application),
            evaluated=application.accepted_at is not None or not enrolment.asks_evaluation(application),
            has_seat=application.status in SEAT_HOLDING,
            later_cohorts=[c for c in enrolment.open_cohorts(with_meetings=False) if c.id != cohort.id],
            position=enrolment.waitlist_position(application), seats=enrolment.availability(cohort),
            stage=enrolment.stage(cohort), next_meeting=enrolment.next_meeting(cohort), now=clock.now(),
        ),
        status,
    ))
    response.headers.update(_PRIVATE)
    return response
