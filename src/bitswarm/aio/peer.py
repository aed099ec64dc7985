"""PeerProtocol: the thin asyncio driver between one peer connection (a TCP socket or a uTP
connection, aio/utp_transport.py, either maybe under MSE, aio/mse.py) and one
`PeerConnection`.

It feeds received bytes to the sans-IO connection, hands the resulting events to its
owner (a `PeerOwner`, the torrent runtime), and writes whatever the connection queued.
An accepted socket does not know its torrent yet: it buffers the first 48 bytes of the
handshake (BEP 3: pstrlen, pstr, reserved, info_hash), asks the session which torrent
that info-hash belongs to, and only then builds its `PeerConnection`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from ..wire import events as ev
from ..wire.connection import ConnectionState, PeerConnection
from .utp_transport import UtpTransport

__all__ = ["Admit", "Backlog", "PeerOwner", "PeerProtocol", "TorrentLookup"]

log = logging.getLogger("bitswarm.peer")

HANDSHAKE_PREFIX = 48  # 1 + 19 + 8 reserved + 20 info-hash
WRITE_HIGH_WATER = 4 * 2**20
READ_BUFFER = 256 * 1024  # the most one read takes: what a fast peer's buffer grows to
READ_BUFFER_START = 16 * 1024  # what every connection starts with (most stay idle)


class PeerOwner(Protocol):
    """The torrent runtime that a connected peer belongs to.

    `peer_backlogged` is called after a write that the kernel did not take whole (bytes
    are left in the transport's buffer): the only moment a socket's unsent bytes grow, so
    an owner can tell whether any socket is backed up without asking every one of them.
    """

    def peer_connected(self, proto: PeerProtocol) -> PeerConnection: ...
    def peer_events(self, proto: PeerProtocol, events: list[ev.Event]) -> None: ...
    def peer_lost(self, proto: PeerProtocol, reason: str) -> None: ...
    def peer_backlogged(self, proto: PeerProtocol) -> None: ...
    def download_delay(self, nbytes: int) -> float: ...
    def read_allowance(self) -> int | None: ...


TorrentLookup = Callable[[bytes, tuple[str, int]], "PeerOwner | None"]
Admit = Callable[[tuple[str, int]], bool]


class PeerProtocol(asyncio.BufferedProtocol):
    """One peer socket. Outgoing ones know their owner; accepted ones look it up.

    A buffered protocol: the loop reads into one preallocated buffer per connection and
    the sans-IO core parses it in place, instead of a fresh bytes object per read (which,
    at 256 KiB, costs an allocation and page faults every time). The buffer starts at
    `READ_BUFFER_START` and doubles, up to `READ_BUFFER`, each time a read fills it: a fast
    peer gets large reads after a few, while idle connections (500 of them in P6,
    bench/RESULTS.md) do not each hold 256 KiB of zeros. Blocks are lent from this buffer
    (`PieceReceived.data`) until the connection's next `receive_data`: the events are
    handled before the next read, and a grown buffer replaces the old one, never resizes it.
    """

    def __init__(
        self,
        *,
        owner: PeerOwner | None = None,
        lookup: TorrentLookup | None = None,
        admit: Admit | None = None,
        handshake_timeout: float | None = None,
    ) -> None:
        self.owner = owner
        self._lookup = lookup
        self._admit = admit  # accepted sockets: keep this peer's address? (an IP filter)
        self.conn: PeerConnection | None = None
        self.transport: asyncio.Transport | None = None
        self.address: tuple[str, int] = ("", 0)
        self.outgoing = owner is not None
        self._pending = bytearray()
        self._rbuf = bytearray(READ_BUFFER_START)
        self._rview = memoryview(self._rbuf)
        self._closed = False
        self._holds: set[str] = set()  # why reading is paused ("rate", "disk")
        self._can_write = asyncio.Event()
        self._can_write.set()
        loop = self._loop = asyncio.get_running_loop()  # 3.11 asks getpid() on every lookup
        self.closed_future: asyncio.Future[str] = loop.create_future()
        # True once the peer's BitTorrent handshake arrived, False if closed before it.
        self.handshake_done: asyncio.Future[bool] = loop.create_future()
        # MSE (aio/mse.py sets these): "mse" when the stream began with the encrypted
        # handshake, "none" for plain; `encrypted` when RC4 was chosen; `mse_skey` the
        # torrent the encrypted handshake named (the plain handshake must name the same).
        self.encryption = "none"
        self.encrypted = False
        self.mse_skey: bytes | None = None
        # The transport the bytes travel on: `transport` itself, or the one under the MSE
        # layer's (which sets it first).
        self.carrier: asyncio.BaseTransport | None = None
        self._handshake_timeout = handshake_timeout
        self._handshake_timer: asyncio.TimerHandle | None = None
        self.handshake_timed_out = False  # closed by the timer: the peer stalled

    # ---------------------------------------------------------------- asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.carrier is None:
            self.carrier = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.address = (str(peer[0]), int(peer[1]))
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        if self._handshake_timeout is not None:  # BEP 3 handshake, both ways, in time
            self._handshake_timer = asyncio.get_running_loop().call_later(
                self._handshake_timeout, self._handshake_expired
            )
        if self._admit is not None and not self._admit(self.address):
            self.close("address refused")
            return
        if self.owner is not None:
            self.conn = self.owner.peer_connected(self)
            self.flush()

    def get_buffer(self, sizehint: int) -> memoryview:
        owner = self.owner
        if owner is not None and self.conn is not None:
            allowance = owner.read_allowance()  # a download limit: read no more than it lets
            if allowance is not None and allowance < len(self._rbuf):
                return self._rview[:allowance]
        return self._rview

    def buffer_updated(self, nbytes: int) -> None:
        with self._rview[:nbytes] as data:
            self.data_received(data)
        if nbytes == len(self._rbuf) < READ_BUFFER and not self._closed:
            self._rbuf = bytearray(min(2 * nbytes, READ_BUFFER))  # more was waiting
            self._rview = memoryview(self._rbuf)

    def data_received(self, data: bytes | memoryview) -> None:
        if self._closed:
            return
        if self.conn is None:
            self._pending += data
            if len(self._pending) < HANDSHAKE_PREFIX:
                return
            if not self._route_incoming():
                return
            data = bytes(self._pending)
            self._pending.clear()
        assert self.conn is not None and self.owner is not None
        self.conn.receive_data(data, now=self._loop.time())
        self._dispatch()
        delay = self.owner.download_delay(len(data))
        if delay > 0 and "rate" not in self._holds:
            self.hold_reading("rate")  # a download limit: resume when tokens return
            self._loop.call_later(delay, self.release_reading, "rate")

    def eof_received(self) -> bool | None:
        if self.conn is not None:
            self.conn.receive_data(b"")
            self._dispatch()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        reason = str(exc) if exc else "connection closed"
        self._finish(reason)

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # ---------------------------------------------------------------- driver verbs
    def flush(self) -> None:
        """Write whatever the connection has queued; close the socket if it closed."""
        conn, transport = self.conn, self.transport
        if conn is None or transport is None or self._closed:
            return
        data = conn.data_to_send()
        if data:
            transport.write(data)
            if transport.get_write_buffer_size() and self.owner is not None:
                self.owner.peer_backlogged(self)
        if conn.closed:
            self.close(conn.close_reason or "closed")

    def hold_reading(self, reason: str) -> None:
        """Stop reading from the socket until `release_reading(reason)`; reasons stack."""
        if not self._holds and self.transport is not None and not self._closed:
            self.transport.pause_reading()
        self._holds.add(reason)

    def release_reading(self, reason: str) -> None:
        """Drop one reason to hold; reading resumes once none is left."""
        if reason not in self._holds:
            return
        self._holds.discard(reason)
        if not self._holds and self.transport is not None and not self._closed:
            self.transport.resume_reading()

    @property
    def unsent_bytes(self) -> int:
        """Bytes written that the kernel has not taken yet: more than 0 means the socket's
        send buffer is full, so the link (or the peer) is slower than we send."""
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    async def writable(self) -> None:
        """Wait until the socket's write buffer drains below its high-water mark."""
        await self._can_write.wait()

    @property
    def transport_name(self) -> str:
        """ "utp" over a uTP connection (BEP 29), else "tcp"."""
        return "utp" if isinstance(self.carrier, UtpTransport) else "tcp"

    @property
    def closing(self) -> bool:
        """Closed, or closing: no byte will be read or written any more."""
        return self._closed

    def close(self, reason: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        self._finish(reason)

    # ---------------------------------------------------------------- internals
    def _route_incoming(self) -> bool:
        info_hash = bytes(self._pending[28:48])
        if self.mse_skey is not None and info_hash != self.mse_skey:
            self.close("the handshake names another torrent than the encryption key")
            return False
        owner = self._lookup(info_hash, self.address) if self._lookup else None
        if owner is None:
            log.debug("refused %s:%d: unknown info-hash %s", *self.address, info_hash.hex())
            self.close("unknown info-hash")
            return False
        self.owner = owner
        self.conn = owner.peer_connected(self)
        return True

    def _handshake_expired(self) -> None:
        """Close a socket whose BEP 3 handshake is not complete in time (an accepted one
        that never sent its 68 bytes held a slot of the listening socket for good). The
        timer starts when the transport connects, so under MSE (aio/mse.py) it covers the
        encryption handshake as well."""
        conn = self.conn
        if conn is None or conn.state is ConnectionState.HANDSHAKE:
            self.handshake_timed_out = True
            self.close(f"no handshake within {self._handshake_timeout:g} s")

    def _dispatch(self) -> None:
        conn, owner = self.conn, self.owner
        assert conn is not None and owner is not None
        events = conn.events()
        if not self.handshake_done.done() and conn.remote_peer_id is not None:
            self.handshake_done.set_result(True)
        if events:
            owner.peer_events(self, events)
        self.flush()

    def _finish(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
        self._can_write.set()
        if not self.handshake_done.done():
            self.handshake_done.set_result(False)
        if not self.closed_future.done():
            self.closed_future.set_result(reason)
        if self.owner is not None and self.conn is not None:
            self.owner.peer_lost(self, reason)


class Backlog:
    """The peers whose sockets may hold bytes the kernel has not taken yet.

    An owner `add`s a peer on `PeerOwner.peer_backlogged`, the only moment a socket's
    unsent bytes grow; `any()` asks only those peers, oldest first, and forgets each one
    found drained. So "is any socket backed up?" costs O(1) amortised per call instead of
    asking every peer's socket (each peer is dropped at most once per report).
    """

    def __init__(self) -> None:
        self._peers: dict[PeerProtocol, None] = {}  # insertion-ordered set

    def __len__(self) -> int:
        return len(self._peers)

    def add(self, proto: PeerProtocol) -> None:
        self._peers[proto] = None

    def discard(self, proto: PeerProtocol) -> None:
        self._peers.pop(proto, None)

    def any(self) -> bool:
        """Does the kernel hold back bytes written to any reported peer's socket?"""
        peers = self._peers
        drained: list[PeerProtocol] = []
        saturated = False
        for proto in peers:
            if proto.unsent_bytes:
                saturated = True
                break
            drained.append(proto)
        for proto in drained:
            del peers[proto]
        return saturated
