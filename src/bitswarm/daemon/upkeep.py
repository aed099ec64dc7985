"""`Upkeep`: the daemon's once-a-second loop (L4 service).

Each round it folds every running torrent's byte counts into its saved totals, notices
completions (its hooks, then a move out of the incomplete folder), stops seeds that
reached their ratio or idle limit, applies the queue (daemon/policy.py), runs its chores
(daemon/chores.py: rate schedule, watch folder, blocklist) and now and then saves the
changed records. The decisions are policy.py's pure functions; this is the driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from ..errors import BitswarmError
from ..session import TorrentState
from .managed import ManagedTorrent
from .manager import TorrentManager
from .policy import QueueEntry, pick_queue, seed_limit_reason

__all__ = ["Upkeep"]

log = logging.getLogger("bitswarm.daemon")

ROUND = 1.0  # seconds between two rounds
SAVE_EVERY = 10.0  # seconds between two saves of the changed records
QUEUE_EVERY = 10  # rounds between two looks at the queue when nothing asked for one


class Upkeep:
    """Runs `TorrentManager`'s periodic work until `stop`."""

    def __init__(self, manager: TorrentManager) -> None:
        self.m = manager
        self._task: asyncio.Task[None] | None = None
        self._last_save = 0.0
        self._rounds = 0
        self.chores: list[Callable[[float], Awaitable[None]]] = []  # more work each round
        self.on_complete: list[Callable[[ManagedTorrent], None]] = []
        self._jobs: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for job in list(self._jobs):
            with contextlib.suppress(Exception):
                await job

    async def _loop(self) -> None:
        m = self.m
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ROUND):
                    await m.wake.wait()
            woken = m.wake.is_set()
            m.wake.clear()
            try:
                await self.round(time.time(), woken=woken)
            except Exception:  # one bad round must not end the daemon's upkeep
                log.exception("upkeep round failed")

    async def round(self, now: float, *, woken: bool = True) -> None:
        """One round; `woken`: something asked for it (a torrent wants to run, a setting
        changed), so the queue is applied now rather than at its next periodic look."""
        m = self.m
        m.changed()  # rates and progress moved: views are built afresh
        for mt in m.all():
            self._account(mt, now)
        for mt in m.all():
            await self._completion(mt, now)
            await self._seed_limits(mt, now)
        self._rounds += 1
        if woken or self._rounds % QUEUE_EVERY == 0 or any(mt.queued for mt in m.all()):
            self._queue(now)
        for chore in self.chores:
            await chore(now)
        if now - self._last_save >= SAVE_EVERY:
            self._last_save = now
            changed = [mt for mt in m.all() if mt.id in m.dirty]
            m.dirty.clear()
            await m.save_records(changed)
            await m.store.put_counters(m.counters)

    # ------------------------------------------------------------------ per torrent
    def _account(self, mt: ManagedTorrent, now: float) -> None:
        rt = mt.runtime
        if rt is None:
            return
        before_d, before_u = mt.record.downloaded_ever, mt.record.uploaded_ever
        if mt.fold_counters():
            self.m.dirty.add(mt.id)
            d = mt.record.downloaded_ever - before_d
            u = mt.record.uploaded_ever - before_u
            c = self.m.counters
            for key, value in (("downloaded", d), ("uploaded", u)):
                c[f"{key}_session"] = c.get(f"{key}_session", 0) + value
                c[f"{key}_ever"] = c.get(f"{key}_ever", 0) + value
            mt.record.activity_at = now
            if u:
                mt.last_upload_at = now
        if rt.state is TorrentState.DOWNLOADING:
            mt.record.seconds_downloading += 1
        elif rt.state is TorrentState.SEEDING:
            mt.record.seconds_seeding += 1
            if not mt.last_upload_at:
                mt.last_upload_at = now

    async def _completion(self, mt: ManagedTorrent, now: float) -> None:
        m = self.m
        rt = mt.runtime
        if rt is None or rt.core is None:
            return
        if mt.stop_after_check and rt.state is not TorrentState.CHECKING:
            mt.stop_after_check = False
            mt.forced = False
            mt.record.paused = True
            await m.stop([mt.id])
            return
        if not rt.completed.is_set() or mt.record.done_at:
            return
        mt.record.done_at = now
        m.dirty.add(mt.id)
        log.info("%s: complete", mt.name)
        for hook in self.on_complete:
            hook(mt)
        final = mt.record.options.download_dir
        if mt.data_dir is not None and Path(mt.data_dir) != Path(final):
            self.spawn(self._move_out(mt, final))

    async def _move_out(self, mt: ManagedTorrent, final: str) -> None:
        try:
            await self.m.set_location([mt.id], final, move=True)
        except BitswarmError as exc:
            log.warning("%s: could not move it out of the incomplete folder: %s", mt.name, exc)

    async def _seed_limits(self, mt: ManagedTorrent, now: float) -> None:
        rt = mt.runtime
        if rt is None or rt.state is not TorrentState.SEEDING:
            return
        idle = now - (mt.last_upload_at or now)
        reason = seed_limit_reason(
            mt.record.options, self.m.settings, ratio=mt.ratio(), idle_seconds=idle
        )
        if reason is not None:
            log.info("%s: stopping: %s", mt.name, reason)
            await self.m.stop([mt.id])

    # ------------------------------------------------------------------ the whole daemon
    def _queue(self, now: float) -> None:
        m = self.m
        stalled_after = m.settings.queue_stalled_minutes * 60
        entries = []
        for mt in m.all():
            running = mt.runtime is not None or mt.task is not None
            if not (running or mt.queued):
                continue
            stalled = (
                running
                and mt.runtime is not None
                and mt.runtime.state is TorrentState.DOWNLOADING
                and now - max(mt.record.activity_at, mt.started_at) > stalled_after
            )
            entries.append(
                QueueEntry(
                    id=mt.id,
                    position=mt.record.queue_position,
                    seeding=mt.is_complete,
                    running=running,
                    forced=mt.forced,
                    stalled=stalled,
                )
            )
        run, wait = pick_queue(entries, m.settings)
        for mt in m.all():
            if mt.id in run and mt.runtime is None and mt.task is None:
                mt.started_at = now
                m.launch(mt)
            elif mt.id in wait and (mt.runtime is not None or mt.task is not None):
                self.spawn(self._requeue(mt))

    async def _requeue(self, mt: ManagedTorrent) -> None:
        await self.m.halt(mt)
        mt.queued = True

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` beside the rounds; `stop` waits for it."""
        task = asyncio.get_running_loop().create_task(coro)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
