"""Helpers of the daemon tests: a tracker and a bitswarm seeder in a thread, waiting on
conditions."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from bitswarm.create import create_torrent
from bitswarm.metainfo import Metainfo, parse_torrent
from bitswarm.session import Session, SessionConfig
from bitswarm.tracker_server.embedded import EmbeddedTracker

__all__ = ["Swarm", "wait_until"]

T = TypeVar("T")


def wait_until(condition: Callable[[], bool], within: float, what: str, every: float = 0.1) -> None:
    """Poll `condition` until it holds; fail naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        time.sleep(every)


class Swarm:
    """A tracker and a seeding bitswarm session on loopback, in a thread of their own.

    `torrent(folder)` makes a .torrent announcing to the tracker and seeds it; the daemon
    under test finds the seeder through the tracker, as a real client would.
    """

    def __init__(self, *, upload_limit: float = 0.0) -> None:
        self.upload_limit = upload_limit  # bytes/s of the seeding session (0: none)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.session: Session | None = None
        self.tracker_url = ""

    def __enter__(self) -> Swarm:
        ready = threading.Event()
        errors: list[BaseException] = []

        def main() -> None:
            async def body() -> None:
                self._loop = asyncio.get_running_loop()
                self._stop = asyncio.Event()
                tracker = EmbeddedTracker()
                try:
                    self.tracker_url = await tracker.start()
                    cfg = SessionConfig(
                        listen_host="127.0.0.1", listen_port=0, upload_limit=self.upload_limit
                    )
                    async with Session(cfg) as session:
                        self.session = session
                        ready.set()
                        await self._stop.wait()
                except BaseException as exc:
                    errors.append(exc)
                    ready.set()
                finally:
                    await tracker.close()

            asyncio.run(body())

        self._thread = threading.Thread(target=main, name="swarm", daemon=True)
        self._thread.start()
        assert ready.wait(60), "the swarm did not start"
        if errors:
            raise errors[0]
        return self

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(120)

    def torrent(self, folder: Path, *, piece_length: int = 64 * 1024, seed: bool = True) -> bytes:
        """A .torrent of `folder` announcing to the tracker, seeded unless `seed` is False."""
        raw = create_torrent(
            folder, piece_length=piece_length, version="hybrid", trackers=[[self.tracker_url]]
        )
        if seed:
            meta = parse_torrent(raw)
            self.seed(meta, folder.parent)
        return raw

    def seed(self, meta: Metainfo, save_path: Path) -> None:
        session = self.session
        assert session is not None

        async def add() -> None:
            rt = await session.add(meta, save_path)
            await rt.wait_complete()

        self.run(add())

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(60)
