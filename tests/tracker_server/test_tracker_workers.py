"""``--workers 2`` on the in-memory store: every swarm lives in one worker, and still
every peer of a swarm sees every other, whichever worker the kernel gave its datagram or
connection to (many source addresses 127.0.0.x and ports, UDP and HTTP, keep-alive
connections naming swarms of both workers); scrapes of hashes of both workers add up; a
killed worker is restarted with the same sockets and its swarms fill again as peers
re-announce.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest

from bitswarm.bencode import BValue
from bitswarm.tracker_server.reuseport import bind_group
from bitswarm.tracker_server.shard_codec import shard_of

from .tracker_server_helpers import TrackerProcess, bdict, http_get

MAGIC = 0x41727101980
#: 8 info-hashes, 4 owned by each worker (shard_of reads the first four bytes)
HASHES = [i.to_bytes(4, "big") + bytes([0xA0 + i]) * 16 for i in range(8)]
PEERS = 12


def source(k: int) -> str:
    return f"127.0.0.{2 + k % 6}"


def peer_id(k: int) -> bytes:
    return b"-TW0001-%012d" % k


def udp_call(port: int, src: str, datagram: bytes, tid: int) -> bytes:
    """Send `datagram` (its transaction id is `tid`) from `src`, retrying; the reply."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        s.settimeout(1.0)
        for _ in range(10):  # a busy machine, or a worker restarting: ask again
            s.sendto(datagram, ("127.0.0.1", port))
            try:
                while True:
                    reply = s.recv(4096)
                    if struct.unpack_from(">I", reply, 4)[0] == tid:
                        return reply
            except TimeoutError:
                continue
        raise AssertionError(f"no UDP reply from {src}")


def udp_announce(port: int, src: str, ih: bytes, k: int, *, left: int = 1, event: int = 2,
                 numwant: int = 200) -> tuple[int, int, set[tuple[str, int]]]:  # fmt: skip
    """(leechers, seeders, peers) after announcing peer `k` from `src`, a fresh port."""
    reply = udp_call(port, src, struct.pack(">QII", MAGIC, 0, 1), 1)
    (cid,) = struct.unpack_from(">Q", reply, 8)
    packet = struct.pack(">QII20s20sQQQIIIiH", cid, 1, 2, ih, peer_id(k), 0, left, 0, event,
                         0, k, numwant, 20_000 + k)  # fmt: skip
    reply = udp_call(port, src, packet, 2)
    action, _tid, _interval, leechers, seeders = struct.unpack_from(">IIIII", reply)
    assert action == 1, reply
    body = reply[20:]
    peers = {(socket.inet_ntoa(body[i : i + 4]), int.from_bytes(body[i + 4 : i + 6], "big"))
             for i in range(0, len(body), 6)}  # fmt: skip
    return leechers, seeders, peers


def udp_scrape(port: int, hashes: list[bytes]) -> list[tuple[int, int, int]]:
    reply = udp_call(port, "127.0.0.1", struct.pack(">QII", MAGIC, 0, 1), 1)
    (cid,) = struct.unpack_from(">Q", reply, 8)
    reply = udp_call(port, "127.0.0.1", struct.pack(">QII", cid, 2, 3) + b"".join(hashes), 3)
    assert struct.unpack_from(">I", reply)[0] == 2, reply
    return [struct.unpack_from(">III", reply, 8 + 12 * i) for i in range(len(hashes))]


class KeepAlive:
    """One HTTP/1.1 connection from `src`, several requests in turn."""

    def __init__(self, port: int, src: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), 5, source_address=(src, 0))
        self.buf = b""

    def get(self, target: str) -> dict[bytes, BValue]:
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))  # fmt: skip
        while len(self.buf) < length:
            self.buf += self._recv()
        body, self.buf = self.buf[:length], self.buf[length:]
        assert head.startswith(b"HTTP/1.1 200"), head
        return bdict(body)

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        assert chunk, "the tracker closed a keep-alive connection"
        return chunk

    def close(self) -> None:
        self.sock.close()


def http_announce(conn: KeepAlive, ih: bytes, k: int, *, left: int = 1) -> set[tuple[str, int]]:
    q = (f"info_hash={quote_from_bytes(ih, safe='')}&peer_id={quote_from_bytes(peer_id(k))}"
         f"&port={20_000 + k}&uploaded=0&downloaded=0&left={left}&compact=1&numwant=200"
         "&event=started")  # fmt: skip
    reply = conn.get(f"/announce?{q}")
    assert b"failure reason" not in reply, reply
    raw = reply[b"peers"]
    assert isinstance(raw, bytes)
    return {(socket.inet_ntoa(raw[i : i + 4]), int.from_bytes(raw[i + 4 : i + 6], "big"))
            for i in range(0, len(raw), 6)}  # fmt: skip


def everyone(ks: range) -> set[tuple[str, int]]:
    return {(source(k), 20_000 + k) for k in ks}


def announce_all(t: TrackerProcess, ks: range) -> None:
    """Peer k of every swarm announces: even k over UDP, odd k over HTTP."""
    for k in ks:
        if k % 2:
            conn = KeepAlive(t.http_port, source(k))
            try:
                for ih in HASHES:  # one connection naming the swarms of both workers
                    http_announce(conn, ih, k, left=k % 3)
            finally:
                conn.close()
        else:
            for ih in HASHES:
                udp_announce(t.udp_port, source(k), ih, k, left=k % 3)


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerProcess]:
    with TrackerProcess("--workers", "2", workdir=tmp_path_factory.mktemp("wk")) as t:
        assert t.ready["workers"] == 2
        announce_all(t, range(PEERS))
        yield t
    assert t.proc is not None and t.proc.returncode == 0, t.log()


def test_the_hashes_fall_on_both_workers() -> None:
    assert sorted(shard_of(h, 2) for h in HASHES) == [0] * 4 + [1] * 4


def test_the_kernel_routes_announces_and_scrapes_by_info_hash_and_spreads_connects() -> None:
    """SO_ATTACH_REUSEPORT_CBPF: announce and scrape to socket shard_of(first hash)."""
    socks, routed = bind_group(("127.0.0.1", 0), 2)
    try:
        assert routed, "this kernel refused SO_ATTACH_REUSEPORT_CBPF"
        port = socks[0].getsockname()[1]
        connects = [0, 0]
        for i in range(64):
            ih = os.urandom(20)
            announce = struct.pack(">QII", 1, 1, i) + ih + b"p" * 20 + bytes(62)
            scrape = struct.pack(">QII", 1, 2, i) + ih + os.urandom(20)
            for datagram in (announce, scrape):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
                    c.sendto(datagram, ("127.0.0.1", port))
                    assert receiver(socks) == shard_of(ih, 2)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
                c.sendto(struct.pack(">QII", MAGIC, 0, i), ("127.0.0.1", port))
                connects[receiver(socks)] += 1
        assert min(connects) > 0, connects  # the kernel's source hash spreads connects
    finally:
        for s in socks:
            s.close()


def receiver(socks: list[socket.socket]) -> int:
    """The index of the socket a datagram just sent arrives on."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for i, s in enumerate(socks):
            try:
                s.recv(4096)
                return i
            except BlockingIOError:
                pass
        time.sleep(0.001)
    raise AssertionError("the datagram arrived nowhere")


def test_every_peer_of_a_swarm_sees_all_the_others(workers: TrackerProcess) -> None:
    for ih in HASHES:
        # a newcomer over UDP and one over HTTP each see all PEERS peers
        _l, _s, peers = udp_announce(workers.udp_port, source(PEERS), ih, PEERS)
        assert peers == everyone(range(PEERS)), ih.hex()
        conn = KeepAlive(workers.http_port, source(PEERS + 1))
        try:
            assert http_announce(conn, ih, PEERS + 1) == everyone(range(PEERS + 1)), ih.hex()
        finally:
            conn.close()
        for k in (PEERS, PEERS + 1):  # leave again
            udp_announce(workers.udp_port, source(k), ih, k, event=3)


def test_scrapes_of_hashes_on_both_workers_add_up(workers: TrackerProcess) -> None:
    seeders = sum(1 for k in range(PEERS) if k % 3 == 0)
    expected = (seeders, 0, PEERS - seeders)  # complete, downloaded, incomplete
    order = [*HASHES[::-1], b"\xff" * 20]  # both workers' hashes, and an unknown one
    assert udp_scrape(workers.udp_port, order) == [expected] * 8 + [(0, 0, 0)]
    conn = KeepAlive(workers.http_port, "127.0.0.1")
    try:
        query = "&".join(f"info_hash={quote_from_bytes(h, safe='')}" for h in order)
        files = conn.get(f"/scrape?{query}")[b"files"]
        assert isinstance(files, dict)
        got = {}
        for h, f in files.items():
            assert isinstance(f, dict)
            got[h] = (f[b"complete"], f[b"downloaded"], f[b"incomplete"])
        assert got == {**dict.fromkeys(HASHES, expected), b"\xff" * 20: (0, 0, 0)}
        full = conn.get("/scrape")[b"files"]
        assert isinstance(full, dict) and set(HASHES) <= set(full)
    finally:
        conn.close()
    text = http_get(workers.http_port, "/metrics")[1].decode()  # both workers' swarms
    assert "\nbitswarm_tracker_swarms 8\n" in text, text


def children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(x) for x in text.split()}


def test_a_killed_worker_comes_back_and_its_swarms_refill(tmp_path: Path) -> None:
    with TrackerProcess("--workers", "2", workdir=tmp_path) as t:
        assert t.proc is not None
        announce_all(t, range(4))
        before = children(t.proc.pid)
        assert len(before) == 2
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            now = children(t.proc.pid)
            if len(now) == 2 and victim not in now:
                break
            assert time.monotonic() < deadline, "the worker was not restarted"
            time.sleep(0.1)
        # exactly the swarms of one worker are gone; the other worker's are intact
        counts = udp_scrape(t.udp_port, HASHES)
        lost = {shard_of(h, 2) for h, c in zip(HASHES, counts, strict=True) if c == (0, 0, 0)}
        kept = {shard_of(h, 2) for h, c in zip(HASHES, counts, strict=True) if c != (0, 0, 0)}
        assert len(lost) == 1 and len(kept) == 1 and lost != kept, counts
        announce_all(t, range(4))  # the peers re-announce
        for ih in HASHES:
            _l, _s, peers = udp_announce(t.udp_port, source(9), ih, 9)
            assert peers == everyone(range(4)), ih.hex()
        assert t.stop() == 1  # the supervisor's status records that a worker died
