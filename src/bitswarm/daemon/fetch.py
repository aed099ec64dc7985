"""Fetching a .torrent file named by URL (torrent-add "filename", qBittorrent "urls").

Only http and https; the body is bounded and the wait is bounded, so a hostile or slow
server costs nothing but its own time. Every failure is one `DaemonError` line. The GET
is `aio.http_get` (the tracker client's): no aiohttp import on `bitswarm download URL`.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from ..aio.http_get import HttpGetError, HttpTooLarge, http_get
from .model import DaemonError

__all__ = ["FETCH_TIMEOUT", "MAX_REDIRECTS", "fetch_torrent_url"]

FETCH_TIMEOUT = 60.0
MAX_REDIRECTS = 10


async def fetch_torrent_url(url: str, *, limit: int) -> bytes:
    """The body at `url` (at most `limit` bytes)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise DaemonError(f"cannot fetch {url!r}: only http, https and magnet links are taken")
    try:
        async with asyncio.timeout(FETCH_TIMEOUT):
            reply = await http_get(url, max_body=limit, max_redirects=MAX_REDIRECTS)
    except TimeoutError:
        raise DaemonError(f"cannot fetch {url}: no answer within {FETCH_TIMEOUT:g} s") from None
    except HttpTooLarge:
        raise DaemonError(f"cannot fetch {url}: larger than {limit} bytes") from None
    except HttpGetError as exc:
        raise DaemonError(f"cannot fetch {url}: {exc}") from None
    if reply.status != 200:
        raise DaemonError(f"cannot fetch {url}: HTTP {reply.status} {reply.reason}".rstrip())
    return reply.body
