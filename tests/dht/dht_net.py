"""An in-memory network of `DhtNode` cores with virtual time: no sockets, no sleeping.

Each node gets its own address (10.x.y.z:6881, or 127.0.0.1 with distinct ports); a
datagram one node returns from `datagrams_to_send` reaches its destination's
`receive_datagram` after `latency` seconds of virtual time, unless it is lost (`loss`, a
probability, drawn from the seeded rng). Timers are honoured: the clock jumps to the next
delivery or the earliest `get_timer()`, whichever comes first.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from bitswarm.dht import DhtConfig, DhtEvent, DhtNode
from bitswarm.dht.krpc import Addr


@dataclass(order=True)
class _Flight:
    at: float
    seq: int
    data: bytes = field(compare=False)
    src: Addr = field(compare=False)
    dst: Addr = field(compare=False)


class DhtNet:
    def __init__(self, n: int, *, seed: int = 1, loss: float = 0.0, latency: float = 0.02,
                 config: DhtConfig | None = None, same_ip: bool = False) -> None:
        self.rng = random.Random(seed)
        self.now = 0.0
        self.loss = loss
        self.latency = latency
        self.addrs: list[Addr] = []
        self.nodes: list[DhtNode] = []
        self.events: list[list[DhtEvent]] = []
        self.sent = 0
        self.dropped = 0
        self._queue: list[_Flight] = []
        self._seq = 0
        self.by_addr: dict[Addr, int] = {}
        for i in range(n):
            self.add_node(config, same_ip=same_ip, index=i)

    def add_node(self, config: DhtConfig | None = None, *, same_ip: bool = False,
                 index: int | None = None, node_id: bytes | None = None) -> int:
        i = len(self.nodes) if index is None else index
        ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        addr = ("127.0.0.1", 20000 + i) if same_ip else (ip, 6881)
        node = DhtNode(config, rng=random.Random(self.rng.getrandbits(64)), now=self.now,
                       node_id=node_id)
        self.addrs.append(addr)
        self.nodes.append(node)
        self.events.append([])
        self.by_addr[addr] = len(self.nodes) - 1
        return len(self.nodes) - 1

    def flush(self) -> None:
        for i, node in enumerate(self.nodes):
            for data, dst in node.datagrams_to_send(now=self.now):
                self.sent += 1
                if self.loss and self.rng.random() < self.loss:
                    self.dropped += 1
                    continue
                self._seq += 1
                heapq.heappush(self._queue, _Flight(self.now + self.latency, self._seq, data,
                                                    self.addrs[i], dst))
            self.events[i].extend(node.events())

    def step(self) -> None:
        """Advance the clock to the next delivery or timer and process it."""
        self.flush()
        next_timer = min(node.get_timer() for node in self.nodes)
        if self._queue and self._queue[0].at <= next_timer:
            flight = heapq.heappop(self._queue)
            self.now = max(self.now, flight.at)
            target = self.by_addr.get(flight.dst)
            if target is not None:
                self.nodes[target].receive_datagram(flight.data, flight.src, now=self.now)
        else:
            self.now = max(self.now, next_timer)
            for node in self.nodes:
                if node.get_timer() <= self.now:
                    node.handle_timer(now=self.now)
        self.flush()

    def run_until(self, done: Callable[[], bool], *, timeout: float = 120.0) -> float:
        """Step until `done()`; returns the virtual seconds it took. Fails on timeout."""
        start = self.now
        while not done():
            if self.now - start > timeout:
                raise AssertionError(f"not done after {timeout} virtual seconds")
            self.step()
        return self.now - start

    def wait_event(self, i: int, kind: type, handle: int, *, timeout: float = 120.0) -> DhtEvent:
        found: list[DhtEvent] = []

        def done() -> bool:
            found.extend(e for e in self.events[i] if isinstance(e, kind)
                         and getattr(e, "handle", None) == handle)
            return bool(found)

        self.run_until(done, timeout=timeout)
        return found[0]

    def join_all(self, *, via: int = 0, timeout: float = 300.0) -> None:
        """Nodes join one after another, each bootstrapping from node `via` (Kademlia's join)."""
        from bitswarm.dht import BootstrapDone

        for i, node in enumerate(self.nodes):
            if i != via:
                handle = node.bootstrap([self.addrs[via]], now=self.now)
                self.wait_event(i, BootstrapDone, handle, timeout=timeout)
