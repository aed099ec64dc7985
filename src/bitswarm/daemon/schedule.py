"""The alternative-speed schedule and the rate limits in force at a moment (pure).

Transmission's rules ("turtle mode"), which its clients show and set:

* The schedule, when `alt_speed_time_enabled`, runs from `alt_speed_time_begin` to
  `alt_speed_time_end` (minutes after local midnight; the end minute itself is outside)
  on the days set in `alt_speed_time_day` (Sunday = 1, Monday = 2, ... Saturday = 64).
* An end at or before the begin spans midnight (begin 1320, end 360: 22:00 to 06:00), and
  the day bit names the day the period *begins*: Friday's night runs into Saturday morning
  even when Saturday's bit is clear. Begin equal to end is the whole day.
* `alt_speed_enabled` (the turtle button) turns the alternative speeds on by hand,
  whatever the schedule says.

`now` is the local wall-clock time (``datetime.now()``): the schedule is about the user's
evenings, not UTC. Rates are bytes/s and 0 means unlimited, here as everywhere.
"""

from __future__ import annotations

from datetime import datetime

from .settings import DaemonSettings

__all__ = ["MINUTES_PER_DAY", "alt_speed_active", "effective_limits", "schedule_active"]

MINUTES_PER_DAY = 24 * 60


def _day_bit(weekday: int) -> int:
    """``datetime.weekday()`` (Monday = 0) -> Transmission's bit (Sunday = 1 << 0)."""
    return 1 << ((weekday + 1) % 7)


def schedule_active(settings: DaemonSettings, now: datetime) -> bool:
    """Whether the schedule alone puts the alternative speeds on at `now`."""
    if not settings.alt_speed_time_enabled:
        return False
    begin = settings.alt_speed_time_begin
    end = settings.alt_speed_time_end
    length = end - begin if end > begin else end - begin + MINUTES_PER_DAY
    minute = now.hour * 60 + now.minute
    days = settings.alt_speed_time_day
    # a period that began today, or one that began yesterday and runs past midnight
    if days & _day_bit(now.weekday()) and 0 <= minute - begin < length:
        return True
    yesterday = (now.weekday() - 1) % 7
    return bool(days & _day_bit(yesterday)) and 0 <= minute + MINUTES_PER_DAY - begin < length


def alt_speed_active(settings: DaemonSettings, now: datetime) -> bool:
    """Whether the alternative speeds are in force: by hand or by the schedule."""
    return settings.alt_speed_enabled or schedule_active(settings, now)


def effective_limits(settings: DaemonSettings, now: datetime) -> tuple[int, int]:
    """The session's (upload, download) limits in bytes/s at `now`, 0 = unlimited: the
    alternative speeds while they are active, else the normal limits that are enabled."""
    if alt_speed_active(settings, now):
        return settings.alt_speed_up, settings.alt_speed_down
    up = settings.speed_limit_up if settings.speed_limit_up_enabled else 0
    down = settings.speed_limit_down if settings.speed_limit_down_enabled else 0
    return up, down
