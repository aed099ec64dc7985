"""Peer wire messages as values (BEP 3, BEP 5 port, BEP 6 fast, BEP 10 extended, BEP 52).

Frozen dataclasses, one per message, with `encode_message`, `decode_message` and
`decode_stream`: the vocabulary tests, wire traces and fuzzers speak. The connection's hot
path does not build these; it parses in place. Both go through `codec.py`: every byte here
is framed by `codec.frame_header`, read by its ``read_*`` and written by its ``pack_*``
functions, so a layout lives in one place and the tests check the parser the product runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from . import codec
from .codec import (
    BLOCK_LENGTH,
    KEEPALIVE,
    KEEPALIVE_BYTES,
    MAX_BLOCK_LENGTH,
    MAX_EXTENDED_PAYLOAD,
    PAYLOAD,
    Buffer,
    MessageId,
    length_error,
)

__all__ = [
    "BLOCK_LENGTH",
    "MAX_BLOCK_LENGTH",
    "MAX_EXTENDED_PAYLOAD",
    "AllowedFast",
    "BitfieldMessage",
    "Cancel",
    "Choke",
    "Extended",
    "HashReject",
    "HashRequest",
    "Hashes",
    "Have",
    "HaveAll",
    "HaveNone",
    "Interested",
    "KeepAlive",
    "Message",
    "MessageId",
    "NotInterested",
    "Piece",
    "Port",
    "Reject",
    "Request",
    "Suggest",
    "Unchoke",
    "Unknown",
    "decode_message",
    "decode_stream",
    "encode_message",
    "length_error",
]


@dataclass(frozen=True, slots=True)
class KeepAlive:
    pass


@dataclass(frozen=True, slots=True)
class Choke:
    pass


@dataclass(frozen=True, slots=True)
class Unchoke:
    pass


@dataclass(frozen=True, slots=True)
class Interested:
    pass


@dataclass(frozen=True, slots=True)
class NotInterested:
    pass


@dataclass(frozen=True, slots=True)
class Have:
    index: int


@dataclass(frozen=True, slots=True)
class BitfieldMessage:
    """The raw bitfield payload; `Bitfield.from_bytes` validates it against a piece count."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Request:
    index: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class Piece:
    index: int
    begin: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Cancel:
    index: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class Port:
    port: int


@dataclass(frozen=True, slots=True)
class Suggest:
    index: int


@dataclass(frozen=True, slots=True)
class HaveAll:
    pass


@dataclass(frozen=True, slots=True)
class HaveNone:
    pass


@dataclass(frozen=True, slots=True)
class Reject:
    index: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class AllowedFast:
    index: int


@dataclass(frozen=True, slots=True)
class Extended:
    """A BEP 10 message: `ext_id` 0 is the extended handshake, others are negotiated ids."""

    ext_id: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class HashRequest:
    """BEP 52: `length` hashes of layer `base` (0: 16 KiB leaves) from `index` on, of the
    tree whose root is `pieces_root`, with uncle hashes for `proof_layers` layers."""

    pieces_root: bytes
    base: int
    index: int
    length: int
    proof_layers: int


@dataclass(frozen=True, slots=True)
class HashReject:
    """BEP 52: the peer will not answer the hash request with these fields."""

    pieces_root: bytes
    base: int
    index: int
    length: int
    proof_layers: int


@dataclass(frozen=True, slots=True)
class Hashes:
    """BEP 52: the answer to a hash request: `hashes` is the base hashes then the uncles,
    32 bytes each, concatenated."""

    pieces_root: bytes
    base: int
    index: int
    length: int
    proof_layers: int
    hashes: bytes


@dataclass(frozen=True, slots=True)
class Unknown:
    """A message id this codec does not know; the connection ignores these."""

    message_id: int
    payload: bytes


Message: TypeAlias = (
    KeepAlive | Choke | Unchoke | Interested | NotInterested | Have | BitfieldMessage | Request
    | Piece | Cancel | Port | Suggest | HaveAll | HaveNone | Reject | AllowedFast | Extended
    | HashRequest | HashReject | Hashes | Unknown
)  # fmt: skip

_NO_PAYLOAD: dict[int, Message] = {
    MessageId.CHOKE: Choke(),
    MessageId.UNCHOKE: Unchoke(),
    MessageId.INTERESTED: Interested(),
    MessageId.NOT_INTERESTED: NotInterested(),
    MessageId.HAVE_ALL: HaveAll(),
    MessageId.HAVE_NONE: HaveNone(),
}
_FLAG_IDS = {type(m): msg_id for msg_id, m in _NO_PAYLOAD.items()}
_INDEX_TYPES: dict[int, type[Have | Suggest | AllowedFast]] = {
    MessageId.HAVE: Have,
    MessageId.SUGGEST: Suggest,
    MessageId.ALLOWED_FAST: AllowedFast,
}
_BLOCK_TYPES: dict[int, type[Request | Cancel | Reject]] = {
    MessageId.REQUEST: Request,
    MessageId.CANCEL: Cancel,
    MessageId.REJECT: Reject,
}
_INDEX_IDS = {cls: msg_id for msg_id, cls in _INDEX_TYPES.items()}
_BLOCK_IDS = {cls: msg_id for msg_id, cls in _BLOCK_TYPES.items()}


def _u32(value: int, what: str) -> int:
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{what} {value} does not fit in 32 bits")
    return value


def _hash_fields(
    root: bytes, base: int, index: int, length: int, proofs: int
) -> tuple[bytes, int, int, int, int]:
    if len(root) != 32:
        raise ValueError(f"a pieces root has 32 bytes, not {len(root)}")
    return (
        root,
        _u32(base, "base"),
        _u32(index, "index"),
        _u32(length, "length"),
        _u32(proofs, "proof layers"),
    )


def encode_message(msg: Message) -> bytes:
    """The wire bytes of `msg`, length prefix included.

    Raises:
        ValueError: a field that does not fit its wire width.
    """
    match msg:
        case KeepAlive():
            return KEEPALIVE_BYTES
        case Choke() | Unchoke() | Interested() | NotInterested() | HaveAll() | HaveNone():
            return codec.pack_flag(_FLAG_IDS[type(msg)])
        case Have(index) | Suggest(index) | AllowedFast(index):
            return codec.pack_index(_INDEX_IDS[type(msg)], _u32(index, "index"))
        case (
            Request(index, begin, length)
            | Cancel(index, begin, length)
            | Reject(index, begin, length)
        ):
            return codec.pack_block(
                _BLOCK_IDS[type(msg)],
                _u32(index, "index"),
                _u32(begin, "begin"),
                _u32(length, "length"),
            )
        case Piece(index, begin, data):
            head = codec.pack_piece_header(_u32(index, "index"), _u32(begin, "begin"), len(data))
            return head + data
        case BitfieldMessage(data):
            return codec.pack_bitfield(data)
        case Port(port):
            if not 0 <= port <= 0xFFFF:
                raise ValueError(f"port {port} out of range")
            return codec.pack_port(port)
        case Extended(ext_id, payload):
            if not 0 <= ext_id <= 0xFF:
                raise ValueError(f"extended message id {ext_id} out of range")
            return codec.pack_extended(ext_id, payload)
        case HashRequest(root, base, index, length, proofs) | HashReject(
            root, base, index, length, proofs
        ):
            msg_id = MessageId.HASH_REQUEST if type(msg) is HashRequest else MessageId.HASH_REJECT
            return codec.pack_hash_request(msg_id, *_hash_fields(root, base, index, length, proofs))
        case Hashes(root, base, index, length, proofs, hashes):
            if len(hashes) % 32:
                raise ValueError(f"{len(hashes)} bytes of hashes is not a multiple of 32")
            return codec.pack_hashes(*_hash_fields(root, base, index, length, proofs), hashes)
        case Unknown(message_id, payload):
            if not 0 <= message_id <= 0xFF:
                raise ValueError(f"message id {message_id} out of range")
            return codec.pack_unknown(message_id, payload)


def _decode(data: Buffer, pos: int, msg_id: int, length: int) -> Message:
    """The message of the complete frame at `pos` whose header `frame_header` read."""
    if msg_id == KEEPALIVE:
        return KeepAlive()
    flag = _NO_PAYLOAD.get(msg_id)
    if flag is not None:
        return flag
    at = pos + PAYLOAD
    end = pos + 4 + length
    index_type = _INDEX_TYPES.get(msg_id)
    if index_type is not None:
        return index_type(codec.read_index(data, at))
    block_type = _BLOCK_TYPES.get(msg_id)
    if block_type is not None:
        return block_type(*codec.read_block(data, at))
    match msg_id:
        case MessageId.PIECE:
            index, begin = codec.read_piece_header(data, at)
            return Piece(index, begin, bytes(data[at + 8 : end]))
        case MessageId.BITFIELD:
            return BitfieldMessage(bytes(data[at:end]))
        case MessageId.PORT:
            return Port(codec.read_port(data, at))
        case MessageId.EXTENDED:
            return Extended(data[at], bytes(data[at + 1 : end]))
        case MessageId.HASH_REQUEST:
            return HashRequest(*codec.read_hash_request(data, at))
        case MessageId.HASH_REJECT:
            return HashReject(*codec.read_hash_request(data, at))
        case MessageId.HASHES:
            fields = codec.read_hash_request(data, at)
            return Hashes(*fields, bytes(data[at + codec.HASH_HEADER : end]))
        case _:
            return Unknown(msg_id, bytes(data[at:end]))


def decode_stream(data: Buffer, bitfield_bytes: int = -1) -> tuple[list[Message], int]:
    """Decode every complete message at the start of `data`; return them and the bytes used.

    Raises:
        RemoteProtocolError: a message whose length is wrong for its id.
    """
    out: list[Message] = []
    pos = 0
    while (frame := codec.frame_header(data, pos, 0xFFFFFFFF, bitfield_bytes)) is not None:
        msg_id, length = frame
        out.append(_decode(data, pos, msg_id, length))
        pos += 4 + length
    return out, pos


def decode_message(body: Buffer, bitfield_bytes: int = -1) -> Message:
    """Decode one message body (the bytes after the length prefix; empty means keep-alive).

    Raises:
        RemoteProtocolError: the body's length is wrong for its id.
    """
    frame = len(body).to_bytes(4, "big") + bytes(body)
    return decode_stream(frame, bitfield_bytes)[0][0]  # one frame, complete by construction
