"""The one place the application asks for the time, so tests and previews can set it.

Tests set config NOW to a datetime: the clock stands still there until they move it.
RESILIENCE_NOW=<ISO time> (outside production) starts the clock at that time and lets it
run on from there, so a preview behaves like those days: offers lapse, emails retry.
"""
from datetime import UTC, datetime, timedelta

from flask import current_app, has_app_context


def now() -> datetime:
    """The current time in UTC (aware)."""
    return now_for(current_app.config) if has_app_context() else datetime.now(UTC)


def now_for(config) -> datetime:
    """The current time for the site with this config (where no request is open)."""
    fixed = config.get("NOW")
    if fixed is not None:
        return fixed
    return datetime.now(UTC) + config.get("CLOCK_OFFSET", timedelta(0))


def configure(config: dict, production: bool) -> None:
    """Read NOW: a datetime stands still; text (from RESILIENCE_NOW) becomes where the clock
    starts. Raises ValueError (the site refuses to start) in production or for text it cannot read."""
    value = config.get("NOW")
    if isinstance(value, datetime) or value is None:
        return
    config["NOW"] = None
    if value == "":
        return
    if production:
        raise ValueError("RESILIENCE_NOW sets a pretend clock and is refused in production: unset it.")
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"RESILIENCE_NOW={value!r} is not a time like 2027-01-15T09:30.") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    config["CLOCK_OFFSET"] = moment - datetime.now(UTC)
