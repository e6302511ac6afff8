"""What every form of the site shares: it reads only text typed into a form, and says how
long an answer may be in words people understand."""
import re

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto  # Flask-WTF's "read the request" default
from wtforms.validators import Length


class SiteForm(FlaskForm):
    """A form that reads only a form-encoded body. A JSON body or an uploaded file is no
    answer: their numbers, lists and files would reach the checks (and the stored answers)
    where text belongs. Such a request is simply an empty form, told what is missing."""

    class Meta:
        def wrap_formdata(self, form, formdata):
            if formdata is _Auto:
                return request.form if request.method in ("POST", "PUT", "PATCH", "DELETE") else None
            return formdata


def limit(maximum: int) -> Length:
    return Length(max=maximum, message=f"Please keep this under {maximum:,} characters.")


NUMBER = re.compile(r"[0-9]{1,9}")  # ids people type: plain digits, small enough for any database


def page_number() -> int:
    """The page a list was asked for (?page=): 1 for anything but a plain positive number."""
    page = request.args.get("page", "1")
    return int(page) if NUMBER.fullmatch(page) and int(page) > 0 else 1
