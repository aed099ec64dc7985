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
    def __init__(
        self,
        n: int,
        *,
        seed: int = 1,
        loss: float = 0.0,
        latency: float = 0.02,
        config: DhtConfig | None = None,
        same_ip: bool = False,
    ) -> None:
        self.rng = random.Random(seed)
        self.now = 0.0
        self.loss = loss
        self.latency = latency
        self.addrs: list[Addr] = []
        self.nodes: list[DhtNode] = []
        self.events: list[list[DhtEvent]] = []
        self.event_times: dict[int, float] = {}  # id(event) -> virtual time it came out
        self.sent = 0
        self.dropped = 0
        self._queue: list[_Flight] = []
        self._seq = 0
        self._timers: list[tuple[float, int]] = []  # (deadline, node), may hold stale entries
        self._scheduled: dict[int, float] = {}  # node -> the deadline its live entry holds
        self._dirty = True  # commands were given outside step(): flush every node first
        self.by_addr: dict[Addr, int] = {}
        for i in range(n):
            self.add_node(config, same_ip=same_ip, index=i)

    def add_node(
        self,
        config: DhtConfig | None = None,
        *,
        same_ip: bool = False,
        index: int | None = None,
        node_id: bytes | None = None,
    ) -> int:
        i = len(self.nodes) if index is None else index
        ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        addr = ("127.0.0.1", 20000 + i) if same_ip else (ip, 6881)
        node = DhtNode(
            config, rng=random.Random(self.rng.getrandbits(64)), now=self.now, node_id=node_id
        )
        self.addrs.append(addr)
        self.nodes.append(node)
        self.events.append([])
        self.by_addr[addr] = len(self.nodes) - 1
        self._dirty = True
        return len(self.nodes) - 1

    def flush(self, only: int | None = None) -> None:
        """Collect datagrams and events (from node `only`, or all) and note their timers."""
        for i in range(len(self.nodes)) if only is None else (only,):
            node = self.nodes[i]
            for data, dst in node.datagrams_to_send(now=self.now):
                self.sent += 1
                if self.loss and self.rng.random() < self.loss:
                    self.dropped += 1
                    continue
                self._seq += 1
                heapq.heappush(
                    self._queue,
                    _Flight(self.now + self.latency, self._seq, data, self.addrs[i], dst),
                )
            for event in node.events():
                self.events[i].append(event)
                self.event_times[id(event)] = self.now
            at = node.get_timer()
            if self._scheduled.get(i) != at:
                self._scheduled[i] = at
                heapq.heappush(self._timers, (at, i))

    def _next_timer(self) -> tuple[float, int]:
        """The earliest live timer (entries a node has since moved are dropped)."""
        while self._timers[0][0] != self._scheduled[self._timers[0][1]]:
            heapq.heappop(self._timers)
        return self._timers[0]

    def step(self) -> None:
        """Advance the clock to the next delivery or timer and process it."""
        if self._dirty:
            self.flush()
            self._dirty = False
        timer_at, i = self._next_timer()
        if self._queue and self._queue[0].at <= timer_at:
            flight = heapq.heappop(self._queue)
            self.now = max(self.now, flight.at)
            target = self.by_addr.get(flight.dst)
            if target is None:
                return
            self.nodes[target].receive_datagram(flight.data, flight.src, now=self.now)
            self.flush(target)
        else:
            heapq.heappop(self._timers)
            del self._scheduled[i]
            self.now = max(self.now, timer_at)
            self.nodes[i].handle_timer(now=self.now)
            self.flush(i)

    def run_until(self, done: Callable[[], bool], *, timeout: float = 120.0) -> float:
        """Step until `done()`; returns the virtual seconds it took. Fails on timeout."""
        self._dirty = True
        start = self.now
        while not done():
            if self.now - start > timeout:
                raise AssertionError(f"not done after {timeout} virtual seconds")
            self.step()
        return self.now - start

    def wait_event(self, i: int, kind: type, handle: int, *, timeout: float = 120.0) -> DhtEvent:
        found: list[DhtEvent] = []

        def done() -> bool:
            found.extend(
                e
                for e in self.events[i]
                if isinstance(e, kind) and getattr(e, "handle", None) == handle
            )
            return bool(found)

        self.run_until(done, timeout=timeout)
        return found[0]

    def join_all(self, *, via: int = 0, timeout: float = 300.0, settle: bool = True) -> None:
        """Nodes join one after another, each bootstrapping from node `via` (Kademlia's join).

        With `settle`, the network then runs until every table entry is verified, or for
        three times `verify_after` at most (routing_table.py rule 3: a node that first
        reached another by its own queries is pinged again once `verify_after` has
        passed), so that every node can be found, as in a network that has run a while.
        """
        from bitswarm.dht import BootstrapDone

        for i, node in enumerate(self.nodes):
            if i != via:
                handle = node.bootstrap([self.addrs[via]], now=self.now)
                self.wait_event(i, BootstrapDone, handle, timeout=timeout)
        if settle and any(n.config.verify_after > 0 for n in self.nodes):
            next_check = [self.now]
            give_up = self.now + 3 * max(n.config.verify_after for n in self.nodes)

            def verified() -> bool:
                if self.now >= give_up:
                    return True  # lost pings, crossing queries: near enough
                if self.now < next_check[0]:
                    return False
                next_check[0] = self.now + 5.0
                return all(e.verified or e.failures >= n.table.max_failures
                           for n in self.nodes for e in n.table.live_entries())  # fmt: skip

            self.run_until(verified, timeout=timeout + 600)
