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
from typing import TYPE_CHECKING

from ..aio.tracker_client import announce
from ..errors import BitswarmError
from ..tracker.announce import AnnounceEvent, AnnounceRequest
from ..tracker.tiers import AnnounceJob, TrackerStatus, TrackerTiers, TrackerView

if TYPE_CHECKING:
    from .torrent import TorrentRuntime

__all__ = ["Announcer"]

log = logging.getLogger("bitswarm.announce")

FEW_PEERS = 5  # below this many connections a downloader asks for more peers sooner
MORE_PEERS_EVERY = 30.0
STOP_TIMEOUT = 3.0
IDLE_WAIT = 60.0


class Announcer:
    """One torrent's tracker loop."""

    def __init__(self, runtime: TorrentRuntime, *, extra_trackers: list[str]) -> None:
        self.runtime = runtime
        tiers = [list(t) for t in runtime.meta.announce_tiers]
        tiers += [[u] for u in extra_trackers]
        self._tier_urls = tiers
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
        parts = [f"{t.url}: {t.last_error}" for t in self.tiers.trackers()
                 if t.status is TrackerStatus.ERROR and t.last_error]
        parts += [f"{t.url}: warning: {t.warning}" for t in self.tiers.trackers() if t.warning]
        return "; ".join(parts)[-400:] or None

    def trackers(self) -> list[TrackerView]:
        return self.tiers.trackers() if self.tiers is not None else []

    def start(self) -> None:
        if not any(self._tier_urls) or self._task is not None:
            return
        core = self.runtime.core
        self.tiers = TrackerTiers(
            self._tier_urls, rng=random.Random(),
            complete=core is not None and core.is_complete,
            backoff_base=15.0, interval_floor=30.0,
        )
        self._task = asyncio.get_running_loop().create_task(self._run())

    def completed(self) -> None:
        """The download finished: announce `completed` now (BEP 3)."""
        if self.tiers is not None:
            self.tiers.download_completed(now=self._now())
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
        rt = self.runtime
        core = rt.core
        info = rt.meta.info
        left = info.total_length
        uploaded = downloaded = 0
        if core is not None:
            left = 0 if core.is_complete else max(
                0, info.total_length - core.have.count() * info.piece_length)
            uploaded, downloaded = core.uploaded, core.downloaded
        return AnnounceRequest(
            info_hash=rt.info_hash, peer_id=rt.session.peer_id, port=rt.session.listen_port,
            uploaded=uploaded, downloaded=downloaded, left=left, event=job.event, key=self.key,
            numwant=0 if job.event is AnnounceEvent.STOPPED else 50,
            tracker_id=job.tracker_id,
        )

    async def _perform(self, job: AnnounceJob) -> None:
        assert self.tiers is not None
        try:
            resp = await announce(job.url, self._request(job))
        except BitswarmError as exc:
            log.info("announce to %s failed: %s", job.url, exc)
            self.tiers.on_failure(job, str(exc), now=self._now())
            return
        self.tiers.on_success(job, resp, now=self._now())
        if job.event is not AnnounceEvent.STOPPED:
            rt = self.runtime
            rt.add_peers((p.host, p.port) for p in resp.peers
                         if not rt.session.is_own_address((p.host, p.port)))

    def _needs_peers(self) -> bool:
        rt = self.runtime
        return not (rt.core is not None and rt.core.is_seed) and len(rt.protocols) < FEW_PEERS

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
