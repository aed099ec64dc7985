"""Events a `PeerConnection` reports: what the remote peer said, decoded and checked.

They are the whole vocabulary between the wire core and the torrent core. Block
coordinates are ``(index, begin, length)`` as in BEP 3's request message.

State-flag messages (choke, unchoke, interested, not interested) and ``have``/
``allowed_fast`` are reported only when they change something, so a peer repeating
itself cannot make the torrent core count a piece's availability twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ..bitfield import Bitfield
from .extension import ExtensionHandshake

__all__ = [
    "AllowedFastReceived",
    "BitfieldReceived",
    "BlockData",
    "BlockKey",
    "CancelReceived",
    "Choked",
    "ConnectionClosed",
    "Event",
    "ExtendedHandshakeReceived",
    "ExtendedMessageReceived",
    "HandshakeReceived",
    "HashRejectReceived",
    "HashRequestReceived",
    "HashesReceived",
    "HaveAllReceived",
    "HaveNoneReceived",
    "HaveReceived",
    "Interested",
    "NotInterested",
    "PieceReceived",
    "PortReceived",
    "RejectReceived",
    "RequestReceived",
    "SuggestReceived",
    "Unchoked",
]

BlockKey: TypeAlias = tuple[int, int, int]
"""A block as (piece index, byte offset in the piece, length)."""

BlockData: TypeAlias = memoryview | bytes
"""A block's bytes in `PieceReceived`: lent by the connection (read-only memoryview), to be
copied out, not kept; events built by hand (tests) may carry `bytes`."""


@dataclass(frozen=True, slots=True)
class HandshakeReceived:
    """The remote's handshake. `supports_*` are *negotiated*: both sides set the bit
    (for DHT: we enabled it and the remote set it); `reserved` holds the remote's raw bits."""

    info_hash: bytes
    peer_id: bytes
    supports_fast: bool
    supports_extended: bool
    supports_dht: bool
    reserved: bytes = bytes(8)


@dataclass(frozen=True, slots=True)
class ExtendedHandshakeReceived:
    fields: ExtensionHandshake


@dataclass(frozen=True, slots=True)
class BitfieldReceived:
    """The peer's pieces (a copy; `PeerConnection.peer_has` is the live set)."""

    bitfield: Bitfield


@dataclass(frozen=True, slots=True)
class HaveAllReceived:
    pass


@dataclass(frozen=True, slots=True)
class HaveNoneReceived:
    pass


@dataclass(frozen=True, slots=True)
class HaveReceived:
    """The peer announced a piece it did not have before."""

    index: int


@dataclass(frozen=True, slots=True)
class Choked:
    """The peer choked us. Without the fast extension our outstanding requests are void
    (BEP 3); they are listed in `dropped` so the torrent core can hand them out again.
    With the fast extension `dropped` is empty: each request is answered by a piece or
    a reject (BEP 6)."""

    dropped: tuple[BlockKey, ...] = ()


@dataclass(frozen=True, slots=True)
class Unchoked:
    pass


@dataclass(frozen=True, slots=True)
class Interested:
    pass


@dataclass(frozen=True, slots=True)
class NotInterested:
    pass


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A valid request the torrent core should serve with `send_piece` (or `send_reject`)."""

    index: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class CancelReceived:
    """The peer cancelled a pending request; `send_piece` for it will now return False.
    With the fast extension the connection has already sent the reject BEP 6 requires."""

    index: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class PieceReceived:
    """A block we requested (or cancelled, or lost to a choke, very recently).

    `data` is *lent*, not copied: a read-only memoryview of the bytes the driver passed to
    `PeerConnection.receive_data` (or, for a block split between two reads, of the
    connection's own buffer). It is valid until the next `receive_data` call on the same
    connection, which releases it (a later use raises `ValueError`): copy the block out
    before then (`TorrentCore` writes it into its piece buffer, the one copy a block
    costs; `bytes(data)` works too), and keep the buffer passed in unchanged until then.
    Events built by hand (tests) may carry `bytes`.
    """

    index: int
    begin: int
    data: BlockData


@dataclass(frozen=True, slots=True)
class RejectReceived:
    """The peer will not serve this outstanding request of ours (BEP 6)."""

    index: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class SuggestReceived:
    index: int


@dataclass(frozen=True, slots=True)
class AllowedFastReceived:
    """We may request this piece even while choked (BEP 6); not a claim the peer has it."""

    index: int


@dataclass(frozen=True, slots=True)
class ExtendedMessageReceived:
    """A BEP 10 message; `ext_id` is the id *we* assigned in our extended handshake."""

    ext_id: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class HashRequestReceived:
    """BEP 52: the peer asks for `length` hashes of layer `base` of the tree of
    `pieces_root` from `index` on, with `proof_layers` of uncles. Checked: `length` is a
    power of two of 2 to 8192 and `index` a multiple of it; the tree's own bounds are the
    torrent's to check (answer with hashes or a hash reject, never silence)."""

    pieces_root: bytes
    base: int
    index: int
    length: int
    proof_layers: int


@dataclass(frozen=True, slots=True)
class HashesReceived:
    """BEP 52: the answer to one of our hash requests (the fields are that request's).
    `hashes` holds the `length` base hashes then the uncles, 32 bytes each; their count
    was checked, their values were not (`merkle.verify_hashes` does that)."""

    pieces_root: bytes
    base: int
    index: int
    length: int
    proof_layers: int
    hashes: bytes


@dataclass(frozen=True, slots=True)
class HashRejectReceived:
    """BEP 52: the peer will not answer our hash request with these fields."""

    pieces_root: bytes
    base: int
    index: int
    length: int
    proof_layers: int


@dataclass(frozen=True, slots=True)
class PortReceived:
    """The peer's DHT node listens on this UDP port (BEP 5)."""

    port: int


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The connection is over. `violation` is True when the peer broke the protocol
    (grounds to ban it), False for end of stream, timeouts and our own `close`."""

    reason: str
    violation: bool


Event: TypeAlias = (
    HandshakeReceived | ExtendedHandshakeReceived | BitfieldReceived | HaveAllReceived
    | HaveNoneReceived | HaveReceived | Choked | Unchoked | Interested | NotInterested
    | RequestReceived | CancelReceived | PieceReceived | RejectReceived | SuggestReceived
    | AllowedFastReceived | ExtendedMessageReceived | PortReceived | ConnectionClosed
    | HashRequestReceived | HashesReceived | HashRejectReceived
)  # fmt: skip
