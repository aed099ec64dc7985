"""Announcer: keeps one torrent announced to its trackers.

The schedule, events and tiers are the pure `TrackerTiers` policy (BEP 3 events, BEP 12
tiers, backoff, interval / min interval); this driver performs each job it hands out over
HTTP or UDP (`aio.tracker_client.announce`) and gives every peer it hears of to the torrent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..aio.tracker_client import announce
from ..errors import BitswarmError
from ..tracker.announce import AnnounceEvent, AnnounceRequest
from ..tracker.tiers import AnnounceJob, TrackerStatus, TrackerTiers, TrackerView
from .host import SessionHost

__all__ = ["AnnounceStats", "AnnounceSubject", "Announcer"]

log = logging.getLogger("bitswarm.announce")

MORE_PEERS_EVERY = 30.0
STOP_TIMEOUT = 3.0
IDLE_WAIT = 60.0


@dataclass(frozen=True, slots=True)
class AnnounceStats:
    """What an announce reports about us (BEP 3), and whether we want more peers."""

    uploaded: int
    downloaded: int
    left: int
    complete: bool
    wants_peers: bool


class AnnounceSubject(Protocol):
    """What the announcer needs of a torrent (or of a magnet link still fetching metadata)."""

    @property
    def info_hash(self) -> bytes: ...
    @property
    def session(self) -> SessionHost: ...
    def add_peers(self, addrs: Iterable[tuple[str, int]]) -> None: ...
    def announce_stats(self) -> AnnounceStats: ...


class Announcer:
    """One torrent's tracker loop."""

    def __init__(self, subject: AnnounceSubject, tiers: Sequence[Sequence[str]]) -> None:
        self.subject = subject
        self._tier_urls = [list(t) for t in tiers if t]
        self.key = random.Random().getrandbits(32)
        self.tiers: TrackerTiers | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._more_peers_at = 0.0

    @property
    def message(self) -> str | None:
        """The trackers' errors and warnings, as one line for status displays."""
        if self.tiers is None:
            return None
        parts = [
            f"{t.url}: {t.last_error}"
            for t in self.tiers.trackers()
            if t.status is TrackerStatus.ERROR and t.last_error
        ]
        parts += [f"{t.url}: warning: {t.warning}" for t in self.tiers.trackers() if t.warning]
        return "; ".join(parts)[-400:] or None

    def trackers(self) -> list[TrackerView]:
        return self.tiers.trackers() if self.tiers is not None else []

    def start(self) -> None:
        if not any(self._tier_urls) or self._task is not None:
            return
        self.tiers = TrackerTiers(
            self._tier_urls,
            rng=random.Random(),
            complete=self.subject.announce_stats().complete,
            backoff_base=15.0,
            interval_floor=30.0,
        )
        self._task = asyncio.get_running_loop().create_task(self._run())

    def completed(self) -> None:
        """The download finished: announce `completed` now (BEP 3)."""
        if self.tiers is not None:
            self.tiers.download_completed(now=self._now())
            self._wake.set()

    def reannounce(self) -> None:
        """Announce now, whatever the intervals and backoffs say (a person asked)."""
        if self.tiers is not None and self._task is not None:
            self.tiers.announce_now(now=self._now())
            self._wake.set()

    async def stop(self) -> None:
        """Stop the loop and send `stopped` to the trackers that know us (bounded time)."""
        if self._task is None or self.tiers is None:
            return
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        tiers = self.tiers
        tiers.stop(now=self._now())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_TIMEOUT):
                while (job := tiers.next_announce(now=self._now())) is not None:
                    await self._perform(job)

    # ------------------------------------------------------------------ internals
    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _request(self, job: AnnounceJob) -> AnnounceRequest:
        subject = self.subject
        stats = subject.announce_stats()
        return AnnounceRequest(
            info_hash=subject.info_hash,
            peer_id=subject.session.peer_id,
            port=subject.session.listen_port,
            uploaded=stats.uploaded,
            downloaded=stats.downloaded,
            left=stats.left,
            event=job.event,
            key=self.key,
            numwant=0 if job.event is AnnounceEvent.STOPPED else 50,
            tracker_id=job.tracker_id,
        )

    async def _perform(self, job: AnnounceJob) -> None:
        assert self.tiers is not None
        try:
            resp = await announce(
                job.url, self._request(job), local_host=self.subject.session.source_host
            )
        except BitswarmError as exc:
            log.info("announce to %s failed: %s", job.url, exc)
            self.tiers.on_failure(job, str(exc), now=self._now())
            return
        self.tiers.on_success(job, resp, now=self._now())
        if job.event is not AnnounceEvent.STOPPED:
            subject = self.subject
            subject.add_peers(
                (p.host, p.port)
                for p in resp.peers
                if not subject.session.is_own_address((p.host, p.port))
            )

    def _needs_peers(self) -> bool:
        return self.subject.announce_stats().wants_peers

    async def _run(self) -> None:
        tiers = self.tiers
        assert tiers is not None
        while True:
            now = self._now()
            if self._needs_peers() and now >= self._more_peers_at:
                self._more_peers_at = now + MORE_PEERS_EVERY
                tiers.reannounce(now=now)
            job = tiers.next_announce(now=now)
            if job is not None:
                await self._perform(job)
                continue
            due = tiers.get_timer()
            wait = IDLE_WAIT if due is None else max(0.0, due - now)
            if self._needs_peers():
                wait = min(wait, max(0.0, self._more_peers_at - now))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait, 0.05)):
                    await self._wake.wait()
