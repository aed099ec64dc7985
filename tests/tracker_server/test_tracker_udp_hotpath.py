"""The UDP tracker's hot path: the fast announce parser, the packed store reply, the
cached connection ids and the batched drain with its send queue, on real loopback sockets.

Each fast piece is checked against the general one it stands in for: `announce_fields`
against `parse_request`, `announce_packed` against `announce_now`, the id cache against
the MAC, and a drain of a mixed burst against what each datagram alone must get.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.tracker.announce import AnnounceEvent, AnnounceRequest
from bitswarm.tracker.udp_codec import (
    PROTOCOL_ID,
    UdpAnnounce,
    announce_fields,
    encode_connect_request,
    parse_request,
)
from bitswarm.tracker_server import conn_ids as conn_ids_module
from bitswarm.tracker_server import udp_frontend
from bitswarm.tracker_server.config import TrackerConfig
from bitswarm.tracker_server.conn_ids import WINDOW_SECONDS, ConnectionIds
from bitswarm.tracker_server.memory_store import MemorySwarmStore
from bitswarm.tracker_server.service import TrackerService
from bitswarm.tracker_server.store import PeerAnnounce
from bitswarm.tracker_server.udp_frontend import UdpFrontend

_ANNOUNCE = struct.Struct(">QII20s20sQQQIIIiH")
KEY = b"k" * 32
IH = b"\x01" * 20
U64 = 2**64 - 1


# --- announce_fields against parse_request ------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    action=st.sampled_from([0, 1, 1, 1, 2, 5]),
    counts=st.tuples(*[st.sampled_from([0, 1, 2**63 - 1, 2**63, U64])] * 3),
    event=st.sampled_from([0, 1, 2, 3, 4, 0xFFFFFFFF]),
    numwant=st.sampled_from([-1, 0, 50, 2**31 - 1, -(2**31)]),
    port=st.sampled_from([0, 1, 6881, 0xFFFF]),
    cut=st.integers(0, 8),
    tail=st.binary(max_size=12),
)
def test_announce_fields_accepts_exactly_the_announces_parse_request_accepts(
    action: int, counts: tuple[int, int, int], event: int, numwant: int, port: int, cut: int,
    tail: bytes,
) -> None:  # fmt: skip
    downloaded, left, uploaded = counts
    data = _ANNOUNCE.pack(0x1234, action, 77, IH, b"P" * 20, downloaded, left, uploaded,
                          event, 0x7F000002, 9, numwant, port) + tail  # fmt: skip
    data = data[: len(data) - cut] if cut else data  # some are cut short of 98 bytes
    fields = announce_fields(data)
    req = parse_request(data)
    assert (fields is not None) == isinstance(req, UdpAnnounce)
    if fields is not None:
        assert isinstance(req, UdpAnnounce)
        cid, tid, info_hash, peer_id, left_, event_, ip, numwant_, port_ = fields
        r = req.request
        assert (cid, tid, ip) == (req.connection_id, req.transaction_id, req.ip)
        assert (info_hash, peer_id, left_, event_, port_) == (r.info_hash, r.peer_id, r.left,
                                                              r.event, r.port)  # fmt: skip
        assert (None if numwant_ < 0 else numwant_) == req.numwant


# --- announce_packed against announce_now ---------------------------------------------------


def _store(seed: int = 1) -> MemorySwarmStore:
    return MemorySwarmStore(TrackerConfig(peer_timeout=3600.0), random.Random(seed))


def _peer(n: int, v6: bool = False) -> tuple[bytes, bytes]:
    host = (
        (b"\x20\x01" + bytes(12) + n.to_bytes(2, "big"))
        if v6
        else b"\x0a\x00" + n.to_bytes(2, "big")
    )
    return n.to_bytes(20, "big"), host + (1000 + n % 60000).to_bytes(2, "big")


def _ann(n: int, *, left: int = 1, event: AnnounceEvent = AnnounceEvent.NONE,
         numwant: int = 50, v6: bool = False) -> PeerAnnounce:  # fmt: skip
    pid, packed = _peer(n, v6)
    req = AnnounceRequest(info_hash=IH, peer_id=pid, port=1000 + n % 60000, uploaded=0,
                          downloaded=0, left=left, event=event, key=0, numwant=numwant)  # fmt: skip
    return PeerAnnounce(req, packed, numwant, both_families=False)


def _entries(peers: bytes, stride: int) -> list[bytes]:
    assert len(peers) % stride == 0
    return [peers[i : i + stride] for i in range(0, len(peers), stride)]


@pytest.mark.parametrize("size", [1, 2, 10, 50, 51, 52, 200])
@pytest.mark.parametrize("v6", [False, True])
def test_packed_reply_is_other_live_peers_of_the_family_never_the_asker(
    size: int, v6: bool
) -> None:
    s = _store()
    for n in range(size):
        s.announce_now(_ann(n, v6=v6), 0.0)
    s.announce_now(_ann(size, v6=not v6), 0.0)  # one of the other family: never returned
    stride = 18 if v6 else 6
    members = {_peer(n, v6)[1] for n in range(size)}
    seen: set[bytes] = set()
    for round_ in range(300):
        asker = round_ % size
        pid, packed = _peer(asker, v6)
        seeders, leechers, done, peers = s.announce_packed(IH, pid, packed, 1,
                                                          AnnounceEvent.NONE, 50, 1.0)  # fmt: skip
        got = _entries(peers, stride)
        assert len(got) == min(50, size - 1) == len(set(got))
        assert packed not in got and set(got) <= members
        assert (seeders, leechers, done) == (0, size + 1, 0)
        seen.update(got)
    assert seen == members if size > 1 else seen == set()  # every peer turns up


def test_packed_and_object_replies_keep_the_same_counts_and_states() -> None:
    a, b = _store(3), _store(3)
    rng = random.Random(9)
    events = list(AnnounceEvent)
    for step in range(2000):
        n, left, event = rng.randrange(40), rng.choice([0, 5]), rng.choice(events)
        now = step * 2.0
        ann = _ann(n, left=left, event=event)
        r = a.announce_now(ann, now)
        seeders, leechers, done, peers = b.announce_packed(
            IH, ann.request.peer_id, ann.packed, left, event, rng.choice([0, 3, 50]), now
        )
        assert (r.complete, r.incomplete, r.downloaded) == (seeders, leechers, done)
        assert ann.packed not in _entries(peers, 6)
    assert a.totals_now() == b.totals_now()
    assert sorted(a.peers_of(IH)) == sorted(b.peers_of(IH))


def test_packed_stop_of_an_unknown_swarm_and_numwant_zero() -> None:
    s = _store()
    pid, packed = _peer(1)
    assert s.announce_packed(IH, pid, packed, 1, AnnounceEvent.STOPPED, 50, 0.0) == (0, 0, 0, b"")
    assert s.totals_now().swarms == 0
    s.announce_packed(b"\x02" * 20, pid, packed, 1, AnnounceEvent.STARTED, 50, 0.0)
    pid2, packed2 = _peer(2)
    assert s.announce_packed(b"\x02" * 20, pid2, packed2, 0, AnnounceEvent.STARTED, 0, 0.0) == (
        1, 1, 0, b"")  # fmt: skip


# --- connection ids: the cache accepts exactly what the MAC accepts --------------------------


def test_a_cached_id_still_expires_and_stays_bound_to_its_address() -> None:
    ids = ConnectionIds(KEY)
    ip, other = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    issued = ids.issue(ip, now=1000.0)
    assert ids.check(issued, ip, now=1000.0)  # verified, now remembered
    assert ids.check(issued, ip, now=1000.0 + 2 * WINDOW_SECONDS)  # two windows on: still
    assert not ids.check(issued, ip, now=1000.0 + 3 * WINDOW_SECONDS)  # three: expired
    assert not ids.check(issued, ip, now=1000.0 - WINDOW_SECONDS)  # before it was issued
    assert not ids.check(issued, other, now=1000.0)  # another address never saw it
    assert not ids.check(issued ^ 1, ip, now=1000.0)  # a forged id fails the MAC


def test_the_id_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conn_ids_module, "_KNOWN_MAX", 100)
    ids = ConnectionIds(KEY)
    for n in range(250):
        ip = n.to_bytes(4, "big")
        assert ids.check(ids.issue(ip, now=0.0), ip, now=0.0)
        assert len(ids._known) <= 100
    ip = (7).to_bytes(4, "big")
    assert ids.check(ids.issue(ip, now=0.0), ip, now=1.0)  # forgotten ones check by MAC


# --- the drain, on real sockets ------------------------------------------------------------


class _FullSocket(socket.socket):
    """A real UDP socket whose `sendto` reports a full buffer (EAGAIN) `refusals` times."""

    refusals = 0

    def sendto(self, data, *args):  # type: ignore[no-untyped-def]
        if self.refusals > 0:
            self.refusals -= 1
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return super().sendto(data, *args)


def _announce(cid: int, tid: int, n: int, *, event: int = 2, port: int | None = None) -> bytes:
    pid, _packed = _peer(n)
    return _ANNOUNCE.pack(cid, 1, tid, IH, pid, 0, 1, 0, event, 0, 0, -1,
                          1000 + n if port is None else port)  # fmt: skip


async def _serve_burst(datagrams_of: object, *, refusals: int = 0,
                       clients: int = 1) -> tuple[list[list[bytes]], TrackerService]:  # fmt: skip
    """Send each client's datagrams at once, then let the tracker drain; the replies."""
    config = TrackerConfig(peer_timeout=3600.0)
    loop = asyncio.get_running_loop()
    service = TrackerService(config, MemorySwarmStore(config, random.Random(1)), clock=loop.time)
    front = UdpFrontend(service, ConnectionIds(KEY))
    sock = _FullSocket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.refusals = refusals
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(clients)]
    try:
        for c in socks:
            c.connect(sock.getsockname())
            c.settimeout(10.0)
        ids = ConnectionIds(KEY)  # the same key: the ids the tracker would issue
        cid = ids.issue(b"\x7f\x00\x00\x01", now=time.time())
        plans = [datagrams_of(cid, i) for i in range(clients)]  # type: ignore[operator]
        for c, plan in zip(socks, plans, strict=True):
            for datagram in plan:  # all queued before the tracker reads any
                c.send(datagram)
        await front.start(sock)
        replies: list[list[bytes]] = []
        for c, plan in zip(socks, plans, strict=True):
            got = []
            for _ in range(sum(1 for d in plan if _answered(d))):
                got.append(await loop.run_in_executor(None, c.recv, 4096))
            replies.append(got)
        return replies, service
    finally:
        await front.stop()
        for c in socks:
            c.close()


def _errors(service: TrackerService, kind: str) -> float:
    return service.metrics.count(f'bitswarm_tracker_errors_total{{proto="udp",kind="{kind}"}}')


def _answered(datagram: bytes) -> bool:
    """Whether the tracker answers this datagram (the plans mark dropped ones short)."""
    return len(datagram) >= 16 and datagram[8:12] != b"\x00\x00\x00\x09"


def _mixed(cid: int, client: int) -> list[bytes]:
    base = 1000 * client
    out = [encode_connect_request(base + 1)]
    for n in range(40):
        out.append(_announce(cid, base + 10 + n, base + n))
        if n % 10 == 3:
            out.append(b"\x00" * 7)  # shorter than a header: dropped
            out.append(struct.pack(">QII", cid ^ 0xFF, 9, base + 900 + n))  # bad id: dropped
            out.append(struct.pack(">QII", cid, 1, base + 800 + n) + b"\x00" * 10)  # short body
            out.append(_announce(cid, base + 700 + n, base + n, port=0, event=0)[:98])
    out.append(struct.pack(">QII", cid, 2, base + 2) + IH)  # scrape
    return out


def test_a_mixed_burst_from_several_clients_is_answered_each_request_as_alone() -> None:
    replies, service = asyncio.run(_serve_burst(_mixed, clients=3))
    for client, got in enumerate(replies):
        base = 1000 * client
        by_tid = {struct.unpack_from(">I", r, 4)[0]: r for r in got}
        assert len(by_tid) == len(got)
        assert struct.unpack_from(">II", by_tid[base + 1]) == (0, base + 1)  # connect
        for n in range(40):
            reply = by_tid[base + 10 + n]
            action, _tid, _interval, leechers, seeders = struct.unpack_from(">IIIII", reply)
            assert action == 1 and seeders == 0 and leechers >= 1
            assert (len(reply) - 20) // 6 == min(leechers - 1, 50)  # everyone else so far
            if n % 10 == 3:
                assert by_tid[base + 800 + n][:4] == b"\x00\x00\x00\x03"  # too short: error
                assert b"port 0" in by_tid[base + 700 + n]
        assert struct.unpack_from(">II", by_tid[base + 2]) == (2, base + 2)
    assert service.store.totals_now().leechers == 120  # type: ignore[attr-defined]
    assert _errors(service, "malformed") == 36
    assert _errors(service, "bad_connection_id") == 12
    assert _errors(service, "send_failed") == 0


def _announces(cid: int, client: int) -> list[bytes]:
    return [_announce(cid, 10 + n, n) for n in range(30)]


def test_replies_the_kernel_refuses_wait_in_the_queue_and_all_arrive() -> None:
    (got,), service = asyncio.run(_serve_burst(_announces, refusals=5))
    assert sorted(struct.unpack_from(">I", r, 4)[0] for r in got) == list(range(10, 40))
    assert _errors(service, "send_failed") == 0


def test_a_full_queue_drops_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(udp_frontend, "_MAX_QUEUED", 4)

    async def run() -> tuple[int, float]:
        config = TrackerConfig(peer_timeout=3600.0)
        loop = asyncio.get_running_loop()
        service = TrackerService(config, MemorySwarmStore(config, random.Random(1)),
                                 clock=loop.time)  # fmt: skip
        front = UdpFrontend(service, ConnectionIds(KEY))
        sock = _FullSocket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.refusals = 1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.connect(sock.getsockname())
            c.settimeout(10.0)
            for n in range(10):
                c.send(encode_connect_request(n))
            await front.start(sock)
            got = [await loop.run_in_executor(None, c.recv, 64) for _ in range(4)]
            c.settimeout(0.3)
            with pytest.raises(TimeoutError):
                await loop.run_in_executor(None, c.recv, 64)
        await front.stop()
        return len(got), service.metrics.count(
            'bitswarm_tracker_errors_total{proto="udp",kind="send_failed"}'
        )

    answered, dropped = asyncio.run(run())
    assert (answered, dropped) == (4, 6)  # 1 refused + 3 after it fill the queue of 4


def test_the_magic_of_a_connect_is_still_required() -> None:
    assert parse_request(struct.pack(">QII", PROTOCOL_ID, 0, 1)) is not None
    assert announce_fields(struct.pack(">QII", PROTOCOL_ID, 0, 1)) is None
