"""Every page is ready for a strict Content-Security-Policy and loads nothing from elsewhere."""
import re

import pytest

INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE), "an inline <script>"),
    (re.compile(r"<style\b", re.IGNORECASE), "a <style> block"),
    (re.compile(r"\sstyle=", re.IGNORECASE), "a style= attribute"),
    (re.compile(r"\son[a-z]+=", re.IGNORECASE), "an on…= handler"),
    (re.compile(r"""(src|href)=["'](https?:)?//""", re.IGNORECASE), "something loaded from another site"),
]


CODE_SAMPLE = re.compile(r"<code>.*?</code>", re.DOTALL)  # text shown to copy (the blog's snippet), not markup


def assert_strict(html: str, url: str):
    html = CODE_SAMPLE.sub("", html)
    for pattern, what in INLINE:
        assert not pattern.search(html), f"{url} has {what}: {pattern.search(html)[0]}"


@pytest.fixture
def pages(client, admin_client, make_cohort, make_application, form_data):
    slug = make_cohort()
    status = client.post("/apply", data=form_data(slug)).headers["Location"]
    application_id = make_application(slug, status="waitlisted")
    public = ["/", f"/cohorts/{slug}/availability", "/apply", f"/apply?cohort={slug}", status, "/no-such-page",
              "/admin/login"]
    admin = ["/admin/", "/admin/applications", f"/admin/applications/{application_id}", "/admin/cohorts",
             "/admin/cohorts/new", f"/admin/cohorts/{slug}/edit", f"/admin/cohorts/{slug}/meetings", "/admin/audit"]
    return [(client, url) for url in public] + [(admin_client, url) for url in admin]


def test_no_page_has_inline_code_styles_or_third_party_loads(pages):
    for client, url in pages:
        response = client.get(url)
        assert response.status_code in (200, 404), url
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert_strict(response.get_data(as_text=True), url)


def test_htmx_fragments_follow_the_same_rules(htmx_client, admin_client, make_cohort, make_application, form_data):
    slug = make_cohort()
    application_id = make_application(slug)
    fragments = [
        htmx_client.get(f"/cohorts/{slug}/availability"),
        htmx_client.post("/apply/validate?field=email", data=form_data(slug, email="x")),
        admin_client.post(f"/admin/applications/{application_id}/status", data={"status": "waitlisted"},
                          headers={"HX-Request": "true"}),
        admin_client.post(f"/admin/applications/{application_id}/notes", data={"body": "n"},
                          headers={"HX-Request": "true"}),
    ]
    for response in fragments:
        assert_strict(response.get_data(as_text=True), response.request.path)
