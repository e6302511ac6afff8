"""Two-step sign-in for clinicians: after the password, a code from an authenticator app
(TOTP, RFC 6238: six digits, a new one every 30 seconds), or one of ten recovery codes.

- The app's secret is sealed at rest like the answers (Admin.totp_secret; rotate-key
  reseals it with the rest). A new secret waits, set but not on, until a first right code
  confirms the clinician's app has it.
- A code is accepted from the current 30-second step or the one before or after it (a
  phone's clock drifts, people type slowly), and never twice: the last accepted step is
  kept, and only a later one is accepted after it, even from another browser.
- Recovery codes are random (about 79 bits each); only their SHA-256 is kept (at that
  strength a plain hash is enough), and each works once.
- The time comes from clock.now(), so tests and previews set it.

The admin views and the CLI call these functions (no request code here); each write is its
own short transaction, audited without secrets or codes.
"""
import hashlib
import re
import secrets
from datetime import datetime, timedelta
from hmac import compare_digest

import pyotp
import segno
import sqlalchemy as sa

from . import admin_sessions, clock, database
from .enrolment import audit
from .extensions import db
from .models import Admin, RecoveryCode
from .refusals import TwoFactorRefused

STEP = timedelta(seconds=30)
WINDOW = 1  # steps either side of now
RECOVERY_CODE_COUNT = 10
# Letters and digits no one mistakes for another (no i, l, o, 0, 1): 31 of them, 16 per code.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 16
# How long a browser past the password may take to give its second factor.
HALF_SIGN_IN = timedelta(minutes=5)

_TRUE = {"1", "true", "yes", "on"}


def required(config) -> bool:
    """RESILIENCE_REQUIRE_2FA: "true"/"1"/"yes"/"on" in any case (or JSON true, 1) make it
    mandatory; anything else, or nothing, leaves it to each clinician."""
    value = config.get("REQUIRE_2FA")
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return value is True or (isinstance(value, int) and value == 1)


# --- Codes -------------------------------------------------------------------------------------

def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def _step(moment: datetime) -> int:
    """The 30-second step a moment falls in, counted from 1970 as the apps count it."""
    return int(moment.timestamp()) // int(STEP.total_seconds())


def typed_code(typed) -> str:
    """What was typed, without spaces or hyphens ("123 456" is 123456; "abcd-efgh" is abcdefgh)."""
    return re.sub(r"[\s-]+", "", typed if isinstance(typed, str) else "")


def looks_like_code(typed) -> bool:
    return re.fullmatch(r"[0-9]{6}", typed_code(typed)) is not None


def _matching_step(secret: str, typed) -> int | None:
    """The time-step, within the window around now, whose code this is."""
    code = typed_code(typed)
    if not re.fullmatch(r"[0-9]{6}", code):
        return None
    totp, now_step = _totp(secret), _step(clock.now())
    for step in range(now_step - WINDOW, now_step + WINDOW + 1):
        if compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _claim_step(admin: Admin, step: int) -> bool:
    """Record this step as the last accepted, if no later or equal one was; in the caller's
    write transaction, in one statement, so two browsers cannot both use one code."""
    claimed = db.session.execute(sa.update(Admin).where(
        Admin.id == admin.id, sa.or_(Admin.totp_last_step.is_(None), Admin.totp_last_step < step))
        .values(totp_last_step=step)).rowcount
    db.session.refresh(admin)
    return claimed == 1


# --- Setting it up -----------------------------------------------------------------------------

def begin(admin: Admin) -> str:
    """A new secret for the clinician's app, waiting for its first code (sign-in does not ask
    for codes yet); returns it. One already waiting is kept (the app may have it already).
    Refused while two-step sign-in is on."""
    database.begin_write()
    with database.rollback_on(TwoFactorRefused):
        if admin.two_factor_on:
            raise TwoFactorRefused("already_on")
        if not admin.totp_secret:
            admin.totp_secret = pyotp.random_base32()  # 32 characters: 160 bits, as RFC 4226 advises
            admin.totp_last_step = None
        secret = admin.totp_secret
    db.session.commit()
    return secret


def pending_secret(admin: Admin) -> str | None:
    """The secret waiting for its first code, if a set-up has begun."""
    return admin.totp_secret if admin.totp_secret and not admin.two_factor_on else None


def provisioning_uri(admin: Admin, issuer: str) -> str:
    """The otpauth:// address the QR code holds: the app names the account by issuer and email."""
    return _totp(admin.totp_secret).provisioning_uri(name=admin.email, issuer_name=issuer)


def qr_svg(uri: str, title: str) -> str:
    """The QR code as an inline SVG of one path: no style attribute, no <style>, no script,
    so the strict Content-Security-Policy draws it as it is."""
    svg = segno.make(uri, error="m").svg_inline(scale=1, omitsize=True, svgclass="qr-code__image",
                                                lineclass=None, title=title)
    return svg.replace("<svg ", '<svg role="img" focusable="false" ', 1)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing by hand."""
    return " ".join(secret[n:n + 4] for n in range(0, len(secret), 4))


def confirm(admin: Admin, typed) -> list[str]:
    """The first code from the clinician's app: right, two-step sign-in is on and the ten
    recovery codes are returned (to be shown once); wrong, TwoFactorRefused."""
    database.begin_write()
    with database.rollback_on(TwoFactorRefused):
        secret = pending_secret(admin)
        if secret is None:
            raise TwoFactorRefused("already_on" if admin.two_factor_on else "not_begun")
        if not looks_like_code(typed):
            raise TwoFactorRefused("not_a_code")
        step = _matching_step(secret, typed)
        if step is None or not _claim_step(admin, step):
            raise TwoFactorRefused("wrong_first_code")
        admin.two_factor_on_at = clock.now()
        codes = _new_recovery_codes(admin)
        audit.record("two-step sign-in turned on", admin=admin)
    db.session.commit()
    return codes


def cancel(admin: Admin) -> None:
    """Forget a secret still waiting for its first code (nothing happens once it is on)."""
    database.begin_write()
    if pending_secret(admin) is not None:
        admin.totp_secret = None
        admin.totp_last_step = None
    db.session.commit()


# --- Recovery codes ---------------------------------------------------------------------------

def _digest(code: str) -> str:
    return hashlib.sha256(typed_code(code).lower().encode()).hexdigest()


def _recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return "-".join(raw[n:n + 4] for n in range(0, RECOVERY_LENGTH, 4))


def _new_recovery_codes(admin: Admin) -> list[str]:
    """Replace the clinician's recovery codes with ten new ones, in the caller's transaction."""
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.admin_id == admin.id))
    codes = [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    now = clock.now()
    db.session.add_all(RecoveryCode(admin_id=admin.id, code_hash=_digest(code), created_at=now) for code in codes)
    return codes


def recovery_codes_left(admin: Admin) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode).where(
        RecoveryCode.admin_id == admin.id, RecoveryCode.used_at.is_(None)))


def looks_like_recovery_code(typed) -> bool:
    code = typed_code(typed).lower()
    return len(code) == RECOVERY_LENGTH and set(code) <= set(RECOVERY_ALPHABET)


# --- Signing in ---------------------------------------------------------------------------------

CODE, RECOVERY = "code", "recovery code"
ALREADY_USED = "already used"


def second_factor(admin: Admin, typed, recovery: bool = False) -> str | None:
    """Check a second factor typed at sign-in, using it up: CODE or RECOVERY when it is right,
    ALREADY_USED for a code from the app accepted before (here or in another browser), None
    when it is wrong. A recovery code typed where the app's code goes is accepted too."""
    if not admin.two_factor_on or not admin.totp_secret:
        return None
    if recovery or looks_like_recovery_code(typed):
        return RECOVERY if _use_recovery_code(admin, typed) else None
    step = _matching_step(admin.totp_secret, typed)
    if step is None:
        return None
    database.begin_write()
    claimed = _claim_step(admin, step)
    db.session.commit()
    return CODE if claimed else ALREADY_USED


def _use_recovery_code(admin: Admin, typed) -> bool:
    if not looks_like_recovery_code(typed):
        return False
    database.begin_write()
    used = db.session.execute(sa.update(RecoveryCode).where(
        RecoveryCode.admin_id == admin.id, RecoveryCode.code_hash == _digest(typed), RecoveryCode.used_at.is_(None))
        .values(used_at=clock.now())).rowcount
    if used:
        left = recovery_codes_left(admin)
        audit.record("recovery code used", admin=admin, detail=f"{left} left")
    db.session.commit()
    return bool(used)


# --- Renewing, turning off, resetting ------------------------------------------------------------

def _proven(admin: Admin, proof) -> bool:
    """The clinician's password, or a code from their app now (used up like at sign-in)."""
    if not isinstance(proof, str) or not proof:
        return False
    if looks_like_code(proof) and admin.totp_secret:
        step = _matching_step(admin.totp_secret, proof)
        if step is not None and _claim_step(admin, step):
            return True
    return admin.check_password(proof)


def renew_recovery_codes(admin: Admin, proof) -> list[str]:
    """Ten new recovery codes (the old ones stop working), for a clinician who proves it is
    them with their password or a current code; returned to be shown once."""
    database.begin_write()
    with database.rollback_on(TwoFactorRefused):
        if not admin.two_factor_on:
            raise TwoFactorRefused("not_on")
        if not _proven(admin, proof):
            raise TwoFactorRefused("wrong_proof")
        codes = _new_recovery_codes(admin)
        audit.record("recovery codes renewed", admin=admin)
    db.session.commit()
    return codes


def _clear(admin: Admin) -> None:
    admin.totp_secret = None
    admin.two_factor_on_at = None
    admin.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.admin_id == admin.id))


def turn_off(admin: Admin, proof, is_required: bool) -> None:
    """Turn two-step sign-in off (password or a current code first); refused while the
    practice requires it."""
    database.begin_write()
    with database.rollback_on(TwoFactorRefused):
        if is_required:
            raise TwoFactorRefused("required")
        if not admin.two_factor_on:
            raise TwoFactorRefused("not_on")
        if not _proven(admin, proof):
            raise TwoFactorRefused("wrong_proof")
        _clear(admin)
        audit.record("two-step sign-in turned off", admin=admin)
    db.session.commit()


def reset(admin: Admin) -> int:
    """The operator's reset for a clinician who lost both phone and recovery codes: two-step
    sign-in off, recovery codes gone, every session of theirs ended (a lost phone may be
    signed in). Returns how many sessions ended."""
    ended = admin_sessions.end_all(admin, admin_sessions.SIGNED_OUT_ELSEWHERE)
    database.begin_write()
    _clear(admin)
    audit.record("two-step sign-in reset", admin=admin, actor="system",
                 detail=f"by the operator (reset-2fa); {ended} session{'s' if ended != 1 else ''} ended")
    db.session.commit()
    return ended
