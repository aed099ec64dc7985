"""BEP 14 local service discovery: the announce codec and the `LsdAnnouncer` policy (L1).

An announce is an HTTP-like request sent over UDP multicast to 239.192.152.143:6771 (or
[ff15::efc0:988f]:6771) that says "a BitTorrent client listens on <port> for these
info-hashes". The asyncio driver (`bitswarm.aio.lsd`) owns the socket; this module decides
what to send and when, and what a received datagram means.

Rules (BEP 14 sections in brackets):
1. Format ["Protocol"]: the request line ``BT-SEARCH * HTTP/1.1``, then ``Host`` (the
   group as ``host:port``), ``Port`` (decimal), one or more consecutive ``Infohash``
   headers (40 hex digits) and an optional ``cookie``, each line ending in CRLF, then an
   empty line. Unknown headers are ignored; header names are case-insensitive (HTTP).
2. Parsing is strict and bounded: at most `MAX_DATAGRAM` bytes and `MAX_LINES` lines of
   ASCII; the request line exact; Host one of the two groups; exactly one Port in 1..65535;
   at least one Infohash, each well-formed; a cookie of at most 64 visible characters.
3. Sending ["Usage"]: each torrent is announced at most once per `ANNOUNCE_INTERVAL`
   (5 minutes), and at most one datagram goes out per `MIN_SEND_GAP` (1 minute, "to
   avoid causing multicast storms"); several info-hashes share a datagram of at most
   `MAX_SEND_SIZE` bytes ("should not exceed 1400 bytes").
4. Receiving: our own announces (same cookie) come back through multicast loopback and
   are ignored; only torrents we announce ourselves are reported, with the UDP source
   address as host ["On receiving a LSD announce ..."] (unless it is unspecified or
   multicast: nobody to dial); the same (torrent, peer) is reported at most once per
   `MIN_SEND_GAP`.
5. Private torrents (BEP 27) are never added: the session's job, stated here because LSD
   would otherwise leak them to the whole network.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TypeVar

from ..errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "ANNOUNCE_INTERVAL",
    "LSD_GROUP4",
    "LSD_GROUP6",
    "LSD_HOST4",
    "LSD_HOST6",
    "LSD_PORT",
    "MAX_DATAGRAM",
    "MAX_SEND_SIZE",
    "MIN_SEND_GAP",
    "LsdAnnounce",
    "LsdAnnouncer",
    "LsdFormatError",
    "LsdPeer",
    "decode_announce",
    "encode_announce",
]

LSD_PORT = 6771
LSD_GROUP4 = "239.192.152.143"
LSD_GROUP6 = "ff15::efc0:988f"
LSD_HOST4 = f"{LSD_GROUP4}:{LSD_PORT}"
LSD_HOST6 = f"[{LSD_GROUP6}]:{LSD_PORT}"
ANNOUNCE_INTERVAL = 300.0
MIN_SEND_GAP = 60.0
MAX_SEND_SIZE = 1400
MAX_DATAGRAM = 8192
MAX_LINES = 128
_REQUEST_LINE = "BT-SEARCH * HTTP/1.1"
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_PORT_RE = re.compile(r"[0-9]{1,5}")
_COOKIE = re.compile(r"[\x21-\x7e]{1,64}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name
_T = TypeVar("_T", str, int)
_HOSTS = {LSD_HOST4: LSD_HOST4, LSD_HOST6.lower(): LSD_HOST6}


class LsdFormatError(RemoteProtocolError):
    """A datagram that is not a BEP 14 announce."""


@dataclass(frozen=True, slots=True)
class LsdAnnounce:
    """One announce: `port` is the sender's BitTorrent listen port."""

    port: int
    info_hashes: tuple[bytes, ...]
    cookie: str | None = None
    host: str = LSD_HOST4


@dataclass(frozen=True, slots=True)
class LsdPeer:
    """A local peer found for one of our torrents: dial `address` for `info_hash`."""

    info_hash: bytes
    address: tuple[str, int]


def encode_announce(announce: LsdAnnounce) -> bytes:
    """The datagram for `announce` (rule 1)."""
    if not 0 < announce.port <= 0xFFFF:
        raise LocalProtocolError(f"port {announce.port} is out of range")
    if not announce.info_hashes or any(len(h) != 20 for h in announce.info_hashes):
        raise LocalProtocolError("an announce needs one or more 20-byte info-hashes")
    if announce.cookie is not None and not _COOKIE.fullmatch(announce.cookie):
        raise LocalProtocolError("a cookie is 1..64 visible ASCII characters")
    lines = [_REQUEST_LINE, f"Host: {announce.host}", f"Port: {announce.port}"]
    lines += [f"Infohash: {h.hex()}" for h in announce.info_hashes]
    if announce.cookie is not None:
        lines.append(f"cookie: {announce.cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n\r\n").encode("ascii")


def decode_announce(data: bytes | bytearray | memoryview) -> LsdAnnounce:
    """Parse one datagram (rule 2).

    Raises:
        LsdFormatError: anything but a well-formed BEP 14 announce.
    """
    if len(data) > MAX_DATAGRAM:
        raise LsdFormatError(f"LSD datagram of {len(data)} bytes")
    try:
        text = bytes(data).decode("ascii")
    except UnicodeDecodeError:
        raise LsdFormatError("LSD datagram is not ASCII") from None
    head, blank, _ = text.partition("\r\n\r\n")
    if not blank:
        raise LsdFormatError("LSD announce has no end of headers")
    lines = head.split("\r\n")
    if len(lines) > MAX_LINES:
        raise LsdFormatError(f"LSD announce of more than {MAX_LINES} lines")
    if lines[0] != _REQUEST_LINE:
        raise LsdFormatError(f"not a BT-SEARCH request: {lines[0][:40]!r}")
    host: str | None = None
    port: int | None = None
    cookie: str | None = None
    hashes: list[bytes] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise LsdFormatError(f"malformed LSD header line {line[:40]!r}")
        value = value.strip(" \t")
        match name.lower():
            case "host":
                host = _once(host, _HOSTS.get(value.lower()), "Host", value)
            case "port":
                number = int(value) if _PORT_RE.fullmatch(value) else 0
                port = _once(port, number if 0 < number <= 0xFFFF else None, "Port", value)
            case "infohash":
                if not _HEX40.fullmatch(value):
                    raise LsdFormatError(f"malformed Infohash {value[:48]!r}")
                digest = bytes.fromhex(value)
                if digest not in hashes:
                    hashes.append(digest)
            case "cookie":
                cookie = _once(cookie, value if _COOKIE.fullmatch(value) else None, "cookie", value)
            case _:
                pass  # rule 1: unknown headers are ignored
    if host is None or port is None or not hashes:
        raise LsdFormatError("LSD announce without Host, Port or Infohash")
    return LsdAnnounce(port, tuple(hashes), cookie, host)


def _once(current: _T | None, parsed: _T | None, name: str, raw: str) -> _T:
    if current is not None:
        raise LsdFormatError(f"LSD announce repeats {name}")
    if parsed is None:
        raise LsdFormatError(f"malformed LSD {name} {raw[:48]!r}")
    return parsed


def _dialable(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return not (ip.is_unspecified or ip.is_multicast)


class LsdAnnouncer:
    """When to announce which torrents, and what received announces mean (rules 3-4).

    Args:
        listen_port: our BitTorrent TCP listen port (what we announce).
        cookie: a random token of ours (the driver makes it) to recognise our own echoes.
        host: `LSD_HOST4` or `LSD_HOST6`, as the socket's family.
    """

    def __init__(
        self,
        *,
        listen_port: int,
        cookie: str,
        interval: float = ANNOUNCE_INTERVAL,
        min_gap: float = MIN_SEND_GAP,
        host: str = LSD_HOST4,
        max_size: int = MAX_SEND_SIZE,
    ) -> None:
        if not _COOKIE.fullmatch(cookie):
            raise LocalProtocolError("a cookie is 1..64 visible ASCII characters")
        if host not in (LSD_HOST4, LSD_HOST6):
            raise LocalProtocolError(f"{host!r} is not an LSD group")
        self.listen_port = listen_port
        self.cookie = cookie
        self.interval = interval
        self.min_gap = min_gap
        self.host = host
        self.max_size = max_size
        self.malformed = 0  # datagrams that were not announces
        self._due: dict[bytes, float] = {}  # info-hash -> when it is next announced
        self._last_sent = float("-inf")
        self._recent: dict[tuple[bytes, tuple[str, int]], float] = {}

    @property
    def torrents(self) -> frozenset[bytes]:
        return frozenset(self._due)

    def add_torrent(self, info_hash: bytes, *, now: float) -> None:
        """Announce `info_hash` (20 bytes: the v1 hash, or the truncated v2 one) from now on.
        Never for a private torrent (rule 5)."""
        if len(info_hash) != 20:
            raise LocalProtocolError("an LSD info-hash has 20 bytes")
        self._due.setdefault(info_hash, now)

    def remove_torrent(self, info_hash: bytes) -> None:
        self._due.pop(info_hash, None)

    def get_timer(self) -> float | None:
        """When `datagrams_to_send` next has something; None with no torrents."""
        if not self._due:
            return None
        return max(min(self._due.values()), self._last_sent + self.min_gap)

    def datagrams_to_send(self, *, now: float) -> list[bytes]:
        """The announce due now, if any: at most one datagram per `min_gap` (rule 3)."""
        if now < self._last_sent + self.min_gap:
            return []
        due = sorted((t, h) for h, t in self._due.items() if t <= now)
        if not due:
            return []
        per_hash = len("Infohash: \r\n") + 40
        fixed = len(self._encode([bytes(20)])) - per_hash
        batch = [h for _, h in due[: max((self.max_size - fixed) // per_hash, 1)]]
        for h in batch:
            self._due[h] = now + self.interval
        self._last_sent = now
        return [self._encode(batch)]

    def _encode(self, hashes: list[bytes]) -> bytes:
        return encode_announce(LsdAnnounce(self.listen_port, tuple(hashes), self.cookie, self.host))

    def receive(self, data: bytes, source: tuple[str, int], *, now: float) -> list[LsdPeer]:
        """The peers a received datagram tells us about (rule 4); [] for anything else."""
        try:
            announce = decode_announce(data)
        except LsdFormatError:
            self.malformed += 1
            return []
        if announce.cookie == self.cookie:
            return []  # our own announce, looped back
        if not _dialable(source[0]):
            return []  # e.g. 0.0.0.0, sent by a host with no address for the route
        if len(self._recent) > 4096:
            self._recent = {k: t for k, t in self._recent.items() if t > now}
        address = (source[0], announce.port)
        found: list[LsdPeer] = []
        for info_hash in announce.info_hashes:
            key = (info_hash, address)
            if info_hash not in self._due or self._recent.get(key, float("-inf")) > now:
                continue
            self._recent[key] = now + self.min_gap
            found.append(LsdPeer(info_hash, address))
        return found
