"""One bounded conversion for every number, date and instant the service reads from FHIR or from a client.

Python's numbers and dates have edges: `float(10**400)` and `timedelta(days=3e6)` raise OverflowError,
`float("1e400")` is infinity, `date(9999, 12, 31) + timedelta(days=1)` overflows, and converting
`0001-01-01T00:00:00+01:00` to UTC falls off the calendar. None of these are ValueErrors, so a tolerant
reader that catches ValueError let them through, and one such value in one resource answered the whole call
with a 500. Every such value goes through here instead: a value outside what the service can reason about
raises `OutOfRange` (a ValueError), which makes *that resource* unreadable (skipped and said so on the
data-incomplete card), or the request field a clear 400, never the call a 500.

The bounds are generous for clinical data and tight enough that arithmetic on the results cannot overflow:
dates 1800..2200, numbers within ±1e9, day counts within ±100,000 (~270 years), instants 1900..2200.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

MIN_DATE = date(1800, 1, 1)  # no record about a living patient is older
MAX_DATE = date(2200, 12, 31)  # nor this far in the future
MAX_MAGNITUDE = 1e9  # a lab value, a dose, a supply, a frequency: anything larger is a data error
MAX_DAYS = 100_000  # ~270 years: any day count the record adds to a date
MIN_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(2200, 12, 31, 23, 59, 59, tzinfo=UTC)
MAX_EPOCH_SECONDS = int(MAX_INSTANT.timestamp())  # JWT NumericDate claims (exp, iat, nbf)


class OutOfRange(ValueError):
    """A number or date outside the range the service computes with (the resource or field is unreadable)."""


def finite_number(value: Any, what: str = "number") -> float | None:
    """A JSON number (or numeric string) as a float within ±MAX_MAGNITUDE; None when it is not a number at all;
    OutOfRange when it is one but infinite, NaN or too large."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if abs(value) > MAX_MAGNITUDE:  # compared as int: float(10**400) itself would overflow
            raise OutOfRange(f"{what} out of range")
        return float(value)
    if isinstance(value, float):
        result = value
    elif isinstance(value, str):
        if len(value) > 64:
            raise OutOfRange(f"{what} out of range")
        try:
            result = float(value)
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(result) or abs(result) > MAX_MAGNITUDE:
        raise OutOfRange(f"{what} out of range")
    return result


def checked_date(value: date, what: str = "date") -> date:
    """`value` when it lies within MIN_DATE..MAX_DATE, else OutOfRange."""
    if not MIN_DATE <= value <= MAX_DATE:
        raise OutOfRange(f"{what} out of range")
    return value


def day_count(value: float, what: str = "duration") -> float:
    """A number of days within ±MAX_DAYS (a supply, a washout), else OutOfRange."""
    if not math.isfinite(value) or abs(value) > MAX_DAYS:
        raise OutOfRange(f"{what} out of range")
    return value


def add_days(start: date, days: float, what: str = "date") -> date:
    """`start` + `days` (whole days), within MIN_DATE..MAX_DATE, else OutOfRange (never OverflowError)."""
    day_count(days, what)
    try:
        return checked_date(start + timedelta(days=int(days)), what)
    except OverflowError:
        raise OutOfRange(f"{what} out of range") from None


def utc_instant(value: datetime, what: str = "date-time") -> datetime:
    """An aware datetime converted to UTC (naive: taken as UTC), within MIN_INSTANT..MAX_INSTANT, else
    OutOfRange: `0001-01-01T00:00:00+01:00` has no UTC form and must be a 400, not an OverflowError."""
    try:
        result = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise OutOfRange(f"{what} out of range") from None
    if not MIN_INSTANT <= result <= MAX_INSTANT:
        raise OutOfRange(f"{what} out of range")
    return result


def epoch_seconds(value: Any, what: str = "NumericDate") -> float:
    """A JWT NumericDate (RFC 7519 §2): a finite JSON number of seconds within 0..MAX_EPOCH_SECONDS.

    A 400-digit integer is refused without `float()` (which would overflow); Infinity and NaN are refused.
    Not a number at all: TypeError. Out of range: OutOfRange."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number")
    if isinstance(value, int):
        if not 0 <= value <= MAX_EPOCH_SECONDS:
            raise OutOfRange(f"{what} out of range")
        return float(value)
    if not math.isfinite(value) or not 0 <= value <= MAX_EPOCH_SECONDS:
        raise OutOfRange(f"{what} out of range")
    return value
