"""The site's texts (/admin/content): the list by group; one text's page with its words in
Markdown, a live preview (htmx; a Preview button without JavaScript), Save, its versions with
who and when, and "Restore this version"; clinicians' photos uploaded, checked and resized."""
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from wtforms import FileField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Regexp

from .. import content, htmx
from ..forms import SiteForm, limit
from . import bp
from .auth import SESSION_KEY

PHOTO_REFUSALS = {
    "missing": "Choose a photo to upload.",
    "not_an_image": "That file is not a picture we can use. Please choose a JPEG, PNG or WebP photo.",
    "too_big": "That photo is too large. Please choose one under 5 MB.",
    "too_many_pixels": "That photo is too large (too many pixels). Please choose one under 40 megapixels.",
}
# An upload up to this size is read and, over the photo's limit, refused with words about
# photos; the site's own limit for every other request is far smaller.
UPLOAD_BYTES = 12 * 1024 * 1024


class TextForm(SiteForm):
    body = TextAreaField("The words", [DataRequired("Please write the text; it cannot be empty.")])
    action = StringField(validators=[AnyOf(("save", "preview"), message="Unknown action.")], default="save")

    @classmethod
    def for_text(cls, text: content.Text, **kwargs) -> "TextForm":
        form = cls(**kwargs)
        longest = content.LONGEST[text.kind]
        form.body.validators = [*form.body.validators, limit(longest)]
        if text.kind in (content.LINE, content.AGREEMENT):
            form.body.validators.append(Regexp(r"^[^\r\n]*$", message="Please keep this on one line."))
            form.body.description = f"One line. {text.hint}".strip()
        else:
            form.body.description = ("Markdown: **bold**, *italic*, a blank line between paragraphs, "
                                     "“- ” to start a list item, [words](https://link) for a link. " + text.hint).strip()
        form.body.label.text = text.label
        return form


class PhotoForm(SiteForm):
    photo = FileField("A new photo", description="A JPEG, PNG or WebP photo under 5 MB. It is cropped square, "
                                                 "made 480 pixels wide, and its hidden details (such as where it "
                                                 "was taken) are removed.")


def _text(key: str) -> content.Text:
    return content.TEXTS.get(key) or abort(404)


@bp.record_once
def _allow_photo_uploads(state) -> None:
    # The site refuses bodies over 256 KB before any view runs (the CSRF check reads the form
    # first); the photo upload alone may send a few megabytes, and only from a browser that holds
    # a clinician's session (sign-in itself is checked after, as on every panel page).
    def raise_the_limit():
        if request.endpoint == "admin.upload_photo" and session.get(SESSION_KEY):
            request.max_content_length = UPLOAD_BYTES

    state.app.before_request_funcs.setdefault(None, []).insert(0, raise_the_limit)


@bp.get("/content")
def content_list():
    texts = content.current()
    groups = {group: [text for text in content.TEXTS.values() if text.group == group] for group in content.GROUPS}
    return render_template("admin/content.html", groups=groups, texts=texts)


@bp.route("/content/<text_key>", methods=["GET", "POST"])
def content_text(text_key):
    key = text_key
    text = _text(key)
    if text.kind == content.PHOTO:
        if request.method == "POST":
            abort(405)
        return _photo_page(text, PhotoForm(formdata=None))
    texts = content.current()
    if request.method == "GET":
        return _text_page(text, TextForm.for_text(text, formdata=None, data={"body": texts.line(key)}))
    form = TextForm.for_text(text)
    if not form.validate():
        return _text_page(text, form, status=422)
    if form.action.data == "preview":
        return _text_page(text, form, preview=content.preview(key, content.clean(key, form.body.data)))
    content.save(key, form.body.data, current_user)
    flash(f"Saved: {text.label}. The site shows it now.", "success")
    return redirect(url_for(".content_text", text_key=key), 303)


@bp.post("/content/<text_key>/preview")
def content_preview(text_key):
    """The words as the site would show them (a fragment for htmx; the page without it)."""
    key = text_key
    text = _text(key)
    if text.kind == content.PHOTO:
        abort(404)
    form = TextForm.for_text(text)
    preview = content.preview(key, content.clean(key, form.body.data or ""))
    if htmx.is_htmx():
        return render_template("admin/_content_preview.html", preview=preview)
    form.validate()
    return _text_page(text, form, preview=preview)


@bp.post("/content/<text_key>/versions/<int(max=2147483647):version>/restore")
def content_restore(text_key, version):
    key = text_key
    text = _text(key)
    if content.restore(key, version, current_user) is None:
        abort(404)
    flash(f"Version {version} of “{text.label}” is back, saved as the newest version.", "success")
    return redirect(url_for(".content_text", text_key=key), 303)


@bp.post("/content/<text_key>/photo")
def upload_photo(text_key):
    key = text_key
    text = _text(key)
    if text.kind != content.PHOTO:
        abort(404)
    form = PhotoForm()
    upload = request.files.get("photo")
    data = upload.stream.read(content.PHOTO_BYTES + 1) if upload else b""
    try:
        name = content.store_photo(data)
    except content.PhotoRefused as refused:
        form.photo.errors = [PHOTO_REFUSALS[refused.reason]]
        return _photo_page(text, form, status=422)
    content.save(key, name, current_user)
    flash(f"Photo saved: {text.label.split(':')[0]}. The site shows it now.", "success")
    return redirect(url_for(".content_text", text_key=key), 303)


def _text_page(text: content.Text, form: TextForm, preview=None, status: int = 200):
    if preview is None:
        preview = content.preview(text.key, content.clean(text.key, form.body.data or ""))
    return render_template("admin/content_text.html", text=text, form=form, preview=preview,
                           versions=content.versions(text.key), practice_zone=_zone()), status


def _photo_page(text: content.Text, form: PhotoForm, status: int = 200):
    texts = content.current()
    number = int(text.key.split(".")[1])
    clinician = next(c for c in texts.clinicians() if c.number == number)
    return render_template("admin/content_photo.html", text=text, form=form, clinician=clinician,
                           versions=content.versions(text.key), practice_zone=_zone()), status


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["PRACTICE_TIMEZONE"])
