"""The one place the application asks for the time, so tests and previews can set it."""
from datetime import datetime, timezone

from flask import current_app, has_app_context


def now() -> datetime:
    """The current time in UTC (aware): the configured NOW if set, else the real time."""
    if has_app_context():
        fixed = current_app.config.get("NOW")
        if fixed is not None:
            return fixed
    return datetime.now(timezone.utc)


def fixed_time(value, production: bool) -> datetime | None:
    """RESILIENCE_NOW=<ISO time> (UTC unless it names an offset) sets the whole app's clock
    outside production, to preview a cohort's later weeks or to test a program end to end.
    Raises ValueError (the site refuses to start) in production or for a time it cannot read."""
    if value is None or value == "":
        return None
    if production:
        raise ValueError("RESILIENCE_NOW sets a pretend clock and is refused in production: unset it.")
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"RESILIENCE_NOW={value!r} is not a time like 2027-01-15T09:30.") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
