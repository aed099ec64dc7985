"""Peer-list codecs: BEP 23 compact IPv4, BEP 7 ``peers6`` IPv6, BEP 3 dictionaries.

BEP 23: each IPv4 peer is 6 bytes, the address then the port, both big-endian.
BEP 7: ``peers6`` has the same layout with 16-byte addresses, 18 bytes a peer.
BEP 3: the original form is a list of ``{"peer id", "ip", "port"}`` dictionaries.

The tracker client, the tracker server and PEX (BEP 11 uses the same 6/18-byte
layout) all share these functions. Decoders never trust sizes: they stop at `limit`
peers and slice only what they keep, so a huge string cannot make them allocate a huge
list. Entries with port 0 are dropped (nobody listens there); anything else that does
not fit the format is a `CompactFormatError`.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable

from ..bencode import BValue
from ..errors import LocalProtocolError, RemoteProtocolError
from .announce import PeerAddress

__all__ = [
    "IPV4_STRIDE",
    "IPV6_STRIDE",
    "CompactFormatError",
    "decode_peer_dicts",
    "decode_peers",
    "decode_peers4",
    "decode_peers6",
    "encode_peer",
    "encode_peer_dicts",
    "encode_peers4",
    "encode_peers6",
    "is_ipv6",
]

IPV4_STRIDE = 6
IPV6_STRIDE = 18
_PORT = struct.Struct(">H")
_MAX_HOST_LEN = 255  # a DNS name is at most 255 bytes (BEP 23 quotes RFC 1034)


class CompactFormatError(RemoteProtocolError):
    """A peer list that does not follow BEP 23 / BEP 7 / BEP 3."""


def is_ipv6(host: str) -> bool:
    """Whether `host` is an IPv6 literal (with or without brackets or a zone)."""
    return ":" in host


def encode_peer(host: str, port: int) -> bytes:
    """One peer as 6 (IPv4) or 18 (IPv6) bytes. Host names are not addresses: refused."""
    if not 0 <= port <= 0xFFFF:
        raise LocalProtocolError(f"port {port} is out of range")
    try:
        addr = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        raise LocalProtocolError(f"{host!r} is not an IP address") from None
    return addr.packed + _PORT.pack(port)


def encode_peers4(peers: Iterable[PeerAddress]) -> bytes:
    """The BEP 23 compact string for IPv4 peers. An IPv6 peer is a caller bug."""
    out = []
    for peer in peers:
        packed = encode_peer(peer.host, peer.port)
        if len(packed) != IPV4_STRIDE:
            raise LocalProtocolError(f"{peer.host} is not IPv4; put it in peers6")
        out.append(packed)
    return b"".join(out)


def encode_peers6(peers: Iterable[PeerAddress]) -> bytes:
    """The BEP 7 ``peers6`` string for IPv6 peers. An IPv4 peer is a caller bug."""
    out = []
    for peer in peers:
        packed = encode_peer(peer.host, peer.port)
        if len(packed) != IPV6_STRIDE:
            raise LocalProtocolError(f"{peer.host} is not IPv6; put it in peers")
        out.append(packed)
    return b"".join(out)


def decode_peers(
    data: bytes, stride: int, *, limit: int | None = None, strict: bool = True
) -> list[PeerAddress]:
    """Decode a packed peer string of `stride` (6 or 18) bytes per peer.

    Args:
        limit: keep at most this many peers; the rest of the string is not looked at.
        strict: refuse a length that is not a multiple of `stride`. BEP 15 says not to
            expect exact packet sizes, so the UDP core passes False and ignores a tail.

    Raises:
        CompactFormatError: the length does not divide (strict mode only).
    """
    if stride not in (IPV4_STRIDE, IPV6_STRIDE):
        raise LocalProtocolError(f"stride must be 6 or 18, not {stride}")
    if strict and len(data) % stride:
        kind = "peers" if stride == IPV4_STRIDE else "peers6"
        raise CompactFormatError(f"compact {kind} is {len(data)} bytes, not a multiple of {stride}")
    count = len(data) // stride
    if limit is not None:
        count = min(count, max(limit, 0))
    alen = stride - 2
    ip_from = ipaddress.IPv4Address if stride == IPV4_STRIDE else ipaddress.IPv6Address
    out: list[PeerAddress] = []
    for pos in range(0, count * stride, stride):
        (port,) = _PORT.unpack_from(data, pos + alen)
        if port == 0:
            continue
        out.append(PeerAddress(str(ip_from(data[pos : pos + alen])), port))
    return out


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
