"""Tracker peer lists: BEP 23 compact IPv4, BEP 7 ``peers6`` IPv6, BEP 3 dictionaries.

BEP 23: each IPv4 peer is 6 bytes, the address then the port, both big-endian.
BEP 7: ``peers6`` has the same layout with 16-byte addresses, 18 bytes a peer.
BEP 3: the original form is a list of ``{"peer id", "ip", "port"}`` dictionaries.

The packed layout itself is `bitswarm.addresses` (shared with the DHT and PEX); this
module turns it into the tracker's `PeerAddress` lists, for the tracker client and the
tracker server. Decoders never trust sizes: they stop at `limit` peers and slice only what
they keep, so a huge string cannot make them allocate a huge list. Entries with port 0 are
dropped (nobody listens there); anything else that does not fit the format is a
`CompactFormatError`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from ..addresses import (
    IPV4_STRIDE,
    IPV6_STRIDE,
    CompactFormatError,
    decode_addresses,
    encode_address,
)
from ..bencode import BValue
from ..errors import LocalProtocolError
from .announce import PeerAddress

__all__ = [
    "decode_peer_dicts",
    "decode_peers",
    "decode_peers4",
    "decode_peers6",
    "encode_peer_dicts",
    "encode_peers4",
    "encode_peers6",
]

_MAX_HOST_LEN = 255  # a DNS name is at most 255 bytes (BEP 23 quotes RFC 1034)


def encode_peers4(peers: Iterable[PeerAddress]) -> bytes:
    """The BEP 23 compact string for IPv4 peers. An IPv6 peer is a caller bug."""
    out = []
    for peer in peers:
        packed = encode_address(peer.host, peer.port)
        if len(packed) != IPV4_STRIDE:
            raise LocalProtocolError(f"{peer.host} is not IPv4; put it in peers6")
        out.append(packed)
    return b"".join(out)


def encode_peers6(peers: Iterable[PeerAddress]) -> bytes:
    """The BEP 7 ``peers6`` string for IPv6 peers. An IPv4 peer is a caller bug."""
    out = []
    for peer in peers:
        packed = encode_address(peer.host, peer.port)
        if len(packed) != IPV6_STRIDE:
            raise LocalProtocolError(f"{peer.host} is not IPv6; put it in peers")
        out.append(packed)
    return b"".join(out)


def decode_peers(
    data: bytes, stride: int, *, limit: int | None = None, strict: bool = True
) -> list[PeerAddress]:
    """Decode a packed peer string of `stride` (6 or 18) bytes per peer
    (`bitswarm.addresses.decode_addresses`, which says what `limit` and `strict` do).

    Raises:
        CompactFormatError: the length does not divide (strict mode only).
    """
    return [
        PeerAddress(host, port)
        for host, port in decode_addresses(data, stride, limit=limit, strict=strict)
    ]


def decode_peers4(data: bytes, *, limit: int | None = None) -> list[PeerAddress]:
    """Decode a BEP 23 compact ``peers`` string (strict length)."""
    return decode_peers(data, IPV4_STRIDE, limit=limit)


def decode_peers6(data: bytes, *, limit: int | None = None) -> list[PeerAddress]:
    """Decode a BEP 7 ``peers6`` string (strict length)."""
    return decode_peers(data, IPV6_STRIDE, limit=limit)


def decode_peer_dicts(value: BValue, *, limit: int | None = None) -> list[PeerAddress]:
    """Decode a BEP 3 list of ``{"ip", "port", "peer id"}`` dictionaries.

    ``ip`` may be an address or a DNS name (BEP 3); it must be printable ASCII. A
    ``peer id`` that is not 20 bytes is dropped rather than failing the whole reply.

    Raises:
        CompactFormatError: not a list of dictionaries, or an entry without a usable
            ``ip`` or ``port``.
    """
    if not isinstance(value, list):
        raise CompactFormatError("peers is neither a compact string nor a list")
    out: list[PeerAddress] = []
    for index, entry in enumerate(value):
        if limit is not None and len(out) >= limit:
            break
        if not isinstance(entry, dict):
            raise CompactFormatError(f"peer entry {index} is not a dictionary")
        ip = entry.get(b"ip")
        port = entry.get(b"port")
        if not isinstance(ip, bytes) or not 0 < len(ip) <= _MAX_HOST_LEN:
            raise CompactFormatError(f"peer entry {index} has no usable 'ip'")
        try:
            host = ip.decode("ascii")
        except UnicodeDecodeError:
            raise CompactFormatError(f"peer entry {index} has a non-ASCII 'ip'") from None
        if not host.isprintable() or " " in host:
            raise CompactFormatError(f"peer entry {index} has a malformed 'ip'")
        if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
            raise CompactFormatError(f"peer entry {index} has no usable 'port'")
        if port == 0:
            continue
        pid = entry.get(b"peer id")
        peer_id = pid if isinstance(pid, bytes) and len(pid) == 20 else None
        out.append(PeerAddress(_normalise_host(host), port, peer_id))
    return out


def encode_peer_dicts(peers: Iterable[PeerAddress]) -> list[BValue]:
    """The BEP 3 dictionary form of `peers` (``peer id`` only where known)."""
    out: list[BValue] = []
    for peer in peers:
        entry: dict[bytes, BValue] = {b"ip": peer.host.encode("ascii"), b"port": peer.port}
        if peer.peer_id is not None:
            entry[b"peer id"] = peer.peer_id
        out.append(entry)
    return out


def _normalise_host(host: str) -> str:
    """An IP literal in canonical text form (so peers compare equal); names unchanged."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return host
