"""Encryption at rest with the site's data key (Fernet).

RESILIENCE_DATA_KEY may list several comma-separated keys: the first encrypts, all of
them decrypt, so a key can be rotated without losing what was stored. Migrations use
these functions too, so their signatures stay as they are.
"""
import json

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app


def _fernet(keys: str | None = None) -> MultiFernet:
    keys = keys if keys is not None else current_app.config["DATA_KEY"]
    return MultiFernet([Fernet(key.strip()) for key in keys.split(",") if key.strip()])


def seal(value, keys: str | None = None) -> str:
    """A JSON-able value, encrypted: the text stored in the database."""
    plain = json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    return _fernet(keys).encrypt(plain).decode("ascii")


def unseal(text: str, keys: str | None = None):
    """The value sealed in text; cryptography.fernet.InvalidToken if no key opens it."""
    return json.loads(_fernet(keys).decrypt(text.encode("ascii")))
