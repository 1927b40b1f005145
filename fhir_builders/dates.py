"""Dates counted back from one fixed day, so that a fixture written today reads the same next year.

The service runs with `CDS_TODAY=2026-11-25` in tests; nothing here reads the wall clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

TODAY = date(2026, 11, 25)
TZ = "-05:00"  # US Eastern standard time in November; times are mid-day so no UTC date shift


def day(days_ago: int) -> str:
    """A date `days_ago` days before TODAY (negative = in the future), as YYYY-MM-DD."""
    return (TODAY - timedelta(days=days_ago)).isoformat()


def at(days_ago: int, hhmm: str = "09:30") -> str:
    """A dateTime with time and timezone, `days_ago` days before TODAY."""
    return f"{day(days_ago)}T{hhmm}:00{TZ}"


def issued(when: str, hours: int = 3) -> str:
    """Result release time (an `instant`): a few hours after specimen collection."""
    return (datetime.fromisoformat(when) + timedelta(hours=hours)).isoformat(timespec="milliseconds")
