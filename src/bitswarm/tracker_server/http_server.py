"""A minimal HTTP/1.1 server for the tracker: GET in, one short response out.

Why not a framework: a tracker's HTTP traffic is tiny GET requests, one per connection
(clients announce every half hour and do not keep connections), so the cost is per
connection and per request. Under cProfile, aiohttp's per-connection task and
request/response objects took about 70% of the tracker's busy time; this protocol parses
the request head in place and answers from `data_received` when the handler can answer
at once (the in-memory store), creating no task at all. The HTTP benchmark went from
7,695 to 12,085 announces/s with 2 workers (bench/RESULTS.md).

Rules:

* A request head is at most `MAX_HEAD` bytes; beyond that, or when it cannot be parsed,
  the connection gets `error_response(status, reason)` (the tracker's bencoded failure)
  and is closed. Nothing but the request line and the headers is ever read: a request
  announcing a body (``Content-Length`` > 0 or ``Transfer-Encoding``) is answered and the
  connection closed, so a body can never be taken for the next request.
* HTTP/1.1 keeps the connection open unless ``Connection: close``; HTTP/1.0 closes it
  unless ``Connection: keep-alive``. Pipelined requests are answered in order, one at a
  time; reading pauses while a request waits on a slow handler.
* A connection gets `idle_timeout` seconds from its start, and from each answer, to send
  a complete request head; then it is closed, however slowly bytes trickle in, so slow
  clients cannot hold sockets. One waiting on a slow handler is not idle.
* Pipelined requests are not read while the client leaves answers unread (transport
  write buffer full): a client cannot make the server buffer without bound.
* ``HEAD`` gets the headers of the ``GET`` response without its body.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus

__all__ = ["MAX_HEAD", "HttpRequest", "HttpResponse", "HttpServer"]

MAX_HEAD = 32 * 1024


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One parsed request head. `query` is raw (percent-escapes intact)."""

    method: str
    path: str
    query: bytes
    headers: dict[bytes, bytes]  # lower-case names; repeated headers joined with ", "
    peer_host: str


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str = "text/plain"


Handler = Callable[[HttpRequest], "HttpResponse | Awaitable[HttpResponse]"]
ErrorResponder = Callable[[int, str], HttpResponse]


class HttpServer:
    """Owns the listening server and the open connections (for the idle sweep)."""

    def __init__(self, handler: Handler, error_response: ErrorResponder, *,
                 idle_timeout: float = 30.0) -> None:  # fmt: skip
        self.handler = handler
        self.error_response = error_response
        self.idle_timeout = idle_timeout
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None

    async def start(self, sock: socket.socket) -> None:
        """Serve on an already bound, listening socket."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), sock=sock)
        self._sweeper = loop.call_later(self.idle_timeout / 3, self._sweep)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                conn.close()
            await self._server.wait_closed()

    def _sweep(self) -> None:
        cutoff = time.monotonic() - self.idle_timeout
        for conn in [c for c in self.connections if c.last_active < cutoff and not c.busy]:
            conn.close()
        self._sweeper = asyncio.get_running_loop().call_later(self.idle_timeout / 3, self._sweep)


class _Connection(asyncio.Protocol):
    __slots__ = ("_buf", "_busy", "_host", "_server", "_task", "_transport", "_write_paused",
                 "last_active")  # fmt: skip

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._buf = bytearray()
        self._busy = False
        self._write_paused = False
        self._host = ""
        self._task: asyncio.Task[None] | None = None
        self._transport: asyncio.Transport | None = None
        self.last_active = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._host = str(peer[0]) if peer else ""
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None
        if self._task is not None:
            self._task.cancel()

    @property
    def busy(self) -> bool:
        return self._busy

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._process()

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._transport is not None and not self._busy:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._transport is not None and not self._busy:
            self._transport.resume_reading()
            self._process()

    def _process(self) -> None:
        # A closing transport (an answer said "Connection: close") reads no further
        # request: pipelined ones behind it are dropped, never answered after the close.
        while (
            self._transport is not None
            and not self._transport.is_closing()
            and not self._busy
            and not self._write_paused
        ):
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEAD:
                    self._fail(431, "request head too large")
                return
            if end > MAX_HEAD:
                self._fail(431, "request head too large")
                return
            head = bytes(self._buf[:end])
            del self._buf[: end + 4]
            parsed = _parse_head(head, self._host)
            if isinstance(parsed, str):
                self._fail(400, parsed)
                return
            request, keep_alive = parsed
            try:
                result = self._server.handler(request)
            except Exception:
                self._fail(500, "internal tracker error")
                return
            if isinstance(result, HttpResponse):
                self._respond(request.method, result, keep_alive)
            else:
                self._busy = True
                self._transport.pause_reading()
                loop = asyncio.get_running_loop()
                self._task = loop.create_task(self._finish(request.method, result, keep_alive))

    async def _finish(self, method: str, pending: Awaitable[HttpResponse],
                      keep_alive: bool) -> None:  # fmt: skip
        try:
            response = await pending
        except Exception:
            response = self._server.error_response(500, "internal tracker error")
            keep_alive = False
        self._task = None
        self._busy = False
        if self._transport is None:
            return
        self._respond(method, response, keep_alive)
        transport = self._transport
        if transport is not None and not transport.is_closing() and not self._write_paused:
            transport.resume_reading()
            self._process()

    def _respond(self, method: str, response: HttpResponse, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        connection = "keep-alive" if keep_alive else "close"
        head = (f"HTTP/1.1 {response.status} {phrase}\r\nServer: bitswarm\r\n"
                f"Content-Type: {response.content_type}\r\n"
                f"Content-Length: {len(response.body)}\r\n"
                f"Connection: {connection}\r\n\r\n").encode()  # fmt: skip
        transport.write(head if method == "HEAD" else head + response.body)
        self.last_active = time.monotonic()
        if not keep_alive:
            transport.close()

    def _fail(self, status: int, reason: str) -> None:
        self._respond("GET", self._server.error_response(status, reason), False)


def _parse_head(head: bytes, host: str) -> tuple[HttpRequest, bool] | str:
    """(request, keep-alive) or the reason the head is unusable."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return "malformed request line"
    method_raw, target, version = parts
    if not method_raw.isalpha() or not target.startswith(b"/"):
        return "malformed request line"
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            return "malformed header"
        key = name.lower()
        value = value.strip()
        headers[key] = headers[key] + b", " + value if key in headers else value
    connection = headers.get(b"connection", b"").lower()
    if version == b"HTTP/1.0":
        keep_alive = b"keep-alive" in connection
    else:
        keep_alive = b"close" not in connection
    if b"transfer-encoding" in headers or headers.get(b"content-length", b"0").strip() != b"0":
        keep_alive = False  # a body we will not read: answer, then close
    path, _, query = target.partition(b"?")
    return HttpRequest(method_raw.decode("ascii"), path.decode("latin-1"), query, headers,
                       host), keep_alive  # fmt: skip
