"""Serve one file of a torrent over HTTP with Range requests, while it downloads.

`serve_file(request, open_reader)` answers GET and HEAD for one file (RFC 9110):
`Accept-Ranges: bytes`, the media type from the file's extension, 206 with
`Content-Range` for a range, 416 with `Content-Range: bytes */size` for one past the end,
200 for the whole file. The body is read through a `FileReader` opened for this request
alone, so each connection of a player has its own read-ahead window, and the reader is
closed when the response ends, fails, or the client goes away (also while it waits for a
piece). HEAD opens no reader. `bitswarm stream` serves it on its own
(`StreamServer`); the daemon mounts it at /stream/ (daemon/stream_routes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Protocol
from urllib.parse import quote

from aiohttp import web

from .ranges import UNSATISFIABLE, ByteRange, content_type, parse_range

__all__ = ["CHUNK", "Readable", "StreamServer", "serve_file"]

CHUNK = 256 * 1024  # bytes read and written at a time
GONE_POLL = 0.5  # how often a response waiting for a piece checks the client is still there


class Readable(Protocol):
    """What a response reads from: `session.stream.FileReader`."""

    async def read(self, offset: int, length: int) -> bytes: ...
    def close(self) -> None: ...


async def serve_file(
    request: web.Request, open_reader: Callable[[], Readable], *, name: str, size: int
) -> web.StreamResponse:
    """The response to GET or HEAD of a file of `size` bytes called `name`."""
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Type": content_type(name),
    }
    wanted = parse_range(request.headers.get("Range"), size)
    if wanted is UNSATISFIABLE:
        headers["Content-Range"] = f"bytes */{size}"
        return web.Response(status=416, headers=headers)
    if isinstance(wanted, ByteRange):
        status, start, length = 206, wanted.start, wanted.length
        headers["Content-Range"] = wanted.content_range()
    else:
        status, start, length = 200, 0, size
    headers["Content-Length"] = str(length)
    response = web.StreamResponse(status=status, headers=headers)
    if request.method == "HEAD" or length == 0:
        await response.prepare(request)
        await response.write_eof()
        return response
    reader = open_reader()
    try:
        first = await _read_while_connected(request, reader, start, min(CHUNK, length))
        if first is None:
            return response  # the client left before the first byte
        await response.prepare(request)
        await response.write(first)
        position, end = start + len(first), start + length
        while position < end:
            data = await _read_while_connected(
                request, reader, position, min(CHUNK, end - position)
            )
            if data is None:
                return response
            await response.write(data)
            position += len(data)
        await response.write_eof()
    finally:
        reader.close()
    return response


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _read_while_connected(
    request: web.Request, reader: Readable, offset: int, length: int
) -> bytes | None:
    """`reader.read(offset, length)`, or None as soon as the client has disconnected."""
    task = asyncio.ensure_future(reader.read(offset, length))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=GONE_POLL)
            if done:
                return task.result()
            if _gone(request):
                return None
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


class StreamServer:
    """An HTTP server of one file (`bitswarm stream`): GET and HEAD of `/` and of
    `/<file name>` (the URL it prints names the file, so a player sees its extension)."""

    def __init__(self, open_reader: Callable[[], Readable], *, name: str, size: int) -> None:
        self._open_reader = open_reader
        self.name = name
        self.size = size
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info.get("name", "")
        if path not in ("", self.name):
            raise web.HTTPNotFound(text=f"this server streams {self.name} only\n")
        return await serve_file(request, self._open_reader, name=self.name, size=self.size)

    async def start(self, host: str, port: int) -> str:
        """Listen on host:port (0: a free port) and return the file's URL."""
        app = web.Application()
        app.router.add_get("/", self._handle)  # HEAD too
        app.router.add_get("/{name:.+}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = next((a[1] for a in self._runner.addresses if isinstance(a, tuple)), port)
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{bound}/{quote(self.name)}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
