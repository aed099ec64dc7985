"""Fetching a .torrent file named by URL (torrent-add "filename", qBittorrent "urls").

Only http and https; the body is bounded and the wait is bounded, so a hostile or slow
server costs nothing but its own time. Every failure is one `DaemonError` line.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from ..version import __version__
from .model import DaemonError

__all__ = ["FETCH_TIMEOUT", "fetch_torrent_url"]

FETCH_TIMEOUT = 60.0


async def fetch_torrent_url(url: str, *, limit: int) -> bytes:
    """The body at `url` (at most `limit` bytes)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise DaemonError(f"cannot fetch {url!r}: only http, https and magnet links are taken")
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
    headers = {"User-Agent": f"bitswarm/{__version__}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, headers=headers) as http,
            http.get(url) as reply,
        ):
            if reply.status != 200:
                raise DaemonError(f"cannot fetch {url}: HTTP {reply.status} {reply.reason}")
            body = bytearray()
            async for chunk in reply.content.iter_chunked(65536):
                body += chunk
                if len(body) > limit:
                    raise DaemonError(f"cannot fetch {url}: larger than {limit} bytes")
            return bytes(body)
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        raise DaemonError(f"cannot fetch {url}: {exc or type(exc).__name__}") from None
