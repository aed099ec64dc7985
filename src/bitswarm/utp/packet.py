"""uTP datagrams: the header, the extension chain and the selective ACK (BEP 29).

BEP 29 "header format": every packet starts with 20 bytes, big-endian::

    type(4 bits) ver(4 bits) | extension(8) | connection_id(16)
    timestamp_microseconds(32) | timestamp_difference_microseconds(32)
    wnd_size(32) | seq_nr(16) | ack_nr(16)

followed by a chain of extensions, each ``next-extension(8) len(8) payload(len)``, the
chain's first type given by the header's ``extension`` byte. Extension 1 is the selective
ACK: a bitmask whose bit i, least significant bit first in each byte, says that
``ack_nr + 2 + i`` was received. BEP 29 asks for a multiple of 4 bytes, which is what we
send; libtorrent sends ``ceil(span / 8)`` bytes, any length, so any length is accepted
(rejecting them drops every ack libtorrent sends while it has a hole to report, and the
connection stalls). Unknown extensions (libtorrent's close reason, 3) are skipped.
Sequence and ack numbers wrap at 16 bits.
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from dataclasses import dataclass

from ..errors import BitswarmError

__all__ = [
    "EXT_PADDING",
    "EXT_SACK",
    "HEADER_SIZE",
    "ST_DATA",
    "ST_FIN",
    "ST_RESET",
    "ST_STATE",
    "ST_SYN",
    "Packet",
    "UtpPacketError",
    "decode_packet",
    "encode_packet",
    "looks_like_utp",
    "seq_diff",
    "seq_less",
]

ST_DATA, ST_FIN, ST_STATE, ST_RESET, ST_SYN = 0, 1, 2, 3, 4
VERSION = 1
HEADER_SIZE = 20
EXT_SACK = 1
EXT_PADDING = 0xA5  # a type nobody defines: receivers skip it (BEP 29, "extension")
_HEADER = struct.Struct(">BBHIIIHH")
SEQ_MASK = 0xFFFF


class UtpPacketError(BitswarmError):
    """A datagram that is not a well-formed uTP packet."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded uTP packet. `sack` is the selective-ACK bitmask (b"" when absent)."""

    type: int
    connection_id: int
    timestamp: int
    timestamp_diff: int
    wnd_size: int
    seq_nr: int
    ack_nr: int
    payload: bytes = b""
    sack: bytes = b""


def seq_diff(a: int, b: int) -> int:
    """`a - b` on the 16-bit circle, in [-32768, 32767]."""
    d = (a - b) & SEQ_MASK
    return d - 0x10000 if d >= 0x8000 else d


def seq_less(a: int, b: int) -> bool:
    """Is `a` before `b`, the numbers wrapping at 16 bits (the nearer way round wins)?"""
    return seq_diff(a, b) < 0


def looks_like_utp(data: bytes) -> bool:
    """libtorrent's demultiplexing rule: version 1 in the low nibble, a type of at most 4
    in the high one, and at least a header's length (a KRPC message starts with 'd')."""
    return len(data) >= HEADER_SIZE and data[0] & 0x0F == VERSION and data[0] >> 4 <= ST_SYN


def encode_packet(
    ptype: int,
    connection_id: int,
    *,
    timestamp: int,
    timestamp_diff: int,
    wnd_size: int,
    seq_nr: int,
    ack_nr: int,
    payload: bytes | memoryview = b"",
    sack: bytes = b"",
    padding: int = 0,
) -> bytes:
    """One datagram. `padding` adds that many bytes of skipped extensions (an MTU probe)."""
    exts: list[tuple[int, bytes]] = []
    if sack:
        exts.append((EXT_SACK, sack))
    while padding > 0:
        n = min(255, max(0, padding - 2))
        exts.append((EXT_PADDING, bytes(n)))
        padding -= n + 2
    first = exts[0][0] if exts else 0
    head = _HEADER.pack(
        (ptype << 4) | VERSION,
        first,
        connection_id & 0xFFFF,
        timestamp & 0xFFFFFFFF,
        timestamp_diff & 0xFFFFFFFF,
        wnd_size & 0xFFFFFFFF,
        seq_nr & SEQ_MASK,
        ack_nr & SEQ_MASK,
    )
    if not exts:
        return head + payload
    parts = [head]
    for i, (_, body) in enumerate(exts):
        nxt = exts[i + 1][0] if i + 1 < len(exts) else 0
        parts.append(bytes((nxt, len(body))))
        parts.append(body)
    parts.append(bytes(payload))
    return b"".join(parts)


def decode_packet(data: bytes) -> Packet:
    """Parse one datagram (BEP 29 "header format").

    Raises:
        UtpPacketError: too short, a wrong version or type, or a broken extension chain.
    """
    if len(data) < HEADER_SIZE:
        raise UtpPacketError(f"uTP packet of {len(data)} bytes is shorter than its header")
    tv, ext, conn_id, ts, tdiff, wnd, seq, ack = _HEADER.unpack_from(data)
    if tv & 0x0F != VERSION:
        raise UtpPacketError(f"uTP version {tv & 0x0F} is not 1")
    ptype = tv >> 4
    if ptype > ST_SYN:
        raise UtpPacketError(f"uTP packet type {ptype} is unknown")
    pos = HEADER_SIZE
    sack = b""
    while ext:
        if pos + 2 > len(data):
            raise UtpPacketError("uTP extension header runs past the packet")
        nxt, length = data[pos], data[pos + 1]
        pos += 2
        if pos + length > len(data):
            raise UtpPacketError("uTP extension runs past the packet")
        if ext == EXT_SACK:
            sack = bytes(data[pos : pos + length])
        pos += length
        ext = nxt
    return Packet(ptype, conn_id, ts, tdiff, wnd, seq, ack, bytes(data[pos:]), sack)


def sack_bits(sack: bytes) -> list[int]:
    """Offsets i (from ack_nr + 2) whose bit is set in a selective-ACK mask."""
    return [
        byte_i * 8 + bit
        for byte_i, byte in enumerate(sack)
        if byte
        for bit in range(8)
        if byte >> bit & 1
    ]


def make_sack(ack_nr: int, received: Collection[int], limit: int = 32) -> bytes:
    """The mask for the out-of-order `received` seqs after `ack_nr + 1` (at most `limit`
    bytes, BEP 29: a multiple of 4); b"" when nothing past the gap was received."""
    if not received:
        return b""
    top = 0
    for seq in received:
        off = seq_diff(seq, ack_nr) - 2
        if 0 <= off < limit * 8 and off + 1 > top:
            top = off + 1
    if top == 0:
        return b""
    nbytes = (top + 31) // 32 * 4
    mask = bytearray(nbytes)
    for seq in received:
        off = seq_diff(seq, ack_nr) - 2
        if 0 <= off < nbytes * 8:
            mask[off >> 3] |= 1 << (off & 7)
    return bytes(mask)
