"""The one place the application asks for the time, so tests can set it."""
from datetime import datetime, timezone

from flask import current_app, has_app_context


def now() -> datetime:
    """The current time in UTC (aware). Tests fix it with app.config["NOW"]."""
    if has_app_context():
        fixed = current_app.config.get("NOW")
        if fixed is not None:
            return fixed
    return datetime.now(timezone.utc)
