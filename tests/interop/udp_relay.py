"""A user-space UDP relay that impairs the path between two peers (no netem here).

The relay listens on a port of its own and forwards every datagram from a client to the
`target`, and the target's answers back to the last client, each after `delay` plus a
random share of `jitter` (which reorders them), dropping a share `loss` and duplicating a
share `dup`: seeded, so a run is repeatable. Both directions are impaired alike.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import cast

__all__ = ["UdpRelay"]

Addr = tuple[str, int]


class _Side(asyncio.DatagramProtocol):
    def __init__(self, relay: UdpRelay, outer: bool) -> None:
        self.relay = relay
        self.outer = outer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.relay.received(self.outer, data, (str(addr[0]), int(addr[1])))


class UdpRelay:
    """Forward datagrams between clients and `target` with loss, delay and reordering."""

    def __init__(self, target: Addr, *, loss: float, delay: float, jitter: float, dup: float,
                 seed: int) -> None:  # fmt: skip
        self.target = target
        self.loss, self.delay, self.jitter, self.dup = loss, delay, jitter, dup
        self.rng = random.Random(seed)
        self.client: Addr | None = None
        self.outer = _Side(self, True)  # faces the client
        self.inner = _Side(self, False)  # faces the target
        self.forwarded = self.dropped = 0
        self.drop: Callable[[bool, bytes], bool] | None = None  # a targeted loss (tests)
        self.loop = asyncio.get_running_loop()

    @classmethod
    async def start(cls, target: Addr, *, loss: float = 0.0, delay: float = 0.0,
                    jitter: float = 0.0, dup: float = 0.0, seed: int = 1) -> UdpRelay:  # fmt: skip
        relay = cls(target, loss=loss, delay=delay, jitter=jitter, dup=dup, seed=seed)
        await relay.loop.create_datagram_endpoint(lambda: relay.outer, local_addr=("127.0.0.1", 0))
        await relay.loop.create_datagram_endpoint(lambda: relay.inner, local_addr=("127.0.0.1", 0))
        return relay

    @property
    def address(self) -> Addr:
        assert self.outer.transport is not None
        name = self.outer.transport.get_extra_info("sockname")
        return (str(name[0]), int(name[1]))

    def received(self, from_client: bool, data: bytes, addr: Addr) -> None:
        if from_client:
            self.client = addr
            side, dest = self.inner, self.target
        else:
            if self.client is None:
                return
            side, dest = self.outer, self.client
        if self.drop is not None and self.drop(from_client, data):
            self.dropped += 1
            return
        if self.rng.random() < self.loss:
            self.dropped += 1
            return
        copies = 2 if self.rng.random() < self.dup else 1
        for _ in range(copies):
            wait = self.delay + self.rng.random() * self.jitter
            self.loop.call_later(wait, self._send, side, data, dest)

    def _send(self, side: _Side, data: bytes, dest: Addr) -> None:
        if side.transport is not None and not side.transport.is_closing():
            self.forwarded += 1
            side.transport.sendto(data, dest)

    def close(self) -> None:
        for side in (self.outer, self.inner):
            if side.transport is not None:
                side.transport.close()
