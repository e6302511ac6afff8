"""The site's texts the clinicians change (/admin/content): Markdown, sanitised; each change a
version with who and when; any earlier version restored; the page of clinicians, fees and
policies; the reply time in the confirmation and its email; clinicians' photos."""
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import mail

from resilience import content
from resilience.extensions import db
from resilience.models import AuditEvent, SiteText


def edit(client, key, body, action="save"):
    return client.post(f"/admin/content/{key}", data={"body": body, "action": action})


# --- Rendering: harmless whatever is typed ----------------------------------------------------

@pytest.mark.parametrize("typed", [
    "<script>alert(1)</script>Hello",
    '<img src=x onerror="alert(1)">Hello',
    "[Hello](javascript:alert(1))",
    "[Hello](JaVaScRiPt:alert(1))",
    '<a href="javascript:alert(1)">Hello</a>',
    "![Hello](https://tracker.example/pixel.png)",
    "Hello <iframe src=https://evil.example></iframe>",
    "[Hello](data:text/html;base64,PHNjcmlwdD4=)",
])
def test_markdown_with_a_script_renders_harmless(typed):
    html = str(content.render(typed))
    assert "Hello" in html
    assert harmful(html) == []


def harmful(html: str) -> list:
    """What a browser would run or fetch in this HTML: dangerous tags, handlers, script links."""
    found = []

    class Reader(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag in ("script", "img", "iframe", "object", "embed", "style", "form"):
                found.append(tag)
            for name, value in attrs:
                if name.startswith("on") or (name in ("href", "src") and
                                             re.match(r"\s*(javascript|data|vbscript):", value or "", re.IGNORECASE)):
                    found.append(f"{name}={value}")

    Reader().feed(html)
    return found


def test_markdown_renders_emphasis_lists_and_safe_links():
    html = str(content.render("Some **bold** words.\n\n- one\n- two\n\n[Our blog](https://example.org/blog)"))
    assert "<strong>bold</strong>" in html and "<li>one</li>" in html
    assert '<a href="https://example.org/blog" rel="noopener noreferrer">Our blog</a>' in html


def test_an_edit_with_a_script_shows_harmless_on_the_public_page(admin_client, client):
    assert edit(admin_client, "fees", 'Fees <script>alert("x")</script> **$2,400** [pay](javascript:alert(1))'
                ).status_code == 303
    html = client.get("/practice").get_data(as_text=True)
    assert "<strong>$2,400</strong>" in html
    assert "<script>alert" not in html and 'href="javascript' not in html.lower()


# --- Versions, history, restore ---------------------------------------------------------------

def test_the_shipped_defaults_make_a_finished_page(client):
    html = client.get("/practice").get_data(as_text=True)
    for heading in ("Your clinicians", "Fees and what they cover", "Paying, cancelling and refunds",
                    "Insurance and HSA", "If you need to stop", "How online meetings work", "Reaching us"):
        assert heading in html
    assert "Dr. Ana Reyes" in html and "within five working days" in html
    assert "lorem" not in html.lower() and "todo" not in html.lower()


def test_each_save_is_a_version_and_the_history_shows_who_and_when(app, admin_client, make_admin):
    edit(admin_client, "reply_time", "within three working days")
    edit(admin_client, "reply_time", "within two working days")
    page = admin_client.get("/admin/content/reply_time").get_data(as_text=True)
    assert "Version 3" in page and "Version 2" in page and page.count("Dr. Ana Reyes") >= 2
    assert "26 November 2026" in page or "Nov 26, 2026" in page or "November 26, 2026" in page
    with app.app_context():
        versions = db.session.scalars(sa.select(SiteText).where(SiteText.key == "reply_time")
                                      .order_by(SiteText.version)).all()
        # The first change keeps the shipped words as version 1, by nobody.
        assert [(v.version, v.body, v.admin_id is None) for v in versions] == [
            (1, "within five working days", True), (2, "within three working days", False),
            (3, "within two working days", False)]
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "site text changed")).all()
        assert [e.detail for e in events] == ["reply_time", "reply_time"]


def test_an_earlier_version_restores_as_a_new_version(app, admin_client, client):
    edit(admin_client, "fees", "First fee words.")
    edit(admin_client, "fees", "Second fee words.")
    response = admin_client.post("/admin/content/fees/versions/2/restore")
    assert response.status_code == 303
    assert "First fee words." in client.get("/practice").get_data(as_text=True)
    with app.app_context():
        versions = db.session.scalars(sa.select(SiteText).where(SiteText.key == "fees")
                                      .order_by(SiteText.version)).all()
        assert [v.body for v in versions] == [content.TEXTS["fees"].default, "First fee words.", "Second fee words.",
                                              "First fee words."]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "site text restored")) == 1
    history = admin_client.get("/admin/content/fees").get_data(as_text=True)
    assert "Version 4" in history and "restored from version 2" in history


def test_the_words_the_site_shipped_with_can_be_restored(admin_client, client):
    shipped = "within five working days"
    edit(admin_client, "reply_time", "within two working days")
    history = admin_client.get("/admin/content/reply_time").get_data(as_text=True)
    assert re.search(r"Version 1</strong>,\s+the words the site shipped with", history)
    assert admin_client.post("/admin/content/reply_time/versions/1/restore").status_code == 303
    assert shipped in client.get("/practice").get_data(as_text=True)


def test_restoring_a_version_that_does_not_exist_is_not_found(admin_client):
    assert admin_client.post("/admin/content/fees/versions/9/restore").status_code == 404
    assert admin_client.get("/admin/content/no-such-text").status_code == 404


def test_a_bad_edit_keeps_what_was_typed_and_says_what_to_fix(admin_client):
    response = edit(admin_client, "phone", "555 0100\nsecond line " + "x" * 300)
    assert response.status_code == 422
    assert "second line" in response.get_data(as_text=True)
    response = edit(admin_client, "fees", "")
    assert response.status_code == 422 and "Please write" in response.get_data(as_text=True)


def test_the_preview_shows_the_rendered_words_without_saving(app, admin_client, htmx_client):
    response = admin_client.post("/admin/content/fees/preview", data={"body": "A **bold** fee"},
                                 headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<strong>bold</strong>" in response.get_data(as_text=True)
    # Without JavaScript, the Preview button shows the edit page with the preview and the words kept.
    page = edit(admin_client, "fees", "A **bold** fee", action="preview")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<strong>bold</strong>" in html and "A **bold** fee" in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SiteText)) == 0


def test_the_editor_lists_every_text_by_group(admin_client):
    html = admin_client.get("/admin/content").get_data(as_text=True)
    for label in ("Program description", "Questions people ask", "Reply time", "Phone number", "Fees"):
        assert label in html


# --- The public pages read the texts ---------------------------------------------------------

def test_the_program_page_shows_edited_texts(admin_client, client):
    edit(admin_client, "program.intro", "A group for people who want **steadier ground**.")
    edit(admin_client, "phase.ketamine", "Three quiet mornings together.")
    edit(admin_client, "faq", "## Is there parking?\n\nYes, behind the building.\n\n## Can I bring a friend?\n\nNo.")
    html = client.get("/").get_data(as_text=True)
    assert "<strong>steadier ground</strong>" in html and "Three quiet mornings together." in html
    assert "<summary>Is there parking?</summary>" in html and "<summary>Can I bring a friend?</summary>" in html
    assert html.index("Is there parking?") < html.index("Can I bring a friend?")
    assert "/practice" in html  # the program page leads to the clinicians, fees and policies


def test_the_reply_time_shows_on_the_sent_page_and_in_the_email(app, admin_client, client, make_cohort,
                                                                 form_data):
    edit(admin_client, "reply_time", "within three working days")
    slug = make_cohort()
    response = client.post("/apply", data=form_data(slug), follow_redirects=True)
    assert "within three working days" in response.get_data(as_text=True)
    [received] = mail(app, kind="received")
    assert "within three working days" in received["text"]
    assert "within three working days" in client.get("/practice").get_data(as_text=True)


def test_the_default_reply_time_reads_well_everywhere(app, client, make_cohort, form_data):
    slug = make_cohort()
    html = client.post("/apply", data=form_data(slug), follow_redirects=True).get_data(as_text=True)
    assert "within five working days" in html
    [received] = mail(app, kind="received")
    assert "within five working days" in received["text"]


# --- Photos ---------------------------------------------------------------------------------

def png(width=800, height=600, color=(120, 160, 150)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def upload(client, key, data: bytes, name="photo.png"):
    return client.post(f"/admin/content/{key}/photo", data={"photo": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_a_real_photo_is_stored_resized_and_shown(app, admin_client, client):
    from PIL import Image

    response = upload(admin_client, "clinician.1.photo", png(1600, 1200))
    assert response.status_code == 303
    html = client.get("/practice").get_data(as_text=True)
    src = re.search(r'<img[^>]+src="(/photos/[0-9a-f]{32}\.jpg)"[^>]*alt="Dr. Ana Reyes"', html)
    assert src, html
    served = client.get(src.group(1))
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert "max-age" in served.headers["Cache-Control"]
    image = Image.open(io.BytesIO(served.data))
    assert max(image.size) <= 480 and not image.getexif()
    stored = list((Path(app.instance_path) / "photos").iterdir())
    assert len(stored) == 1


@pytest.mark.parametrize("data, name, message", [
    (b"this is not a picture at all", "photo.png", "not a picture"),
    (b"", "photo.png", "Choose a photo"),
    (b"GIF89a" + b"\0" * 40, "photo.gif", "not a picture"),
])
def test_a_bad_upload_is_refused_with_a_clear_message(app, admin_client, data, name, message):
    response = upload(admin_client, "clinician.1.photo", data, name)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SiteText)) == 0


def test_an_image_with_too_many_pixels_is_refused(app, admin_client):
    response = upload(admin_client, "clinician.1.photo", png(9000, 9000, (0, 0, 0)))
    assert response.status_code == 422 and "too large" in response.get_data(as_text=True)


def test_a_file_over_the_size_limit_is_refused(app, admin_client):
    response = upload(admin_client, "clinician.1.photo", b"\x89PNG" + b"0" * (6 * 1024 * 1024))
    assert response.status_code in (413, 422)
    assert "too large" in response.get_data(as_text=True).lower()


def test_photos_are_not_served_by_guessable_or_odd_names(client):
    for path in ("/photos/../resilience.sqlite3", "/photos/abc.jpg", "/photos/" + "0" * 32 + ".jpg"):
        assert client.get(path).status_code == 404


def test_every_content_page_needs_sign_in(client):
    for method, url in (("GET", "/admin/content"), ("GET", "/admin/content/fees"), ("POST", "/admin/content/fees"),
                        ("POST", "/admin/content/fees/preview"), ("POST", "/admin/content/fees/versions/1/restore"),
                        ("POST", "/admin/content/clinician.1.photo/photo")):
        response = client.open(url, method=method)
        assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"]


def test_only_a_signed_in_clinician_may_send_a_large_upload(app, client):
    """The larger body a photo needs is allowed a browser with a clinician's session only: anyone
    else is refused at the site's usual limit, before the body is read (by the CSRF check)."""
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/admin/content/clinician.1.photo/photo", data={"photo": (io.BytesIO(b"x" * 400_000), "a.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
