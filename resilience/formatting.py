"""Jinja filters that write dates and times the way the practice speaks (US style)."""
from datetime import date, datetime

from flask import Flask


def long_date(value: date) -> str:
    return f"{value:%A}, {value:%B} {value.day}, {value.year}"


def short_date(value: date) -> str:
    return f"{value:%a}, {value:%b} {value.day}"


def clock_time(value: datetime) -> str:
    hour = value.hour % 12 or 12
    minutes = f":{value.minute:02d}"
    return f"{hour}{minutes} {'am' if value.hour < 12 else 'pm'}"


def time_range(start: datetime, end: datetime) -> str:
    """6:00 – 8:00 pm EST, or 9:30 am – 1:30 pm EST (both in the same zone)."""
    same_half = (start.hour < 12) == (end.hour < 12)
    first = clock_time(start).rsplit(" ", 1)[0] if same_half else clock_time(start)
    return f"{first} – {clock_time(end)} {end:%Z}"


def init_app(app: Flask) -> None:
    app.add_template_filter(long_date)
    app.add_template_filter(short_date)
    app.add_template_filter(clock_time)
    app.add_template_global(time_range)
