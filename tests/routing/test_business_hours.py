"""Business-hours arithmetic across weekends, lunch breaks, holidays and DST changes."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from helpline.router.business_hours import (
    CalendarNeverOpen,
    add_business_time,
    business_time_between,
    is_open,
    next_open,
)
from helpline.store.siteconfig.config_file import ALWAYS, Calendar, parse

BERLIN = ZoneInfo("Europe/Berlin")
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)

OFFICE = parse("""
[business_hours.office]
timezone = "Europe/Berlin"
weekdays = ["09:00-12:30", "13:30-17:30"]
friday = ["09:00-15:00"]
holidays = ["2025-12-24", "2025-12-25", "2025-12-26", "2026-01-01"]

[business_hours.round_the_clock_berlin]
timezone = "Europe/Berlin"
all_week = ["00:00-24:00"]

[business_hours.new_york]
timezone = "America/New_York"
weekdays = ["08:00-20:00"]
saturday = ["10:00-14:00"]
holidays = ["2026-07-03", "2026-11-26"]

[business_hours.night]
timezone = "Pacific/Auckland"
all_week = ["00:00-06:00", "22:00-24:00"]

[business_hours.sunday_small_hours]
timezone = "Europe/Berlin"
sunday = ["02:00-03:00"]
""").calendars
office, berlin_24, new_york, night = (OFFICE[k] for k in ("office", "round_the_clock_berlin", "new_york", "night"))


def berlin(*args: int) -> dt.datetime:
    """A Berlin wall-clock time as naive UTC, the way the database stores instants."""
    return dt.datetime(*args, tzinfo=BERLIN).astimezone(dt.timezone.utc).replace(tzinfo=None)


def test_within_one_opening():
    assert add_business_time(berlin(2026, 3, 2, 9, 0), 2 * H, office) == berlin(2026, 3, 2, 11, 0)


def test_the_lunch_break_does_not_count():
    assert add_business_time(berlin(2026, 3, 2, 12, 0), H, office) == berlin(2026, 3, 2, 14, 0)
    assert business_time_between(berlin(2026, 3, 2, 12, 0), berlin(2026, 3, 2, 14, 0), office) == H


def test_friday_afternoon_runs_into_monday():
    # Friday closes at 15:00: one hour left on Friday, three more on Monday.
    assert add_business_time(berlin(2026, 3, 6, 14, 0), 4 * H, office) == berlin(2026, 3, 9, 12, 0)
    assert business_time_between(berlin(2026, 3, 6, 14, 0), berlin(2026, 3, 9, 12, 0), office) == 4 * H
    # the weekend itself counts nothing
    assert business_time_between(berlin(2026, 3, 6, 15, 0), berlin(2026, 3, 9, 9, 0), office) == dt.timedelta(0)


def test_a_deadline_that_uses_up_an_opening_ends_at_its_close():
    assert add_business_time(berlin(2026, 3, 6, 14, 0), H, office) == berlin(2026, 3, 6, 15, 0)


def test_a_ticket_arriving_on_saturday_starts_counting_on_monday_morning():
    assert add_business_time(berlin(2026, 3, 7, 11, 0), 15 * M, office) == berlin(2026, 3, 9, 9, 15)
    assert next_open(berlin(2026, 3, 7, 11, 0), office) == berlin(2026, 3, 9, 9, 0)
    assert next_open(berlin(2026, 3, 9, 10, 0), office) == berlin(2026, 3, 9, 10, 0)
    assert not is_open(berlin(2026, 3, 7, 11, 0), office) and is_open(berlin(2026, 3, 9, 9, 0), office)
    assert not is_open(berlin(2026, 3, 9, 12, 45), office) and not is_open(berlin(2026, 3, 9, 17, 30), office)


def test_holidays_are_skipped():
    # Tuesday 23 Dec 2025, 17:00; the 24th to 26th are holidays, then a weekend.
    assert add_business_time(berlin(2025, 12, 23, 17, 0), H, office) == berlin(2025, 12, 29, 9, 30)
    assert business_time_between(berlin(2025, 12, 23, 17, 0), berlin(2025, 12, 29, 9, 30), office) == H
    # New York: Friday 3 July 2026 is a holiday, Saturday has short hours.
    ny = ZoneInfo("America/New_York")
    start = dt.datetime(2026, 7, 2, 19, 0, tzinfo=ny)
    assert add_business_time(start, 3 * H, new_york) == dt.datetime(2026, 7, 4, 12, 0, tzinfo=ny)


def test_spring_forward_makes_a_day_23_hours_long():
    # Europe changes on Sunday 29 March 2026 at 02:00 -> 03:00.
    sat, sun = berlin(2026, 3, 28, 12, 0), berlin(2026, 3, 29, 12, 0)
    assert business_time_between(sat, sun, berlin_24) == 23 * H
    assert add_business_time(sat, 24 * H, berlin_24) == berlin(2026, 3, 29, 13, 0)
    # An office deadline across that weekend: Friday 14:00 CET + 2h = Monday 10:00 CEST (08:00 UTC).
    due = add_business_time(berlin(2026, 3, 27, 14, 0), 2 * H, office)
    assert due == dt.datetime(2026, 3, 30, 8, 0)


def test_fall_back_makes_a_day_25_hours_long():
    # Sunday 26 October 2025, 03:00 CEST -> 02:00 CET.
    sat, sun = berlin(2025, 10, 25, 12, 0), berlin(2025, 10, 26, 12, 0)
    assert business_time_between(sat, sun, berlin_24) == 25 * H
    assert add_business_time(sat, 24 * H, berlin_24) == berlin(2025, 10, 26, 11, 0)
    # Office hours are wall-clock hours: Monday after the change still opens at 09:00 local (08:00 UTC).
    assert next_open(berlin(2025, 10, 25, 12, 0), office) == dt.datetime(2025, 10, 27, 8, 0)


def test_an_opening_inside_the_dst_gap_vanishes():
    small = OFFICE["sunday_small_hours"]
    assert business_time_between(berlin(2026, 3, 28, 0, 0), berlin(2026, 3, 30, 0, 0), small) == dt.timedelta(0)
    assert business_time_between(berlin(2026, 3, 21, 0, 0), berlin(2026, 3, 23, 0, 0), small) == H
    # ... and the deadline moves on to the next Sunday
    assert add_business_time(berlin(2026, 3, 28, 0, 0), 30 * M, small) == berlin(2026, 4, 5, 2, 30)


def test_openings_that_straddle_utc_midnight():
    nz = ZoneInfo("Pacific/Auckland")
    start = dt.datetime(2026, 3, 2, 23, 0, tzinfo=nz)  # 10:00 UTC
    assert add_business_time(start, 3 * H, night) == dt.datetime(2026, 3, 3, 2, 0, tzinfo=nz)
    assert add_business_time(start, 8 * H, night) == dt.datetime(2026, 3, 3, 23, 0, tzinfo=nz)  # 1 + 6 + 1


def test_awareness_of_the_result_follows_the_input():
    naive = add_business_time(dt.datetime(2026, 3, 2, 10, 0), H, office)
    aware = add_business_time(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc), H, office)
    assert naive.tzinfo is None and aware.tzinfo is not None and aware.replace(tzinfo=None) == naive
    assert add_business_time(dt.datetime(2026, 3, 2, 10, 0), H, ALWAYS) == dt.datetime(2026, 3, 2, 11, 0)


def test_zero_and_negative():
    t = berlin(2026, 3, 7, 11, 0)
    assert add_business_time(t, dt.timedelta(0), office) == t
    assert business_time_between(berlin(2026, 3, 2, 11), berlin(2026, 3, 2, 10), office) == -H


@pytest.mark.parametrize("name", ["office", "round_the_clock_berlin", "new_york", "night"])
def test_adding_and_measuring_are_inverse(name):
    cal = OFFICE[name]
    rng = random.Random(7)
    base = dt.datetime(2025, 10, 20)  # covers the October DST change, holidays and the spring change
    for _ in range(300):
        start = base + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 170))
        duration = dt.timedelta(minutes=rng.randrange(1, 60 * 60))
        due = add_business_time(start, duration, cal)
        assert business_time_between(start, due, cal) == duration, (name, start, duration, due)
        assert due == start + duration or not cal.always_open


def test_a_calendar_that_never_opens_is_an_error_not_a_hang():
    closed = Calendar(
        "closed",
        "UTC",
        tuple(((0, 60),) for _ in range(7)),
        frozenset(dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(4000)),
    )
    with pytest.raises(CalendarNeverOpen, match="'closed'"):
        add_business_time(dt.datetime(2026, 1, 1), H, closed)
