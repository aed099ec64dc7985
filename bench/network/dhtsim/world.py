"""A simulated Internet for `DhtNode` cores: virtual time, per-pair latency, NAT, churn.

One event queue (a heap of ``(time, seq, kind, a, b, c)`` tuples) holds three kinds of
event: a datagram reaching an address, a node's timer coming due, and an action of the
scenario (a host joining or leaving, a lookup starting). The clock jumps from one event
to the next; nothing sleeps. Each host is driven the way aio/dht.py drives a node on a
real socket: after every datagram or timer the world collects `datagrams_to_send`,
`events` and `get_timer` and schedules what they ask for.

The network's rules:

* A datagram to an address nobody holds (the host left) is lost. Each datagram is also
  lost with probability `loss`. A datagram takes its pair's one-way delay (model.py).
* A host behind NAT sends freely, and each datagram it sends opens a pinhole for answers
  from that address for `nat_timeout` seconds (an address-restricted NAT, the common
  home-router behaviour); anything else sent to it is dropped. So it can query and be
  answered, and a node it just queried can ping it back, but nobody reaches it first.
* A host that leaves keeps its saved state (`DhtNode.save_state`, as bitswarm keeps
  dht.state); when it comes back with its old id, it loads that state first.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bitswarm.dht import DhtConfig, DhtEvent, DhtNode
from bitswarm.dht.krpc import Addr

from .model import Latency

__all__ = ["Host", "NetStats", "World"]

_DELIVER, _TIMER, _ACTION = 0, 1, 2
_PRUNE_HOLES = 512  # prune a NAT host's expired pinholes when it holds more than this


class Host:
    """One machine: its address, whether it sits behind NAT, and its node while online."""

    __slots__ = ("addr", "holes", "index", "nat", "node", "saved", "sessions", "timer_at")

    def __init__(self, index: int, addr: Addr, nat: bool) -> None:
        self.index = index
        self.addr = addr
        self.nat = nat
        self.node: DhtNode | None = None
        self.timer_at: float | None = None
        self.holes: dict[Addr, float] = {}  # NAT pinholes: remote address -> open until
        self.saved: bytes | None = None  # save_state() of the last session
        self.sessions = 0

    @property
    def online(self) -> bool:
        return self.node is not None


@dataclass
class NetStats:
    sent: int = 0
    delivered: int = 0
    lost: int = 0  # random loss
    to_offline: int = 0  # nobody at that address any more
    nat_blocked: int = 0  # unsolicited datagrams a NAT dropped
    timers: int = 0


class World:
    """Hosts, the event queue and the clock."""

    def __init__(self, *, seed: int, latency: Latency, config: DhtConfig, loss: float = 0.0,
                 nat_timeout: float = 120.0) -> None:  # fmt: skip
        self.rng = random.Random(seed)
        self.latency = latency
        self.config = config
        self.loss = loss
        self.nat_timeout = nat_timeout
        self.now = 0.0
        self.hosts: list[Host] = []
        self.online: dict[Addr, Host] = {}
        self.stats = NetStats()
        self.on_event: Callable[[Host, DhtEvent], None] = lambda host, event: None
        self._queue: list[tuple[float, int, int, Any, Any, Any]] = []
        self._seq = 0

    # --- hosts --------------------------------------------------------------------------

    def new_host(self, *, nat: bool) -> Host:
        i = len(self.hosts)
        # 10.0.0.0/8: one address per host; BEP 42 exempts it, as it would a LAN.
        host = Host(i, (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", 6881), nat)
        self.hosts.append(host)
        return host

    def start(self, host: Host, bootstrap: list[Addr], *, keep_id: bool = False) -> None:
        """Bring `host` online: a fresh id, or (`keep_id`) its saved id and table."""
        node = DhtNode(self.config, rng=random.Random(self.rng.getrandbits(64)), now=self.now)
        if keep_id and host.saved is not None:
            node.load_state(host.saved, now=self.now)
        host.node = node
        host.timer_at = None
        host.holes.clear()
        host.sessions += 1
        self.online[host.addr] = host
        if bootstrap or keep_id:
            node.bootstrap(bootstrap, now=self.now)
        self._flush(host)

    def stop(self, host: Host) -> None:
        """Take `host` offline (its datagrams in flight are lost); its state is kept."""
        if host.node is None:
            return
        host.saved = host.node.save_state()
        host.node = None
        host.timer_at = None
        del self.online[host.addr]

    # --- the clock ----------------------------------------------------------------------

    def at(self, when: float, action: Callable[[], None]) -> None:
        """Run `action` at virtual time `when`."""
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, _ACTION, action, None, None))

    def command(self, host: Host, fn: Callable[[DhtNode], int]) -> int:
        """Give `host`'s node a command now (``fn(node)``) and send what it produces."""
        assert host.node is not None
        handle = fn(host.node)
        self._flush(host)
        return handle

    def run_until(self, end: float) -> None:
        """Process every event up to virtual time `end`; the clock then reads `end`."""
        queue = self._queue
        online = self.online
        pop = heapq.heappop
        stats = self.stats
        while queue and queue[0][0] <= end:
            when, _, kind, a, b, c = pop(queue)
            self.now = when
            if kind == _DELIVER:
                host = online.get(a)
                if host is None or host.node is None:
                    stats.to_offline += 1
                    continue
                if host.nat and host.holes.get(c, -1.0) < when:
                    stats.nat_blocked += 1
                    continue
                stats.delivered += 1
                host.node.receive_datagram(b, c, now=when)
                self._flush(host)
            elif kind == _TIMER:
                host = a
                if host.node is None or host.timer_at != b:
                    continue  # stale: the node left or moved its timer
                host.timer_at = None
                stats.timers += 1
                host.node.handle_timer(now=when)
                self._flush(host)
            else:
                a()
        self.now = max(self.now, end)

    # --- internals ----------------------------------------------------------------------

    def _flush(self, host: Host) -> None:
        node = host.node
        assert node is not None
        now = self.now
        out = node.datagrams_to_send(now=now)
        if out:
            stats = self.stats
            online = self.online
            queue = self._queue
            rng = self.rng
            one_way = self.latency.one_way
            src = host.addr
            for data, dst in out:
                stats.sent += 1
                if host.nat:
                    host.holes[dst] = now + self.nat_timeout
                target = online.get(dst)
                if target is None:
                    stats.to_offline += 1
                    continue
                if self.loss and rng.random() < self.loss:
                    stats.lost += 1
                    continue
                self._seq += 1
                heapq.heappush(queue, (now + one_way(host.index, target.index), self._seq,
                                       _DELIVER, dst, data, src))  # fmt: skip
            if host.nat and len(host.holes) > _PRUNE_HOLES:
                host.holes = {a: t for a, t in host.holes.items() if t >= now}
        events = node.events()
        if events:
            for event in events:
                self.on_event(host, event)
        at = node.get_timer()
        if at != host.timer_at:
            host.timer_at = at
            self._seq += 1
            heapq.heappush(self._queue, (at, self._seq, _TIMER, host, at, None))
