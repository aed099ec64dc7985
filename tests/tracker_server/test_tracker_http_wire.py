"""The tracker's own HTTP/1.1 layer (http_server.py) on raw sockets: keep-alive and
pipelining, HEAD, requests with bodies, oversized and garbled heads, idle connections.
Whatever goes wrong, the answer is a bencoded failure, never HTML, and the server lives.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitswarm.tracker_server.http_server import HttpRequest, HttpResponse, HttpServer

from .tracker_server_helpers import TrackerProcess, bdict, http_get

ANNOUNCE = (f"/announce?info_hash={'%61' * 20}&peer_id={'k' * 20}&port=5&left=0").encode()


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerProcess]:
    with TrackerProcess(workdir=tmp_path_factory.mktemp("wire")) as t:
        yield t


def exchange(port: int, data: bytes, *, timeout: float = 3.0) -> bytes:
    """Send `data`, read until the server closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
    return out


def responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split a byte stream of HTTP/1.1 responses with Content-Length."""
    out = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        length = int(headers["content-length"])
        out.append((int(lines[0].split()[1]), headers, rest[:length]))
        raw = rest[length:]
    return out


def test_keep_alive_and_pipelined_requests_are_answered_in_order(tracker: TrackerProcess) -> None:
    one = b"GET " + ANNOUNCE + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /scrape?info_hash=" + b"%61" * 20 + b" HTTP/1.1\r\nConnection: close\r\n\r\n"
    got = responses(exchange(tracker.http_port, one * 3 + last))
    assert [status for status, _, _ in got] == [200, 200, 200, 200]
    assert [h["connection"] for _, h, _ in got] == ["keep-alive"] * 3 + ["close"]
    assert all(b"interval" in bdict(body) for _, _, body in got[:3])
    assert b"files" in bdict(got[3][2])


def test_http_1_0_closes_unless_asked_and_head_has_no_body(tracker: TrackerProcess) -> None:
    got = responses(exchange(tracker.http_port, b"GET " + ANNOUNCE + b" HTTP/1.0\r\n\r\n"))
    assert len(got) == 1 and got[0][1]["connection"] == "close"
    head_request = b"HEAD " + ANNOUNCE + b" HTTP/1.1\r\nConnection: close\r\n\r\n"
    raw = exchange(tracker.http_port, head_request)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: " in head and body == b""


@pytest.mark.parametrize(
    ("request_bytes", "status", "reason"),
    [
        (b"GET /announce HTTP/1.1 extra\r\n\r\n", 400, b"malformed request line"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, b"malformed"),  # TLS
        (b"GET announce HTTP/1.1\r\n\r\n", 400, b"malformed request line"),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400, b"malformed header"),
        (b"GET /" + b"a" * 40_000 + b" HTTP/1.1\r\n\r\n", 431, b"too large"),
        (b"GET / HTTP/1.1\r\n" + b"X-Pad: y\r\n" * 5000 + b"\r\n", 431, b"too large"),
    ],
)
def test_garbled_requests_get_bencoded_errors(
    tracker: TrackerProcess, request_bytes: bytes, status: int, reason: bytes
) -> None:
    (got,) = responses(exchange(tracker.http_port, request_bytes))
    assert got[0] == status
    failure = bdict(got[2])[b"failure reason"]
    assert isinstance(failure, bytes) and reason in failure
    assert got[1]["content-type"] == "text/plain"
    assert http_get(tracker.http_port, ANNOUNCE)[0] == 200  # still serving


def test_a_body_is_never_read_as_the_next_request(tracker: TrackerProcess) -> None:
    smuggled = b"GET /favicon.ico HTTP/1.1\r\n\r\n"
    req = (b"GET " + ANNOUNCE + b" HTTP/1.1\r\nContent-Length: " + str(len(smuggled)).encode()
           + b"\r\n\r\n" + smuggled)  # fmt: skip
    got = responses(exchange(tracker.http_port, req))
    assert len(got) == 1 and got[0][0] == 200 and got[0][1]["connection"] == "close"


def test_idle_connections_are_closed() -> None:
    async def body() -> None:
        def answer(request: HttpRequest) -> HttpResponse:
            return HttpResponse(200, request.path.encode())

        server = HttpServer(answer, lambda status, reason: HttpResponse(status, b""),
                            idle_timeout=0.3)  # fmt: skip
        sock = socket.create_server(("127.0.0.1", 0))
        await server.start(sock)
        port = sock.getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /x HTTP/1.1\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 OK")
        assert await reader.readexactly(2) == b"/x"
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 3) == b""  # closed by the server
        assert 0.2 < time.monotonic() - started < 1.5
        writer.close()
        await server.stop()

    asyncio.run(body())


def test_a_slow_handler_keeps_pipelined_order() -> None:
    async def body() -> None:
        async def slow(path: str) -> HttpResponse:
            await asyncio.sleep(0.05)
            return HttpResponse(200, path.encode())

        def answer(request: HttpRequest) -> HttpResponse | asyncio.Future[HttpResponse]:
            if request.path == "/slow":
                return asyncio.ensure_future(slow(request.path))
            return HttpResponse(200, request.path.encode())

        server = HttpServer(answer, lambda status, reason: HttpResponse(status, b""))
        sock = socket.create_server(("127.0.0.1", 0))
        await server.start(sock)
        reader, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
        writer.write(b"GET /slow HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\nConnection: close\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(), 3)
        assert [b for _, _, b in responses(raw)] == [b"/slow", b"/fast"]
        writer.close()
        await server.stop()

    asyncio.run(body())


def test_a_head_trickled_byte_by_byte_does_not_hold_the_connection() -> None:
    async def body() -> None:
        server = HttpServer(lambda request: HttpResponse(200, b""),
                            lambda status, reason: HttpResponse(status, b""),
                            idle_timeout=0.3)  # fmt: skip
        sock = socket.create_server(("127.0.0.1", 0))
        await server.start(sock)
        reader, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
        started = time.monotonic()
        closed = False
        for byte in b"GET /" + b"x" * 200:
            writer.write(bytes([byte]))
            try:
                await writer.drain()
                if await asyncio.wait_for(reader.read(1), 0.05) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except ConnectionError:
                closed = True
                break
        assert closed and time.monotonic() - started < 1.5
        writer.close()
        await server.stop()

    asyncio.run(body())


def test_pipelining_without_reading_answers_does_not_stop_the_server(
    tracker: TrackerProcess,
) -> None:
    flood = (b"GET " + ANNOUNCE + b" HTTP/1.1\r\n\r\n") * 200_000  # ~30 MB of requests
    before = rss(tracker)
    with socket.create_connection(("127.0.0.1", tracker.http_port), timeout=5) as s:
        s.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 3
        while sent < len(flood) and time.monotonic() < deadline:
            try:
                sent += s.send(flood[sent : sent + 65536])
            except BlockingIOError:
                time.sleep(0.01)
        time.sleep(0.5)
        grown = rss(tracker) - before
        # the server stopped reading once its answers piled up unread: it did not buffer
        # the answers to every request it was sent (~400 bytes each)
        assert sent < len(flood) and grown < 16 << 20, (sent, grown)
        assert http_get(tracker.http_port, ANNOUNCE)[0] == 200  # others are served


def rss(tracker: TrackerProcess) -> int:
    assert tracker.proc is not None
    for line in Path(f"/proc/{tracker.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")
