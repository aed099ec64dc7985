"""Magnet links (BEP 9 "magnet URI format", BEP 53 select-only): parse and format.

``magnet:?xt=urn:btih:<40 hex or 32 base32>&xt=urn:btmh:1220<64 hex>&dn=<name>&tr=<url>
&ws=<url>&x.pe=<host:port>&so=<0,2,4-6>``. ``xt`` is mandatory; a hybrid torrent carries
both ``btih`` and ``btmh``. Numbered variants (``tr.1``, ``xt.2``) count as their base key.
Unknown parameters are kept in ``extra`` so a link survives a round trip.

Bad input raises `MagnetError` with a message saying what to fix. L0: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from .errors import MagnetError
from .metainfo.model import InfoHashes, Metainfo
from .metainfo.v2 import MAX_FILES

__all__ = ["Magnet", "parse_magnet"]

_KEY_RE = re.compile(r"(xt|dn|tr|ws|x\.pe|so)(?:\.\d+)?")
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_B32 = re.compile(r"[A-Za-z2-7]{32}")
_BTMH = re.compile(r"1220([0-9a-fA-F]{64})")  # multihash: 0x12 sha2-256, 0x20 bytes
_SO_ITEM = re.compile(r"(\d{1,9})(?:-(\d{1,9}))?")


@dataclass(frozen=True, slots=True)
class Magnet:
    """A parsed magnet link.

    Attributes:
        info_hashes: v1 (``btih``) and/or v2 (``btmh``) info-hashes; at least one.
        display_name: ``dn``, the name to show until the metadata arrives; None if absent.
        trackers: ``tr`` URLs in order, without duplicates.
        web_seeds: ``ws`` URLs (BEP 19) in order.
        peers: ``x.pe`` addresses as (host, port); IPv6 hosts without brackets.
        select_only: BEP 53 ``so``: sorted file indices to download; () means all files.
        extra: other parameters as (key as written, decoded value), kept for `to_uri`.
    """

    info_hashes: InfoHashes
    display_name: str | None = None
    trackers: tuple[str, ...] = ()
    web_seeds: tuple[str, ...] = ()
    peers: tuple[tuple[str, int], ...] = ()
    select_only: tuple[int, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_metainfo(cls, meta: Metainfo) -> Magnet:
        """A magnet link for a torrent: info-hashes, name, trackers and web seeds."""
        return cls(
            info_hashes=meta.info_hashes,
            display_name=meta.info.name,
            trackers=meta.trackers,
            web_seeds=meta.web_seeds,
        )

    @property
    def info_hash_v1(self) -> bytes | None:
        """Shortcut for ``info_hashes.v1``."""
        return self.info_hashes.v1

    @property
    def info_hash_v2(self) -> bytes | None:
        """Shortcut for ``info_hashes.v2``."""
        return self.info_hashes.v2

    def to_uri(self) -> str:
        """Format as a magnet URI; `parse_magnet` of the result gives this Magnet back."""
        parts: list[str] = []
        if self.info_hashes.v1 is not None:
            parts.append(f"xt=urn:btih:{self.info_hashes.v1.hex()}")
        if self.info_hashes.v2 is not None:
            parts.append(f"xt=urn:btmh:1220{self.info_hashes.v2.hex()}")
        if self.display_name is not None:
            parts.append("dn=" + quote(self.display_name, safe=""))
        parts.extend("tr=" + quote(url, safe="") for url in self.trackers)
        parts.extend("ws=" + quote(url, safe="") for url in self.web_seeds)
        for host, port in self.peers:
            shown = f"[{host}]" if ":" in host else host
            parts.append("x.pe=" + quote(f"{shown}:{port}", safe=":[]"))
        if self.select_only:
            parts.append("so=" + format_select_only(self.select_only))
        parts.extend(f"{_key(k)}={quote(v, safe='')}" for k, v in self.extra)
        return "magnet:?" + "&".join(parts)

    def __str__(self) -> str:
        return self.to_uri()


def parse_magnet(uri: str) -> Magnet:
    """Parse a magnet URI.

    Raises:
        MagnetError: not a magnet link, no BitTorrent info-hash, a malformed hash, peer
            address or ``so`` list, or two different hashes of one kind.
    """
    uri = uri.strip()
    if not uri[:8].lower() == "magnet:?":
        raise MagnetError(f"not a magnet link (it should start with 'magnet:?'): {uri[:60]!r}")
    v1: bytes | None = None
    v2: bytes | None = None
    name: str | None = None
    trackers: list[str] = []
    seeds: list[str] = []
    peers: list[tuple[str, int]] = []
    select: set[int] = set()
    extra: list[tuple[str, str]] = []
    for item in uri[8:].split("&"):
        raw_key, eq, raw_value = item.partition("=")
        if not eq:
            continue  # an empty or value-less parameter carries nothing
        key = raw_key.lower()
        m = _KEY_RE.fullmatch(key)
        base = m.group(1) if m else None
        if base == "dn":
            raw_value = raw_value.replace("+", " ")  # form encoding, as libtorrent reads it
        value = _unquote(raw_value, raw_key)
        match base:
            case "xt":
                kind, digest = _exact_topic(value)
                if kind == "v1":
                    v1 = _one_hash(v1, digest, "v1 (btih)")
                elif kind == "v2":
                    v2 = _one_hash(v2, digest, "v2 (btmh)")
                else:
                    extra.append((raw_key, value))
            case "dn":
                if name is None:
                    name = value
            case "tr":
                if value and value not in trackers:
                    trackers.append(value)
            case "ws":
                if value and value not in seeds:
                    seeds.append(value)
            case "x.pe":
                peer = parse_peer_address(value)
                if peer not in peers:
                    peers.append(peer)
            case "so":
                select.update(parse_select_only(value))
            case _:
                extra.append((raw_key, value))
    if v1 is None and v2 is None:
        raise MagnetError(
            "the magnet link has no BitTorrent info-hash (xt=urn:btih:… or xt=urn:btmh:…)"
        )
    return Magnet(
        info_hashes=InfoHashes(v1, v2),
        display_name=name,
        trackers=tuple(trackers),
        web_seeds=tuple(seeds),
        peers=tuple(peers),
        select_only=tuple(sorted(select)),
        extra=tuple(extra),
    )


def _key(raw_key: str) -> str:
    """An unknown parameter's key as `parse_magnet` read it: kept as written (escapes and
    all), so that the link reads back to the same key; quoted only when it holds the
    separators ``&``/``=`` (a key built by hand)."""
    return quote(raw_key, safe="") if "&" in raw_key or "=" in raw_key else raw_key


def _unquote(value: str, key: str) -> str:
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise MagnetError(f"magnet parameter {key!r} is not valid UTF-8 once decoded") from None


def _one_hash(old: bytes | None, new: bytes, what: str) -> bytes:
    if old is not None and old != new:
        raise MagnetError(f"the magnet link has two different {what} info-hashes")
    return new


def _exact_topic(value: str) -> tuple[str, bytes]:
    """('v1', 20 bytes), ('v2', 32 bytes), or ('other', b'') for a non-BitTorrent topic."""
    lowered = value.lower()
    if lowered.startswith("urn:btih:"):
        text = value[9:]
        if _HEX40.fullmatch(text):
            return "v1", bytes.fromhex(text)
        if _B32.fullmatch(text):
            try:
                return "v1", base64.b32decode(text.upper())
            except binascii.Error:  # pragma: no cover - the regex admits only valid base32
                pass
        raise MagnetError(
            f"btih info-hash {text!r} is neither 40 hex digits nor 32 base32 characters"
        )
    if lowered.startswith("urn:btmh:"):
        text = value[9:]
        m = _BTMH.fullmatch(text)
        if m is None:
            raise MagnetError(
                f"btmh info-hash {text!r} is not a SHA-256 multihash ('1220' then 64 hex digits)"
            )
        return "v2", bytes.fromhex(m.group(1))
    return "other", b""


def parse_peer_address(value: str) -> tuple[str, int]:
    """``host:port``, ``ipv4:port`` or ``[ipv6]:port`` (BEP 9 ``x.pe``) as (host, port)."""
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise MagnetError(f"peer address {value!r} should look like [ipv6]:port")
        port_text = rest[1:]
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep:
            raise MagnetError(f"peer address {value!r} has no port (host:port)")
        if ":" in host:
            raise MagnetError(f"peer address {value!r}: put an IPv6 address in brackets")
    if not host:
        raise MagnetError(f"peer address {value!r} has no host")
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise MagnetError(f"peer address {value!r} has a port outside 1..65535")
    return host, int(port_text)


def parse_select_only(value: str) -> list[int]:
    """BEP 53 ``so``: comma-separated file indices and inclusive ranges, e.g. ``0,2,4-6``."""
    out: list[int] = []
    for item in value.split(","):
        m = _SO_ITEM.fullmatch(item.strip())
        if m is None:
            raise MagnetError(f"select-only item {item!r} is not an index or a range like 4-6")
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        if last < first:
            raise MagnetError(f"select-only range {item!r} runs backwards")
        if last >= MAX_FILES:
            raise MagnetError(f"select-only index {last} is beyond any torrent's {MAX_FILES} files")
        out.extend(range(first, last + 1))
    return out


def format_select_only(indices: tuple[int, ...] | list[int]) -> str:
    """Sorted indices as BEP 53 text, runs of three or more as ranges: ``0,2,4-6``."""
    items = sorted(set(indices))
    out: list[str] = []
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{items[i]}-{items[j]}")
        else:
            out.extend(str(n) for n in items[i : j + 1])
        i = j + 1
    return ",".join(out)
