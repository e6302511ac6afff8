"""What the site sends, made small: pages and static files compressed (brotli or gzip, as the
browser accepts), and static files under names that carry a hash of their contents, kept by
browsers for a year.

`url_for("static", filename="css/site.css")` gives /static/css/site.<hash>.css. That name is
served with `Cache-Control: immutable` for a year; a change to the file changes its name. The
plain name (or an old hash) still works, revalidated on each use.

Not compressed: the clinicians' pages and private pages (`no-store`: status pages, saved
forms). Those hold what a person wrote beside words an outsider could make the page repeat,
and compressing the two together lets the size of the encrypted response give the private
words away (the BREACH attack). Public pages hold nothing private.
"""
import gzip
import mimetypes
import re
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

import brotli
from flask import Flask, Response, abort, current_app, g, request
from werkzeug.security import safe_join

COMPRESSIBLE = {"text/html", "text/css", "text/javascript", "application/javascript", "image/svg+xml",
                "application/json", "text/plain", "text/markdown"}
SMALLEST = 512  # bytes: below this, compressing saves less than it costs
YEAR = 365 * 24 * 3600
_HASHED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{12})(?P<suffix>\.[A-Za-z0-9]+)$")


def accepted_encoding() -> str | None:
    """The best encoding this request accepts: "br", "gzip" or None (as it is)."""
    for encoding in ("br", "gzip"):
        if request.accept_encodings[encoding]:
            return encoding
    return None


def compress(data: bytes, encoding: str | None, once: bool = False) -> bytes:
    """data in that encoding; `once` (for what is kept and sent many times) compresses harder."""
    if encoding == "br":
        return brotli.compress(data, quality=11 if once else 5)
    if encoding == "gzip":
        return gzip.compress(data, compresslevel=9 if once else 6, mtime=0)
    return data


@dataclass
class Variants:
    """A body kept in every encoding it may be asked for, each made on first use."""
    plain: bytes
    compressible: bool
    made: dict = field(default_factory=dict)

    def body(self, encoding: str | None) -> bytes:
        if not encoding or not self.compressible or len(self.plain) < SMALLEST:
            return self.plain
        if encoding not in self.made:
            self.made[encoding] = compress(self.plain, encoding, once=True)
        return self.made[encoding]

    def encoding_for_request(self) -> str | None:
        return accepted_encoding() if self.compressible and len(self.plain) >= SMALLEST else None


def compress_response(response: Response) -> Response:
    """Compress a public page (or JSON, or text) for a browser that accepts it."""
    if (response.status_code < 200 or response.status_code in (204, 206, 304) or response.direct_passthrough
            or response.is_streamed or "Content-Encoding" in response.headers
            or response.mimetype not in COMPRESSIBLE or request.blueprint == "admin"
            or "no-store" in response.headers.get("Cache-Control", "")
            or current_app.config["WTF_CSRF_FIELD_NAME"] in g):  # a form's token was put in this page
        return response
    data = response.get_data()
    if len(data) < SMALLEST:
        return response
    response.vary.add("Accept-Encoding")
    encoding = accepted_encoding()
    if encoding:
        response.set_data(compress(data, encoding))
        response.headers["Content-Encoding"] = encoding
        if response.get_etag()[0] and not response.get_etag()[1]:  # a strong ETag names the bytes
            response.set_etag(response.get_etag()[0], weak=True)
    return response


# --- Static files under content-hashed names ---------------------------------------------------

@dataclass
class Asset:
    digest: str
    mimetype: str
    variants: Variants
    modified: float


_assets: dict[str, Asset] = {}


def _asset(filename: str) -> Asset | None:
    """A static file, read once (again when it changes on disk), with its hash."""
    path = safe_join(current_app.static_folder, filename)
    if path is None or not Path(path).is_file():
        return None
    modified = Path(path).stat().st_mtime
    asset = _assets.get(filename)
    if asset is None or asset.modified != modified:
        data = Path(path).read_bytes()
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        asset = Asset(sha256(data).hexdigest()[:12], mimetype, Variants(data, mimetype in COMPRESSIBLE), modified)
        _assets[filename] = asset
    return asset


def hashed_name(filename: str) -> str:
    """css/site.css → css/site.<hash of its contents>.css (the name as it is if there is no such file)."""
    asset = _asset(filename)
    if asset is None:
        return filename
    stem, dot, suffix = filename.rpartition(".")
    return f"{stem}.{asset.digest}.{suffix}" if dot else f"{filename}.{asset.digest}"


def serve_static(filename: str) -> Response:
    found = _HASHED.match(filename)
    asset = _asset(found["stem"] + found["suffix"]) if found else None
    asked = found["hash"] if asset else None
    if asset is None:
        asset = _asset(filename) or abort(404)
    encoding = asset.variants.encoding_for_request()
    response = Response(asset.variants.body(encoding), mimetype=asset.mimetype)
    if encoding:
        response.headers["Content-Encoding"] = encoding
    if asset.variants.compressible:
        response.vary.add("Accept-Encoding")
    response.set_etag(asset.digest + (f"-{encoding}" if encoding else ""))
    if asked == asset.digest:
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    else:  # an unhashed or outdated name: the browser asks again each time (a 304 when unchanged)
        response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    # Registered before the other after-request hooks, so it runs after them (Flask runs them in
    # reverse): it sees the Cache-Control every other hook has set.
    app.after_request(compress_response)
    app.view_functions["static"] = serve_static

    @app.url_defaults
    def _hashed_static_names(endpoint, values):
        if endpoint == "static" and isinstance(values.get("filename"), str):
            values["filename"] = hashed_name(values["filename"])
