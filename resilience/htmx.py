"""One URL per resource: the full page for browsers, the partial for htmx."""
from flask import Flask, render_template, request


def is_htmx() -> bool:
    """A real htmx request for a fragment (not a boosted link, not a history restore)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(full: str, partial: str, **context) -> str:
    """Render the partial for htmx, otherwise the full page (which includes the partial)."""
    return render_template(partial if is_htmx() else full, **context)


def init_app(app: Flask) -> None:
    @app.after_request
    def vary_on_hx_request(response):
        response.vary.add("HX-Request")
        return response
