from flask import Blueprint

bp = Blueprint("public", __name__)

from . import drafts, embed, practice, resend, views  # noqa: F401  (registers the routes)
