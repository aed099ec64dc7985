"""Two `PeerConnection`s joined in memory (h11's ConnectionPair, aioquic's client_and_server).

`a` dials (initiator), `b` answers. `shuttle()` moves bytes both ways until both are quiet
and returns the events each side produced. No sockets, no clock: time travel is
`conn.handle_timer(now=conn.get_timer())`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypedDict, Unpack

from bitswarm.bitfield import Bitfield
from bitswarm.wire import Event, PeerConnection
from bitswarm.wire.events import ConnectionClosed, HandshakeReceived, PieceReceived
from bitswarm.wire.handshake import encode_handshake, make_reserved
from bitswarm.wire.messages import Message, encode_message

INFO_HASH = bytes(range(20))
PEER_A = b"-BS0100-aaaaaaaaaaaa"
PEER_B = b"-BS0100-bbbbbbbbbbbb"
PIECE_LENGTH = 64 * 1024
NUM_PIECES = 10
TOTAL_LENGTH = PIECE_LENGTH * (NUM_PIECES - 1) + 1000  # a short last piece


class ConnOptions(TypedDict, total=False):
    """`PeerConnection`'s optional keyword arguments, as the helpers below pass them on."""

    enable_fast: bool
    enable_extended: bool
    enable_dht: bool
    expected_info_hash_lookup: Callable[[bytes], bool] | None
    now: float
    expected_peer_id: bytes | None
    max_peer_requests: int
    geometry_known: bool


class Geometry(TypedDict, total=False):
    """The torrent both sides of a pair share; `make_conn`'s defaults fill what is left out."""

    info_hash: bytes
    num_pieces: int
    piece_length: int
    total_length: int


class CommonOptions(Geometry, ConnOptions, total=False):
    """What `make_pair` passes to both connections."""


def make_conn(
    *,
    initiator: bool,
    peer_id: bytes = PEER_A,
    info_hash: bytes = INFO_HASH,
    num_pieces: int = NUM_PIECES,
    piece_length: int = PIECE_LENGTH,
    total_length: int = TOTAL_LENGTH,
    **kwargs: Unpack[ConnOptions],
) -> PeerConnection:
    return PeerConnection(
        info_hash=info_hash,
        our_peer_id=peer_id,
        num_pieces=num_pieces,
        piece_length=piece_length,
        total_length=total_length,
        initiator=initiator,
        **kwargs,
    )


def kept(events: list[Event]) -> list[Event]:
    """`events` safe to keep past the next `receive_data`: a `PieceReceived` lends its block
    only until then, so a consumer that keeps one keeps a copy."""
    return [replace(e, data=bytes(e.data)) if isinstance(e, PieceReceived) else e for e in events]


@dataclass
class Pair:
    a: PeerConnection
    b: PeerConnection
    a_events: list[Event] = field(default_factory=list)
    b_events: list[Event] = field(default_factory=list)
    clock: float | None = None  # passed as `now` to receive_data when set

    def shuttle(self) -> tuple[list[Event], list[Event]]:
        """Deliver everything queued, both ways, until quiet; return (a's, b's) new events."""
        a_new: list[Event] = []
        b_new: list[Event] = []
        for _ in range(10_000):
            a_new += kept(self.a.events())
            b_new += kept(self.b.events())
            to_b = self.a.data_to_send()
            to_a = self.b.data_to_send()
            if not to_a and not to_b:
                break
            if to_b:
                self.b.receive_data(to_b, now=self.clock)
            if to_a:
                self.a.receive_data(to_a, now=self.clock)
        self.a_events += a_new
        self.b_events += b_new
        return a_new, b_new


def make_pair(
    *,
    a_kwargs: ConnOptions | None = None,
    b_kwargs: ConnOptions | None = None,
    handshake: bool = True,
    bitfields: bool = True,
    **common: Unpack[CommonOptions],
) -> Pair:
    """A pair; by default handshaken, with empty bitfields exchanged (have_none if fast)."""
    a_options: CommonOptions = {**common, **(a_kwargs or {})}
    b_options: CommonOptions = {**common, **(b_kwargs or {})}
    pair = Pair(
        make_conn(initiator=True, peer_id=PEER_A, **a_options),
        make_conn(initiator=False, peer_id=PEER_B, **b_options),
    )
    now = common.get("now")
    if isinstance(now, float):
        pair.clock = now
    if handshake:
        pair.a.send_handshake()
        a_events, b_events = pair.shuttle()
        assert isinstance(a_events[0], HandshakeReceived), a_events
        assert isinstance(b_events[0], HandshakeReceived), b_events
        if bitfields:
            pair.a.send_bitfield(Bitfield(pair.a.num_pieces))
            pair.b.send_bitfield(Bitfield(pair.b.num_pieces))
            pair.shuttle()
    return pair


def handshaken(
    *,
    fast: bool = True,
    extended: bool = True,
    dht: bool = False,
    num_pieces: int = NUM_PIECES,
    piece_length: int = PIECE_LENGTH,
    total_length: int = TOTAL_LENGTH,
    geometry_known: bool = True,
) -> PeerConnection:
    """A lone initiator that has exchanged handshakes with a scripted remote (PEER_B) whose
    reserved bits mirror ours; its queued output and events are drained."""
    conn = make_conn(
        initiator=True,
        enable_fast=fast,
        enable_extended=extended,
        enable_dht=dht,
        num_pieces=num_pieces,
        piece_length=piece_length,
        total_length=total_length,
        geometry_known=geometry_known,
    )
    conn.send_handshake()
    conn.data_to_send()
    conn.receive_data(encode_handshake(INFO_HASH, PEER_B, make_reserved(
        fast=fast, extended=extended, dht=dht)))  # fmt: skip
    events = conn.events()
    assert len(events) == 1 and isinstance(events[0], HandshakeReceived), events
    return conn


def deliver(conn: PeerConnection, *messages: Message) -> None:
    """Deliver encoded `messages` to `conn` in one read."""
    conn.receive_data(b"".join(encode_message(m) for m in messages))


def feed(conn: PeerConnection, *messages: Message) -> list[Event]:
    """Deliver encoded `messages` to `conn` in one read; return its events."""
    deliver(conn, *messages)
    return conn.events()


def closed_for(conn: PeerConnection, reason_part: str) -> None:
    """Assert `conn` closed for a protocol violation whose reason mentions `reason_part`."""
    events = conn.events()
    assert conn.closed, f"still open; events: {events}"
    assert events and isinstance(events[-1], ConnectionClosed), events
    assert events[-1].violation, events[-1]
    assert reason_part in events[-1].reason, events[-1].reason
    assert conn.close_reason == events[-1].reason
