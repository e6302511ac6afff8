"""One URL per resource: the full page for browsers, the partial for htmx."""
from flask import Flask, render_template, request

HEADERS = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request")  # what is_htmx reads


def is_htmx() -> bool:
    """A real htmx request for a fragment (not a boosted link, not a history restore)."""
    asked, boosted, restoring = (request.headers.get(header) for header in HEADERS)
    return asked == "true" and boosted != "true" and restoring != "true"


def environ_key(header: str) -> str:
    """Where a WSGI server puts this header: HX-Request → HTTP_HX_REQUEST."""
    return "HTTP_" + header.upper().replace("-", "_")


def render(full: str, partial: str, **context) -> str:
    """Render the partial for htmx, otherwise the full page (which includes the partial)."""
    return render_template(partial if is_htmx() else full, **context)


def init_app(app: Flask) -> None:
    @app.after_request
    def vary_on_hx_request(response):
        response.vary.add("HX-Request")
        return response
