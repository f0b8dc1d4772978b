"""Business-hours arithmetic: plain functions over a ``Calendar`` (store.config_file).

SLA clocks count only the time a team works: its weekly hours in its own time
zone, minus holidays. Opening hours are wall-clock times ("09:00-17:30" in
Europe/Berlin), so a day's real length follows daylight saving: a shift
across the spring change is an hour shorter. Every function takes and returns
instants; a naive datetime means UTC (as the database stores them) and the
result has the awareness of the input.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from helpline.store.siteconfig.config_file import Calendar

UTC = dt.timezone.utc
MAX_DAYS = 3660  # a search longer than ten years means the calendar is (almost) never open


class CalendarNeverOpen(ValueError):
    """The calendar has no opening hours within the search horizon."""


def _aware(t: dt.datetime) -> tuple[dt.datetime, bool]:
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC), True
    return t.astimezone(UTC), False


def _out(t: dt.datetime, naive: bool) -> dt.datetime:
    return t.replace(tzinfo=None) if naive else t


@lru_cache(maxsize=4096)
def open_intervals(calendar: Calendar, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """The day's opening hours as aware UTC instants (empty on a holiday or a closed day)."""
    if day in calendar.holidays:
        return ()
    zone = calendar.zone
    out = []
    for start, end in calendar.week[day.weekday()]:
        s = _local(day, start, zone)
        e = _local(day, end, zone)
        if e > s:  # a range inside a DST gap can vanish
            out.append((s, e))
    return tuple(out)


def _local(day: dt.date, minute: int, zone: dt.tzinfo) -> dt.datetime:
    if minute >= 1440:
        day, minute = day + dt.timedelta(days=1), minute - 1440
    local = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
    return local.astimezone(UTC)


def _local_date(t: dt.datetime, calendar: Calendar) -> dt.date:
    return t.astimezone(calendar.zone).date()


def is_open(t: dt.datetime, calendar: Calendar) -> bool:
    """Whether ``t`` falls inside the calendar's opening hours."""
    at, _ = _aware(t)
    if calendar.always_open:
        return True
    day = _local_date(at, calendar)
    return any(s <= at < e for s, e in open_intervals(calendar, day))


def next_open(t: dt.datetime, calendar: Calendar) -> dt.datetime:
    """``t`` if the calendar is open then, else the next opening."""
    at, naive = _aware(t)
    if calendar.always_open:
        return t
    day = _local_date(at, calendar) - dt.timedelta(days=1)
    for _ in range(MAX_DAYS):
        for s, e in open_intervals(calendar, day):
            if at < e:
                return _out(max(s, at), naive)
        day += dt.timedelta(days=1)
    raise CalendarNeverOpen(f"calendar {calendar.name!r} does not open within {MAX_DAYS} days of {t.isoformat()}")


def add_business_time(start: dt.datetime, duration: dt.timedelta, calendar: Calendar) -> dt.datetime:
    """The instant when ``duration`` of open time has passed after ``start``.

    A deadline that uses up an opening exactly ends at its close (Friday
    17:30), not at the next opening. Zero or negative durations return the start.
    """
    if duration <= dt.timedelta(0):
        return start
    if calendar.always_open:
        return start + duration
    at, naive = _aware(start)
    remaining = duration
    day = _local_date(at, calendar) - dt.timedelta(days=1)  # an opening may straddle UTC midnight
    for _ in range(MAX_DAYS):
        for s, e in open_intervals(calendar, day):
            begin = max(s, at)
            if begin >= e:
                continue
            available = e - begin
            if remaining <= available:
                return _out(begin + remaining, naive)
            remaining -= available
        day += dt.timedelta(days=1)
    raise CalendarNeverOpen(f"calendar {calendar.name!r} cannot fit {duration} within {MAX_DAYS} days")


def business_time_between(a: dt.datetime, b: dt.datetime, calendar: Calendar) -> dt.timedelta:
    """Open time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
    if b < a:
        return -business_time_between(b, a, calendar)
    if calendar.always_open:
        return b - a
    start, _ = _aware(a)
    end, _ = _aware(b)
    total = dt.timedelta(0)
    day = _local_date(start, calendar) - dt.timedelta(days=1)
    last = _local_date(end, calendar) + dt.timedelta(days=1)
    while day <= last:
        for s, e in open_intervals(calendar, day):
            lo, hi = max(s, start), min(e, end)
            if hi > lo:
                total += hi - lo
        day += dt.timedelta(days=1)
    return total
