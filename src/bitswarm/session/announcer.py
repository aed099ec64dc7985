"""Announcer: keeps one torrent announced to its trackers (BEP 3 events, BEP 12 tiers).

It walks the tiers in order (shuffled once within each tier, a tracker that answers moves
to the front of its tier), announces `started` first, `completed` once when the download
finishes and `stopped` on the way out, honours `interval` and `min interval`, backs off
after failures, and hands every peer it hears of to the torrent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import TYPE_CHECKING

from ..aio.tracker_client import announce
from ..errors import BitswarmError
from ..tracker.announce import AnnounceEvent, AnnounceRequest, AnnounceResponse

if TYPE_CHECKING:
    from .torrent import TorrentRuntime

__all__ = ["Announcer"]

log = logging.getLogger("bitswarm.announce")

RETRY_MIN = 15.0
RETRY_MAX = 1800.0
FEW_PEERS = 5
STOP_TIMEOUT = 3.0


class Announcer:
    """One torrent's tracker loop."""

    def __init__(self, runtime: TorrentRuntime, *, extra_trackers: list[str]) -> None:
        self.runtime = runtime
        rng = random.Random()
        tiers = [list(t) for t in runtime.meta.announce_tiers]
        known = {u for t in tiers for u in t}
        tiers += [[u] for u in extra_trackers if u not in known]
        for tier in tiers:
            rng.shuffle(tier)  # BEP 12: shuffle each tier once
        self.tiers = tiers
        self.key = rng.getrandbits(32)
        self.message: str | None = None
        self.last_ok: str | None = None
        self.tracker_ids: dict[str, bytes] = {}
        self._event = AnnounceEvent.STARTED
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.tiers and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def completed(self) -> None:
        """The download finished: announce `completed` now (BEP 3), unless it never started."""
        if self._event is not AnnounceEvent.STARTED:
            self._event = AnnounceEvent.COMPLETED
        self._wake.set()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        if self.last_ok is not None and self._event is not AnnounceEvent.STARTED:
            with contextlib.suppress(BitswarmError, TimeoutError, OSError):
                async with asyncio.timeout(STOP_TIMEOUT):
                    await announce(self.last_ok, self._request(AnnounceEvent.STOPPED),
                                   timeout=STOP_TIMEOUT)

    def _request(self, event: AnnounceEvent) -> AnnounceRequest:
        rt = self.runtime
        core = rt.core
        info = rt.meta.info
        left = info.total_length
        uploaded = downloaded = 0
        if core is not None:
            left = max(0, info.total_length - core.have.count() * info.piece_length)
            if core.have.all():
                left = 0
            uploaded, downloaded = core.uploaded, core.downloaded
        return AnnounceRequest(
            info_hash=rt.info_hash, peer_id=rt.session.peer_id, port=rt.session.listen_port,
            uploaded=uploaded, downloaded=downloaded, left=left, event=event, key=self.key,
            numwant=0 if event is AnnounceEvent.STOPPED else 50,
            tracker_id=self.tracker_ids.get(self.last_ok or ""),
        )

    async def _announce_once(self) -> AnnounceResponse | None:
        """Try the tiers in order; return the first answer, or None if all failed."""
        errors: list[str] = []
        for tier in self.tiers:
            for url in list(tier):
                try:
                    resp = await announce(url, self._request(self._event))
                except BitswarmError as exc:
                    errors.append(f"{url}: {exc}")
                    log.info("announce to %s failed: %s", url, exc)
                    continue
                tier.remove(url)
                tier.insert(0, url)  # BEP 12: a tracker that answers moves to the front
                self.last_ok = url
                if resp.tracker_id:
                    self.tracker_ids[url] = resp.tracker_id
                self.message = resp.warning and f"tracker warning: {resp.warning}"
                return resp
        self.message = "; ".join(errors)[-300:] if errors else None
        return None

    async def _run(self) -> None:
        backoff = RETRY_MIN
        rt = self.runtime
        while True:
            resp = await self._announce_once()
            if resp is None:
                delay = backoff
                backoff = min(RETRY_MAX, backoff * 2)
            else:
                backoff = RETRY_MIN
                if self._event is not AnnounceEvent.NONE:
                    self._event = AnnounceEvent.NONE
                own = (rt.session.listen_port, rt.session.peer_id)
                rt.add_peers(
                    (p.host, p.port) for p in resp.peers
                    if not (p.port == own[0] and rt.session.is_own_address((p.host, p.port)))
                )
                delay = float(max(resp.interval, 30))
                needs_peers = not (rt.core and rt.core.is_seed) and len(rt.protocols) < FEW_PEERS
                if needs_peers:
                    delay = float(max(resp.min_interval or 30, 15))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
