"""The asyncio tracker driver against the real opentracker and against hostile servers.

opentracker (Debian) is built whitelist-only, so each test writes the info-hash into a
whitelist file. Under CI=true a missing opentracker fails the test; elsewhere it skips.
All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote_from_bytes

import pytest
from aiohttp import web

from bitswarm.aio.tracker_client import (
    MAX_BODY,
    UdpTrackerConnection,
    announce,
    scrape,
)
from bitswarm.tracker.announce import (
    AnnounceEvent,
    AnnounceRequest,
    PeerAddress,
    ScrapeStats,
    ScrapeUnsupported,
    TrackerFailure,
    TrackerResponseError,
    TrackerUnreachable,
)

IH = hashlib.sha1(b"bitswarm tracker live test").digest()
OTHER_IH = hashlib.sha1(b"not whitelisted").digest()


def req(
    peer: bytes,
    port: int,
    *,
    left: int,
    event: AnnounceEvent = AnnounceEvent.STARTED,
    info_hash: bytes = IH,
) -> AnnounceRequest:
    return AnnounceRequest(
        info_hash=info_hash,
        peer_id=peer * 20,
        port=port,
        uploaded=0,
        downloaded=0,
        left=left,
        event=event,
        key=int.from_bytes(peer * 4, "big"),
    )


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- opentracker -------------------------------------------------------------------------


@pytest.fixture
def opentracker() -> Iterator[tuple[int, int]]:
    exe = shutil.which("opentracker")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("opentracker is not installed (apt-get install opentracker)")
        pytest.skip("opentracker is not installed")
    # opentracker reads its whitelist as user nobody: pytest's tmp_path (under a 0700
    # directory) is out of its reach, so use a world-readable folder of our own.
    with tempfile.TemporaryDirectory(prefix="bitswarm-opentracker-") as tmp:
        os.chmod(tmp, 0o755)
        yield from _run_opentracker(exe, Path(tmp))


def _run_opentracker(exe: str, tmp_path: Path) -> Iterator[tuple[int, int]]:
    whitelist = tmp_path / "whitelist.txt"
    whitelist.write_text(IH.hex() + "\n")
    whitelist.chmod(0o644)
    http_port, udp_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    log = (tmp_path / "opentracker.log").open("wb")
    proc = subprocess.Popen(
        [exe, "-i", "127.0.0.1", "-p", str(http_port), "-P", str(udp_port), "-w", str(whitelist)],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Ready means: listening, and the whitelist loaded (opentracker reads it in a
        # thread of its own, so the port may open first). The probe peer announces and
        # then leaves again ('stopped' alone is answered before the whitelist check).
        probe = (
            f"http://127.0.0.1:{http_port}/announce?info_hash={quote_from_bytes(IH)}"
            f"&peer_id={'P' * 20}&port=1&uploaded=0&downloaded=0&left=0&compact=1"
        )
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                pytest.fail(f"opentracker exited: {(tmp_path / 'opentracker.log').read_text()}")
            try:
                with urllib.request.urlopen(probe + "&event=started", timeout=1) as resp:
                    if b"failure reason" not in resp.read():
                        break
            except urllib.error.HTTPError as err:
                err.close()  # it holds the response's socket open until closed
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("opentracker did not come up with its whitelist")
            time.sleep(0.05)
        with urllib.request.urlopen(probe + "&event=stopped", timeout=1) as resp:
            resp.read()
        yield http_port, udp_port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _swarm_round(url_a: str, url_b: str) -> None:
    async def main() -> None:
        ra = await announce(url_a, req(b"A", 40001, left=1000))
        assert ra.interval > 0
        rb = await announce(url_b, req(b"B", 40002, left=0))
        assert PeerAddress("127.0.0.1", 40001) in rb.peers
        ra = await announce(url_a, req(b"A", 40001, left=1000, event=AnnounceEvent.NONE))
        assert PeerAddress("127.0.0.1", 40002) in ra.peers
        assert (ra.complete, ra.incomplete) == (1, 1)
        stats = await scrape(url_b, [IH, OTHER_IH])
        assert stats[IH] == ScrapeStats(complete=1, downloaded=stats[IH].downloaded, incomplete=1)
        stray = req(b"C", 40003, left=5, info_hash=OTHER_IH)
        if url_a.startswith("http"):
            await _expect(TrackerFailure, announce(url_a, stray), "not authorized")
        else:  # over UDP, opentracker ignores a hash that is not whitelisted
            await _expect(TrackerUnreachable, announce(url_a, stray, timeout=0.3), "no answer")
        await announce(url_b, req(b"B", 40002, left=0, event=AnnounceEvent.STOPPED))
        ra = await announce(url_a, req(b"A", 40001, left=1000, event=AnnounceEvent.NONE))
        assert PeerAddress("127.0.0.1", 40002) not in ra.peers

    asyncio.run(main())


@pytest.mark.interop
def test_opentracker_over_http(opentracker: tuple[int, int]) -> None:
    http_port, _ = opentracker
    url = f"http://127.0.0.1:{http_port}/announce"
    _swarm_round(url, url)


@pytest.mark.interop
def test_opentracker_over_udp(opentracker: tuple[int, int]) -> None:
    _, udp_port = opentracker
    url = f"udp://127.0.0.1:{udp_port}/announce"  # the path goes out as a BEP 41 option
    _swarm_round(url, url)


@pytest.mark.interop
def test_opentracker_http_and_udp_share_a_swarm(opentracker: tuple[int, int]) -> None:
    http_port, udp_port = opentracker
    _swarm_round(f"http://127.0.0.1:{http_port}/announce", f"udp://127.0.0.1:{udp_port}")


@pytest.mark.interop
def test_udp_connection_reuses_its_connection_id(opentracker: tuple[int, int]) -> None:
    _, udp_port = opentracker

    async def main() -> None:
        async with asyncio.timeout(10):
            await _reuse(udp_port)

    async def _reuse(udp_port: int) -> None:
        with await UdpTrackerConnection.open(f"udp://127.0.0.1:{udp_port}") as conn:
            client = conn._protocol.client
            assert client is not None
            r1 = await conn.announce(req(b"D", 40004, left=1))
            loop = asyncio.get_running_loop()
            assert client.connection_valid(now=loop.time())
            r2, stats = await asyncio.gather(
                conn.announce(req(b"E", 40005, left=0)), conn.scrape([IH] * 80)
            )
            assert PeerAddress("127.0.0.1", 40004) in r2.peers and r1.interval > 0
            assert stats[IH].complete == 1 and stats[IH].incomplete == 1
            assert client.dropped.unknown_transaction == 0

    asyncio.run(main())


# -- hostile HTTP servers ----------------------------------------------------------------


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _with_server(routes: dict[str, Handler], body: Callable[[str], Awaitable[None]]) -> None:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await body(f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()


async def _expect(exc: type[Exception], coro: Awaitable[Any], *needles: str) -> str:
    with pytest.raises(exc) as e:
        await coro
    msg = str(e.value)
    assert "\n" not in msg, msg
    assert isinstance(e.value, TrackerUnreachable | TrackerFailure)
    for n in needles:
        assert n in msg, msg
    return msg


def test_http_failure_modes_are_one_clear_line() -> None:
    release = asyncio.Event()

    async def garbage(_: web.Request) -> web.StreamResponse:
        return web.Response(body=b"hello, I am not bencoding")

    async def html(_: web.Request) -> web.StreamResponse:
        return web.Response(
            body=b"<html><title>Tracker\nmaintenance</title><body>later</body></html>",
            content_type="text/html",
        )

    async def notfound(_: web.Request) -> web.StreamResponse:
        return web.Response(status=404, body=b"<h1>Not Found</h1>", content_type="text/html")

    async def refusal_500(_: web.Request) -> web.StreamResponse:
        return web.Response(status=500, body=b"d14:failure reason11:banned hoste")

    async def oversized(_: web.Request) -> web.StreamResponse:
        return web.Response(body=b"d5:peers" + b"x" * (MAX_BODY + 10))

    async def oversized_chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(20):
            await resp.write(b"y" * 65536)  # 1.25 MiB, no Content-Length
        await resp.write_eof()
        return resp

    async def hang(_: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(body=b"d8:intervali1ee")

    async def loop(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/loop/announce")

    async def moved(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/ok/announce?" + _.query_string)

    async def ok(request: web.Request) -> web.StreamResponse:
        assert request.query.getall("info_hash")  # the query survived the redirect
        return web.Response(body=b"d8:intervali77e5:peers6:\x7f\x00\x00\x01\x00\x50e")

    async def body(base: str) -> None:
        r = req(b"A", 1, left=1)
        await _expect(TrackerResponseError, announce(f"{base}/garbage/announce", r), "not bencoded")
        await _expect(
            TrackerResponseError,
            announce(f"{base}/html/announce", r),
            "HTML page ('Tracker maintenance')",
        )
        await _expect(TrackerUnreachable, announce(f"{base}/nf/announce", r), "HTTP 404")
        await _expect(TrackerFailure, announce(f"{base}/r500/announce", r), "banned host")
        await _expect(TrackerUnreachable, announce(f"{base}/big/announce", r), "over 1048576")
        await _expect(TrackerUnreachable, announce(f"{base}/chunked/announce", r), "over 1048576")
        t0 = time.monotonic()
        await _expect(
            TrackerUnreachable,
            announce(f"{base}/hang/announce", r, timeout=0.3),
            "no answer within 0.3 s",
        )
        assert time.monotonic() - t0 < 2
        release.set()
        await _expect(TrackerUnreachable, announce(f"{base}/loop/announce", r), "redirects")
        got = await announce(f"{base}/moved/announce?passkey=abc", r)
        assert got.interval == 77 and got.peers == (PeerAddress("127.0.0.1", 80),)
        msg = await _expect(
            TrackerUnreachable, announce(f"{base}/nf/announce?passkey=SECRET", r), "HTTP 404"
        )
        assert "SECRET" not in msg
        await _expect(ScrapeUnsupported, scrape(f"{base}/nf/tracker", [IH]), "scrape")
        got = await announce(f"{base}/ok/announce", r)
        assert got.interval == 77

    asyncio.run(
        _with_server(
            {
                "/garbage/announce": garbage,
                "/html/announce": html,
                "/nf/announce": notfound,
                "/r500/announce": refusal_500,
                "/big/announce": oversized,
                "/chunked/announce": oversized_chunked,
                "/hang/announce": hang,
                "/loop/announce": loop,
                "/moved/announce": moved,
                "/ok/announce": ok,
            },
            body,
        )
    )


def test_refused_and_non_http_servers() -> None:
    async def main() -> None:
        r = req(b"A", 1, left=1)
        port = free_port(socket.SOCK_STREAM)  # nothing listens there now
        await _expect(
            TrackerUnreachable,
            announce(f"http://127.0.0.1:{port}/announce", r),
            "cannot connect: Connection refused",
        )
        await _expect(
            TrackerUnreachable, announce("wss://127.0.0.1:1/announce", r), "unsupported tracker URL"
        )
        for bad in (
            "http:///announce",
            "http://[::1/announce",
            "http://h:99999/announce",
            "udp://h:port",
            "no url at all",
        ):
            await _expect(TrackerUnreachable, announce(bad, r), "invalid tracker URL")
            await _expect(TrackerUnreachable, scrape(bad, [IH]), "invalid tracker URL")

        async def speak_nonsense(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await reader.read(100)
            writer.write(b"\x00\x01 this is not HTTP at all\r\n\r\n")
            await writer.drain()
            writer.close()

        async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.transport.abort()  # RST instead of a reply

        async def cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(100)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nd8:interv")
            await writer.drain()
            writer.close()

        for handler, needles in (
            (speak_nonsense, ("invalid HTTP response (Bad status line",)),
            # a reset races our request: either of these is a fine one-line answer
            (hang_up, ("Connection reset by peer", "the server closed the connection")),
            (cut_short, ("cut off or malformed",)),
        ):
            server = await asyncio.start_server(handler, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            async with server:
                msg = await _expect(
                    TrackerUnreachable, announce(f"http://127.0.0.1:{port}/announce", r, timeout=5)
                )
                assert any(n in msg for n in needles), msg

    asyncio.run(main())


# -- hostile UDP servers -----------------------------------------------------------------


class _FakeUdpTracker(asyncio.DatagramProtocol):
    """Answers connects, then does `mode` to announces."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        assert self.transport is not None
        action, tid = int.from_bytes(data[8:12], "big"), data[12:16]
        if action == 0:
            self.transport.sendto(b"\x00\x00\x00\x00" + tid + b"C" * 8, addr)
        elif self.mode == "error":
            self.transport.sendto(b"\x00\x00\x00\x03" + tid + b"you are\nbanned", addr)
        elif self.mode == "ipv6":
            peer = bytes.fromhex("20010db8000000000000000000000007") + b"\x1a\xe1"
            self.transport.sendto(b"\x00\x00\x00\x01" + tid + bytes(12) + peer * 2, addr)
        elif self.mode == "spoof":
            self.transport.sendto(b"\x00\x00\x00\x01" + b"\xde\xad\xbe\xef" + b"\x00" * 12, addr)
            self.transport.sendto(b"\x00\x01", addr)


def test_udp_failure_modes_are_one_clear_line() -> None:
    async def main() -> None:
        r = req(b"A", 1, left=1)
        loop = asyncio.get_running_loop()
        port = free_port(socket.SOCK_DGRAM)  # closed: the kernel answers ICMP unreachable
        await _expect(
            TrackerUnreachable, announce(f"udp://127.0.0.1:{port}", r, timeout=2), "refused"
        )
        await _expect(
            TrackerUnreachable, announce("udp://127.0.0.1/announce", r), "needs a host and a port"
        )
        for mode, exc, needle in (
            ("error", TrackerFailure, "you are banned"),
            ("spoof", TrackerUnreachable, "no answer within 0.4 s"),
            ("silent", TrackerUnreachable, "no answer within 0.4 s"),
        ):
            transport, _ = await loop.create_datagram_endpoint(
                functools.partial(_FakeUdpTracker, mode), local_addr=("127.0.0.1", 0)
            )
            try:
                port = transport.get_extra_info("sockname")[1]
                await _expect(exc, announce(f"udp://127.0.0.1:{port}", r, timeout=0.4), needle)
                await _expect(exc, scrape(f"udp://127.0.0.1:{port}", [IH], timeout=0.4), needle)
            finally:
                transport.close()

    asyncio.run(main())


def test_udp_over_ipv6_reads_18_byte_peers() -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _FakeUdpTracker("ipv6"), local_addr=("::1", 0)
        )
        try:
            port = transport.get_extra_info("sockname")[1]
            got = await announce(f"udp://[::1]:{port}/announce", req(b"A", 1, left=1), timeout=2)
            assert got.peers == (PeerAddress("2001:db8::7", 6881),) * 2
        finally:
            transport.close()

    asyncio.run(main())
