"""`PeerConnection`: one BitTorrent peer connection as a sans-IO state machine (L1).

Bytes in (`receive_data`), events out (`events`), bytes out (`data_to_send`), one timer
(`get_timer` / `handle_timer`), and `send_*` commands, in aioquic's style. A remote that
breaks the protocol never raises into the caller: the connection closes itself and reports
`ConnectionClosed(reason, violation=True)`. Only misuse of this API raises
`LocalProtocolError`. After closing every command is a silent no-op, because a command
racing a close that the remote caused is not a bug.

The class is built in three layers, one module each: `receiver.MessageReceiver` (shared
state and every incoming message), `sender.MessageSender` (the `send_*` commands), and
`PeerConnection` here (construction, the handshake, timers).

Rules (BEP sections in brackets):
1. Handshake [BEP 3]: the protocol string is checked byte by byte; the info-hash must be
   ours, or, for a responder with `expected_info_hash_lookup`, one the lookup accepts (the
   connection then adopts it, and answers with it). A responder sends its handshake by
   itself once the remote's info-hash is in and accepted; an initiator on `send_handshake`.
   Our own peer id coming back means we dialled ourselves.
2. Bitfield, have_all, have_none belong right after the handshake [BEP 3, BEP 6];
   extended and port messages may come before them. With the fast extension the first
   message *must* be one of the three [BEP 6]. A late bitfield or have_all (aria2 sends
   them mid-connection) is taken as haves, a late have_none ignored, as libtorrent and
   Transmission do. Fast messages without fast negotiated,
   and extended messages without BEP 10 negotiated, close the connection [BEP 6, BEP 10].
3. Message sizes are checked from the header, before the body is buffered: fixed-size
   messages exactly, a bitfield at its exact size, blocks up to 128 KiB, extended messages
   up to 1 MiB. Unknown message ids are skipped: BEP 3 defines no rule for them, and
   skipping is what lets new messages be added without breaking old clients.
4. Requests from the peer are checked against the torrent geometry (length 1..128 KiB,
   inside the piece; violations close); at most `max_peer_requests` may be pending. While
   we choke the peer, its requests are dropped without fast [BEP 3], and rejected with fast
   unless the piece is in the allowed-fast set we sent [BEP 6]. `send_choke` drops (BEP 3)
   or rejects (BEP 6) the pending ones; a cancel removes one, and with fast is answered by
   a reject so every request gets exactly one answer [BEP 6].
5. Our requests: a piece must match an outstanding request, or one we cancelled or lost to
   a choke not long ago ("an unexpected piece may arrive", BEP 3), with the same length;
   anything else closes [BEP 6: "MUST close"]. Without fast a choke voids our requests
   [BEP 3]; with fast they stay until a piece or reject answers them [BEP 6], and a reject
   for something we never asked for closes.
6. Timers: 20 s to complete the handshake; a keep-alive after 90 s without sending; close
   after 180 s without hearing anything [BEP 3: keep-alives every two minutes].
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import LocalProtocolError, RemoteProtocolError
from . import events as ev
from .handshake import (
    HANDSHAKE_LENGTH,
    INFO_HASH_END,
    decode_handshake,
    encode_handshake,
    make_reserved,
    protocol_prefix_ok,
)
from .messages import KEEPALIVE_BYTES
from .receiver import ConnectionState
from .requests import BlockSet
from .sender import MessageSender

__all__ = [
    "HANDSHAKE_TIMEOUT",
    "IDLE_TIMEOUT",
    "KEEPALIVE_INTERVAL",
    "MAX_PEER_REQUESTS",
    "ConnectionState",
    "PeerConnection",
]

HANDSHAKE_TIMEOUT = 20.0
KEEPALIVE_INTERVAL = 90.0
IDLE_TIMEOUT = 180.0
MAX_PEER_REQUESTS = 2000


class PeerConnection(MessageSender):
    """The wire protocol with one peer, for one torrent. See the module docstring's rules.

    Extra keyword arguments beyond the shared contract: `expected_peer_id` (the id a
    tracker gave; BEP 3 says to hang up on a mismatch), `max_peer_requests`, and
    `geometry_known=False` for a magnet link whose metadata is not in yet (then call
    `set_geometry` later; `num_pieces`, `piece_length`, `total_length` are ignored).
    """

    def __init__(
        self,
        *,
        info_hash: bytes,
        our_peer_id: bytes,
        num_pieces: int,
        piece_length: int,
        total_length: int,
        initiator: bool,
        enable_fast: bool = True,
        enable_extended: bool = True,
        enable_dht: bool = False,
        expected_info_hash_lookup: Callable[[bytes], bool] | None = None,
        now: float = 0.0,
        expected_peer_id: bytes | None = None,
        max_peer_requests: int = MAX_PEER_REQUESTS,
        geometry_known: bool = True,
    ) -> None:
        if len(info_hash) != 20 or len(our_peer_id) != 20:
            raise LocalProtocolError("info_hash and our_peer_id must be 20 bytes")
        super().__init__(max_peer_requests=max_peer_requests, now=now)
        self.info_hash = bytes(info_hash)
        self.our_peer_id = bytes(our_peer_id)
        self.initiator = initiator
        self.expected_peer_id = expected_peer_id
        self.remote_peer_id: bytes | None = None
        self.remote_reserved: bytes | None = None
        self._enable = (enable_fast, enable_extended, enable_dht)
        self._reserved = make_reserved(fast=enable_fast, extended=enable_extended, dht=enable_dht)
        self._lookup = expected_info_hash_lookup
        self._info_hash_ok = False
        self._last_recv = now
        self._recv_dirty = False
        self._handshake_deadline = now + HANDSHAKE_TIMEOUT
        if geometry_known:
            self.set_geometry(num_pieces, piece_length, total_length)

    # ---- state readable by the torrent core -------------------------------------------

    @property
    def closed(self) -> bool:
        return self.state is ConnectionState.CLOSED

    @property
    def outstanding_requests(self) -> BlockSet:
        """Our requests awaiting a piece (or reject), as (index, begin, length); a live view."""
        return BlockSet(self._requests.ours)

    @property
    def outstanding_count(self) -> int:
        """How many of our requests await a piece (or reject): `len(outstanding_requests)`
        without building the view, for the per-block hot path."""
        return len(self._requests.ours)

    @property
    def peer_requests(self) -> BlockSet:
        """The peer's requests awaiting `send_piece`, as (index, begin, length); a live view."""
        return BlockSet(self._requests.theirs)

    # ---- bytes in ---------------------------------------------------------------------

    def receive_data(
        self, data: bytes | bytearray | memoryview, *, now: float | None = None
    ) -> None:
        """Feed bytes read from the socket; ``b""`` means the peer closed its end.

        `now`, when the driver passes it, timestamps the peer's activity exactly; without it
        the next `handle_timer` counts the peer as active at that call's time.
        """
        if self.state is ConnectionState.CLOSED:
            return
        if now is not None:
            self._now = max(self._now, now)
            self._last_recv = self._now
        else:
            self._recv_dirty = True
        if not data:
            self._close("the peer closed the connection", violation=False)
            return
        try:
            if self.state is ConnectionState.HANDSHAKE:
                rest = self._receive_handshake(data)
                if not rest:
                    return
                data = rest
            self._receive_messages(data)
        except RemoteProtocolError as exc:
            self._close(str(exc), violation=True)

    def _receive_handshake(self, data: bytes | bytearray | memoryview) -> bytes | None:
        buf = self._buf
        buf += data
        if not protocol_prefix_ok(buf):
            raise RemoteProtocolError("not a BitTorrent handshake (wrong protocol string)")
        if not self._info_hash_ok and len(buf) >= INFO_HASH_END:
            self._accept_info_hash(bytes(buf[28:INFO_HASH_END]))
        if len(buf) < HANDSHAKE_LENGTH:
            return None
        hs = decode_handshake(buf)
        rest = bytes(buf[HANDSHAKE_LENGTH:])
        buf.clear()
        if hs.peer_id == self.our_peer_id:
            raise RemoteProtocolError("connected to ourselves (the peer id is our own)")
        if self.expected_peer_id is not None and hs.peer_id != self.expected_peer_id:
            raise RemoteProtocolError("the peer id differs from the one the tracker gave")
        fast, extended, dht = self._enable
        self.remote_peer_id = hs.peer_id
        self.remote_reserved = hs.reserved
        self.supports_fast = fast and hs.supports_fast  # BEP 6: only if both set the bit
        self.supports_extended = extended and hs.supports_extended
        self.supports_dht = dht and hs.supports_dht
        self.state = ConnectionState.ACTIVE
        self._events.append(
            ev.HandshakeReceived(
                self.info_hash, hs.peer_id, self.supports_fast, self.supports_extended,
                self.supports_dht, hs.reserved,
            )
        )  # fmt: skip
        return rest

    def _accept_info_hash(self, info_hash: bytes) -> None:
        if self.initiator or self._lookup is None:
            ok = info_hash == self.info_hash
        else:
            ok = self._lookup(info_hash)
        if not ok:
            raise RemoteProtocolError(f"info-hash {info_hash.hex()} is not a torrent we serve")
        self.info_hash = info_hash
        self._info_hash_ok = True
        if not self._handshake_sent:  # a responder answers once it knows the torrent (BEP 3)
            self._write_handshake()

    # ---- timers -------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The absolute time at which `handle_timer` must run next, or None when closed."""
        if self.state is ConnectionState.ACTIVE:
            return min(self._last_sent + KEEPALIVE_INTERVAL, self._last_recv + IDLE_TIMEOUT)
        if self.state is ConnectionState.HANDSHAKE:
            return self._handshake_deadline
        return None

    def handle_timer(self, *, now: float) -> None:
        """Run the timers due at `now`: handshake timeout, keep-alive, idle timeout."""
        if self.state is ConnectionState.CLOSED:
            return
        self._now = max(self._now, now)
        if self._recv_dirty:  # bytes came in since the last timer, at an unknown time
            self._recv_dirty = False
            self._last_recv = self._now
        if self.state is ConnectionState.HANDSHAKE:
            if now >= self._handshake_deadline:
                self._close("handshake timed out", violation=False)
            return
        if now >= self._last_recv + IDLE_TIMEOUT:
            self._close(f"nothing received for {IDLE_TIMEOUT:.0f} s", violation=False)
        elif now >= self._last_sent + KEEPALIVE_INTERVAL:
            self._write(KEEPALIVE_BYTES)

    # ---- commands -----------------------------------------------------------------------

    def close(self, reason: str) -> None:
        """Close from our side (no-op if already closed); queues `ConnectionClosed`."""
        if self.state is not ConnectionState.CLOSED:
            self._close(reason, violation=False)

    def send_handshake(self) -> None:
        """Send our handshake now (initiator). A responder sends its handshake by itself as
        soon as the remote's info-hash is in and accepted (BEP 3), so for it this is a
        no-op; calling it twice is harmless."""
        if self.state is ConnectionState.CLOSED or self._handshake_sent:
            return
        if self.initiator or self._info_hash_ok:
            self._write_handshake()

    def _write_handshake(self) -> None:
        self._handshake_sent = True
        self._write(encode_handshake(self.info_hash, self.our_peer_id, self._reserved))
