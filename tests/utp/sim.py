"""Two `UtpSocket`s joined by a simulated link in virtual time (no sockets, no clock).

The link delays every datagram, and can drop, duplicate and reorder them (seeded, so a
run is repeatable), carry at most `max_size` bytes per datagram (a path MTU) and pass
`rate` bytes per second through a FIFO queue (a bottleneck whose queueing delay LEDBAT
sees). Side "a" connects, side "b" accepts the first SYN.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from bitswarm.utp import (
    Closed,
    DataReceived,
    Eof,
    UtpConfig,
    UtpEvent,
    UtpPacketError,
    UtpSocket,
    decode_packet,
)
from bitswarm.utp.packet import ST_SYN


@dataclass
class LinkSpec:
    delay: float = 0.010
    loss: float = 0.0
    dup: float = 0.0
    jitter: float = 0.0  # extra random delay in [0, jitter): reorders packets
    rate: float | None = None  # bytes/s of the bottleneck (None: unlimited)
    max_size: int | None = None  # datagrams above this are dropped
    drop: Callable[[bytes], bool] | None = None  # a targeted drop (after the checks above)


@dataclass
class Side:
    sock: UtpSocket | None = None
    received: bytearray = field(default_factory=bytearray)
    events: list[UtpEvent] = field(default_factory=list)
    eof: bool = False
    closed: str | None = None
    close_on_eof: bool = True


class Sim:
    """Run `a` and `b` until a condition holds or the virtual clock passes a limit."""

    def __init__(self, spec: LinkSpec | None = None, *, back: LinkSpec | None = None,
                 seed: int = 1, a_seq: int = 1, b_seq: int = 1000, recv_id: int = 7,
                 config: UtpConfig | None = None) -> None:  # fmt: skip
        self.spec = {"b": spec or LinkSpec(), "a": back or spec or LinkSpec()}  # by destination
        self.rng = random.Random(seed)
        self.now = 0.0
        self.config = config
        self.b_seq = b_seq
        self.queue: list[tuple[float, int, str, bytes]] = []
        self.busy_until = {"a": 0.0, "b": 0.0}
        self.counter = 0
        self.sent = {"a": 0, "b": 0}
        self.queue_delays: list[float] = []  # seconds each a->b datagram waited in the queue
        self.a = Side(UtpSocket.connect(recv_id=recv_id, seq_nr=a_seq, now=0.0, config=config))
        self.b = Side()

    def side(self, name: str) -> Side:
        return self.a if name == "a" else self.b

    def _schedule(self, dest: str, data: bytes) -> None:
        spec = self.spec[dest]
        self.sent["b" if dest == "a" else "a"] += 1
        if spec.max_size is not None and len(data) > spec.max_size:
            return
        if self.rng.random() < spec.loss:
            return
        if spec.drop is not None and spec.drop(data):
            return
        at = self.now
        if spec.rate is not None:
            start = max(self.now, self.busy_until[dest])
            self.busy_until[dest] = start + (len(data) + 28) / spec.rate
            if dest == "b":
                self.queue_delays.append(start - self.now)
            at = self.busy_until[dest]
        copies = 2 if self.rng.random() < spec.dup else 1
        for _ in range(copies):
            t = at + spec.delay + self.rng.random() * spec.jitter
            self.counter += 1
            heapq.heappush(self.queue, (t, self.counter, dest, data))

    def _deliver(self, dest: str, data: bytes) -> None:
        side = self.side(dest)
        try:
            pkt = decode_packet(data)
        except UtpPacketError:
            return
        if side.sock is None:
            if dest == "b" and pkt.type == ST_SYN:
                side.sock = UtpSocket.accept(pkt, seq_nr=self.b_seq, now=self.now,
                                             config=self.config)  # fmt: skip
            return
        side.sock.receive_packet(pkt, self.now)

    def _pump(self) -> None:
        for name in ("a", "b"):
            side = self.side(name)
            sock = side.sock
            if sock is None:
                continue
            for _ in range(3):  # events may queue more data (a close on EOF)
                for data in sock.datagrams_to_send(self.now):
                    self._schedule("b" if name == "a" else "a", data)
                events = sock.events()
                if not events:
                    break
                for event in events:
                    side.events.append(event)
                    match event:
                        case DataReceived(data=data):
                            side.received += data
                        case Eof():
                            side.eof = True
                            if side.close_on_eof:
                                sock.close()
                        case Closed(reason=reason):
                            side.closed = reason

    def run(self, until: Callable[[], bool], limit: float = 120.0) -> None:
        self._pump()
        while not until():
            timers = [s.sock.get_timer() for s in (self.a, self.b) if s.sock is not None]
            candidates = [t for t in timers if t is not None]
            if self.queue:
                candidates.append(self.queue[0][0])
            if not candidates:
                return
            nxt = max(self.now, min(candidates))
            if nxt > limit:
                return
            self.now = nxt
            while self.queue and self.queue[0][0] <= self.now:
                _, _, dest, data = heapq.heappop(self.queue)
                self._deliver(dest, data)
            for s in (self.a, self.b):
                if s.sock is not None:
                    timer = s.sock.get_timer()
                    if timer is not None and timer <= self.now:
                        s.sock.handle_timer(self.now)
            self._pump()

    def transfer(self, payload: bytes, limit: float = 300.0) -> None:
        """`a` sends `payload` then closes; run until both sides are closed."""
        assert self.a.sock is not None
        self.a.sock.send(payload)
        self.a.sock.close()
        self.run(lambda: self.a.closed is not None and self.b.closed is not None, limit)
