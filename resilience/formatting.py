"""Jinja filters that write dates and times the way the practice speaks (US style)."""
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, current_app


def long_date(value: date) -> str:
    return f"{value:%A}, {value:%B} {value.day}, {value.year}"


def short_date(value: date) -> str:
    return f"{value:%a}, {value:%b} {value.day}"


def practice_day(moment: datetime) -> str:
    """The day a moment falls on in the practice's own time zone, as long_date writes it."""
    return long_date(moment.astimezone(ZoneInfo(current_app.config["PRACTICE_TIMEZONE"])))


def date_span(first: date, last: date | None) -> str:
    """January 12 – February 16, 2027, or December 28, 2026 – February 2, 2027 across a new year."""
    if last is None or last == first:
        return f"{first:%B} {first.day}, {first.year}"
    start = f"{first:%B} {first.day}" + (f", {first.year}" if first.year != last.year else "")
    return f"{start} – {last:%B} {last.day}, {last.year}"


def clock_time(value: datetime) -> str:
    hour = value.hour % 12 or 12
    minutes = f":{value.minute:02d}"
    return f"{hour}{minutes} {'am' if value.hour < 12 else 'pm'}"


def time_range(start: datetime, end: datetime) -> str:
    """6:00 – 8:00 pm EST, or 9:30 am – 1:30 pm EST (both in the same zone)."""
    same_half = (start.hour < 12) == (end.hour < 12)
    first = clock_time(start).rsplit(" ", 1)[0] if same_half else clock_time(start)
    return f"{first} – {clock_time(end)} {end:%Z}"


def moment(value: datetime) -> str:
    """Tuesday, December 1, 2026 at 5:00 pm EST (in the zone the value carries)."""
    return f"{long_date(value)} at {clock_time(value)} {value:%Z}"


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def duration(length: timedelta) -> str:
    """4 days and 3 hours, 1 day, 5 hours, or less than an hour (whole hours, rounded down)."""
    days, hours = length.days, length.seconds // 3600
    if length < timedelta(hours=1):
        return "less than an hour"
    parts = [f"{days} day{'s' if days != 1 else ''}" if days else "",
             f"{hours} hour{'s' if hours != 1 else ''}" if hours else ""]
    return " and ".join(part for part in parts if part)


def zone_name(zone: str) -> str:
    """"America/New_York" -> "New York": a place people know, true in winter and summer alike."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def init_app(app: Flask) -> None:
    app.add_template_filter(zone_name)
    app.add_template_filter(moment)
    app.add_template_filter(ordinal)
    app.add_template_filter(duration)
    app.add_template_filter(long_date)
    app.add_template_filter(short_date)
    app.add_template_filter(date_span)
    app.add_template_filter(practice_day)
    app.add_template_filter(clock_time)
    app.add_template_global(time_range)
