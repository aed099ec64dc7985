"""The daemon's pure policies: queueing and seeding limits (no I/O, no clock reads).

Transmission's rules, which libtorrent's auto-managed torrents and qBittorrent's queue
follow closely: at most `download_queue_size` torrents download at once and at most
`seed_queue_size` seed, in queue-position order; a torrent started with "start now"
(`forced`) is outside the queue; a stalled download (no data for
`queue_stalled_minutes`) does not hold a slot. A seed stops when its ratio or its idle time
reaches the torrent's own limit or, in `LimitMode.GLOBAL`, the daemon's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .model import LimitMode, TorrentOptions
from .settings import DaemonSettings

__all__ = ["QueueEntry", "pick_queue", "seed_limit_reason"]


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """What the queue needs to know of one torrent that wants to run."""

    id: int
    position: int
    seeding: bool  # complete: takes a seed slot, not a download slot
    running: bool
    forced: bool
    stalled: bool  # running, but no data for `queue_stalled_minutes`


def pick_queue(
    entries: Sequence[QueueEntry], settings: DaemonSettings
) -> tuple[set[int], set[int]]:
    """Which torrents should run and which wait: (run, wait), by id.

    Running torrents keep their slot unless more run than the queue allows (the size was
    lowered); the last in queue order then wait again.
    """
    run: set[int] = set()
    wait: set[int] = set()
    for seeding, enabled, size in (
        (False, settings.download_queue_enabled, settings.download_queue_size),
        (True, settings.seed_queue_enabled, settings.seed_queue_size),
    ):
        group = sorted((e for e in entries if e.seeding == seeding), key=lambda e: e.position)
        if not enabled:
            run.update(e.id for e in group)
            continue
        slots = max(1, size)
        used = 0
        for e in group:
            if e.forced:
                run.add(e.id)
                continue
            if used < slots:
                run.add(e.id)
                if not (e.stalled and settings.queue_stalled_enabled):
                    used += 1
            else:
                wait.add(e.id)
    return run, wait


def seed_limit_reason(
    options: TorrentOptions,
    settings: DaemonSettings,
    *,
    ratio: float,
    idle_seconds: float,
) -> str | None:
    """Why a seeding torrent should stop now (a line for the log), or None."""
    limit: float | None = None
    if options.seed_ratio_mode is LimitMode.SINGLE:
        limit = options.seed_ratio_limit
    elif options.seed_ratio_mode is LimitMode.GLOBAL and settings.seed_ratio_limited:
        limit = settings.seed_ratio_limit
    if limit is not None and ratio >= limit:
        return f"seed ratio {ratio:.2f} reached its limit {limit:.2f}"
    minutes: int | None = None
    if options.seed_idle_mode is LimitMode.SINGLE:
        minutes = options.seed_idle_limit
    elif options.seed_idle_mode is LimitMode.GLOBAL and settings.idle_seeding_limit_enabled:
        minutes = settings.idle_seeding_limit
    if minutes is not None and idle_seconds >= minutes * 60:
        return f"idle for {int(idle_seconds // 60)} minutes (limit {minutes})"
    return None
