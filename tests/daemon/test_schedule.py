"""The alternative-speed schedule (daemon/schedule.py), against Transmission's rules and
against a week-long minute table built the way Transmission builds it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bitswarm.daemon.schedule import alt_speed_active, effective_limits, schedule_active
from bitswarm.daemon.settings import DaemonSettings

SUNDAY = datetime(2024, 1, 7)  # a Sunday, local time
FRIDAY = SUNDAY + timedelta(days=5)
MONDAY, SATURDAY = 2, 64


def at(day: datetime, hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return day + timedelta(hours=hours, minutes=minutes)


def scheduled(begin: int, end: int, days: int = 127) -> DaemonSettings:
    return DaemonSettings(
        alt_speed_time_enabled=True,
        alt_speed_time_begin=begin,
        alt_speed_time_end=end,
        alt_speed_time_day=days,
    )


def test_the_default_daytime_schedule() -> None:
    settings = scheduled(540, 1020)
    for day in range(7):
        date = SUNDAY + timedelta(days=day)
        assert schedule_active(settings, at(date, "09:00"))
        assert schedule_active(settings, at(date, "16:59"))
        assert not schedule_active(settings, at(date, "17:00"))  # the end is outside
        assert not schedule_active(settings, at(date, "08:59"))


def test_a_night_across_midnight_belongs_to_the_day_it_begins() -> None:
    settings = scheduled(22 * 60, 6 * 60, days=32)  # Friday 22:00 to Saturday 06:00
    saturday = FRIDAY + timedelta(days=1)
    assert schedule_active(settings, at(FRIDAY, "22:00"))
    assert schedule_active(settings, at(FRIDAY, "23:59"))
    assert schedule_active(settings, at(saturday, "00:00"))
    assert schedule_active(settings, at(saturday, "05:59"))  # Saturday's bit is clear
    assert not schedule_active(settings, at(saturday, "06:00"))
    assert not schedule_active(settings, at(saturday, "22:30"))
    assert not schedule_active(settings, at(FRIDAY, "05:00"))  # Thursday's night: not set
    assert not schedule_active(settings, at(FRIDAY, "21:59"))


def test_day_bits_start_on_sunday() -> None:
    sunday_only = scheduled(0, 0, days=1)  # begin == end: the whole day
    assert schedule_active(sunday_only, at(SUNDAY, "00:00"))
    assert schedule_active(sunday_only, at(SUNDAY, "23:59"))
    assert not schedule_active(sunday_only, at(SUNDAY + timedelta(days=1), "00:00"))
    assert not schedule_active(sunday_only, at(SUNDAY - timedelta(days=1), "23:59"))
    assert schedule_active(scheduled(600, 700, MONDAY), at(SUNDAY + timedelta(days=1), "10:00"))
    assert schedule_active(scheduled(600, 700, SATURDAY), at(SUNDAY - timedelta(days=1), "10:00"))
    assert not schedule_active(scheduled(600, 700, SATURDAY), at(SUNDAY, "10:00"))
    assert not schedule_active(scheduled(0, 0, days=0), at(SUNDAY, "12:00"))


def test_disabled_schedule_and_the_turtle_button() -> None:
    off = replace(scheduled(0, 0), alt_speed_time_enabled=False)
    assert not schedule_active(off, at(SUNDAY, "12:00"))
    assert not alt_speed_active(off, at(SUNDAY, "12:00"))
    by_hand = replace(off, alt_speed_enabled=True)
    assert alt_speed_active(by_hand, at(SUNDAY, "12:00"))
    assert not schedule_active(by_hand, at(SUNDAY, "12:00"))


def test_effective_limits() -> None:
    base = DaemonSettings(
        speed_limit_up=100,
        speed_limit_down=200,
        alt_speed_up=10,
        alt_speed_down=20,
        alt_speed_time_begin=600,
        alt_speed_time_end=700,
    )
    noon = at(SUNDAY, "12:00")
    assert effective_limits(base, noon) == (0, 0)  # nothing enabled: unlimited
    up_only = replace(base, speed_limit_up_enabled=True)
    assert effective_limits(up_only, noon) == (100, 0)
    both = replace(up_only, speed_limit_down_enabled=True)
    assert effective_limits(both, noon) == (100, 200)
    assert effective_limits(replace(base, alt_speed_enabled=True), noon) == (10, 20)
    timed = replace(both, alt_speed_time_enabled=True)
    assert effective_limits(timed, at(SUNDAY, "10:30")) == (10, 20)
    assert effective_limits(timed, at(SUNDAY, "11:40")) == (100, 200)


def _week_table(begin: int, end: int, days: int) -> set[int]:
    """Transmission's way: mark every minute of the week in a table, per day set."""
    week = 7 * 1440
    if end <= begin:
        end += 1440
    table: set[int] = set()
    for day in range(7):  # 0 = Sunday
        if days & (1 << day):
            table.update((minute + day * 1440) % week for minute in range(begin, end))
    return table


@given(
    st.integers(0, 1439),
    st.integers(0, 1439),
    st.integers(0, 127),
    st.lists(st.integers(0, 7 * 1440 - 1), min_size=1, max_size=40),
)
def test_agrees_with_a_minute_table(begin: int, end: int, days: int, probes: list[int]) -> None:
    settings = scheduled(begin, end, days)
    table = _week_table(begin, end, days)
    for minute_of_week in probes:
        now = SUNDAY + timedelta(minutes=minute_of_week, seconds=30)
        assert schedule_active(settings, now) is (minute_of_week in table)
