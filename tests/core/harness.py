"""An in-memory swarm of `TorrentCore`s: no sockets, no asyncio, a virtual clock.

Each `Node` is one `TorrentCore` with the bytes it holds; a `Link` joins two nodes with a
pair of sans-IO `PeerConnection`s, one in each core, and a `Pipe` for each direction that
carries bytes at a set rate (or all at once), and can be held to stall a peer. `Swarm`
steps the clock, runs the cores' and the connections' timers, and pumps bytes until
nothing moves.

The harness plays the runtime's part (`session/torrent.py`, `aio/peer.py`), and holds the
core to its contract strictly:

* after a connection reads bytes, its own replies (a responder's handshake, rejects it
  sends by itself) are flushed at once, before the core sees the events;
* after every call into a core its actions are carried out at once (`VerifyPiece` is
  hashed in-process against the torrent's real hashes, `ReadBlock` read from the node's
  bytes, `DisconnectPeer` and `BanPeer` close the link), and then *only* the connections
  of the peers the core reports in `touched_peers()` are flushed. Bytes left queued on any
  other connection raise `UnreportedOutput`: the core sent a peer something without
  reporting it, and a runtime that flushes only touched peers would never write them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bitswarm.bitfield import Bitfield
from bitswarm.core.actions import (
    Action,
    BanPeer,
    DisconnectPeer,
    ReadBlock,
    TorrentCompleted,
    VerifyPiece,
)
from bitswarm.core.torrent import CoreConfig, TorrentCore
from bitswarm.wire import Event, PeerConnection, PieceReceived

INFO_HASH = bytes(range(20))
BLOCK = 16 * 1024


class UnreportedOutput(AssertionError):
    """A core queued bytes on a connection whose peer it did not report as touched."""


@dataclass(frozen=True, slots=True)
class Torrent:
    """The content being shared and its true piece hashes (what a verifier checks)."""

    data: bytes
    piece_length: int
    hashes: tuple[bytes, ...]

    @classmethod
    def random(
        cls, *, pieces: int, piece_length: int, rng: random.Random, short: int = 0
    ) -> Torrent:
        """Random content; the last piece `short` bytes shorter than the others."""
        data = rng.randbytes(pieces * piece_length - short)
        return cls(data, piece_length, tuple(_pieces_sha1(data, piece_length)))

    def blocks(self, piece: int) -> list[tuple[int, int, int]]:
        """(piece, begin, length) of every block of `piece`."""
        span = self.span(piece)
        size = span.stop - span.start
        return [(piece, b, min(BLOCK, size - b)) for b in range(0, size, BLOCK)]

    @property
    def num_pieces(self) -> int:
        return len(self.hashes)

    @property
    def total_length(self) -> int:
        return len(self.data)

    def span(self, piece: int) -> slice:
        start = piece * self.piece_length
        return slice(start, min(start + self.piece_length, self.total_length))


def _pieces_sha1(data: bytes, piece_length: int) -> list[bytes]:
    return [
        hashlib.sha1(data[i : i + piece_length]).digest() for i in range(0, len(data), piece_length)
    ]


@dataclass(slots=True)
class Pipe:
    """One direction of a link: bytes written by `sender`, waiting to be delivered."""

    sender: str
    rate: float | None  # bytes per second; None delivers everything at once
    pending: bytearray = field(default_factory=bytearray)
    budget: float = 0.0
    held: bool = False  # a stalled peer: nothing is delivered while held
    delivered: int = 0

    def refill(self, seconds: float) -> None:
        if self.rate is not None:  # one step's worth, no saving up while idle
            self.budget = min(self.budget + self.rate * seconds, self.rate * seconds)

    def take(self) -> bytes:
        if self.held or not self.pending:
            return b""
        n = len(self.pending) if self.rate is None else min(len(self.pending), int(self.budget))
        if n <= 0:
            return b""
        chunk = bytes(self.pending[:n])
        del self.pending[:n]
        if self.rate is not None:
            self.budget -= n
        self.delivered += n
        return chunk


@dataclass(frozen=True, slots=True)
class Arrived:
    """How a link's log records a block (`PieceReceived`): its payload is not kept, as
    the connection may hand it out as a view of a buffer it reuses."""

    index: int
    begin: int
    length: int


Logged = Event | Arrived
T = TypeVar("T", bound=Logged)
A = TypeVar("A", bound=Action)


@dataclass(slots=True)
class Link:
    """Two nodes' connections to each other; `a` dialled `b`."""

    a: str
    b: str
    conns: dict[str, PeerConnection]  # node name -> its end
    pipes: dict[str, Pipe]  # sender name -> the bytes it sent
    # node name -> (time, event) for every event its end produced, in order
    events: dict[str, list[tuple[float, Logged]]]
    closed: bool = False
    close_reason: str = ""

    def other(self, name: str) -> str:
        return self.b if name == self.a else self.a

    def received(self, name: str, kind: type[T]) -> list[T]:
        """The events of type `kind` that node `name`'s end produced (`Arrived` for
        blocks)."""
        return [e for _, e in self.events[name] if isinstance(e, kind)]


class Node:
    """One peer of the swarm: a `TorrentCore` and the bytes it holds."""

    def __init__(
        self,
        swarm: Swarm,
        name: str,
        *,
        seed: bool,
        content: bytes | None = None,
        config: CoreConfig | None = None,
        read_delay: float = 0.0,
    ) -> None:
        torrent = swarm.torrent
        self.swarm = swarm
        self.name = name
        # what it serves: a seed's may be corrupt (`content`); a leecher's fills as it verifies
        if seed:
            self.store = bytearray(content if content is not None else torrent.data)
        else:
            self.store = bytearray(torrent.total_length)
        self.core = TorrentCore(
            num_pieces=torrent.num_pieces,
            piece_length=torrent.piece_length,
            total_length=torrent.total_length,
            have=Bitfield(torrent.num_pieces, full=seed),
            rng=random.Random(name),
            config=config,
            now=swarm.now,
        )
        self.links: dict[str, Link] = {}  # peer key (the other node's name) -> link
        self.log: list[tuple[float, Action]] = []
        self.failed_pieces: list[int] = []
        self.completed_at: float | None = None
        self.read_delay = read_delay  # a slow disk: a `ReadBlock` is served this much later
        self._reads: list[tuple[float, ReadBlock]] = []

    def __repr__(self) -> str:
        return f"Node({self.name!r})"

    @property
    def complete(self) -> bool:
        return self.core.is_complete

    def actions_of(self, kind: type[A]) -> list[A]:
        """The actions of type `kind` that the core emitted, in order."""
        return [a for _, a in self.log if isinstance(a, kind)]

    def _read(self, action: ReadBlock) -> None:
        start = action.piece * self.swarm.torrent.piece_length + action.begin
        block = bytes(self.store[start : start + action.length])
        self.core.block_read(action.peer, action.piece, action.begin, block, now=self.swarm.now)

    def serve_due_reads(self) -> None:
        """Answer the `ReadBlock`s whose (virtual) disk read is done."""
        if not self._reads:
            return
        due = [a for t, a in self._reads if t <= self.swarm.now]
        self._reads = [(t, a) for t, a in self._reads if t > self.swarm.now]
        for action in due:
            self._read(action)
        self.process()

    def process(self) -> None:
        """Carry out the core's actions, then flush the peers it touched, and only those."""
        swarm, core, torrent = self.swarm, self.core, self.swarm.torrent
        closing: list[tuple[str, str]] = []
        while actions := core.actions():
            for action in actions:
                self.log.append((swarm.now, action))
                match action:
                    case VerifyPiece(piece=piece, data=data):
                        ok = hashlib.sha1(data).digest() == torrent.hashes[piece]
                        if ok:
                            self.store[torrent.span(piece)] = data
                        else:
                            self.failed_pieces.append(piece)
                        core.recycle(data)
                        core.piece_checked(piece, ok, now=swarm.now)
                    case ReadBlock():
                        if self.read_delay:
                            self._reads.append((swarm.now + self.read_delay, action))
                        else:
                            self._read(action)
                    case (
                        DisconnectPeer(peer=peer, reason=reason) | BanPeer(peer=peer, reason=reason)
                    ):
                        closing.append((str(peer), reason))
                    case TorrentCompleted():
                        self.completed_at = swarm.now
                    case _:
                        pass
        for key in core.touched_peers():
            link = self.links.get(str(key))
            if link is not None and not link.closed:
                swarm.write(link, self.name, link.conns[self.name].data_to_send())
        for key, link in self.links.items():
            if link.closed:
                continue
            left = link.conns[self.name].data_to_send()
            if left:
                raise UnreportedOutput(
                    f"{self.name}'s core queued {len(left)} bytes for {key} at "
                    f"t={swarm.now:.2f} without reporting the peer touched"
                )
        for key, reason in closing:
            link = self.links.get(key)
            if link is not None:
                swarm.close(link, by=self.name, reason=reason)


class Swarm:
    """Nodes, links between them, and a virtual clock that advances in fixed steps."""

    def __init__(self, torrent: Torrent, *, step: float = 0.01) -> None:
        self.torrent = torrent
        self.step_seconds = step
        self.now = 0.0
        self.nodes: dict[str, Node] = {}
        self.links: list[Link] = []
        # a read's blocks go to `TorrentCore.handle_blocks` as one run, as `TorrentRuntime`
        # does; False hands each to `handle_peer_event` on its own
        self.batch_blocks = True

    def add(
        self,
        name: str,
        *,
        seed: bool = False,
        content: bytes | None = None,
        config: CoreConfig | None = None,
        read_delay: float = 0.0,
    ) -> Node:
        node = Node(self, name, seed=seed, content=content, config=config, read_delay=read_delay)
        self.nodes[name] = node
        return node

    def connect(self, a: Node, b: Node, *, rate: float | None = None) -> Link:
        """`a` dials `b`; `rate` (bytes/s) limits each direction; handshakes start."""
        torrent = self.torrent
        conns = {
            n.name: PeerConnection(
                info_hash=INFO_HASH,
                our_peer_id=f"-HN0001-{n.name:>12}".encode()[:20],
                num_pieces=torrent.num_pieces,
                piece_length=torrent.piece_length,
                total_length=torrent.total_length,
                initiator=n is a,
                now=self.now,
            )
            for n in (a, b)
        }
        link = Link(
            a.name,
            b.name,
            conns,
            {a.name: Pipe(a.name, rate), b.name: Pipe(b.name, rate)},
            {a.name: [], b.name: []},
        )
        self.links.append(link)
        a.links[b.name] = link
        b.links[a.name] = link
        a.core.add_peer(b.name, conns[a.name], now=self.now, outgoing=True)
        b.core.add_peer(a.name, conns[b.name], now=self.now)
        conns[a.name].send_handshake()  # what the runtime does for a connection it dials
        self.write(link, a.name, conns[a.name].data_to_send())
        return link

    def link(self, a: Node, b: Node) -> Link:
        return a.links[b.name]

    # ---------------------------------------------------------------- moving bytes
    def write(self, link: Link, sender: str, data: bytes) -> None:
        if data and not link.closed:
            link.pipes[sender].pending += data

    def _deliver(self, link: Link, receiver: str, data: bytes) -> None:
        node = self.nodes[receiver]
        conn = link.conns[receiver]
        conn.receive_data(data, now=self.now)
        self.write(link, receiver, conn.data_to_send())  # its own replies, as a driver does
        events = conn.events()
        log = link.events[receiver]
        key = link.other(receiver)
        blocks: list[PieceReceived] = []  # a run of blocks, handed over at once as the runtime does
        for event in events:
            if type(event) is PieceReceived:
                log.append((self.now, Arrived(event.index, event.begin, len(event.data))))
                if self.batch_blocks:
                    blocks.append(event)
                    continue
            else:
                log.append((self.now, event))
            if blocks:
                node.core.handle_blocks(key, blocks, now=self.now)
                blocks = []
            node.core.handle_peer_event(key, event, now=self.now)
        if blocks:
            node.core.handle_blocks(key, blocks, now=self.now)
        node.process()
        if conn.closed and not link.closed:
            self.close(link, by=receiver, reason=conn.close_reason or "closed")

    def pump(self) -> None:
        """Deliver what the pipes allow, both ways, until nothing moves."""
        for _ in range(100_000):
            moved = False
            for link in list(self.links):
                for receiver in (link.a, link.b):
                    if link.closed:
                        break
                    chunk = link.pipes[link.other(receiver)].take()
                    if chunk:
                        moved = True
                        self._deliver(link, receiver, chunk)
            if not moved:
                return
        raise AssertionError("the swarm never went quiet")

    def close(self, link: Link, *, by: str, reason: str, reset: bool = False) -> None:
        """`by` closes the connection: what it wrote still arrives (as a socket's close
        sends its buffer first), unless `reset` (the peer vanished); then both cores
        forget each other."""
        if link.closed:
            return
        pipe = link.pipes[by]
        if not reset and pipe.pending and not pipe.held:
            data = bytes(pipe.pending)
            pipe.pending.clear()
            self._deliver(link, link.other(by), data)
            if link.closed:
                return
        link.closed, link.close_reason = True, reason
        for name in (by, link.other(by)):
            conn = link.conns[name]
            conn.close(reason)
            conn.data_to_send()
            for event in conn.events():
                link.events[name].append((self.now, event))
            node = self.nodes[name]
            node.core.remove_peer(link.other(name), now=self.now)  # the runtime's peer_lost
            node.process()

    # ---------------------------------------------------------------- time
    def step(self) -> None:
        """Advance the clock one step: refill the pipes, run due timers, pump."""
        self.now = round(self.now + self.step_seconds, 9)
        for link in self.links:
            for pipe in link.pipes.values():
                pipe.refill(self.step_seconds)
        for link in list(self.links):
            for name, conn in link.conns.items():
                deadline = conn.get_timer()
                if link.closed or deadline is None or deadline > self.now:
                    continue
                conn.handle_timer(now=self.now)
                self.write(link, name, conn.data_to_send())
                if conn.closed:
                    self.close(link, by=name, reason=conn.close_reason or "timed out")
        for node in self.nodes.values():
            node.serve_due_reads()
            if node.core.get_timer() <= self.now:
                node.core.handle_timer(now=self.now)
                node.process()
        self.pump()

    def run_until(self, done: Callable[[], bool], *, timeout: float) -> None:
        """Step until `done()`; fail if `timeout` virtual seconds pass first."""
        self.pump()
        deadline = self.now + timeout
        while not done():
            if self.now >= deadline:
                raise AssertionError(f"not done after {timeout} virtual seconds")
            self.step()

    def run_for(self, seconds: float) -> None:
        """Step the clock `seconds` forward."""
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.step()
