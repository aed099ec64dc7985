"""How peers are named: by an opaque key inside the cores, by (host, port) on the network,
and as that address packed in compact form.

A protocol core (picker, choker, torrent core, metadata exchange) never looks inside the
peers it tracks: its driver hands it a `PeerKey` (the connection object; a string in
tests) and gets the same key back in actions.

Compact form (BEP 23, and the same layout in BEP 7 ``peers6``, BEP 5 ``values``/``ip``
and node infos, BEP 11 and BEP 15): an IPv4 peer is its 4 address bytes then its port, big
endian, 6 bytes; an IPv6 peer 16 + 2 = 18 bytes. The tracker client and server, the DHT
and PEX all speak it, so it lives here, below all of them.

Decoders never trust sizes: they stop at `limit` addresses and slice only what they keep,
so a huge string cannot make them allocate a huge list. Entries with port 0 are dropped
(nobody listens there).
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from collections.abc import Hashable
from typing import TypeAlias

from .errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "IPV4_STRIDE",
    "IPV6_STRIDE",
    "Addr",
    "CompactFormatError",
    "PeerKey",
    "decode_addresses",
    "encode_address",
    "is_ipv6",
]

#: what a core keys a peer by; it only hashes and compares it
PeerKey: TypeAlias = Hashable
#: a peer's (host, port)
Addr: TypeAlias = tuple[str, int]

IPV4_STRIDE = 6
IPV6_STRIDE = 18
_PORT = struct.Struct(">H")


class CompactFormatError(RemoteProtocolError):
    """A compact address string that does not follow BEP 23 / BEP 7 (or a tracker's peer
    list that follows neither form)."""


def is_ipv6(host: str) -> bool:
    """Whether `host` is an IPv6 literal (with or without brackets or a zone)."""
    return ":" in host


def encode_address(host: str, port: int) -> bytes:
    """One address as 6 (IPv4) or 18 (IPv6) bytes. Host names are not addresses: refused.

    Raises:
        LocalProtocolError: `host` is not an IP literal, or `port` is out of range.
    """
    if not 0 <= port <= 0xFFFF:
        raise LocalProtocolError(f"port {port} is out of range")
    return _pack_host(host) + _PORT.pack(port)


@functools.lru_cache(maxsize=65536)
def _pack_host(host: str) -> bytes:
    """The 4 or 16 address bytes of an IP literal (cached: a DHT node packs the same few
    thousand contacts over and over, and parsing with `ipaddress` dominated its replies)."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0]).packed
    except ValueError:
        raise LocalProtocolError(f"{host!r} is not an IP address") from None


def ipv4_text(packed: bytes) -> str:
    """Dotted-quad text of 4 address bytes (what ``str(IPv4Address(packed))`` gives)."""
    return f"{packed[0]}.{packed[1]}.{packed[2]}.{packed[3]}"


def decode_addresses(
    data: bytes, stride: int, *, limit: int | None = None, strict: bool = True
) -> list[Addr]:
    """Decode a packed string of `stride` (6 or 18) bytes per address.

    Args:
        limit: keep at most this many addresses; the rest of the string is not looked at.
        strict: refuse a length that is not a multiple of `stride`. BEP 15 says not to
            expect exact packet sizes, so the UDP tracker client passes False and ignores
            a tail.

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
    text = ipv4_text if stride == IPV4_STRIDE else _ipv6_text
    out: list[Addr] = []
    for pos in range(0, count * stride, stride):
        (port,) = _PORT.unpack_from(data, pos + alen)
        if port == 0:
            continue
        out.append((text(data[pos : pos + alen]), port))
    return out


def _ipv6_text(packed: bytes) -> str:
    return str(ipaddress.IPv6Address(packed))
