"""What `bitswarm download` is given: .torrent files, magnet links, URLs and stdin.

Each argument names one torrent:

* ``magnet:?...``: a magnet link (BEP 9); its metadata is fetched from peers later;
* ``http://...`` or ``https://...``: a .torrent fetched over HTTP, bounded in size and
  time as the daemon's `torrent-add` does (daemon/fetch.py), so a slow or hostile server
  costs a minute at most;
* ``-``: a .torrent read from stdin (once; a second ``-`` is refused);
* anything else: a .torrent file.

Every torrent is loaded before the session starts, so a mistyped name fails at once with
one line instead of after the other torrents have begun; two arguments naming the same
torrent (by info-hash) are refused likewise.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import BitswarmError, MagnetError
from ..magnet import Magnet, parse_magnet
from ..metainfo import Metainfo, parse_torrent
from ..readlimit import MAX_TORRENT_FILE
from .torrent_commands import load_torrent

__all__ = ["Source", "is_url", "load_source", "load_sources"]


@dataclass(frozen=True, slots=True)
class Source:
    """One torrent to download: as given (`text`), and what it holds."""

    text: str
    torrent: Metainfo | Magnet

    @property
    def info_hash(self) -> bytes:
        if isinstance(self.torrent, Metainfo):
            return self.torrent.info.info_hashes.wire
        return self.torrent.info_hashes.wire

    @property
    def label(self) -> str:
        """A short name for displays before the metadata is known."""
        if isinstance(self.torrent, Metainfo):
            return self.torrent.info.name
        return self.torrent.display_name or self.info_hash.hex()


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _parse(data: bytes, where: str) -> Metainfo:
    if len(data) > MAX_TORRENT_FILE:
        raise BitswarmError(f"{where}: more than {MAX_TORRENT_FILE} bytes is no .torrent file")
    try:
        return parse_torrent(data)
    except BitswarmError as exc:
        raise type(exc)(f"{where}: {exc}") from None


async def load_source(text: str) -> Source:
    """The torrent `text` names (see the module docstring)."""
    if text.startswith("magnet:"):
        try:
            return Source(text, parse_magnet(text))
        except MagnetError as exc:
            raise MagnetError(f"bad magnet link: {exc}") from None
    if is_url(text):
        from ..daemon.fetch import fetch_torrent_url  # only for a URL source

        return Source(text, _parse(await fetch_torrent_url(text, limit=MAX_TORRENT_FILE), text))
    if text == "-":
        return Source(text, _parse(sys.stdin.buffer.read(MAX_TORRENT_FILE + 1), "stdin"))
    return Source(text, load_torrent(Path(text)))


async def load_sources(texts: list[str]) -> list[Source]:
    """Every torrent of `texts`, in order; one line of error for the first bad one."""
    if texts.count("-") > 1:
        raise BitswarmError("stdin ('-') can hold only one .torrent")
    sources: list[Source] = []
    seen: dict[bytes, str] = {}
    for text in texts:
        source = await load_source(text)
        if source.info_hash in seen:
            raise BitswarmError(
                f"{text} and {seen[source.info_hash]} are the same torrent "
                f"({source.info_hash.hex()})"
            )
        seen[source.info_hash] = text
        sources.append(source)
    return sources
