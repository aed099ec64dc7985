"""Peer wire messages (BEP 3, BEP 5 port, BEP 6 fast, BEP 10 extended): dataclasses and codec.

Every message after the handshake is ``<length: u32 big-endian><id: u8><payload>``; a length
of zero is a keep-alive (BEP 3, "peer protocol"). This module is the L0 codec: pure functions
from bytes to frozen dataclasses and back, with the per-message length rules that
`PeerConnection` also uses to refuse an oversized message before buffering it.

The connection's hot path does not build these dataclasses; it parses in place with the
`struct.Struct` objects exported here. The dataclasses are the codec's public, testable
vocabulary (and what a wire trace or a fuzzer speaks).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeAlias

from ..errors import RemoteProtocolError

__all__ = [
    "BLOCK_LENGTH",
    "FIXED_LENGTHS",
    "MAX_BLOCK_LENGTH",
    "MAX_EXTENDED_PAYLOAD",
    "AllowedFast",
    "BitfieldMessage",
    "Cancel",
    "Choke",
    "Extended",
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

BLOCK_LENGTH = 16 * 1024
"""The block size every client requests (BEP 3: "All current implementations use 2^14")."""
MAX_BLOCK_LENGTH = 128 * 1024
"""The largest block we accept in a request or piece (libtorrent's limit, larger than BEP 3's)."""
MAX_EXTENDED_PAYLOAD = 1024 * 1024
"""The largest BEP 10 message body we accept (a ut_metadata piece is 16 KiB; PEX is small)."""


class MessageId(IntEnum):
    CHOKE = 0
    UNCHOKE = 1
    INTERESTED = 2
    NOT_INTERESTED = 3
    HAVE = 4
    BITFIELD = 5
    REQUEST = 6
    PIECE = 7
    CANCEL = 8
    PORT = 9  # BEP 5
    SUGGEST = 13  # BEP 6
    HAVE_ALL = 14  # BEP 6
    HAVE_NONE = 15  # BEP 6
    REJECT = 16  # BEP 6
    ALLOWED_FAST = 17  # BEP 6
    EXTENDED = 20  # BEP 10


# Exact length prefix (id byte included) of every fixed-size message.
FIXED_LENGTHS: dict[int, int] = {
    0: 1, 1: 1, 2: 1, 3: 1, 4: 5, 6: 13, 8: 13, 9: 3,
    13: 5, 14: 1, 15: 1, 16: 13, 17: 5,
}  # fmt: skip

# Struct objects shared with the connection's parser and writers.
U32 = struct.Struct(">I")
HEADER = struct.Struct(">IB")  # length prefix + id
INDEX_MSG = struct.Struct(">IBI")  # have, suggest, allowed_fast
BLOCK_MSG = struct.Struct(">IBIII")  # request, cancel, reject
PIECE_HEADER = struct.Struct(">IBII")  # piece, without its data
PORT_MSG = struct.Struct(">IBH")
TWO_U32 = struct.Struct(">II")
THREE_U32 = struct.Struct(">III")
KEEPALIVE_BYTES = b"\x00\x00\x00\x00"


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
class Unknown:
    """A message id this codec does not know; the connection ignores these."""

    message_id: int
    payload: bytes


Message: TypeAlias = (
    KeepAlive | Choke | Unchoke | Interested | NotInterested | Have | BitfieldMessage | Request
    | Piece | Cancel | Port | Suggest | HaveAll | HaveNone | Reject | AllowedFast | Extended
    | Unknown
)  # fmt: skip


def _u32(value: int, what: str) -> int:
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{what} {value} does not fit in 32 bits")
    return value


def encode_message(msg: Message) -> bytes:
    """The wire bytes of `msg`, length prefix included.

    Raises:
        ValueError: a field that does not fit its wire width.
    """
    match msg:
        case KeepAlive():
            return KEEPALIVE_BYTES
        case Choke():
            return HEADER.pack(1, MessageId.CHOKE)
        case Unchoke():
            return HEADER.pack(1, MessageId.UNCHOKE)
        case Interested():
            return HEADER.pack(1, MessageId.INTERESTED)
        case NotInterested():
            return HEADER.pack(1, MessageId.NOT_INTERESTED)
        case HaveAll():
            return HEADER.pack(1, MessageId.HAVE_ALL)
        case HaveNone():
            return HEADER.pack(1, MessageId.HAVE_NONE)
        case Have(index):
            return INDEX_MSG.pack(5, MessageId.HAVE, _u32(index, "index"))
        case Suggest(index):
            return INDEX_MSG.pack(5, MessageId.SUGGEST, _u32(index, "index"))
        case AllowedFast(index):
            return INDEX_MSG.pack(5, MessageId.ALLOWED_FAST, _u32(index, "index"))
        case BitfieldMessage(data):
            return HEADER.pack(1 + len(data), MessageId.BITFIELD) + data
        case Request(index, begin, length):
            return _block(MessageId.REQUEST, index, begin, length)
        case Cancel(index, begin, length):
            return _block(MessageId.CANCEL, index, begin, length)
        case Reject(index, begin, length):
            return _block(MessageId.REJECT, index, begin, length)
        case Piece(index, begin, data):
            head = PIECE_HEADER.pack(
                9 + len(data), MessageId.PIECE, _u32(index, "index"), _u32(begin, "begin")
            )
            return head + data
        case Port(port):
            if not 0 <= port <= 0xFFFF:
                raise ValueError(f"port {port} out of range")
            return PORT_MSG.pack(3, MessageId.PORT, port)
        case Extended(ext_id, payload):
            if not 0 <= ext_id <= 0xFF:
                raise ValueError(f"extended message id {ext_id} out of range")
            return HEADER.pack(2 + len(payload), MessageId.EXTENDED) + bytes((ext_id,)) + payload
        case Unknown(message_id, payload):
            if not 0 <= message_id <= 0xFF:
                raise ValueError(f"message id {message_id} out of range")
            return HEADER.pack(1 + len(payload), message_id) + payload


def _block(msg_id: MessageId, index: int, begin: int, length: int) -> bytes:
    return BLOCK_MSG.pack(
        13, msg_id, _u32(index, "index"), _u32(begin, "begin"), _u32(length, "length")
    )


def length_error(msg_id: int, length: int, bitfield_bytes: int) -> str | None:
    """Why a message with this id cannot have this length prefix, or None if it can.

    `bitfield_bytes` is the exact payload size of a bitfield for the torrent (BEP 3); a
    negative value accepts any bitfield size (the piece count is not known yet).
    """
    fixed = FIXED_LENGTHS.get(msg_id)
    if fixed is not None:
        if length != fixed:
            return f"message {msg_id} has length {length}, expected {fixed}"
        return None
    if msg_id == MessageId.PIECE:
        if not 9 < length <= 9 + MAX_BLOCK_LENGTH:
            return f"piece message of length {length} (blocks are 1 to {MAX_BLOCK_LENGTH} bytes)"
    elif msg_id == MessageId.BITFIELD:
        if bitfield_bytes >= 0 and length != 1 + bitfield_bytes:
            return f"bitfield of {length - 1} bytes, expected {bitfield_bytes}"
    elif msg_id == MessageId.EXTENDED and not 2 <= length <= 2 + MAX_EXTENDED_PAYLOAD:
        return f"extended message of length {length}"
    return None


def decode_message(body: bytes | bytearray | memoryview, bitfield_bytes: int = -1) -> Message:
    """Decode one message body (the bytes after the length prefix; empty means keep-alive).

    Raises:
        RemoteProtocolError: the body's length is wrong for its id.
    """
    body = bytes(body)
    if not body:
        return KeepAlive()
    msg_id = body[0]
    problem = length_error(msg_id, len(body), bitfield_bytes)
    if problem is not None:
        raise RemoteProtocolError(problem)
    match msg_id:
        case MessageId.CHOKE:
            return Choke()
        case MessageId.UNCHOKE:
            return Unchoke()
        case MessageId.INTERESTED:
            return Interested()
        case MessageId.NOT_INTERESTED:
            return NotInterested()
        case MessageId.HAVE_ALL:
            return HaveAll()
        case MessageId.HAVE_NONE:
            return HaveNone()
        case MessageId.HAVE:
            return Have(U32.unpack_from(body, 1)[0])
        case MessageId.SUGGEST:
            return Suggest(U32.unpack_from(body, 1)[0])
        case MessageId.ALLOWED_FAST:
            return AllowedFast(U32.unpack_from(body, 1)[0])
        case MessageId.BITFIELD:
            return BitfieldMessage(body[1:])
        case MessageId.REQUEST:
            return Request(*THREE_U32.unpack_from(body, 1))
        case MessageId.CANCEL:
            return Cancel(*THREE_U32.unpack_from(body, 1))
        case MessageId.REJECT:
            return Reject(*THREE_U32.unpack_from(body, 1))
        case MessageId.PIECE:
            index, begin = TWO_U32.unpack_from(body, 1)
            return Piece(index, begin, body[9:])
        case MessageId.PORT:
            return Port(struct.unpack_from(">H", body, 1)[0])
        case MessageId.EXTENDED:
            return Extended(body[1], body[2:])
        case _:
            return Unknown(msg_id, body[1:])


def decode_stream(
    data: bytes | bytearray | memoryview, bitfield_bytes: int = -1
) -> tuple[list[Message], int]:
    """Decode every complete message at the start of `data`; return them and the bytes used.

    Raises:
        RemoteProtocolError: a message whose length is wrong for its id.
    """
    view = memoryview(data)
    out: list[Message] = []
    pos = 0
    end = len(view)
    while end - pos >= 4:
        (length,) = U32.unpack_from(view, pos)
        if end - pos - 4 < length:
            break
        out.append(decode_message(view[pos + 4 : pos + 4 + length], bitfield_bytes))
        pos += 4 + length
    return out, pos
