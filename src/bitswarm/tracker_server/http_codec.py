"""The HTTP tracker protocol from the tracker's side: query strings in, bencoding out. Pure.

BEP 3 defines the announce GET and its reply, BEP 23 the compact ``peers`` string, BEP 7
``peers6``, BEP 48 scrape. The HTTP front-end hands this module the raw query bytes
and the connection's address and gets back bytes to send; everything a hostile client
can get wrong ends as `RequestRefused`, which becomes a bencoded ``failure reason``.

Parsing rules:

* The query is split by hand, not by a framework, because ``info_hash`` and ``peer_id``
  are binary: each value is percent-decoded to bytes (``+`` is a space, as in forms).
  The query is bounded in length and number of keys.
* ``info_hash`` and ``peer_id`` must be exactly 20 bytes; ``port`` 1..65535 (0 only with
  ``stopped``); ``left`` is required; counts are decimal 0..2**63-1 (BEP 15 carries them
  as 64-bit integers); ``numwant`` may be negative or huge: it is clamped, not refused.
* The client's address is the connection's. ``ip=`` and ``X-Forwarded-For`` are believed
  only when the connection comes from a configured trusted proxy (BEP 7 warns that an
  announced address lets anyone point a swarm at a victim).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import unquote_to_bytes

from ..addresses import encode_address
from ..bencode import BValue, bencode
from ..tracker.announce import AnnounceEvent, AnnounceRequest, ScrapeStats
from .config import RequestRefused, TrackerConfig
from .store import PeerAnnounce, StoredPeer, SwarmReply

__all__ = [
    "MAX_QUERY_BYTES",
    "client_address",
    "encode_announce",
    "encode_failure",
    "encode_scrape",
    "parse_announce",
    "parse_query",
    "parse_scrape",
]

MAX_QUERY_BYTES = 16_384
MAX_QUERY_KEYS = 256
_I64_MAX = 2**63 - 1
_INT_RE = re.compile(rb"-?[0-9]{1,19}")
_EVENTS = {b"": AnnounceEvent.NONE, b"empty": AnnounceEvent.NONE,
           b"started": AnnounceEvent.STARTED, b"completed": AnnounceEvent.COMPLETED,
           b"stopped": AnnounceEvent.STOPPED}  # fmt: skip

Query = dict[bytes, list[bytes]]


def parse_query(query: bytes) -> Query:
    """``a=1&b=%41`` -> ``{b"a": [b"1"], b"b": [b"A"]}``; repeated keys keep every value.

    Raises:
        RequestRefused: the query is longer than `MAX_QUERY_BYTES` or has too many keys.
    """
    if len(query) > MAX_QUERY_BYTES:
        raise RequestRefused(f"query string over {MAX_QUERY_BYTES} bytes")
    out: Query = {}
    parts = query.split(b"&")
    if len(parts) > MAX_QUERY_KEYS:
        raise RequestRefused(f"more than {MAX_QUERY_KEYS} query parameters")
    for part in parts:
        if not part:
            continue
        key, _, value = part.partition(b"=")
        if b"%" in key or b"+" in key:
            key = unquote_to_bytes(key.replace(b"+", b" "))
        if b"%" in value or b"+" in value:
            value = unquote_to_bytes(value.replace(b"+", b" "))
        out.setdefault(key, []).append(value)
    return out


def _one(q: Query, key: bytes) -> bytes | None:
    values = q.get(key)
    return values[0] if values else None


def _int(q: Query, key: bytes, *, required: bool, low: int, high: int) -> int | None:
    raw = _one(q, key)
    name = key.decode()
    if raw is None or raw == b"":
        if required:
            raise RequestRefused(f"missing {name}")
        return None
    if not _INT_RE.fullmatch(raw):
        raise RequestRefused(f"invalid {name}: not a decimal integer")
    value = int(raw)
    if not low <= value <= high:
        raise RequestRefused(f"invalid {name}: {value} is out of range")
    return value


def _hash(q: Query, key: bytes) -> bytes:
    raw = _one(q, key)
    name = key.decode()
    if raw is None:
        raise RequestRefused(f"missing {name}")
    if len(raw) != 20:
        raise RequestRefused(f"invalid {name}: {len(raw)} bytes, expected 20")
    return raw


@functools.lru_cache(maxsize=4096)
def canonical_ip(text: str) -> str | None:
    """An IP literal in canonical form (IPv4-mapped IPv6 becomes IPv4), or None."""
    try:
        addr = ipaddress.ip_address(text.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def client_address(
    peer_host: str, forwarded_for: str | None, ip_param: bytes | None, config: TrackerConfig
) -> str:
    """The address to record for a client connecting from `peer_host`.

    From a trusted proxy: its ``ip=`` if valid, else the right-most ``X-Forwarded-For``
    entry that is not itself a trusted proxy. From anyone else: `peer_host`, always.
    """
    host = canonical_ip(peer_host) or peer_host
    if not config.is_trusted_proxy(host):
        return host
    if ip_param:
        claimed = canonical_ip(ip_param.decode("latin-1"))
        if claimed is not None:
            return claimed
    if forwarded_for:
        for entry in reversed(forwarded_for.split(",")[-16:]):
            hop = canonical_ip(entry)
            if hop is None:
                break
            if not config.is_trusted_proxy(hop):
                return hop
    return host


def parse_announce(q: Query, host: str, config: TrackerConfig) -> PeerAnnounce:
    """An announce query from a client at `host` (see `client_address`).

    Raises:
        RequestRefused: a key is missing or malformed.
    """
    info_hash = _hash(q, b"info_hash")
    peer_id = _hash(q, b"peer_id")
    event_raw = _one(q, b"event") or b""
    event = _EVENTS.get(event_raw)
    if event is None:
        raise RequestRefused("invalid event: expected started, completed or stopped")
    stopped = event is AnnounceEvent.STOPPED
    port = _int(q, b"port", required=True, low=0 if stopped else 1, high=0xFFFF)
    left = _int(q, b"left", required=True, low=0, high=_I64_MAX)
    uploaded = _int(q, b"uploaded", required=False, low=0, high=_I64_MAX) or 0
    downloaded = _int(q, b"downloaded", required=False, low=0, high=_I64_MAX) or 0
    numwant = _int(q, b"numwant", required=False, low=-_I64_MAX, high=_I64_MAX)
    assert port is not None and left is not None
    wanted = config.numwant(numwant)
    request = AnnounceRequest(
        info_hash=info_hash, peer_id=peer_id, port=port, uploaded=uploaded,
        downloaded=downloaded, left=left, event=event, key=_key(_one(q, b"key")),
        numwant=wanted, compact=_one(q, b"compact") != b"0",
        tracker_id=_one(q, b"trackerid"),
    )  # fmt: skip
    return PeerAnnounce(request, _packed_host(host) + port.to_bytes(2, "big"), wanted)


@functools.lru_cache(maxsize=4096)
def _packed_host(host: str) -> bytes:
    """The 4 or 16 address bytes of a canonical IP (cached: clients announce again)."""
    return encode_address(host, 0)[:-2]


def _key(raw: bytes | None) -> int:
    """BEP 7 ``key``: clients send hex or decimal; anything unreadable counts as 0."""
    if raw and len(raw) <= 8:
        try:
            return int(raw, 16)
        except ValueError:
            pass
    return 0


def parse_scrape(q: Query, config: TrackerConfig) -> list[bytes] | None:
    """The info-hashes of a scrape, in order without repeats; None for a full scrape.

    Raises:
        RequestRefused: a hash that is not 20 bytes, too many hashes, or a full scrape
            when those are turned off.
    """
    raw = q.get(b"info_hash")
    if not raw:
        if not config.full_scrape:
            raise RequestRefused("full scrape is disabled; name an info_hash", "unauthorized")
        return None
    if len(raw) > config.max_scrape_hashes:
        raise RequestRefused(f"more than {config.max_scrape_hashes} info_hash values")
    for value in raw:
        if len(value) != 20:
            raise RequestRefused(f"invalid info_hash: {len(value)} bytes, expected 20")
    return list(dict.fromkeys(raw))


def encode_failure(reason: str) -> bytes:
    """A BEP 3 refusal: ``{"failure reason": reason}``."""
    return bencode({b"failure reason": reason.encode("utf-8", "replace")})


def encode_announce(
    reply: SwarmReply, ann: PeerAnnounce, config: TrackerConfig, *, no_peer_id: bool
) -> bytes:
    """The bencoded announce reply: compact ``peers``/``peers6`` (BEP 23, BEP 7) unless
    the client asked for ``compact=0``, then BEP 3 dictionaries (``peer id`` left out
    when it sent ``no_peer_id``)."""
    d: dict[bytes, BValue] = {
        b"interval": config.interval,
        b"min interval": config.min_interval,
        b"complete": reply.complete,
        b"incomplete": reply.incomplete,
        b"downloaded": reply.downloaded,
        b"tracker id": config.tracker_id,
    }
    if ann.request.compact:
        d[b"peers"] = b"".join(packed for _, packed in reply.peers4)
        if reply.peers6:
            d[b"peers6"] = b"".join(packed for _, packed in reply.peers6)
    else:
        d[b"peers"] = [_peer_dict(p, no_peer_id) for p in (*reply.peers4, *reply.peers6)]
    return bencode(d)


def _peer_dict(peer: StoredPeer, no_peer_id: bool) -> BValue:
    peer_id, packed = peer
    ip = ipaddress.ip_address(packed[:-2])
    entry: dict[bytes, BValue] = {
        b"ip": str(ip).encode("ascii"),
        b"port": int.from_bytes(packed[-2:], "big"),
    }
    if not no_peer_id:
        entry[b"peer id"] = peer_id
    return entry


def encode_scrape(files: Mapping[bytes, ScrapeStats]) -> bytes:
    """BEP 48: ``{"files": {info_hash: {complete, downloaded, incomplete}}}``."""
    return bencode({
        b"files": {
            h: {b"complete": s.complete, b"downloaded": s.downloaded,
                b"incomplete": s.incomplete}
            for h, s in files.items()
        }
    })  # fmt: skip
