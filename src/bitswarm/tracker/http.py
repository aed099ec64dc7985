"""The HTTP tracker protocol as pure functions: URLs out, bencoded replies in.

BEP 3 ("trackers") defines the announce GET and its bencoded reply, BEP 23 the compact
``peers`` string, BEP 7 ``peers6``, BEP 48 scrape. No I/O happens here; the asyncio
driver (`bitswarm.aio.tracker_client`) fetches the bytes.

Parsing is strict where a reply would otherwise be misread (a compact string whose
length does not divide, a negative interval) and tolerant where real trackers are
sloppy but the meaning is clear (unsorted keys, a trailing newline, a missing
``interval``, a bad optional counter, bittorrent-tracker's UTF-8-mangled scrape keys).
Every problem is a `TrackerResponseError` with a message a person can read; the
tracker's own refusal is a `TrackerFailure`. Sizes are never trusted: at most
`max_peers` peers and `max_files` scrape entries are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote_from_bytes, urlsplit, urlunsplit

from ..addresses import CompactFormatError
from ..bencode import BValue, bdecode
from ..errors import BencodeError, LocalProtocolError
from .announce import (
    AnnounceEvent,
    AnnounceRequest,
    AnnounceResponse,
    PeerAddress,
    ScrapeResponse,
    ScrapeStats,
    ScrapeUnsupported,
    TrackerFailure,
    TrackerResponseError,
    one_line,
)
from .compact import decode_peer_dicts, decode_peers4, decode_peers6

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_MAX_FILES",
    "DEFAULT_MAX_PEERS",
    "MAX_REPLY_TOKENS",
    "build_announce_url",
    "build_scrape_url",
    "parse_announce_response",
    "parse_scrape_response",
    "raise_failure",
    "scrape_url_for",
]

#: used when a reply has no ``interval`` (BEP 3 requires one; libtorrent assumes 30 min)
DEFAULT_INTERVAL = 1800
DEFAULT_MAX_PEERS = 200
DEFAULT_MAX_FILES = 1000
_MAX_TRACKER_ID = 1024
MAX_REPLY_TOKENS = 2**18
"""Tokens in a reply at most: a 1 MiB reply of dictionary-form peers (8 tokens each) or
a scrape of every swarm fits; a reply of a million empty lists does not."""
_TITLE_RE = re.compile(rb"<title[^>]*>(.{0,200}?)</title", re.IGNORECASE | re.DOTALL)


def _q(value: bytes) -> str:
    """Percent-encode raw bytes; only RFC 3986 unreserved characters stay literal."""
    return quote_from_bytes(value, safe="")


def _split_http(url: str) -> tuple[str, str, str, str]:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise LocalProtocolError(f"not an http(s) tracker URL: {url!r}")
    return parts.scheme, parts.netloc, parts.path, parts.query


def _join(scheme: str, netloc: str, path: str, query: str, params: list[str]) -> str:
    # BEP 3 appends to whatever query the announce URL already carries (passkeys).
    q = "&".join([query, *params]) if query else "&".join(params)
    return urlunsplit((scheme, netloc, path or "/", q, ""))


def build_announce_url(announce_url: str, req: AnnounceRequest) -> str:
    """The full GET URL for `req` (BEP 3 keys; ``key`` per BEP 7; ``compact`` per BEP 23)."""
    scheme, netloc, path, query = _split_http(announce_url)
    params = [
        f"info_hash={_q(req.info_hash)}",
        f"peer_id={_q(req.peer_id)}",
        f"port={req.port}",
        f"uploaded={req.uploaded}",
        f"downloaded={req.downloaded}",
        f"left={req.left}",
        f"compact={1 if req.compact else 0}",
        f"numwant={req.numwant}",
        f"key={req.key:08X}",
    ]
    if req.event is not AnnounceEvent.NONE:
        params.append(f"event={req.event.value}")
    if req.ip is not None:
        params.append(f"ip={_q(req.ip.encode())}")
    if req.tracker_id is not None:
        params.append(f"trackerid={_q(req.tracker_id)}")
    return _join(scheme, netloc, path, query, params)


def scrape_url_for(announce_url: str) -> str | None:
    """The BEP 48 scrape URL for an announce URL, or None if the tracker has none.

    The convention: the last path component must begin with ``announce``, which becomes
    ``scrape`` (``/x/announce.php?pk=1`` -> ``/x/scrape.php?pk=1``). Any other URL
    cannot be scraped.
    """
    scheme, netloc, path, query = _split_http(announce_url)
    cut = path.rfind("/") + 1
    if not path[cut:].startswith("announce"):
        return None
    path = path[:cut] + "scrape" + path[cut + len("announce") :]
    return urlunsplit((scheme, netloc, path, query, ""))


def build_scrape_url(announce_url: str, info_hashes: Iterable[bytes]) -> str:
    """The scrape GET URL for `info_hashes`, one ``info_hash`` key each (BEP 48).

    Raises:
        ScrapeUnsupported: the announce URL does not follow the scrape convention.
    """
    base = scrape_url_for(announce_url)
    if base is None:
        raise ScrapeUnsupported(f"tracker {announce_url} does not support scrape (BEP 48)")
    params = []
    for h in info_hashes:
        if len(h) != 20:
            raise LocalProtocolError(f"info_hash must be 20 bytes, not {len(h)}")
        params.append(f"info_hash={_q(h)}")
    scheme, netloc, path, query = _split_http(base)
    return _join(scheme, netloc, path, query, params)


def _decode_body(body: bytes, url: str | None) -> dict[bytes, BValue]:
    where = f"tracker {url}" if url else "tracker"
    if not body.strip():
        raise TrackerResponseError(f"{where} sent an empty response")
    if body.lstrip()[:1] == b"<":
        m = _TITLE_RE.search(body[:4096])
        title = one_line(m.group(1).decode("utf-8", "replace"), 80) if m else ""
        what = f"an HTML page ({title!r})" if title else "an HTML page"
        raise TrackerResponseError(f"{where} sent {what}, not a bencoded response")
    try:
        value = bdecode(body, strict=False, max_tokens=MAX_REPLY_TOKENS)
    except BencodeError as first:
        trimmed = body.rstrip()
        try:
            if trimmed == body:
                raise first
            value = bdecode(
                trimmed, strict=False, max_tokens=MAX_REPLY_TOKENS
            )  # tolerate a trailing newline
        except BencodeError as e:
            msg = f"{where} sent a response that is not bencoded: {e}"
            raise TrackerResponseError(msg) from None
    if not isinstance(value, dict):
        raise TrackerResponseError(f"{where} sent a response that is not a dictionary")
    failure = value.get(b"failure reason")
    if failure is not None:
        reason = failure.decode("utf-8", "replace") if isinstance(failure, bytes) else repr(failure)
        raise TrackerFailure(reason, url=url)
    return value


def raise_failure(body: bytes, *, url: str | None = None) -> None:
    """Raise `TrackerFailure` if `body` is a bencoded refusal; otherwise do nothing.

    For replies with an HTTP error status, which some trackers use for refusals.
    """
    try:
        _decode_body(body, url)
    except TrackerResponseError:
        pass


def _count(value: BValue | None) -> int | None:
    """An optional non-negative counter; anything else reads as absent."""
    return value if isinstance(value, int) and value >= 0 else None


def parse_announce_response(
    body: bytes, *, max_peers: int = DEFAULT_MAX_PEERS, url: str | None = None
) -> AnnounceResponse:
    """Parse a bencoded announce reply (BEP 3 / 23 / 7).

    Raises:
        TrackerFailure: the reply carries a ``failure reason``.
        TrackerResponseError: the bytes are not a usable announce reply.
    """
    where = f"tracker {url}" if url else "tracker"
    d = _decode_body(body, url)
    raw_interval = d.get(b"interval", DEFAULT_INTERVAL)
    if not isinstance(raw_interval, int) or raw_interval < 0:
        raise TrackerResponseError(f"{where} sent an invalid interval {raw_interval!r:.40}")
    peers: list[PeerAddress] = []
    try:
        raw = d.get(b"peers")
        if isinstance(raw, bytes):
            peers += decode_peers4(raw, limit=max_peers)
        elif raw is not None:
            peers += decode_peer_dicts(raw, limit=max_peers)
        raw6 = d.get(b"peers6")
        if raw6 is not None:
            if not isinstance(raw6, bytes):
                raise CompactFormatError("peers6 is not a string")
            peers += decode_peers6(raw6, limit=max_peers - len(peers))
    except CompactFormatError as e:
        raise TrackerResponseError(f"{where} sent a bad peer list: {e}") from None
    tid = d.get(b"tracker id")
    raw_warning = d.get(b"warning message")
    warning = None
    if isinstance(raw_warning, bytes):
        warning = one_line(raw_warning.decode("utf-8", "replace"))
    return AnnounceResponse(
        interval=raw_interval,
        min_interval=_count(d.get(b"min interval")),
        peers=tuple(peers),
        complete=_count(d.get(b"complete")),
        incomplete=_count(d.get(b"incomplete")),
        tracker_id=tid if isinstance(tid, bytes) and 0 < len(tid) <= _MAX_TRACKER_ID else None,
        warning=warning,
    )


def _unmangle(key: bytes) -> bytes | None:
    """A 20-byte info-hash from a scrape key, undoing a latin-1 -> UTF-8 round trip.

    Some trackers (webtorrent's bittorrent-tracker) treat the binary hash as latin-1 text
    and send it UTF-8 encoded, so the key grows past 20 bytes.
    """
    if len(key) == 20:
        return key
    try:
        fixed = key.decode("utf-8").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return None
    return fixed if len(fixed) == 20 else None


def parse_scrape_response(
    body: bytes, *, max_files: int = DEFAULT_MAX_FILES, url: str | None = None
) -> ScrapeResponse:
    """Parse a bencoded scrape reply (BEP 48). Keys that are not info-hashes are skipped.

    Raises:
        TrackerFailure: the reply carries a ``failure reason``.
        TrackerResponseError: the bytes are not a usable scrape reply.
    """
    where = f"tracker {url}" if url else "tracker"
    d = _decode_body(body, url)
    files = d.get(b"files")
    if not isinstance(files, dict):
        raise TrackerResponseError(f"{where} sent a scrape response without 'files'")
    out: dict[bytes, ScrapeStats] = {}
    for key, entry in files.items():
        if len(out) >= max_files:
            break
        info_hash = _unmangle(key)
        if info_hash is None:
            continue
        if not isinstance(entry, dict):
            raise TrackerResponseError(f"{where} sent a scrape entry that is not a dictionary")
        out[info_hash] = ScrapeStats(
            complete=_count(entry.get(b"complete")) or 0,
            downloaded=_count(entry.get(b"downloaded")) or 0,
            incomplete=_count(entry.get(b"incomplete")) or 0,
        )
    return ScrapeResponse(out)
