"""BEP 9 metadata exchange (``ut_metadata`` over BEP 10): codec and server (L1).

A magnet link gives only the info-hash; the info dictionary ("the metadata") comes from
peers in 16 KiB pieces and is trusted only once it hashes to the info-hash. The fetching
side, `MetadataFetcher`, lives in `metadata_fetcher.py` and follows rules 2-5.

Rules (BEP 9 sections in brackets):
1. Metadata moves in 16 KiB pieces, the last one possibly shorter ["metadata"]. A message
   is a bencoded dictionary (``msg_type``, ``piece``, for data also ``total_size``); a data
   message carries the piece as raw bytes *after* the dictionary ["data"]. An unknown
   ``msg_type`` is ignored ["extension message"].
2. The fetcher uses a peer only if its extended handshake announced a ``metadata_size`` in
   1..cap (16 MiB by default) ["extension header"]; a bigger or non-positive size flags it.
   No more than one request per peer per piece, and a piece out to one peer at a time.
3. A data piece must answer a request of ours (a late answer to one that timed out is
   fine), carry ``total_size`` equal to the peer's ``metadata_size`` and have exactly the
   piece's length; anything else flags the peer and drops what it sent.
4. A request unanswered for `REQUEST_TIMEOUT` goes to another peer; a peer that timed out
   `MAX_TIMEOUTS` times is no longer asked. A reject rests the peer for `REJECT_BACKOFF`.
5. The whole dictionary must hash to every info-hash we know: SHA-1 for v1 (BEP 3),
   SHA-256 for v2 (BEP 52). On a mismatch it is discarded. A sole contributor is flagged;
   several become suspects, and suspects are asked one at a time, whole (so a second
   failure names its culprit), while any unsuspected peer is available. Once verified,
   pieces kept from failed rounds are compared and the peers that sent wrong ones flagged.
6. The server answers only with metadata it holds in full ["request"], rejects pieces out
   of range, and (flood protection ["reject"]) rejects a peer past a budget of pieces
   times `budget_factor` per `window` seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeAlias

from ..addresses import PeerKey
from ..bencode import bdecode, bencode
from ..errors import BencodeError, LocalProtocolError, RemoteProtocolError
from ..metainfo.model import InfoHashes

__all__ = [
    "DEFAULT_MAX_METADATA_SIZE",
    "METADATA_PIECE_SIZE",
    "MetadataData",
    "MetadataMessage",
    "MetadataMessageType",
    "MetadataProtocolError",
    "MetadataReject",
    "MetadataRequest",
    "MetadataServer",
    "decode_metadata_message",
    "encode_metadata_message",
    "metadata_matches",
    "metadata_piece_count",
    "metadata_piece_length",
]

METADATA_PIECE_SIZE = 16 * 1024
DEFAULT_MAX_METADATA_SIZE = 16 * 1024 * 1024
_MAX_HEADER = 512  # the dictionary of a real message is a few dozen bytes
_MAX_TOKENS = 64  # and holds three or four keys
_MAX_PIECE_INDEX = 2**31 - 1


class MetadataProtocolError(RemoteProtocolError):
    """A ut_metadata message that is not what BEP 9 describes."""


class MetadataMessageType(IntEnum):
    REQUEST = 0
    DATA = 1
    REJECT = 2


@dataclass(frozen=True, slots=True)
class MetadataRequest:
    piece: int


@dataclass(frozen=True, slots=True)
class MetadataData:
    piece: int
    total_size: int
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class MetadataReject:
    piece: int


MetadataMessage: TypeAlias = MetadataRequest | MetadataData | MetadataReject
_KNOWN_TYPES = frozenset(t.value for t in MetadataMessageType)


def metadata_piece_count(size: int) -> int:
    """How many 16 KiB pieces hold `size` bytes of metadata."""
    return -(-size // METADATA_PIECE_SIZE)


def metadata_piece_length(size: int, piece: int) -> int:
    """The length of piece `piece` of `size` bytes of metadata (the last may be short)."""
    return min(METADATA_PIECE_SIZE, size - piece * METADATA_PIECE_SIZE)


def encode_metadata_message(msg: MetadataMessage) -> bytes:
    """The payload of a ut_metadata extended message (without the BEP 10 header)."""
    match msg:
        case MetadataRequest(piece=piece):
            return bencode({b"msg_type": MetadataMessageType.REQUEST.value, b"piece": piece})
        case MetadataReject(piece=piece):
            return bencode({b"msg_type": MetadataMessageType.REJECT.value, b"piece": piece})
        case MetadataData(piece=piece, total_size=total, data=data):
            head = {b"msg_type": MetadataMessageType.DATA.value, b"piece": piece}
            return bencode({**head, b"total_size": total}) + data
    raise LocalProtocolError(f"not a ut_metadata message: {msg!r}")


def _header_end(payload: bytes) -> int:
    """One past the bencoded dictionary that opens `payload`, found by walking the
    structure only (the bytes after it are a raw piece, so `bdecode` cannot see them)."""
    if payload[:1] != b"d":
        raise MetadataProtocolError("a ut_metadata message must start with a dictionary")
    limit = min(len(payload), _MAX_HEADER)
    pos, depth = 0, 0
    while pos < limit:
        c = payload[pos]
        if c in b"dl":
            depth += 1
            if depth > 4:
                break
            pos += 1
        elif c == 0x65:  # 'e'
            depth -= 1
            pos += 1
            if depth == 0:
                return pos
        elif c == 0x69:  # 'i'
            end = payload.find(b"e", pos + 1, limit)
            if end < 0:
                break
            pos = end + 1
        elif 0x30 <= c <= 0x39:
            colon = payload.find(b":", pos, min(pos + 8, limit))
            if colon < 0 or not payload[pos:colon].isdigit():
                break
            pos = colon + 1 + int(payload[pos:colon])
        else:
            break
    raise MetadataProtocolError("the ut_metadata dictionary is malformed or too long")


def _int_field(fields: Mapping[bytes, object], key: bytes, low: int, high: int) -> int:
    value = fields.get(key)
    if not isinstance(value, int) or not low <= value <= high:
        raise MetadataProtocolError(f"ut_metadata {key.decode()!r} is missing or out of range")
    return value


def decode_metadata_message(payload: bytes | bytearray | memoryview) -> MetadataMessage | None:
    """Decode a ut_metadata payload; None for an unknown ``msg_type`` (BEP 9: ignore it).

    Raises:
        MetadataProtocolError: not a BEP 9 message (bad dictionary, missing or out-of-range
            fields, a data piece over 16 KiB, bytes after a request or reject).
    """
    payload = bytes(payload)
    end = _header_end(payload)
    try:
        fields = bdecode(payload[:end], strict=False, max_tokens=_MAX_TOKENS)
    except BencodeError as exc:
        raise MetadataProtocolError(f"ut_metadata dictionary: {exc}") from None
    assert isinstance(fields, dict)  # _header_end checked the leading 'd'
    kind = fields.get(b"msg_type")
    if not isinstance(kind, int):
        raise MetadataProtocolError("ut_metadata message without an integer msg_type")
    if kind not in _KNOWN_TYPES:
        return None
    piece = _int_field(fields, b"piece", 0, _MAX_PIECE_INDEX)
    rest = payload[end:]
    if kind == MetadataMessageType.DATA:
        total = _int_field(fields, b"total_size", 1, 2**63 - 1)
        if not 0 < len(rest) <= METADATA_PIECE_SIZE:
            raise MetadataProtocolError(f"ut_metadata data piece of {len(rest)} bytes")
        return MetadataData(piece, total, rest)
    if rest:
        raise MetadataProtocolError("bytes after a ut_metadata request or reject")
    if kind == MetadataMessageType.REQUEST:
        return MetadataRequest(piece)
    return MetadataReject(piece)


def metadata_matches(raw: bytes, info_hashes: InfoHashes) -> bool:
    """Whether `raw` hashes to every info-hash given (SHA-1 v1, SHA-256 v2; BEP 52)."""
    if info_hashes.v1 is not None and hashlib.sha1(raw).digest() != info_hashes.v1:
        return False
    return info_hashes.v2 is None or hashlib.sha256(raw).digest() == info_hashes.v2


@dataclass(slots=True)
class _Budget:
    window_start: float
    served: int = 0


class MetadataServer:
    """Serves our info dictionary to peers in 16 KiB pieces (rule 6).

    `answer` returns the message to send back with ``conn.send_extended(
    conn.remote_extensions["ut_metadata"], encode_metadata_message(reply))``.
    """

    def __init__(
        self,
        raw: bytes | None = None,
        *,
        info_hashes: InfoHashes | None = None,
        rate_limit: bool = True,
        budget_factor: int = 3,
        window: float = 60.0,
    ) -> None:
        self._raw: bytes | None = None
        self._info_hashes = info_hashes
        self.rate_limit = rate_limit
        self.budget_factor = budget_factor
        self.window = window
        self._budgets: dict[PeerKey, _Budget] = {}
        if raw is not None:
            self.set_metadata(raw)

    @property
    def metadata_size(self) -> int | None:
        """What to announce as ``metadata_size`` in our extended handshake (None: nothing)."""
        return None if self._raw is None else len(self._raw)

    def set_metadata(self, raw: bytes) -> None:
        """Start serving `raw` (e.g. once a magnet download has verified it).

        Raises:
            LocalProtocolError: empty, or not matching the info-hashes given at construction.
        """
        if not raw:
            raise LocalProtocolError("no metadata to serve")
        if self._info_hashes is not None and not metadata_matches(raw, self._info_hashes):
            raise LocalProtocolError("the metadata does not match the torrent's info-hash")
        self._raw = bytes(raw)

    def answer(self, peer: PeerKey, piece: int, *, now: float) -> MetadataData | MetadataReject:
        """The reply to `peer`'s request for `piece`."""
        raw = self._raw
        if raw is None or not 0 <= piece < metadata_piece_count(len(raw)):
            return MetadataReject(piece)
        if self.rate_limit:
            budget = self._budgets.get(peer)
            if budget is None or now - budget.window_start >= self.window:
                budget = self._budgets[peer] = _Budget(now)
            allowed = max(metadata_piece_count(len(raw)) * self.budget_factor, 8)
            if budget.served >= allowed:
                return MetadataReject(piece)
            budget.served += 1
        start = piece * METADATA_PIECE_SIZE
        return MetadataData(piece, len(raw), raw[start : start + METADATA_PIECE_SIZE])

    def remove_peer(self, peer: PeerKey) -> None:
        """Forget `peer`'s budget (call on disconnect)."""
        self._budgets.pop(peer, None)
