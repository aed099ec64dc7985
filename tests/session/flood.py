"""A flood of idle peers for the peer-slot tests (issue 14), shared with tests/interop.

Each flooder completes the BEP 3 handshake, sends `have_none` (BEP 6) and a keep-alive
every half second, never says it is interested, and reconnects when it is dropped or
refused: after `pause` seconds, or at once (`pause=0`). `Flood` runs many of them, each
from its own loopback address (127.0.0.2, 127.0.0.3, ...: on Linux every 127/8 address
is the loopback device's), as flooders from distinct hosts on the internet would; the
downloader under test dials from 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field

from bitswarm.session import TorrentRuntime

__all__ = ["Flood", "flooder", "settled_hosts"]

PSTR = b"\x13BitTorrent protocol"
FAST = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04])  # BEP 10 extended + BEP 6 fast
HAVE_NONE = b"\x00\x00\x00\x01\x0f"
KEEPALIVE = bytes(4)


@dataclass
class Counts:
    attempts: int = 0  # connections opened
    admitted: int = 0  # ... that got the seeder's handshake (a slot or a probation place)


async def flooder(
    port: int, info_hash: bytes, counts: Counts, *, source: str = "127.0.0.1", pause: float = 0.2
) -> None:
    """One idle peer that comes back whenever it is dropped (cancel it to stop)."""
    while True:
        writer = None
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0)
            )
            counts.attempts += 1
            writer.write(PSTR + FAST + info_hash + b"-FL0001-" + os.urandom(12))
            await reader.readexactly(68)  # the seeder's handshake: we hold a place now
            writer.write(HAVE_NONE)
            counts.admitted += 1
            while True:
                try:
                    async with asyncio.timeout(0.5):
                        if not await reader.read(65536):
                            break  # closed by the seeder
                except TimeoutError:
                    writer.write(KEEPALIVE)
                    await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if writer is not None:
                writer.close()
        await asyncio.sleep(pause)


@dataclass
class Flood:
    """`size` flooders against `port`, from 127.0.0.2 on (or all from `source`)."""

    port: int
    info_hash: bytes
    size: int
    pause: float = 0.2
    source: str | None = None
    counts: Counts = field(default_factory=Counts)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def __aenter__(self) -> Flood:
        for i in range(self.size):
            source = self.source or f"127.0.0.{2 + i}"
            self._tasks.append(
                asyncio.create_task(
                    flooder(self.port, self.info_hash, self.counts, source=source, pause=self.pause)
                )
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._tasks, return_exceptions=True)


def settled_hosts(rt: TorrentRuntime) -> list[str]:
    """The hosts of `rt`'s peers that hold a slot (not on probation)."""
    return [p.address[0] for p in rt.protocols if not rt.slots.on_probation(p)]
