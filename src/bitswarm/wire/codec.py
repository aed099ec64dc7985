"""The peer wire codec (BEP 3, BEP 5 port, BEP 6 fast, BEP 10 extended, BEP 52 hashes).

Every message after the handshake is ``<length: u32 big-endian><id: u8><payload>``; a length
of zero is a keep-alive (BEP 3, "peer protocol"). This module is the one place those layouts
live. `PeerConnection` parses what it receives with `frame_header` and the ``read_*``
functions, in place on a memoryview (no message object, no copy), and builds what it sends
with the ``pack_*`` functions; the value objects of `messages.py` (for tests, traces and
tools) are encoded and decoded through the same functions, so there is one parser.

Offsets: `frame_header` takes the offset of a frame's length prefix; the ``read_*``
functions take the offset of the payload, the byte after the message id (`PAYLOAD`
bytes after the frame's start).
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import Final, TypeAlias

from ..errors import RemoteProtocolError

__all__ = [
    "BLOCK_LENGTH",
    "FIXED_LENGTHS",
    "HASH_HEADER",
    "KEEPALIVE",
    "KEEPALIVE_BYTES",
    "MAX_BLOCK_LENGTH",
    "MAX_EXTENDED_PAYLOAD",
    "MAX_HASHES",
    "MAX_PIECE_MESSAGE",
    "PAYLOAD",
    "Buffer",
    "MessageId",
    "frame_header",
    "length_error",
    "max_frame_length",
    "pack_bitfield",
    "pack_block",
    "pack_extended",
    "pack_flag",
    "pack_hash_request",
    "pack_hashes",
    "pack_index",
    "pack_piece_header",
    "pack_port",
    "pack_unknown",
    "read_block",
    "read_hash_request",
    "read_index",
    "read_piece_header",
    "read_port",
    "uncle_count",
    "unpack_piece_header",
]

Buffer: TypeAlias = bytes | bytearray | memoryview
"""What the codec reads from: any contiguous byte buffer, parsed in place."""

BLOCK_LENGTH: Final = 16 * 1024
"""The block size every client requests (BEP 3: "All current implementations use 2^14")."""
MAX_BLOCK_LENGTH: Final = 128 * 1024
"""The largest block we accept in a request or piece (libtorrent's limit, larger than BEP 3's)."""
MAX_EXTENDED_PAYLOAD: Final = 1024 * 1024
"""The largest BEP 10 message body we accept (a ut_metadata piece is 16 KiB; PEX is small)."""
MAX_PIECE_MESSAGE: Final = 9 + MAX_BLOCK_LENGTH
"""The length prefix of the largest piece message: id, index, begin and the block."""
PAYLOAD: Final = 5
"""From a frame's start to its payload: the length prefix and the id byte."""
KEEPALIVE: Final = -1
"""The id `frame_header` gives a keep-alive, which has none (BEP 3: a zero length)."""
KEEPALIVE_BYTES: Final = b"\x00\x00\x00\x00"


class MessageId(IntEnum):
    """The id byte of each message (BEP 3, and BEP 5, 6, 10 where noted)."""

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
    HASH_REQUEST = 21  # BEP 52
    HASHES = 22  # BEP 52
    HASH_REJECT = 23  # BEP 52


_M = MessageId
FIXED_LENGTHS: Final[dict[int, int]] = {
    int(msg_id): length
    for msg_id, length in (
        (_M.CHOKE, 1),
        (_M.UNCHOKE, 1),
        (_M.INTERESTED, 1),
        (_M.NOT_INTERESTED, 1),
        (_M.HAVE, 5),
        (_M.REQUEST, 13),
        (_M.CANCEL, 13),
        (_M.PORT, 3),
        (_M.SUGGEST, 5),
        (_M.HAVE_ALL, 1),
        (_M.HAVE_NONE, 1),
        (_M.REJECT, 13),
        (_M.ALLOWED_FAST, 5),
        (_M.HASH_REQUEST, 49),
        (_M.HASH_REJECT, 49),
    )
}
"""The exact length prefix (id byte included) of every fixed-size message (keyed by plain
ints: on Python 3.11 hashing an IntEnum member runs Python code, and this is per frame)."""
# the ids `length_error` and the piece header use on every block, as plain ints
_PIECE, _BITFIELD, _EXTENDED = int(_M.PIECE), int(_M.BITFIELD), int(_M.EXTENDED)
_HASHES = int(_M.HASHES)

HASH_HEADER: Final = 48
"""The payload of a hash request or hash reject, and the head of a hashes message (BEP 52):
pieces root (32 bytes), then base layer, index, length and proof layers (u32 each)."""
MAX_HASHES: Final = 8192
"""The most base-layer hashes a hash request may ask for (libtorrent's bound: 8192 leaves
is a 128 MiB piece; BEP 52 says a length SHOULD NOT exceed 512)."""
_MAX_UNCLES: Final = 64  # a tree of 2**64 leaves is far beyond any file
_MAX_HASHES_MESSAGE: Final = 1 + HASH_HEADER + 32 * (MAX_HASHES + _MAX_UNCLES)

_U32 = struct.Struct(">I")
_HEADER = struct.Struct(">IB")  # length prefix + id
_INDEX = struct.Struct(">IBI")  # have, suggest, allowed_fast
_BLOCK = struct.Struct(">IBIII")  # request, cancel, reject
_PIECE_HEADER = struct.Struct(">IBII")  # piece, without its block
_PORT = struct.Struct(">IBH")
_FLAGS = {int(m): _HEADER.pack(1, m) for m in MessageId}  # the one-byte messages

# ---- reading: the frame header, then the payload's fields ---------------------------------


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
    if msg_id == _PIECE:
        if not 9 < length <= MAX_PIECE_MESSAGE:
            return f"piece message of length {length} (blocks are 1 to {MAX_BLOCK_LENGTH} bytes)"
    elif msg_id == _BITFIELD:
        if bitfield_bytes >= 0 and length != 1 + bitfield_bytes:
            return f"bitfield of {length - 1} bytes, expected {bitfield_bytes}"
    elif msg_id == _EXTENDED and not 2 <= length <= 2 + MAX_EXTENDED_PAYLOAD:
        return f"extended message of length {length}"
    elif msg_id == _HASHES and (
        not 1 + HASH_HEADER + 64 <= length <= _MAX_HASHES_MESSAGE or (length - 1 - HASH_HEADER) % 32
    ):
        return f"hashes message of length {length} (a header and 32-byte hashes)"
    return None


def max_frame_length(bitfield_bytes: int) -> int:
    """The largest length prefix any message may have: a whole block, an extended message,
    or (for a torrent of more than a million pieces) the bitfield."""
    return max(MAX_PIECE_MESSAGE, 2 + MAX_EXTENDED_PAYLOAD, _MAX_HASHES_MESSAGE, 1 + bitfield_bytes)


def frame_header(
    data: Buffer, pos: int, max_length: int, bitfield_bytes: int
) -> tuple[int, int] | None:
    """The ``(id, length prefix)`` of the frame at `pos`, once the whole frame is in `data`.

    None while the frame is incomplete. A keep-alive is ``(KEEPALIVE, 0)``. Sizes are
    checked as soon as the header shows them, before the body arrives, so a peer cannot make
    us buffer a message that would be refused anyway.

    Raises:
        RemoteProtocolError: a length above `max_length`, or wrong for the message's id
            (`length_error`).
    """
    avail = len(data) - pos
    if avail < 4:
        return None
    (length,) = _U32.unpack_from(data, pos)
    if length == 0:
        return KEEPALIVE, 0
    if length > max_length:
        raise RemoteProtocolError(f"message of {length} bytes exceeds any legal size")
    if avail < 5:
        return None
    msg_id = data[pos + 4]
    problem = length_error(msg_id, length, bitfield_bytes)
    if problem is not None:
        raise RemoteProtocolError(problem)
    if avail - 4 < length:
        return None
    return msg_id, length


def read_index(data: Buffer, at: int) -> int:
    """The piece index of a have, suggest or allowed_fast payload at `at`."""
    return int(_U32.unpack_from(data, at)[0])


read_block = struct.Struct(">III").unpack_from
"""``read_block(data, at) -> (index, begin, length)`` of a request, cancel or reject payload."""

read_piece_header = struct.Struct(">II").unpack_from
"""``read_piece_header(data, at) -> (index, begin)`` of a piece payload; its block follows."""

unpack_piece_header = _PIECE_HEADER.unpack_from
"""``unpack_piece_header(data, pos) -> (length prefix, id, index, begin)`` of the frame at
`pos`: the first 13 bytes of a piece message in one call (the receiver's hot path; it checks
the id and the length itself)."""


def read_port(data: Buffer, at: int) -> int:
    """The UDP port of a port payload (BEP 5)."""
    return int(struct.unpack_from(">H", data, at)[0])


_HASH_FIELDS = struct.Struct(">IIII")


def read_hash_request(data: Buffer, at: int) -> tuple[bytes, int, int, int, int]:
    """``(pieces root, base layer, index, length, proof layers)`` of a hash request, hash
    reject or the head of a hashes message (BEP 52); the hashes follow at ``at + 48``."""
    root = bytes(data[at : at + 32])
    base, index, length, proofs = _HASH_FIELDS.unpack_from(data, at + 32)
    return root, base, index, length, proofs


def uncle_count(length: int, proof_layers: int) -> int:
    """How many uncle hashes a hashes message carries after its `length` base hashes.

    BEP 52: "the first log2(length)-1 proof layers are omitted", since the base hashes
    themselves give every layer up to their subtree's root; libtorrent counts the same.
    """
    return max(0, proof_layers - (length.bit_length() - 2))


# ---- writing: whole frames (the caller has checked the fields) ---------------------------


def pack_flag(msg_id: int) -> bytes:
    """A message without payload: choke, unchoke, (not) interested, have_all, have_none."""
    return _FLAGS[msg_id]


def pack_index(msg_id: int, index: int) -> bytes:
    """A have, suggest or allowed_fast message."""
    return _INDEX.pack(5, msg_id, index)


def pack_block(msg_id: int, index: int, begin: int, length: int) -> bytes:
    """A request, cancel or reject message."""
    return _BLOCK.pack(13, msg_id, index, begin, length)


def pack_piece_header(index: int, begin: int, size: int) -> bytes:
    """The first 13 bytes of a piece message whose block has `size` bytes; the block is
    written after it as is, so it is never copied into a message object."""
    return _PIECE_HEADER.pack(9 + size, _PIECE, index, begin)


def pack_bitfield(bits: bytes) -> bytes:
    """A bitfield message with `bits` as its payload (BEP 3: high bit first)."""
    return _HEADER.pack(1 + len(bits), _M.BITFIELD) + bits


def pack_port(port: int) -> bytes:
    """A port message (BEP 5)."""
    return _PORT.pack(3, _M.PORT, port)


def pack_extended(ext_id: int, payload: bytes) -> bytes:
    """A BEP 10 message: `ext_id` 0 is the extended handshake, others negotiated ids."""
    return _HEADER.pack(2 + len(payload), _M.EXTENDED) + bytes((ext_id,)) + payload


def pack_hash_request(
    msg_id: int, root: bytes, base: int, index: int, length: int, proof_layers: int
) -> bytes:
    """A hash request or hash reject (BEP 52): the same 48-byte payload."""
    return _HEADER.pack(49, msg_id) + root + _HASH_FIELDS.pack(base, index, length, proof_layers)


def pack_hashes(
    root: bytes, base: int, index: int, length: int, proof_layers: int, hashes: bytes
) -> bytes:
    """A hashes message (BEP 52): the request's fields, then the base hashes and uncles."""
    head = _HEADER.pack(49 + len(hashes), _HASHES) + root
    return head + _HASH_FIELDS.pack(base, index, length, proof_layers) + hashes


def pack_unknown(msg_id: int, payload: bytes) -> bytes:
    """A message of any id with a raw payload (tests and tools: ids this codec lacks)."""
    return _HEADER.pack(1 + len(payload), msg_id) + payload
