"""Screening conversations: the clinicians publish times, see who booked which, move or
cancel them, and record a conversation as held with a private note."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import clock, enrolment
from ..extensions import db
from ..models import ScreeningSlot
from . import bp, clinicians
from .forms import HeldForm, SlotMoveForm, SlotsForm


@bp.route("/screening", methods=["GET", "POST"])
def screening():
    form = SlotsForm(clinicians=clinicians())
    if request.method == "GET":
        form.clinician.data = str(current_user.id)
    elif form.validate():
        slots = enrolment.add_slots(form.clinicians[form.clinician.data], form.first_start(), int(form.minutes.data),
                                    form.count.data, form.mode.data, form.place.data, form.timezone.data,
                                    current_user)
        flash(f"{len(slots)} time{'s' if len(slots) != 1 else ''} published. Applicants invited to talk can book "
              "them now.", "success")
        return redirect(url_for(".screening"), 303)
    return render_template("admin/screening.html", form=form, slots=enrolment.slots_for_clinicians(),
                           slot_forms=slot_forms, conversation_missed=enrolment.conversation_missed, now=clock.now()), \
        422 if form.errors else 200


def slot_forms(slot: ScreeningSlot) -> tuple[HeldForm, SlotMoveForm]:
    """The two small forms drawn for one slot, their fields named after it (many on one page)."""
    return (HeldForm(formdata=None, prefix=f"slot{slot.id}"),
            SlotMoveForm(formdata=None, prefix=f"slot{slot.id}",
                         data={"day": slot.local_start.date(), "starts": slot.local_start.time()}))


def _slot_or_404(slot_id: int) -> ScreeningSlot:
    return db.get_or_404(ScreeningSlot, slot_id)


def _back(application_id: int | None):
    """Back where the clinician pressed the button: the application page, or the screening list."""
    if request.form.get("back") == "application" and application_id:
        return redirect(url_for(".application", application_id=application_id, _anchor="conversations"), 303)
    return redirect(url_for(".screening"), 303)


def _do(slot_id: int, change, done: str):
    """Ask the rules for a change to one slot; say what happened, or why not. The request is
    read first: a body too large to read (413) must stop the change, not follow it."""
    request.form.get("back")
    slot = _slot_or_404(slot_id)
    application_id = slot.application_id
    try:
        change(slot)
    except enrolment.RefusedChange as refused:
        flash(refused.message, "error")
    else:
        flash(done, "success")
    return _back(application_id)


@bp.post("/screening/<int(max=2147483647):slot_id>/move")
def move_slot(slot_id):
    form = SlotMoveForm(prefix=f"slot{slot_id}")
    if not form.validate():
        flash("Please give the new date and time. Nothing was changed.", "error")
        return _back(_slot_or_404(slot_id).application_id)
    return _do(slot_id, lambda slot: enrolment.move_slot(slot.id, form.moment(slot.timezone), current_user),
               "The time is moved. If someone booked it, they and the clinician are emailed the new time.")


@bp.post("/screening/<int(max=2147483647):slot_id>/cancel")
def cancel_booking(slot_id):
    """The booking is cancelled; the time stays open for others."""
    return _do(slot_id, lambda slot: enrolment.cancel_booking(slot.id, admin=current_user),
               "The booking is cancelled and the applicant is emailed. The time is open again.")


@bp.post("/screening/<int(max=2147483647):slot_id>/remove")
def remove_slot(slot_id):
    """The time is taken back; a booking on it is cancelled and the applicant emailed."""
    return _do(slot_id, lambda slot: enrolment.remove_slot(slot.id, current_user), "The time is removed.")


@bp.post("/screening/<int(max=2147483647):slot_id>/held")
def slot_held(slot_id):
    form = HeldForm(prefix=f"slot{slot_id}")
    if not form.validate():
        flash(form.note.errors[0], "error")
        return _back(_slot_or_404(slot_id).application_id)
    return _do(slot_id, lambda slot: enrolment.record_held(slot.id, current_user, (form.note.data or "").strip()),
               "Recorded as held. You can now decide on the application.")
