"""`PeerConnection`: one BitTorrent peer connection as a sans-IO state machine (L1).

Bytes in (`receive_data`), events out (`events`), bytes out (`data_to_send`), one timer
(`get_timer` / `handle_timer`), and `send_*` commands, in aioquic's style. A remote that
breaks the protocol never raises into the caller: the connection closes itself and reports
`ConnectionClosed(reason, violation=True)`. Only misuse of this API raises
`LocalProtocolError`. After closing every command is a silent no-op, because a command
racing a close that the remote caused is not a bug.

`PeerConnection` is composed, one module per part: a `PeerState` (`state.py`: phase,
flags, what was negotiated), a `RequestBook` (`requests.py`: requests both ways), an
`Outbox` (`outbox.py`: bytes out), the `Handshaker` (`handshaker.py`: rule 1), the
`Receiver` (`receiver.py`: frames in, rules 2-5) and the `Sender` (`sender.py`: the
commands); it adds the timers (rule 6) and the public face. Every frame after the
handshake is read and written with `codec.py`. A received block is not copied: see
`PieceReceived` for how long its memoryview stays valid.

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

from collections.abc import Callable, Sequence

from ..bitfield import Bitfield
from ..errors import LocalProtocolError, RemoteProtocolError
from . import events as ev
from .codec import KEEPALIVE_BYTES, Buffer, MessageId
from .extension import ExtensionHandshake
from .handshaker import Handshaker
from .outbox import Outbox
from .receiver import (
    MAX_HASH_REQUESTS,
    MAX_PEER_HASH_REQUESTS,
    Receiver,
    hash_request_problem,
)
from .requests import BlockSet, RequestBook
from .sender import Sender
from .state import ConnectionState, PeerState

__all__ = [
    "HANDSHAKE_TIMEOUT",
    "IDLE_TIMEOUT",
    "KEEPALIVE_INTERVAL",
    "MAX_PEER_HASH_REQUESTS",
    "MAX_PEER_REQUESTS",
    "ConnectionState",
    "PeerConnection",
]

HANDSHAKE_TIMEOUT = 20.0
KEEPALIVE_INTERVAL = 90.0
IDLE_TIMEOUT = 180.0
_HASH_REQUEST, _HASHES = int(MessageId.HASH_REQUEST), int(MessageId.HASHES)
_HASH_REJECT = int(MessageId.HASH_REJECT)
MAX_PEER_REQUESTS = 2000


class PeerConnection:
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
        enable_v2: bool = False,
    ) -> None:
        if len(info_hash) != 20 or len(our_peer_id) != 20:
            raise LocalProtocolError("info_hash and our_peer_id must be 20 bytes")
        self.our_peer_id = bytes(our_peer_id)
        self.initiator = initiator
        self.expected_peer_id = expected_peer_id
        self._st = PeerState()
        self._book = RequestBook(max_peer_requests)
        self._out = Outbox(now)
        self._rx = Receiver(self._st, self._book, self._out)
        self._tx = Sender(self._st, self._book, self._out)
        self._hs = Handshaker(
            self._st,
            self._out,
            info_hash=bytes(info_hash),
            our_peer_id=self.our_peer_id,
            enable=(enable_fast, enable_extended, enable_dht),
            initiator=initiator,
            lookup=expected_info_hash_lookup,
            expected_peer_id=expected_peer_id,
            v2=enable_v2,
        )
        self._last_recv = now
        self._recv_dirty = False
        self._handshake_deadline = now + HANDSHAKE_TIMEOUT
        if geometry_known:
            self.set_geometry(num_pieces, piece_length, total_length)

    # ---- state readable by the torrent core (read-only: commands change it) -------------

    @property
    def info_hash(self) -> bytes:
        """The torrent's info-hash (a responder with a lookup adopts the remote's)."""
        return self._hs.info_hash

    @property
    def remote_peer_id(self) -> bytes | None:
        return self._hs.remote_peer_id

    @property
    def remote_reserved(self) -> bytes | None:
        """The remote's 8 reserved handshake bytes (BEP 3), None before its handshake."""
        return self._hs.remote_reserved

    @property
    def state(self) -> ConnectionState:
        return self._st.phase

    @property
    def closed(self) -> bool:
        return self._st.phase is ConnectionState.CLOSED

    @property
    def close_reason(self) -> str | None:
        return self._st.close_reason

    @property
    def am_choking(self) -> bool:
        return self._st.am_choking

    @property
    def am_interested(self) -> bool:
        return self._st.am_interested

    @property
    def peer_choking(self) -> bool:
        return self._st.peer_choking

    @property
    def peer_interested(self) -> bool:
        return self._st.peer_interested

    @property
    def supports_fast(self) -> bool:
        """BEP 6 negotiated: both handshakes set the bit."""
        return self._st.supports_fast

    @property
    def supports_extended(self) -> bool:
        """BEP 10 negotiated: both handshakes set the bit."""
        return self._st.supports_extended

    @property
    def supports_dht(self) -> bool:
        """We enabled DHT and the remote set its bit (BEP 5)."""
        return self._st.supports_dht

    @property
    def our_allowed_fast(self) -> set[int]:
        """Pieces the peer may request while we choke it (BEP 6); a live set."""
        return self._st.our_allowed_fast

    @property
    def peer_allowed_fast(self) -> set[int]:
        """Pieces we may request while the peer chokes us (BEP 6); a live set."""
        return self._st.peer_allowed_fast

    @property
    def remote_extensions(self) -> dict[str, int]:
        """BEP 10 extension name -> the id to send it with (the peer's "m"); a live map."""
        return self._st.remote_extensions

    @property
    def remote_extension_handshake(self) -> ExtensionHandshake | None:
        return self._st.remote_extension_handshake

    @property
    def geometry_known(self) -> bool:
        return self._st.geometry_known

    @property
    def num_pieces(self) -> int:
        return self._st.num_pieces

    @property
    def peer_has(self) -> Bitfield:
        """The pieces the peer announced; the live set."""
        return self._st.peer_has

    @property
    def outstanding_requests(self) -> BlockSet:
        """Our requests awaiting a piece (or reject), as (index, begin, length); a live view."""
        return BlockSet(self._book.ours)

    @property
    def outstanding_count(self) -> int:
        """How many of our requests await a piece (or reject): `len(outstanding_requests)`
        without building the view, for the per-block hot path."""
        return len(self._book.ours)

    @property
    def peer_requests(self) -> BlockSet:
        """The peer's requests awaiting `send_piece`, as (index, begin, length); a live view."""
        return BlockSet(self._book.theirs)

    def set_geometry(self, num_pieces: int, piece_length: int, total_length: int) -> None:
        """Fix the piece layout. A connection made with ``geometry_known=False`` (a magnet
        link: no metadata yet) calls this once the metadata is in; a bitfield, have_all or
        haves the peer sent meanwhile are checked then and reported as if just received.
        """
        try:
            self._rx.set_geometry(num_pieces, piece_length, total_length)
        except RemoteProtocolError as exc:
            self._close(str(exc), violation=True)

    # ---- bytes in, events and bytes out --------------------------------------------------

    def receive_data(self, data: Buffer, *, now: float | None = None) -> None:
        """Feed bytes read from the socket; ``b""`` means the peer closed its end.

        `now`, when the driver passes it, timestamps the peer's activity exactly; without it
        the next `handle_timer` counts the peer as active at that call's time. Block views
        from the previous call's `PieceReceived` events are released first.
        """
        self._rx.release()
        if self._st.phase is ConnectionState.CLOSED:
            return
        if now is not None:
            out = self._out
            out.now = max(out.now, now)
            self._last_recv = out.now
        else:
            self._recv_dirty = True
        if not data:
            self._close("the peer closed the connection", violation=False)
            return
        try:
            if self._st.phase is ConnectionState.HANDSHAKE:
                got = self._hs.feed(data)  # rule 1
                if got is None:
                    return
                event, data = got
                self._rx.events.append(event)
                if not data:
                    return
            self._rx.feed(data)
        except RemoteProtocolError as exc:
            self._close(str(exc), violation=True)

    def events(self) -> list[ev.Event]:
        """Drain every event queued since the last call (from data, timers and commands)."""
        rx = self._rx
        out = rx.events
        if out:
            rx.events = []
            return out
        return []

    def data_to_send(self) -> bytes:
        """Drain the bytes to write to the socket."""
        return self._out.drain()

    def send_handshake(self) -> None:
        """Send our handshake now (initiator). A responder sends its handshake by itself as
        soon as the remote's info-hash is in and accepted (BEP 3), so for it this is a
        no-op; calling it twice is harmless."""
        if self._st.phase is not ConnectionState.CLOSED:
            self._hs.send()

    # ---- timers (rule 6) ---------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The absolute time at which `handle_timer` must run next, or None when closed."""
        phase = self._st.phase
        if phase is ConnectionState.ACTIVE:
            return min(self._out.last_sent + KEEPALIVE_INTERVAL, self._last_recv + IDLE_TIMEOUT)
        if phase is ConnectionState.HANDSHAKE:
            return self._handshake_deadline
        return None

    def handle_timer(self, *, now: float) -> None:
        """Run the timers due at `now`: handshake timeout, keep-alive, idle timeout."""
        phase = self._st.phase
        if phase is ConnectionState.CLOSED:
            return
        out = self._out
        out.now = max(out.now, now)
        if self._recv_dirty:  # bytes came in since the last timer, at an unknown time
            self._recv_dirty = False
            self._last_recv = out.now
        if phase is ConnectionState.HANDSHAKE:
            if now >= self._handshake_deadline:
                self._close("handshake timed out", violation=False)
            return
        if now >= self._last_recv + IDLE_TIMEOUT:
            self._close(f"nothing received for {IDLE_TIMEOUT:.0f} s", violation=False)
        elif now >= out.last_sent + KEEPALIVE_INTERVAL:
            out.write(KEEPALIVE_BYTES)

    # ---- closing -----------------------------------------------------------------------

    def close(self, reason: str) -> None:
        """Close from our side (no-op if already closed); queues `ConnectionClosed`."""
        if self._st.phase is not ConnectionState.CLOSED:
            self._close(reason, violation=False)

    def _close(self, reason: str, *, violation: bool) -> None:
        st = self._st
        st.phase = ConnectionState.CLOSED
        st.close_reason = reason
        self._hs.discard()
        self._rx.discard()
        self._book.theirs.clear()
        self._rx.events.append(ev.ConnectionClosed(reason, violation))

    # ---- commands after the handshake (`sender.py` checks and writes them) -------------

    def send_extended_handshake(self, payload: dict[bytes, object]) -> None:
        """Send a BEP 10 handshake (see `ExtensionHandshake.to_payload`)."""
        self._tx.send_extended_handshake(payload)

    def send_extended(self, ext_id: int, payload: bytes) -> None:
        """Send a BEP 10 message with the id the *peer* assigned (`remote_extensions`)."""
        self._tx.send_extended(ext_id, payload)

    def send_bitfield(self, have: Bitfield) -> None:
        """Announce our pieces. With fast on both sides an empty or full set goes out as
        have_none / have_all (BEP 6); without it an empty set sends nothing (BEP 3 allows
        skipping the bitfield)."""
        self._tx.send_bitfield(have)

    def send_have(self, index: int) -> None:
        self._tx.send_have(index)

    def send_interested(self) -> None:
        self._tx.send_interested()

    def send_not_interested(self) -> None:
        self._tx.send_not_interested()

    def send_unchoke(self) -> None:
        self._tx.send_unchoke()

    def send_choke(self) -> None:
        """Choke the peer. Its pending requests are dropped (BEP 3) or, with fast, rejected
        except for pieces in the allowed-fast set we gave it (BEP 6: choke, then reject)."""
        self._tx.send_choke()

    def send_request(self, index: int, begin: int, length: int) -> bool:
        """Request a block; it stays in `outstanding_requests` until answered. Returns False
        (nothing sent) when the peer chokes us without fast: it would drop the request."""
        return self._tx.send_request(index, begin, length)

    def send_requests(self, blocks: Sequence[tuple[int, int, int]]) -> int:
        """`send_request` for several blocks at once, in one write (the hot path: a refill of
        a fast peer's pipeline is ~100 blocks). Returns how many were sent: all of them, or
        none while the peer chokes us without fast. Every block is checked first, so a
        misuse raises `LocalProtocolError` with nothing sent."""
        return self._tx.send_requests(blocks)

    def send_cancel(self, index: int, begin: int, length: int) -> None:
        """Cancel an outstanding request (no-op if it was already answered)."""
        self._tx.send_cancel(index, begin, length)

    def send_piece(self, index: int, begin: int, data: bytes | memoryview) -> bool:
        """Send a block the peer requested. Returns False (nothing sent) if the request is no
        longer pending (cancelled, or dropped by a choke) — a race, not an error. A
        memoryview must stay unchanged until `data_to_send` is called."""
        return self._tx.send_piece(index, begin, data)

    def send_reject(self, index: int, begin: int, length: int) -> bool:
        """Refuse a pending request (BEP 6). False if it was not pending."""
        return self._tx.send_reject(index, begin, length)

    def send_allowed_fast(self, index: int) -> None:
        """Let the peer request this piece while choked (BEP 6)."""
        self._tx.send_allowed_fast(index)

    def send_suggest(self, index: int) -> None:
        self._tx.send_suggest(index)

    def send_port(self, port: int) -> None:
        """Tell the peer our DHT node's UDP port (BEP 5)."""
        self._tx.send_port(port)

    @property
    def hash_requests(self) -> int:
        """How many of our hash requests await an answer (BEP 52)."""
        return len(self._rx.hash_requests)

    def send_hash_request(
        self, root: bytes, base: int, index: int, length: int, proof_layers: int
    ) -> bool:
        """Ask for hashes (BEP 52); the answer comes as `HashesReceived` or
        `HashRejectReceived`. False (nothing sent) when the same request is already out or
        `MAX_HASH_REQUESTS` are.

        Raises:
            LocalProtocolError: fields no peer may be asked (`hash_request_problem`).
        """
        problem = hash_request_problem(base, index, length, proof_layers)
        if problem is not None:
            raise LocalProtocolError(problem)
        key = (bytes(root), base, index, length, proof_layers)
        pending = self._rx.hash_requests
        if self.closed or key in pending or len(pending) >= MAX_HASH_REQUESTS:
            return False
        self._tx.send_hash_message(_HASH_REQUEST, key[0], key[1:])
        pending.add(key)
        return True

    @property
    def peer_hash_requests(self) -> int:
        """How many of the peer's hash requests await our answer (at most
        `MAX_PEER_HASH_REQUESTS`: one more closes the connection)."""
        return self._rx.peer_hash_count

    def send_hashes(
        self, root: bytes, base: int, index: int, length: int, proof_layers: int, hashes: bytes
    ) -> None:
        """Answer a `HashRequestReceived` with its fields and the hashes (base, then uncles)."""
        self._tx.send_hash_message(_HASHES, root, (base, index, length, proof_layers), hashes)
        self._rx.hash_answered((bytes(root), base, index, length, proof_layers))

    def send_hash_reject(
        self, root: bytes, base: int, index: int, length: int, proof_layers: int
    ) -> None:
        """Refuse a `HashRequestReceived` (BEP 52: every request gets hashes or this)."""
        self._tx.send_hash_message(_HASH_REJECT, root, (base, index, length, proof_layers))
        self._rx.hash_answered((bytes(root), base, index, length, proof_layers))

    def send_keepalive(self) -> None:
        self._tx.send_keepalive()
