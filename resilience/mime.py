"""Emails as bytes, built directly for the shapes the outbox sends (multipart/mixed holding
text and HTML alternatives, and any calendar files), laid out as Python's email package lays
them out: CRLF line ends, headers folded under 78 characters, non-ASCII names and subjects in
RFC 2047 words, internationalised domains in punycode, no line over 998 octets. Building them
with the email package took most of the outbox worker's time.
tests/test_outbox_speed_parts.py checks that a reader parses each the same as the email package's.
"""
from __future__ import annotations

import base64
import binascii
import email.header
import email.utils
import functools
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote


def build(*, sender: str | tuple[str, str], to: str, reply_to: str, subject: str, message_id: str, text: str,
          html: str, attachments: list[dict], boundary_stem: str) -> Email:
    """One email: text and HTML alternatives, then the attachments ({"filename", "content_type",
    "content"}). Boundaries grow from boundary_stem (the same bytes on every attempt) and are
    never found in a part.

    Raises ValueError for a header that cannot go out safely (a line break, a mailbox name
    that needs SMTPUTF8)."""
    (shown_sender, envelope_from), (shown_reply_to, _) = address(sender), address(reply_to)
    recipient, envelope_to = address(to)
    plain, rich = text_part("plain", text), text_part("html", html)
    files = [attachment_part(item) for item in attachments]
    taken = b"".join((plain, rich, *files))
    mixed, alternative = (boundary(f"{boundary_stem}.{name}", taken) for name in ("mix", "alt"))
    body = multipart("mixed", mixed, [multipart("alternative", alternative, [plain, rich]), *files])
    head = f"Subject: {subject_header(subject)}\r\nFrom: {shown_sender}\r\nTo: {recipient}\r\n".encode("ascii")
    tail = f"Message-ID: {message_id}\r\nReply-To: {shown_reply_to}\r\n".encode("ascii")
    return Email(envelope_from, envelope_to, body[0], head, tail + body[1], (mixed, alternative))


@dataclass(frozen=True)
class Email:
    """One email's bytes but for its Date, stamped when it goes out (see as_bytes)."""

    sender: str     # the envelope's addresses (MAIL FROM, RCPT TO)
    recipient: str
    _content_type: bytes  # the top part's Content-Type and MIME-Version
    _head: bytes          # Subject, From, To
    _rest: bytes          # Message-ID, Reply-To, the blank line and the body
    boundaries: tuple[str, str]

    def as_bytes(self, date: datetime | str | None = None) -> bytes:
        """The email as sent over SMTP and as written to an .eml file: CRLF line ends,
        headers folded under 78 characters, no line over 998 octets. Dated `date` (an aware
        datetime, or the header's text), else now."""
        if isinstance(date, datetime):
            date = email.utils.format_datetime(date)
        date = date or email.utils.formatdate(localtime=True)
        return b"".join((self._content_type, self._head, b"Date: ", date.encode("ascii"), b"\r\n", self._rest))


_NEWLINES = re.compile(r"\r\n|\r|\n")
_SIMPLE_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")
MAX_LINE = 998  # octets, not counting CRLF (RFC 5322)


@functools.lru_cache(maxsize=64)
def address(value: str | tuple[str, str]) -> tuple[str, str]:
    """(An address header's value, the bare address), as Flask-Mail made them: a display name in
    RFC 2047 words when it is not ASCII, an internationalised domain in punycode. A mailbox name
    that is not ASCII would need SMTPUTF8, which is not used: ValueError."""
    if isinstance(value, tuple):  # Flask-Mail's (name, address) form of MAIL_DEFAULT_SENDER
        value = f"{value[0]} <{value[1]}>"
    if "\r" in value or "\n" in value:
        raise ValueError(f"An email address with a line break: {value!r}")
    if _SIMPLE_ADDRESS.fullmatch(value):
        return value, value
    name, address = email.utils.parseaddr(value)
    mailbox, at, domain = address.rpartition("@")
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    if not mailbox.isascii():
        raise ValueError(f"{value!r} needs SMTPUTF8 to be sent, which is not used")
    address = f"{mailbox}{at}{domain}"
    if not name:
        return address, address
    shown = email.utils.formataddr((name, address)) if name.isascii() else (
        f"{encoded_words(name)} <{address}>")
    last_line = shown.rsplit("\r\n", 1)[-1]
    if len("Reply-To: ") + len(last_line) > 78:  # fold before the address (the longest header name)
        shown = shown[:-len(address) - 3] + f"\r\n <{address}>"
    return shown, address


def encoded_words(text: str) -> str:
    """Text as RFC 2047 encoded words (UTF-8, base64), one a line, each short enough to follow the
    longest header name on a line of 78 characters; a character is never split across two."""
    words, chunk, size = [], [], 0
    for character in text:
        length = len(character.encode())
        if size + length > 42:  # 42 octets make 56 base64 characters: a word of 68
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(character)
        size += length
    words.append("".join(chunk))
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word.encode()).decode()}?=" for word in words)


def subject_header(subject: str) -> str:
    """The Subject header's value: as it is when short and ASCII, else folded RFC 2047 words."""
    if "\r" in subject or "\n" in subject:
        raise ValueError(f"A subject with a line break: {subject!r}")
    if subject.isascii() and "=?" not in subject:
        if len(subject) <= 78 - len("Subject: "):
            return subject
        return email.header.Header(subject, "us-ascii", header_name="Subject").encode(linesep="\r\n")
    return encoded_words(subject)


def text_part(subtype: str, text: str) -> bytes:
    """A text/plain or text/html part in UTF-8: sent as it is (7bit or 8bit, as Flask-Mail did)
    unless a line is too long for SMTP, then quoted-printable."""
    data = (_NEWLINES.sub("\r\n", text) if "\r" in text else text.replace("\n", "\r\n")).encode("utf-8")
    if len(data) > MAX_LINE and max(map(len, data.split(b"\r\n"))) > MAX_LINE:
        encoding, data = b"quoted-printable", binascii.b2a_qp(data, istext=True)
    else:
        encoding = b"7bit" if data.isascii() else b"8bit"
    return b"".join((b"Content-Type: text/", subtype.encode(), b'; charset="utf-8"\r\nMIME-Version: 1.0\r\n',
                     b"Content-Transfer-Encoding: ", encoding, b"\r\n\r\n", data))


def attachment_part(item: dict) -> bytes:
    content_type, filename = item["content_type"], item["filename"]
    if not content_type.isascii() or _NEWLINES.search(content_type) or _NEWLINES.search(filename):
        raise ValueError(f"An attachment that cannot be described safely: {filename!r}, {content_type!r}")
    if filename.isascii():
        disposition = 'attachment; filename="{}"'.format(filename.replace("\\", "\\\\").replace('"', '\\"'))
    else:
        disposition = f"attachment; filename*=utf-8''{quote(filename, safe='')}"
    disposition = email.header.Header(disposition, "us-ascii", header_name="Content-Disposition").encode(
        linesep="\r\n")
    data = base64.encodebytes(item["content"].encode()).replace(b"\n", b"\r\n")
    return (f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: {disposition}\r\n\r\n").encode("ascii") + data[:-2]  # no CRLF before the boundary


def boundary(wanted: str, body: bytes) -> str:
    boundary, n = wanted, 0
    while boundary.encode() in body:
        n += 1
        boundary = f"{wanted}.{n}"
    return boundary


def multipart(subtype: str, boundary: str, parts: list) -> tuple[bytes, bytes]:
    """(its Content-Type and MIME-Version headers, the blank line and the body), laid out as the
    email package's generator does."""
    head = f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"\r\nMIME-Version: 1.0\r\n'.encode()
    separator = b"\r\n--" + boundary.encode() + b"\r\n"
    parts = [b"".join(part) if isinstance(part, tuple) else part for part in parts]
    return head, b"\r\n--" + boundary.encode() + b"\r\n" + separator.join(parts) + separator[:-2] + b"--\r\n"
