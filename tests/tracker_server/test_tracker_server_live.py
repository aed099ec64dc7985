"""The tracker as a process on loopback: bitswarm's own client announces and scrapes over
HTTP and UDP; hostile requests get failure reasons or are dropped and the tracker keeps
serving; metrics, stats, private mode with SIGHUP, workers, proxies, expiry, IPv6.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitswarm.aio.tracker_client import announce, scrape
from bitswarm.tracker.announce import (
    AnnounceEvent,
    AnnounceRequest,
    AnnounceResponse,
    ScrapeStats,
    TrackerFailure,
)
from bitswarm.tracker.udp_codec import encode_announce_request, encode_connect_request

from .tracker_server_helpers import TrackerProcess, bdict, http_get

IH = b"\x11" * 20
IH2 = b"\x22" * 20


def req(peer: int, *, ih: bytes = IH, left: int = 10, event: AnnounceEvent = AnnounceEvent.STARTED,
        compact: bool = True, numwant: int = 50) -> AnnounceRequest:  # fmt: skip
    return AnnounceRequest(info_hash=ih, peer_id=b"-TS0001-%012d" % peer, port=10_000 + peer,
                           uploaded=0, downloaded=0, left=left, event=event, key=peer,
                           numwant=numwant, compact=compact)  # fmt: skip


def go(url: str, request: AnnounceRequest) -> AnnounceResponse:
    return asyncio.run(announce(url, request, timeout=5))


def udp_exchange(port: int, datagram: bytes, *, host: str = "127.0.0.1", wait: float = 1.0,
                 source: str | None = None) -> bytes | None:  # fmt: skip
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        if source:
            s.bind((source, 0))
        s.settimeout(wait)
        s.sendto(datagram, (host, port))
        try:
            return s.recv(4096)
        except TimeoutError:
            return None


def connection_id(port: int, *, host: str = "127.0.0.1", source: str | None = None) -> int:
    reply = udp_exchange(port, encode_connect_request(77), host=host, source=source)
    assert reply is not None and struct.unpack_from(">II", reply) == (0, 77)
    return int(struct.unpack_from(">Q", reply, 8)[0])


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerProcess]:
    with TrackerProcess("--interval", "900", workdir=tmp_path_factory.mktemp("trk")) as t:
        yield t
    assert t.proc is not None and t.proc.returncode == 0, t.log()


def test_starts_in_under_a_second_and_peers_meet_over_http_and_udp(tracker: TrackerProcess) -> None:
    # CPU seconds, not wall-clock ones: a busy machine (CI, xdist) must not fail this
    assert tracker.start_cpu < 1.0, f"took {tracker.start_cpu:.2f} CPU s to listen"
    assert tracker.started_in < 10.0, f"took {tracker.started_in:.2f} s to listen"
    for url, ih in ((tracker.http_url, b"\x31" * 20), (tracker.udp_url, b"\x32" * 20)):
        first = go(url, req(1, ih=ih, left=0))
        assert (first.complete, first.incomplete, first.peers) == (1, 0, ())
        second = go(url, req(2, ih=ih))
        assert [(p.host, p.port) for p in second.peers] == [("127.0.0.1", 10_001)]
        assert (second.complete, second.incomplete, second.interval) == (1, 1, 900)
        done = go(url, req(2, ih=ih, left=0, event=AnnounceEvent.COMPLETED))
        assert (done.complete, done.incomplete) == (2, 0)
        stats = asyncio.run(scrape(url, [ih, b"\x99" * 20], timeout=5))
        assert stats[ih] == ScrapeStats(complete=2, downloaded=1, incomplete=0)
        assert stats[b"\x99" * 20] == ScrapeStats(0, 0, 0)
        gone = go(url, req(1, ih=ih, left=0, event=AnnounceEvent.STOPPED))
        assert (gone.complete, gone.peers) == (1, ())


def test_dictionary_peers_and_no_peer_id_over_http(tracker: TrackerProcess) -> None:
    ih = b"\x33" * 20
    go(tracker.http_url, req(1, ih=ih))
    full = go(tracker.http_url, req(2, ih=ih, compact=False))
    assert [(p.host, p.port, p.peer_id) for p in full.peers] == [
        ("127.0.0.1", 10_001, req(1).peer_id)]  # fmt: skip
    q = (f"/announce?info_hash={'%33' * 20}&peer_id={'b' * 20}&port=5&left=1&compact=0"
         "&no_peer_id=1")  # fmt: skip
    status, body, _ = http_get(tracker.http_port, q)
    peers = bdict(body)[b"peers"]
    assert status == 200 and isinstance(peers, list) and len(peers) == 2
    assert all(isinstance(p, dict) and b"peer id" not in p for p in peers)


HOSTILE = [
    "/announce",
    "/announce?info_hash=short&peer_id=xxxxxxxxxxxxxxxxxxxx&port=1&left=0",
    f"/announce?info_hash={'%41' * 21}&peer_id={'x' * 20}&port=1&left=0",
    f"/announce?info_hash={'%41' * 20}&peer_id={'x' * 20}&port=-1&left=0",
    f"/announce?info_hash={'%41' * 20}&peer_id={'x' * 20}&port=1&left=-5",
    f"/announce?info_hash={'%41' * 20}&peer_id={'x' * 20}&port=1&left=1e99",
    f"/announce?info_hash={'%41' * 20}&peer_id={'x' * 20}&port=1&left=0&uploaded=" + "9" * 40,
    f"/announce?info_hash={'%41' * 20}&peer_id={'x' * 20}&port=1&left=0&event=%ff%00",
    "/announce?%%%%=%%&&&&==&info_hash&peer_id=",
    "/announce?" + "a=b&" * 1000,
    "/announce?" + "x" * 20_000,
    "/scrape?info_hash=tooshort",
]


def test_hostile_http_gets_bencoded_failures_and_the_tracker_keeps_serving(
    tracker: TrackerProcess,
) -> None:
    for target in HOSTILE:
        status, body, head = http_get(tracker.http_port, target)
        assert status == 200, (target[:80], status, body[:200])
        reason = bdict(body)[b"failure reason"]
        assert isinstance(reason, bytes) and reason, target[:80]
        assert "text/html" not in head
    # numwant=1000000 is capped, not refused
    ok = f"/announce?info_hash={'%41' * 20}&peer_id={'y' * 20}&port=9&left=0&numwant=1000000"
    assert b"failure reason" not in http_get(tracker.http_port, ok)[1]
    status, body, _ = http_get(tracker.http_port, "/favicon.ico")
    assert status == 404 and b"failure reason" in bdict(body)
    with socket.create_connection(("127.0.0.1", tracker.http_port), timeout=5) as s:
        s.sendall(b"POST /announce HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                  b"Connection: close\r\n\r\n")  # fmt: skip
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 405") and b"failure reason" in data
    assert go(tracker.http_url, req(5, ih=b"\x34" * 20)).interval == 900  # still serving
    assert tracker.alive()


def test_hostile_udp_is_dropped_or_answered_with_an_error(tracker: TrackerProcess) -> None:
    port = tracker.udp_port
    assert udp_exchange(port, b"", wait=0.2) is None
    assert udp_exchange(port, b"\x00" * 15, wait=0.2) is None
    assert udp_exchange(port, b"\x00" * 16, wait=0.2) is None  # connect without magic
    long = encode_connect_request(5) + b"\xff" * 3000  # longer than any request
    reply = udp_exchange(port, long)
    # BEP 15: "do not expect packets to be exactly of a certain size"
    assert reply is not None and struct.unpack_from(">II", reply) == (0, 5)
    good = encode_announce_request(connection_id(port), 9, req(1, ih=b"\x35" * 20))
    forged = bytearray(good)
    forged[7] ^= 0x55  # flip bits of the connection id
    assert udp_exchange(port, bytes(forged), wait=0.3) is None
    # an id issued to 127.0.0.2 is refused from 127.0.0.1: a spoofer cannot reuse it
    other = connection_id(port, source="127.0.0.2")
    spoofed = encode_announce_request(other, 9, req(1, ih=b"\x35" * 20))
    assert udp_exchange(port, spoofed, wait=0.3) is None
    cid = connection_id(port)
    short = encode_announce_request(cid, 10, req(1))[:60]
    err = udp_exchange(port, short)
    assert err is not None and struct.unpack_from(">II", err) == (3, 10)
    assert b"too short" in err[8:]
    reply = udp_exchange(
        port,
        encode_announce_request(cid, 11, req(1, ih=b"\x35" * 20), request_string=b"/announce?k=v"),
    )
    assert reply is not None and struct.unpack_from(">II", reply) == (1, 11)
    assert tracker.alive()


def test_thousands_of_announces_from_one_address(tracker: TrackerProcess) -> None:
    port = tracker.udp_port
    cid = connection_id(port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2.0)
        got = 0
        # Bursts of 100: the replies to a burst wait in this socket's receive buffer (~200 KiB
        # by default, ~1 KiB of it per datagram) until the burst is sent, and a tracker that
        # answers faster than this loop sends would overflow it with bursts of 300.
        for batch in range(30):
            for i in range(100):
                peer = batch * 100 + i
                s.sendto(encode_announce_request(cid, peer, req(peer, ih=b"\x36" * 20, numwant=5)),
                         ("127.0.0.1", port))  # fmt: skip
            for _ in range(100):
                try:
                    s.recv(4096)
                    got += 1
                except TimeoutError:
                    break
    assert got >= 2900  # loopback may drop a few under a burst, the tracker does not
    stats = asyncio.run(scrape(tracker.udp_url, [b"\x36" * 20], timeout=5))
    assert stats[b"\x36" * 20].incomplete >= 2900
    assert go(tracker.http_url, req(1, ih=b"\x37" * 20)).interval == 900


def test_rate_limit_refuses_a_flooding_address(tmp_path: Path) -> None:
    with TrackerProcess("--rate-limit", "5", workdir=tmp_path) as t:  # burst 50
        url = f"/announce?info_hash={'%41' * 20}&peer_id={'z' * 20}&port=9&left=0"
        started = time.monotonic()
        refused = sum(b"too many requests" in http_get(t.http_port, url)[1] for _ in range(150))
        # 50 from the burst, then 5 a second: the rest is refused
        assert refused >= 100 - 5 * (time.monotonic() - started) - 1
        answered = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            for i in range(300):
                s.sendto(encode_connect_request(i), ("127.0.0.1", t.udp_port))
            while True:
                try:
                    s.recv(64)
                    answered += 1
                except TimeoutError:
                    break
        assert answered < 100  # mostly dropped: the bucket was empty
        metrics = http_get(t.http_port, "/metrics")[1].decode()
        assert 'bitswarm_tracker_errors_total{proto="http",kind="rate_limited"}' in metrics
        assert t.alive()


def test_metrics_and_stats_pages(tracker: TrackerProcess) -> None:
    # both protocols announce here, so the test holds alone (xdist splits the module)
    go(tracker.udp_url, req(1, ih=b"\x38" * 20))
    go(tracker.http_url, req(2, ih=b"\x38" * 20))
    asyncio.run(scrape(tracker.udp_url, [b"\x38" * 20], timeout=5))
    forged = bytearray(encode_announce_request(connection_id(tracker.udp_port), 9, req(3)))
    forged[7] ^= 0x55  # a bad connection id: counted as an error
    assert udp_exchange(tracker.udp_port, bytes(forged), wait=0.3) is None
    status, body, head = http_get(tracker.http_port, "/metrics")
    text = body.decode()
    assert status == 200 and "text/plain" in head
    for needle in ('bitswarm_tracker_announces_total{proto="udp",event="started"}',
                   'bitswarm_tracker_announces_total{proto="http",event="started"}',
                   'bitswarm_tracker_scrapes_total{proto="udp",kind="hashes"}',
                   'bitswarm_tracker_errors_total{proto="udp",kind="bad_connection_id"}',
                   'bitswarm_tracker_request_seconds_bucket{proto="udp",le="+Inf"}',
                   "# TYPE bitswarm_tracker_request_seconds histogram",
                   "bitswarm_tracker_swarms ",
                   'bitswarm_tracker_peers{state="leecher"}'):  # fmt: skip
        assert needle in text, needle
    status, body, head = http_get(tracker.http_port, "/stats")
    assert status == 200 and "text/html" in head and b"swarms" in body


def test_full_scrape_lists_swarms_and_can_be_turned_off(
    tracker: TrackerProcess, tmp_path: Path
) -> None:
    go(tracker.http_url, req(1, ih=b"\x39" * 20))
    files = bdict(http_get(tracker.http_port, "/scrape")[1])[b"files"]
    assert isinstance(files, dict) and b"\x39" * 20 in files
    with TrackerProcess("--no-full-scrape", workdir=tmp_path) as t:
        body = http_get(t.http_port, "/scrape")[1]
        failure = bdict(body)[b"failure reason"]
        assert isinstance(failure, bytes) and b"full scrape is disabled" in failure


def test_private_mode_and_whitelist_reload_on_sighup(tmp_path: Path) -> None:
    wl = tmp_path / "whitelist.txt"
    wl.write_text(f"# private\n{IH.hex()}\n")
    with TrackerProcess("--whitelist", str(wl), workdir=tmp_path / "t") as t:
        assert go(t.http_url, req(1)).interval > 0
        for url in (t.http_url, t.udp_url):
            with pytest.raises(TrackerFailure, match="not authorized"):
                go(url, req(1, ih=IH2))
        wl.write_text(f"{IH.hex()}\n{IH2.hex()} second\n")
        t.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while True:
            try:
                assert go(t.udp_url, req(2, ih=IH2)).interval > 0
                break
            except TrackerFailure:
                assert time.monotonic() < deadline, "SIGHUP did not reload the whitelist"
                time.sleep(0.05)
        wl.write_text("broken line\n")  # a bad reload keeps the old list
        t.signal(signal.SIGHUP)
        time.sleep(0.3)
        assert go(t.http_url, req(3, ih=IH2)).interval > 0
        assert "whitelist reload failed" in t.log()


def test_workers_share_the_ports_and_the_memory_store(tmp_path: Path) -> None:
    # (each swarm lives in one worker: test_tracker_workers.py shows that peers meet)
    with TrackerProcess("--workers", "2", workdir=tmp_path) as t:
        assert t.ready["workers"] == 2
        for i in range(20):
            assert go(t.udp_url if i % 2 else t.http_url, req(i, ih=b"\x3a" * 20)).interval > 0
        deadline = time.monotonic() + 10  # workers publish their counters every second
        while True:
            text = http_get(t.http_port, "/metrics")[1].decode()
            prefix = 'bitswarm_tracker_announces_total{proto="udp"'
            line = next((x for x in text.splitlines() if x.startswith(prefix)), " 0")
            udp_announces = float(line.rsplit(" ", 1)[1])  # 0 until the owner has published
            if udp_announces == 10 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert udp_announces == 10  # both workers' counts, merged
        assert t.stop() == 0


def test_trusted_proxy_forwarded_for(tmp_path: Path) -> None:
    with TrackerProcess("--trusted-proxy", "127.0.0.0/8", workdir=tmp_path) as t:
        base = f"/announce?info_hash={'%3b' * 20}&port=7&left=1&compact=0"
        http_get(t.http_port, base + f"&peer_id={'p' * 20}",
                 headers="X-Forwarded-For: 203.0.113.7, 127.0.0.1\r\n")  # fmt: skip
        peers = bdict(http_get(t.http_port, base + f"&peer_id={'q' * 20}")[1])[b"peers"]
        assert isinstance(peers, list) and peers[0] == {b"ip": b"203.0.113.7", b"port": 7,
                                                        b"peer id": b"p" * 20}  # fmt: skip


def test_untrusted_forwarded_for_and_ip_are_ignored(tracker: TrackerProcess) -> None:
    base = f"/announce?info_hash={'%3c' * 20}&port=7&left=1&compact=0"
    http_get(tracker.http_port, base + f"&peer_id={'p' * 20}&ip=198.51.100.1",
             headers="X-Forwarded-For: 203.0.113.7\r\n")  # fmt: skip
    peers = bdict(http_get(tracker.http_port, base + f"&peer_id={'q' * 20}")[1])[b"peers"]
    assert isinstance(peers, list) and isinstance(peers[0], dict)
    assert peers[0][b"ip"] == b"127.0.0.1"


def test_peers_expire_after_the_peer_timeout(tmp_path: Path) -> None:
    with TrackerProcess("--interval", "1", "--min-interval", "1", "--peer-timeout", "1",
                        workdir=tmp_path) as t:  # fmt: skip
        go(t.udp_url, req(1))
        assert [p.port for p in go(t.udp_url, req(2)).peers] == [10_001]
        time.sleep(1.2)
        late = go(t.http_url, req(3))
        assert (late.incomplete, late.peers) == (1, ())


def test_ipv6_udp_and_http(tmp_path: Path) -> None:
    with TrackerProcess("--http", "[::1]:0", "--udp", "[::1]:0", workdir=tmp_path,
                        http=False, udp=False) as t:  # fmt: skip
        assert t.http_url.startswith("http://[::1]:")
        go(t.udp_url, req(1))
        over_udp = go(t.udp_url, req(2))
        assert [(p.host, p.port) for p in over_udp.peers] == [("::1", 10_001)]  # 18-byte stride
        _, body, _ = http_get_v6(t.http_port, f"/announce?info_hash={'%11' * 20}"
                                      f"&peer_id={'v' * 20}&port=3&left=1")  # fmt: skip
        d = bdict(body)
        assert d[b"peers"] == b"" and isinstance(d[b"peers6"], bytes) and len(d[b"peers6"]) == 36


def http_get_v6(port: int, target: str) -> tuple[int, bytes, str]:
    with socket.create_connection(("::1", port), timeout=5) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body, head.decode()
