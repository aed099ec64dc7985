"""BEP 15 UDP tracker core over virtual time: no sockets, a hand-written fake tracker."""

from __future__ import annotations

import random
import struct
from typing import TypedDict, Unpack

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.errors import LocalProtocolError
from bitswarm.tracker.announce import AnnounceEvent, AnnounceRequest, PeerAddress, ScrapeStats
from bitswarm.tracker.udp import (
    AnnounceDone,
    RequestFailed,
    RequestTimedOut,
    ScrapeDone,
    UdpTrackerClient,
)
from bitswarm.tracker.udp_codec import PROTOCOL_ID, encode_announce_request

TRACKER = ("127.0.0.1", 6969)
IH = b"I" * 20
REQ = AnnounceRequest(
    info_hash=IH,
    peer_id=b"P" * 20,
    port=51413,
    uploaded=10,
    downloaded=20,
    left=30,
    event=AnnounceEvent.STARTED,
    key=0xCAFEBABE,
    numwant=25,
)


class ClientOptions(TypedDict, total=False):
    """`UdpTrackerClient`'s options that the tests set; the rest keep their defaults."""

    request_string: bytes
    retransmit_base: float
    max_retries: int


def make(
    *,
    addr: tuple[str, int] | tuple[str, int, int, int] = TRACKER,
    rng: random.Random | None = None,
    **opts: Unpack[ClientOptions],
) -> UdpTrackerClient:
    return UdpTrackerClient(addr, rng=random.Random(7) if rng is None else rng, **opts)


def sent(c: UdpTrackerClient, now: float = 0.0) -> list[bytes]:
    out = c.datagrams_to_send(now=now)
    assert all(addr == c.tracker_addr for _, addr in out)
    return [d for d, _ in out]


def connect_reply(packet: bytes, conn_id: int = 0x1122334455667788) -> bytes:
    proto, action, tid = struct.unpack(">QII", packet[:16])
    assert (proto, action, len(packet)) == (PROTOCOL_ID, 0, 16)
    return struct.pack(">IIQ", 0, tid, conn_id)


def parse_request(packet: bytes) -> tuple[int, int, int]:
    proto, action, tid = struct.unpack(">QII", packet[:16])
    return proto, action, tid


def announce_reply(packet: bytes, peers: bytes = b"", interval: int = 900) -> bytes:
    _, action, tid = parse_request(packet)
    assert action == 1
    return struct.pack(">IIIII", 1, tid, interval, 4, 3) + peers


def do_connect(c: UdpTrackerClient, now: float = 0.0) -> None:
    (pkt,) = sent(c, now)
    c.receive_datagram(connect_reply(pkt), TRACKER, now=now)


# -- the happy path ----------------------------------------------------------------------


def test_connect_then_announce_packet_layout() -> None:
    c = make()
    h = c.announce(REQ, now=0.0)
    (pkt,) = sent(c)
    c.receive_datagram(connect_reply(pkt), TRACKER, now=1.0)
    (ann,) = sent(c, 1.0)
    conn_id, action, tid = parse_request(ann)
    assert (conn_id, action, len(ann)) == (0x1122334455667788, 1, 98)
    assert ann == encode_announce_request(conn_id, tid, REQ)
    ih, pid, down, left, up, event, ip, key, numwant, port = struct.unpack(
        ">20s20sQQQIIIiH", ann[16:]
    )
    assert (ih, pid, down, left, up) == (IH, b"P" * 20, 20, 30, 10)
    assert (event, ip, key, numwant, port) == (2, 0, 0xCAFEBABE, 25, 51413)
    peers = bytes([10, 0, 0, 1, 0x1A, 0xE1, 10, 0, 0, 2, 0, 80])
    c.receive_datagram(announce_reply(ann, peers + b"\x01\x02"), TRACKER, now=2.0)
    (ev,) = c.events()
    assert isinstance(ev, AnnounceDone) and ev.handle == h
    r = ev.response
    assert (r.interval, r.incomplete, r.complete) == (900, 4, 3)
    assert r.peers == (PeerAddress("10.0.0.1", 6881), PeerAddress("10.0.0.2", 80))
    assert c.pending == 0 and c.get_timer() is None


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (AnnounceEvent.NONE, 0),
        (AnnounceEvent.COMPLETED, 1),
        (AnnounceEvent.STARTED, 2),
        (AnnounceEvent.STOPPED, 3),
    ],
)
def test_event_codes_and_ip_field(event: AnnounceEvent, code: int) -> None:
    req = AnnounceRequest(
        info_hash=IH,
        peer_id=b"P" * 20,
        port=1,
        uploaded=0,
        downloaded=0,
        left=0,
        event=event,
        key=1,
        ip="1.2.3.4",
    )
    pkt = encode_announce_request(5, 6, req)
    assert struct.unpack_from(">II", pkt, 80) == (code, 0x01020304)
    assert struct.unpack_from(">I", encode_announce_request(5, 6, req, ipv6=True), 84) == (0,)


def test_ipv6_tracker_uses_18_byte_peers() -> None:
    c = make(addr=("::1", 6969, 0, 0))
    assert c.ipv6
    c.announce(REQ, now=0.0)
    (pkt,) = sent(c)
    c.receive_datagram(connect_reply(pkt), ("::1", 6969, 0, 0), now=0.0)
    (ann,) = sent(c)
    peer6 = b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x07" + b"\x1a\xe1"
    c.receive_datagram(announce_reply(ann, peer6 * 2 + b"\x00" * 17), ("::1", 6969), now=0.0)
    (ev,) = c.events()
    assert isinstance(ev, AnnounceDone)
    assert ev.response.peers == (PeerAddress("2001:db8::7", 6881),) * 2


def test_bep41_request_string_chunks() -> None:
    long = b"/" + b"p" * 299 + b"?a=b"
    c = make(request_string=long)
    c.announce(REQ, now=0.0)
    do_connect(c)
    (ann,) = sent(c)
    opts = ann[98:]
    assert opts[:2] == b"\x02\xff" and opts[2:257] == long[:255]
    assert opts[257:259] == bytes([2, len(long) - 255]) and opts[259:] == long[255:]
    c2 = make(request_string=b"/dir?a=b&c=d")
    c2.announce(REQ, now=0.0)
    do_connect(c2)
    (ann2,) = sent(c2)
    assert ann2[98:] == b"\x02\x0c/dir?a=b&c=d"  # the example of BEP 41


def test_scrape() -> None:
    c = make()
    hashes = [bytes([i]) * 20 for i in range(3)]
    h = c.scrape(hashes, now=0.0)
    do_connect(c)
    (pkt,) = sent(c)
    _, action, tid = parse_request(pkt)
    assert action == 2 and pkt[16:] == b"".join(hashes)
    # the tracker answers only two of the three: those two are reported
    reply = (
        struct.pack(">II", 2, tid)
        + struct.pack(">III", 5, 50, 6)
        + struct.pack(">III", 0, 1, 2)
        + b"\x00\x00"
    )
    c.receive_datagram(reply, TRACKER, now=1.0)
    (ev,) = c.events()
    assert isinstance(ev, ScrapeDone) and ev.handle == h
    assert dict(ev.response.files) == {
        hashes[0]: ScrapeStats(5, 50, 6),
        hashes[1]: ScrapeStats(0, 1, 2),
    }
    with pytest.raises(LocalProtocolError):
        c.scrape([], now=0.0)
    with pytest.raises(LocalProtocolError):
        c.scrape([b"x" * 20] * 75, now=0.0)
    with pytest.raises(LocalProtocolError):
        c.scrape([b"x" * 19], now=0.0)


# -- connection ids ----------------------------------------------------------------------


def test_connection_id_reused_for_a_minute_then_renewed() -> None:
    c = make()
    c.announce(REQ, now=0.0)
    (pkt,) = sent(c)
    c.receive_datagram(connect_reply(pkt, 42), TRACKER, now=1.0)
    (ann,) = sent(c)
    c.receive_datagram(announce_reply(ann), TRACKER, now=1.5)
    # within the minute: straight to announce/scrape with the same connection id
    c.announce(REQ, now=60.9)
    c.scrape([IH], now=60.9)
    a2, s2 = sent(c, 60.9)
    assert parse_request(a2)[:2] == (42, 1) and parse_request(s2)[:2] == (42, 2)
    assert c.connection_valid(now=60.9) and not c.connection_valid(now=61.0)
    c.receive_datagram(announce_reply(a2), TRACKER, now=60.95)
    # after it: a fresh connect first, then the request with the new id
    c.announce(REQ, now=61.0)
    (pkt,) = sent(c, 61.0)
    assert parse_request(pkt)[0] == PROTOCOL_ID
    c.receive_datagram(connect_reply(pkt, 43), TRACKER, now=61.5)
    (a3,) = sent(c, 61.5)
    assert parse_request(a3)[:2] == (43, 1)


def test_one_connect_serves_all_waiting_requests() -> None:
    c = make()
    c.announce(REQ, now=0.0)
    c.scrape([IH], now=0.5)
    c.announce(REQ, now=1.0)
    (pkt,) = sent(c)  # one connect only
    c.receive_datagram(connect_reply(pkt), TRACKER, now=2.0)
    out = sent(c, 2.0)
    assert sorted(parse_request(p)[1] for p in out) == [1, 1, 2]
    assert len({parse_request(p)[2] for p in out}) == 3  # distinct transaction ids


# -- retransmission ----------------------------------------------------------------------


def test_connect_times_out_on_bep15_schedule() -> None:
    c = make(max_retries=3)
    h = c.announce(REQ, now=0.0)
    times = [0.0]
    assert len(sent(c)) == 1
    while (t := c.get_timer()) is not None:
        c.handle_timer(now=t)
        for pkt in sent(c, t):
            assert parse_request(pkt)[0] == PROTOCOL_ID
            times.append(t)
    assert times == [0.0, 15.0, 45.0, 105.0]  # BEP 15 "connect times out"
    assert c.events() == [RequestTimedOut(h, 4)]
    assert c.pending == 0


def test_announce_times_out_and_reconnects_when_id_expired() -> None:
    c = make()
    c.announce(REQ, now=0.0)
    (pkt,) = sent(c)
    c.receive_datagram(connect_reply(pkt), TRACKER, now=1.0)
    assert len(sent(c, 1.0)) == 1
    log: list[tuple[float, int]] = [(1.0, 1)]
    for _ in range(4):
        t = c.get_timer()
        assert t is not None
        c.handle_timer(now=t)
        log += [
            (t, parse_request(p)[1] if parse_request(p)[0] != PROTOCOL_ID else 0)
            for p in sent(c, t)
        ]
    # BEP 15 "announce times out", shifted because we announce at once at t=1:
    # announce at 1, 16, 46; at 106 the id (from t=1) has expired: connect, then 226.
    assert log == [(1.0, 1), (16.0, 1), (46.0, 1), (106.0, 0), (226.0, 0)]


def test_retransmission_keeps_transaction_id_so_late_replies_count() -> None:
    c = make(retransmit_base=1.0)
    h = c.announce(REQ, now=0.0)
    do_connect(c)
    (first,) = sent(c)
    c.handle_timer(now=1.0)
    (again,) = sent(c, 1.0)
    assert again == first
    c.receive_datagram(announce_reply(first), TRACKER, now=1.5)
    assert [e.handle for e in c.events()] == [h]
    assert c.get_timer() is None


def test_shortened_schedule_and_max_retries() -> None:
    c = make(retransmit_base=0.1, max_retries=2)
    h = c.announce(REQ, now=0.0)
    deadlines = []
    while (t := c.get_timer()) is not None:
        deadlines.append(round(t, 6))
        c.handle_timer(now=t)
    assert deadlines == [0.1, 0.3, 0.7]
    assert c.events() == [RequestTimedOut(h, 3)]


def test_cancel_forgets_request() -> None:
    c = make()
    h = c.announce(REQ, now=0.0)
    do_connect(c)
    (ann,) = sent(c)
    c.cancel(h)
    c.receive_datagram(announce_reply(ann), TRACKER, now=1.0)
    assert c.events() == [] and c.dropped.unknown_transaction == 1
    assert c.get_timer() is None


# -- errors and hostile datagrams --------------------------------------------------------


def test_error_action_fails_the_request() -> None:
    c = make()
    h = c.announce(REQ, now=0.0)
    do_connect(c)
    (ann,) = sent(c)
    tid = parse_request(ann)[2]
    c.receive_datagram(
        struct.pack(">II", 3, tid) + b"Requested download is not authorized\x00", TRACKER, now=1.0
    )
    assert c.events() == [RequestFailed(h, "Requested download is not authorized")]
    assert c.pending == 0


def test_error_to_connect_fails_every_waiting_request() -> None:
    c = make()
    h1 = c.announce(REQ, now=0.0)
    h2 = c.scrape([IH], now=0.0)
    (pkt,) = sent(c)
    tid = struct.unpack_from(">I", pkt, 12)[0]
    c.receive_datagram(struct.pack(">II", 3, tid) + b"go away", TRACKER, now=0.5)
    assert c.events() == [RequestFailed(h1, "go away"), RequestFailed(h2, "go away")]


def test_spoofed_short_and_wrong_datagrams_are_dropped_and_counted() -> None:
    c = make()
    h = c.announce(REQ, now=0.0)
    (pkt,) = sent(c)
    good = connect_reply(pkt)
    c.receive_datagram(good, ("127.0.0.2", 6969), now=0.1)  # wrong source
    c.receive_datagram(good, ("127.0.0.1", 6970), now=0.1)
    c.receive_datagram(good[:7], TRACKER, now=0.1)  # too short for anything
    c.receive_datagram(good[:12], TRACKER, now=0.1)  # a connect reply needs 16
    c.receive_datagram(struct.pack(">IIQ", 0, 12345, 1), TRACKER, now=0.1)  # unknown tid
    c.receive_datagram(struct.pack(">IIQ", 1, *struct.unpack(">IQ", good[4:])), TRACKER, now=0.1)
    assert (
        c.dropped.wrong_address,
        c.dropped.short,
        c.dropped.unknown_transaction,
        c.dropped.wrong_action,
    ) == (2, 2, 1, 1)
    assert c.events() == [] and not c.connection_valid(now=0.1)
    c.receive_datagram(good, TRACKER, now=0.2)
    (ann,) = sent(c)
    tid = parse_request(ann)[2]
    c.receive_datagram(struct.pack(">IIII", 1, tid, 1, 1), TRACKER, now=0.3)  # 16 < 20 bytes
    c.receive_datagram(struct.pack(">IIIII", 2, tid, 1, 1, 1), TRACKER, now=0.3)  # scrape action
    assert c.dropped.short == 3 and c.dropped.wrong_action == 2
    assert c.events() == [] and c.pending == 1
    c.receive_datagram(announce_reply(ann), TRACKER, now=0.4)
    assert [e.handle for e in c.events()] == [h]


def test_transaction_ids_come_from_the_injected_rng() -> None:
    a, b = make(rng=random.Random(1)), make(rng=random.Random(1))
    a.announce(REQ, now=0.0)
    b.announce(REQ, now=0.0)
    pa = sent(a)
    assert pa == sent(b)
    c = make(rng=random.Random(2))
    c.announce(REQ, now=0.0)
    assert sent(c) != pa


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=120), max_size=6), st.booleans())
def test_arbitrary_datagrams_never_raise(datagrams: list[bytes], connected: bool) -> None:
    c = make()
    c.announce(REQ, now=0.0)
    c.scrape([IH], now=0.0)
    (pkt,) = sent(c)
    tid = struct.unpack_from(">I", pkt, 12)[0]
    if connected:
        c.receive_datagram(connect_reply(pkt), TRACKER, now=0.0)
        tids = [parse_request(p)[2] for p in sent(c)]
    else:
        tids = [tid]
    for i, d in enumerate(datagrams):
        # splice in a live transaction id half of the time, so parsing paths are reached
        if len(d) >= 8 and i % 2:
            d = d[:4] + struct.pack(">I", tids[i % len(tids)]) + d[8:]
        c.receive_datagram(d, TRACKER, now=0.1)
    for ev in c.events():
        assert isinstance(ev, AnnounceDone | ScrapeDone | RequestFailed)
