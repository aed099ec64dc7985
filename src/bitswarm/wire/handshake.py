"""The 68-byte BitTorrent handshake (BEP 3) and the reserved bits that negotiate extensions.

Layout: ``\\x13BitTorrent protocol`` (20 bytes), 8 reserved bytes, the 20-byte info-hash,
the 20-byte peer id. Reserved bits used here:

* BEP 6 fast extension: ``reserved[7] & 0x04`` (enabled only when both ends set it);
* BEP 10 extension protocol: ``reserved[5] & 0x10``;
* BEP 5 DHT: ``reserved[7] & 0x01``;
* BEP 52 v2: ``reserved[7] & 0x10``, "the peer supports the v2 protocol". The info-hash of
  a v2-only torrent is its SHA-256 truncated to 20 bytes (`InfoHashes.wire`); libtorrent
  sets the bit for torrents with v2 metadata and, seeing it with a hybrid's v1 hash, upgrades
  the connection to the v2 hash. We set it only for pure v2 torrents, where the hash is the
  v2 one already, so no connection changes identity half-way.

A listener that serves many torrents must read the info-hash before it knows which torrent a
connection belongs to (BEP 3: "they may wait for incoming connections to give a download hash
first"); `peek_info_hash` gives it that from the first 48 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import RemoteProtocolError

__all__ = [
    "HANDSHAKE_LENGTH",
    "INFO_HASH_END",
    "PROTOCOL_HEADER",
    "Handshake",
    "decode_handshake",
    "encode_handshake",
    "make_reserved",
    "peek_info_hash",
    "protocol_prefix_ok",
]

PROTOCOL_HEADER = b"\x13BitTorrent protocol"
"""The length-prefixed protocol string every handshake starts with (BEP 3)."""
HANDSHAKE_LENGTH = 68
INFO_HASH_END = 48
"""Bytes of a handshake up to and including the info-hash."""

_FAST_BYTE, _FAST_BIT = 7, 0x04  # BEP 6
_EXTENDED_BYTE, _EXTENDED_BIT = 5, 0x10  # BEP 10: bit 20 from the right
_DHT_BYTE, _DHT_BIT = 7, 0x01  # BEP 5
_V2_BYTE, _V2_BIT = 7, 0x10  # BEP 52


def make_reserved(*, fast: bool, extended: bool, dht: bool, v2: bool = False) -> bytes:
    """The 8 reserved bytes advertising the given extensions."""
    reserved = bytearray(8)
    if fast:
        reserved[_FAST_BYTE] |= _FAST_BIT
    if extended:
        reserved[_EXTENDED_BYTE] |= _EXTENDED_BIT
    if dht:
        reserved[_DHT_BYTE] |= _DHT_BIT
    if v2:
        reserved[_V2_BYTE] |= _V2_BIT
    return bytes(reserved)


@dataclass(frozen=True, slots=True)
class Handshake:
    """A decoded handshake. The `supports_*` properties read the sender's reserved bits."""

    reserved: bytes
    info_hash: bytes
    peer_id: bytes

    @property
    def supports_fast(self) -> bool:
        return bool(self.reserved[_FAST_BYTE] & _FAST_BIT)

    @property
    def supports_extended(self) -> bool:
        return bool(self.reserved[_EXTENDED_BYTE] & _EXTENDED_BIT)

    @property
    def supports_dht(self) -> bool:
        return bool(self.reserved[_DHT_BYTE] & _DHT_BIT)

    @property
    def supports_v2(self) -> bool:
        return bool(self.reserved[_V2_BYTE] & _V2_BIT)

    def encode(self) -> bytes:
        return encode_handshake(self.info_hash, self.peer_id, self.reserved)


def encode_handshake(info_hash: bytes, peer_id: bytes, reserved: bytes) -> bytes:
    """The 68 handshake bytes.

    Raises:
        ValueError: a field of the wrong size.
    """
    if len(info_hash) != 20 or len(peer_id) != 20 or len(reserved) != 8:
        raise ValueError("info_hash and peer_id must be 20 bytes, reserved 8 bytes")
    return PROTOCOL_HEADER + reserved + info_hash + peer_id


def protocol_prefix_ok(data: bytes | bytearray | memoryview) -> bool:
    """Whether `data` (the first bytes received, any number) can start a handshake.

    Checking each prefix lets a connection hang up on the first wrong byte (an encrypted
    BEP 8 handshake, an HTTP request) instead of waiting for 68 bytes that may never come.
    """
    n = min(len(data), len(PROTOCOL_HEADER))
    return bytes(data[:n]) == PROTOCOL_HEADER[:n]


def peek_info_hash(data: bytes | bytearray | memoryview) -> bytes | None:
    """The info-hash of a handshake once its first 48 bytes are in, else None.

    Raises:
        RemoteProtocolError: the bytes are not a BitTorrent handshake.
    """
    if not protocol_prefix_ok(data):
        raise RemoteProtocolError("not a BitTorrent handshake (wrong protocol string)")
    if len(data) < INFO_HASH_END:
        return None
    return bytes(data[28:INFO_HASH_END])


def decode_handshake(data: bytes | bytearray | memoryview) -> Handshake:
    """Decode the first 68 bytes of `data` as a handshake.

    Raises:
        RemoteProtocolError: fewer than 68 bytes, or the wrong protocol string.
    """
    if len(data) < HANDSHAKE_LENGTH:
        raise RemoteProtocolError(f"handshake needs {HANDSHAKE_LENGTH} bytes, got {len(data)}")
    if not protocol_prefix_ok(data):
        raise RemoteProtocolError("not a BitTorrent handshake (wrong protocol string)")
    raw = bytes(data[:HANDSHAKE_LENGTH])
    return Handshake(reserved=raw[20:28], info_hash=raw[28:48], peer_id=raw[48:68])
