"""Dialing one peer over uTP and TCP at once: happy eyeballs (RFC 8305) for BEP 29.

libtorrent's mixed mode dials uTP and, only once that has failed, TCP: a peer without uTP
(aria2, an old client, a Transmission with uTP off) costs the whole uTP connect timeout,
its SYN and a resend, seconds, on every first dial. Here the attempts are staggered
instead, as RFC 8305 staggers its address families: the preferred transport starts, and if
it has not connected within the *connection attempt delay* the other starts too; the first
to connect wins and the other is cancelled (a uTP SYN in flight dies quietly; a TCP
connect in progress is closed). An attempt that fails early starts the next at once.

The delay is RFC 8305's: 250 ms when nothing is known of the path, else from the round
trip measured on the uTP connections already open (twice it, within 100 ms .. 2 s, the
bounds RFC 8305 section 5 gives), so a far peer's uTP answer is waited for a little
longer. The race is decided at connection set-up (a uTP SYN answered, a TCP SYN-ACK), as
RFC 8305's is, before any BitTorrent byte: so the torrent only ever sees the winner, and
the caller remembers which transport won per peer to try it first next time.

Only the winner's protocol is built: the factory handed to each attempt builds the real
protocol once, and a loser that connects in the same instant gets a protocol that closes
its transport at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

__all__ = ["Connector", "ProtocolFactory", "attempt_delay", "race"]

ProtocolFactory = Callable[[], asyncio.BufferedProtocol]
Connector = Callable[[ProtocolFactory], Coroutine[Any, Any, Any]]

DEFAULT_DELAY = 0.25  # RFC 8305 section 8: "Connection Attempt Delay" 250 ms
MIN_DELAY = 0.1
MAX_DELAY = 2.0


def attempt_delay(rtt: float | None) -> float:
    """How long the first transport has alone, from a typical round trip (seconds)."""
    if rtt is None or rtt <= 0:
        return DEFAULT_DELAY
    return min(max(2 * rtt, DEFAULT_DELAY, MIN_DELAY), MAX_DELAY)


class _Closer(asyncio.BufferedProtocol):
    """The protocol of an attempt that connected after another had won: hang up."""

    def __init__(self) -> None:
        self._buf = bytearray(1024)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self._buf)

    def buffer_updated(self, nbytes: int) -> None:
        return None


class _Once:
    """Builds the real protocol for the first attempt to connect, closers for the rest."""

    def __init__(self, factory: ProtocolFactory) -> None:
        self.factory = factory
        self.winner: str | None = None

    def for_attempt(self, name: str) -> ProtocolFactory:
        def build() -> asyncio.BufferedProtocol:
            if self.winner is None:
                self.winner = name
                return self.factory()
            return _Closer()

        return build


async def race(attempts: Sequence[tuple[str, Connector]], delay: float,
               factory: ProtocolFactory) -> str:  # fmt: skip
    """Connect with the first of `attempts` that succeeds; its name.

    Each attempt is (name, connector); a connector connects and builds its protocol with
    the factory it is given. The next attempt starts `delay` seconds after the previous
    one, or at once when every running one has failed.

    Raises:
        OSError: every attempt failed (the last failure), or TimeoutError from one.
    """
    once = _Once(factory)
    queue = list(attempts)
    running: dict[asyncio.Task[Any], str] = {}
    failure: BaseException | None = None
    loop = asyncio.get_running_loop()

    def start() -> None:
        name, connect = queue.pop(0)
        running[loop.create_task(connect(once.for_attempt(name)))] = name

    try:
        start()
        while running:
            done, _ = await asyncio.wait(
                running, timeout=delay if queue else None, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                start()  # the attempt delay passed: the next transport joins in
                continue
            for task in done:
                name = running.pop(task)
                exc = task.exception()
                if exc is None:
                    return once.winner or name
                if not isinstance(exc, (OSError, TimeoutError)):
                    raise exc
                failure = exc
            if not running and queue:
                start()  # all running attempts failed early: do not wait out the delay
        assert failure is not None
        raise failure
    finally:
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(BaseException):
                await task
