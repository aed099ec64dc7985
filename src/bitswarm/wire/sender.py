"""The sending half of a peer connection: every `send_*` command and the rules it checks.

Commands check our side of the protocol and raise `LocalProtocolError` on misuse (a bug in
the caller): nothing but the handshakes before both are done; with the fast extension our
bitfield (or have_all/have_none) first [BEP 6]; a bitfield only as our first message
[BEP 3]; requests inside the torrent. Races with the remote are not misuse: a piece for a
request the peer has cancelled meanwhile returns False instead. Once the connection is
closed every command is a silent no-op. Messages are queued as `bytes` (or the caller's
memoryview for block data) and joined once in `data_to_send`.
"""

from __future__ import annotations

from ..bencode import bencode
from ..bitfield import Bitfield
from ..errors import LocalProtocolError
from .messages import (
    BLOCK_MSG,
    HEADER,
    INDEX_MSG,
    KEEPALIVE_BYTES,
    MAX_EXTENDED_PAYLOAD,
    PIECE_HEADER,
    PORT_MSG,
    MessageId,
)
from .receiver import ConnectionState, MessageReceiver

__all__ = ["MessageSender"]

_BYTE = {int(m): HEADER.pack(1, m) for m in MessageId}  # the one-byte messages


class MessageSender(MessageReceiver):
    """Shared state and receiving (from `MessageReceiver`) plus the post-handshake commands."""

    def __init__(self, *, max_peer_requests: int, now: float) -> None:
        super().__init__(max_peer_requests=max_peer_requests, now=now)
        self._handshake_sent = False
        self._bitfield_sent = self._core_sent = False

    def _ready(self, *, core: bool) -> bool:
        """Check a command may run now: False if closed (no-op), raise on misuse."""
        if self.state is ConnectionState.CLOSED:
            return False
        if self.state is ConnectionState.HANDSHAKE or not self._handshake_sent:
            raise LocalProtocolError("messages can only follow both handshakes")
        if core:
            if self.supports_fast and not self._bitfield_sent:
                raise LocalProtocolError("with the fast extension, send_bitfield comes first")
            self._core_sent = True
        return True

    def _need_fast(self, what: str) -> None:
        if not self.supports_fast:
            raise LocalProtocolError(f"{what} needs the fast extension on both sides (BEP 6)")

    def _check_index(self, index: int) -> None:
        problem = self._requests.index_problem(index)
        if problem is not None:
            raise LocalProtocolError(problem)

    def send_extended_handshake(self, payload: dict[bytes, object]) -> None:
        """Send a BEP 10 handshake (see `ExtensionHandshake.to_payload`)."""
        self.send_extended(0, bencode(payload), _handshake=True)

    def send_extended(self, ext_id: int, payload: bytes, *, _handshake: bool = False) -> None:
        """Send a BEP 10 message with the id the *peer* assigned (`remote_extensions`)."""
        if not self._ready(core=False):
            return
        if not self.supports_extended:
            raise LocalProtocolError("the peer did not negotiate the extension protocol")
        if not (0 if _handshake else 1) <= ext_id <= 255:
            raise LocalProtocolError(f"extended message id {ext_id} out of range 1..255")
        if len(payload) > MAX_EXTENDED_PAYLOAD:
            raise LocalProtocolError(f"extended message of {len(payload)} bytes is too large")
        self._write(HEADER.pack(2 + len(payload), 20) + bytes((ext_id,)) + payload)

    def send_bitfield(self, have: Bitfield) -> None:
        """Announce our pieces. With fast on both sides an empty or full set goes out as
        have_none / have_all (BEP 6); without it an empty set sends nothing (BEP 3 allows
        skipping the bitfield)."""
        if not self._ready(core=False):
            return
        if self._bitfield_sent or self._core_sent:
            raise LocalProtocolError("the bitfield must be our first message (BEP 3)")
        if have.size != self.num_pieces:
            raise LocalProtocolError(f"bitfield of {have.size} pieces for {self.num_pieces}")
        self._bitfield_sent = True
        if self.supports_fast and have.none():
            self._write(_BYTE[15])
        elif self.supports_fast and have.all():
            self._write(_BYTE[14])
        elif not have.none():
            bits = have.to_bytes()
            self._write(HEADER.pack(1 + len(bits), 5) + bits)

    def send_have(self, index: int) -> None:
        if self._ready(core=True):
            self._check_index(index)
            self._write(INDEX_MSG.pack(5, 4, index))

    def send_interested(self) -> None:
        if self._ready(core=True) and not self.am_interested:
            self.am_interested = True
            self._write(_BYTE[2])

    def send_not_interested(self) -> None:
        if self._ready(core=True) and self.am_interested:
            self.am_interested = False
            self._write(_BYTE[3])

    def send_unchoke(self) -> None:
        if self._ready(core=True) and self.am_choking:
            self.am_choking = False
            self._write(_BYTE[1])

    def send_choke(self) -> None:
        """Choke the peer. Its pending requests are dropped (BEP 3) or, with fast, rejected
        except for pieces in the allowed-fast set we gave it (BEP 6: choke, then reject)."""
        if not self._ready(core=True) or self.am_choking:
            return
        self.am_choking = True
        self._write(_BYTE[0])
        theirs = self._requests.theirs
        if not self.supports_fast:
            theirs.clear()
            return
        for (index, begin), length in list(theirs.items()):
            if index not in self.our_allowed_fast:
                del theirs[index, begin]
                self._write(BLOCK_MSG.pack(13, 16, index, begin, length))

    def send_request(self, index: int, begin: int, length: int) -> bool:
        """Request a block; it stays in `outstanding_requests` until answered. Returns False
        (nothing sent) when the peer chokes us without fast: it would drop the request."""
        if not self._ready(core=True):
            return False
        book = self._requests
        problem = book.block_problem(index, begin, length) if self.geometry_known else "no geometry"
        if problem is not None:
            raise LocalProtocolError(problem)
        key = (index, begin)
        if key in book.ours:
            raise LocalProtocolError(f"block {index}:{begin} is already requested")
        if self.peer_choking and not self.supports_fast:
            return False
        book.recent.pop(key, None)
        book.ours[key] = length
        self._write(BLOCK_MSG.pack(13, 6, index, begin, length))
        return True

    def send_cancel(self, index: int, begin: int, length: int) -> None:
        """Cancel an outstanding request (no-op if it was already answered)."""
        if self._ready(core=True) and self._requests.cancel(index, begin, length):
            self._write(BLOCK_MSG.pack(13, 8, index, begin, length))

    def send_piece(self, index: int, begin: int, data: bytes | memoryview) -> bool:
        """Send a block the peer requested. Returns False (nothing sent) if the request is no
        longer pending (cancelled, or dropped by a choke) — a race, not an error. A
        memoryview must stay unchanged until `data_to_send` is called."""
        if not self._ready(core=True):
            return False
        size = data.nbytes if isinstance(data, memoryview) else len(data)
        theirs = self._requests.theirs
        want = theirs.get((index, begin))
        if want is None:
            return False
        if want != size:
            raise LocalProtocolError(f"{size} bytes for request {index}:{begin}+{want}")
        del theirs[index, begin]
        self._out.append(PIECE_HEADER.pack(9 + size, 7, index, begin))
        self._out.append(data)
        self._last_sent = self._now
        return True

    def send_reject(self, index: int, begin: int, length: int) -> bool:
        """Refuse a pending request (BEP 6). False if it was not pending."""
        if not self._ready(core=True):
            return False
        self._need_fast("reject")
        if not self._requests.cancel_theirs(index, begin, length):
            return False
        self._write(BLOCK_MSG.pack(13, 16, index, begin, length))
        return True

    def send_allowed_fast(self, index: int) -> None:
        """Let the peer request this piece while choked (BEP 6)."""
        if self._ready(core=True):
            self._need_fast("allowed_fast")
            self._check_index(index)
            self.our_allowed_fast.add(index)
            self._write(INDEX_MSG.pack(5, 17, index))

    def send_suggest(self, index: int) -> None:
        if self._ready(core=True):
            self._need_fast("suggest")
            self._check_index(index)
            self._write(INDEX_MSG.pack(5, 13, index))

    def send_port(self, port: int) -> None:
        """Tell the peer our DHT node's UDP port (BEP 5)."""
        if self._ready(core=False):
            if not 0 < port <= 0xFFFF:
                raise LocalProtocolError(f"port {port} out of range")
            self._write(PORT_MSG.pack(3, 9, port))

    def send_keepalive(self) -> None:
        if self._ready(core=False):
            self._write(KEEPALIVE_BYTES)
