"""The tracker server's pure parts: HTTP and UDP codecs, connection ids, whitelist, rate
limiter, metrics. Replies are read back with bitswarm's own client codecs, so both
sides of each protocol have to agree; hostile inputs must end as refusals, never crashes.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.ratelimit import SourceRateLimiter
from bitswarm.tracker.announce import AnnounceEvent, AnnounceRequest, ScrapeStats, TrackerFailure
from bitswarm.tracker.http import parse_announce_response, parse_scrape_response
from bitswarm.tracker.udp_codec import (
    UdpAnnounce,
    UdpConnect,
    UdpMalformed,
    UdpScrape,
    encode_announce_reply,
    encode_announce_request,
    encode_error,
    encode_scrape_reply,
    encode_scrape_request,
    parse_request,
)
from bitswarm.tracker_server.config import ConfigError, RequestRefused, TrackerConfig
from bitswarm.tracker_server.conn_ids import ConnectionIds
from bitswarm.tracker_server.http_codec import (
    client_address,
    encode_announce,
    encode_failure,
    encode_scrape,
    parse_announce,
    parse_query,
    parse_scrape,
)
from bitswarm.tracker_server.metrics import TrackerMetrics, merge, render
from bitswarm.tracker_server.store import PeerAnnounce, StoreTotals, SwarmReply
from bitswarm.tracker_server.whitelist import Whitelist, parse_whitelist

CFG = TrackerConfig()
IH = bytes(range(20))
PID = b"-BS0001-" + b"x" * 12
GOOD = (b"info_hash=%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13"
        b"&peer_id=-BS0001-xxxxxxxxxxxx&port=6881&uploaded=1&downloaded=2&left=3")  # fmt: skip


def announce(query: bytes, host: str = "10.1.2.3", config: TrackerConfig = CFG) -> PeerAnnounce:
    return parse_announce(parse_query(query), host, config)


# --- HTTP ---------------------------------------------------------------------------------


def test_a_full_announce_query_parses_into_the_shared_request() -> None:
    a = announce(GOOD + b"&event=started&numwant=20&key=DEADBEEF&compact=1")
    r = a.request
    assert (r.info_hash, r.peer_id, r.port, r.uploaded, r.downloaded, r.left) == (
        IH, PID, 6881, 1, 2, 3)  # fmt: skip
    assert (r.event, r.key, a.numwant, r.compact) == (AnnounceEvent.STARTED, 0xDEADBEEF, 20, True)
    assert a.packed == bytes([10, 1, 2, 3]) + (6881).to_bytes(2, "big")
    v6 = announce(GOOD, host="2001:db8::1").packed
    assert v6[:16] == bytes.fromhex("20010db8" + "0" * 23 + "1")


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (GOOD.replace(b"%13", b""), "invalid info_hash: 19 bytes"),
        (GOOD.replace(b"%13", b"%13%14"), "invalid info_hash: 21 bytes"),
        (GOOD.replace(b"peer_id", b"pid"), "missing peer_id"),
        (GOOD.replace(b"left=3", b"left=-3"), "invalid left: -3 is out of range"),
        (GOOD.replace(b"left=3", b"left=99999999999999999999"), "invalid left: not a decimal"),
        (GOOD.replace(b"left=3", b"left=9223372036854775808"), "out of range"),
        (GOOD.replace(b"left=3", b"left=3x"), "invalid left"),
        (GOOD.replace(b"&left=3", b""), "missing left"),
        (GOOD.replace(b"port=6881", b"port=0"), "invalid port"),
        (GOOD.replace(b"port=6881", b"port=65536"), "invalid port"),
        (GOOD.replace(b"uploaded=1", b"uploaded=-1"), "invalid uploaded"),
        (GOOD + b"&event=paused", "invalid event"),
        (GOOD + b"&numwant=lots", "invalid numwant"),
        (b"%%%%&&&===", "missing info_hash"),
        (b"a=1&" * 300, "more than 256 query parameters"),
        (b"x" * 20_000, "query string over"),
    ],
)
def test_hostile_announce_queries_are_refused_with_a_reason(query: bytes, reason: str) -> None:
    with pytest.raises(RequestRefused, match=reason):
        announce(query)


def test_numwant_negative_means_default_and_huge_is_capped() -> None:
    assert announce(GOOD + b"&numwant=1000000").numwant == CFG.max_numwant
    assert announce(GOOD + b"&numwant=-5").numwant == CFG.default_numwant
    assert announce(GOOD).numwant == CFG.default_numwant
    # port 0 is fine for a peer that is leaving
    assert announce(GOOD.replace(b"port=6881", b"port=0") + b"&event=stopped").request.port == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_query_bytes_parse_or_refuse(raw: bytes) -> None:
    for query in (raw, GOOD + b"&" + raw):
        try:
            announce(query)
        except RequestRefused as exc:
            assert exc.reason


def test_client_address_trusts_proxies_only_when_configured() -> None:
    proxied = TrackerConfig(trusted_proxies=(__import__("ipaddress").ip_network("10.0.0.0/8"),))
    xff = "203.0.113.9, 10.0.0.7"
    assert client_address("198.51.100.1", xff, b"1.2.3.4", CFG) == "198.51.100.1"
    assert client_address("::ffff:198.51.100.1", None, None, CFG) == "198.51.100.1"
    assert client_address("10.0.0.1", xff, None, proxied) == "203.0.113.9"  # skips our proxy
    assert client_address("10.0.0.1", None, b"192.0.2.5", proxied) == "192.0.2.5"
    assert client_address("10.0.0.1", "garbage", b"not-an-ip", proxied) == "10.0.0.1"
    assert client_address("198.51.100.1", xff, None, proxied) == "198.51.100.1"  # not a proxy


def test_announce_replies_read_back_with_the_client_codec() -> None:
    peers4 = ((b"A" * 20, bytes([1, 2, 3, 4, 0, 80])),)
    peers6 = ((b"B" * 20, bytes(15) + b"\x01" + b"\x01\xbb"),)
    reply = SwarmReply(3, 4, 5, peers4, peers6)
    compact = parse_announce_response(encode_announce(reply, announce(GOOD), CFG, no_peer_id=False))
    assert (compact.interval, compact.min_interval, compact.complete, compact.incomplete) == (
        CFG.interval, CFG.min_interval, 3, 4)  # fmt: skip
    assert compact.tracker_id == CFG.tracker_id
    assert [(p.host, p.port) for p in compact.peers] == [("1.2.3.4", 80), ("::1", 443)]
    dicts = encode_announce(reply, announce(GOOD + b"&compact=0"), CFG, no_peer_id=False)
    parsed = parse_announce_response(dicts)
    assert [(p.host, p.port, p.peer_id) for p in parsed.peers] == [
        ("1.2.3.4", 80, b"A" * 20), ("::1", 443, b"B" * 20)]  # fmt: skip
    bare = encode_announce(reply, announce(GOOD + b"&compact=0"), CFG, no_peer_id=True)
    assert all(p.peer_id is None for p in parse_announce_response(bare).peers)
    with pytest.raises(TrackerFailure, match="nope"):
        parse_announce_response(encode_failure("nope"))


def test_scrape_queries_and_replies() -> None:
    b = b"&info_hash=" + b"B" * 20
    q = parse_query(b"info_hash=" + b"%41" * 20 + b + b)
    assert parse_scrape(q, CFG) == [b"A" * 20, b"B" * 20]
    assert parse_scrape(parse_query(b""), CFG) is None
    with pytest.raises(RequestRefused, match="full scrape is disabled"):
        parse_scrape(parse_query(b""), TrackerConfig(full_scrape=False))
    with pytest.raises(RequestRefused, match="invalid info_hash: 3 bytes"):
        parse_scrape(parse_query(b"info_hash=abc"), CFG)
    with pytest.raises(RequestRefused, match="more than 100"):
        parse_scrape(parse_query(b"&".join([b"info_hash=" + b"C" * 20] * 101)), CFG)
    body = encode_scrape({b"A" * 20: ScrapeStats(1, 2, 3)})
    assert parse_scrape_response(body).files == {b"A" * 20: ScrapeStats(1, 2, 3)}


# --- UDP ----------------------------------------------------------------------------------


def _request(event: AnnounceEvent = AnnounceEvent.STARTED, port: int = 6881) -> AnnounceRequest:
    return AnnounceRequest(
        info_hash=IH,
        peer_id=PID,
        event=event,
        key=7,
        port=port,
        uploaded=1,
        downloaded=2,
        left=3,
        numwant=50,
    )


def test_udp_requests_from_the_client_codec_parse_back() -> None:
    connect = bytes.fromhex("0000041727101980") + bytes(4) + b"\0\0\0\x09"
    assert parse_request(connect) == UdpConnect(9)
    raw = encode_announce_request(0x1122, 5, _request(), request_string=b"/dir?a=b&c=d" * 30)
    got = parse_request(raw)
    assert isinstance(got, UdpAnnounce)
    assert (got.connection_id, got.transaction_id, got.request, got.numwant) == (
        0x1122, 5, _request(), 50)  # fmt: skip
    assert got.url_data == b"/dir?a=b&c=d" * 30  # BEP 41: two URLData chunks joined
    scrape = parse_request(encode_scrape_request(3, 4, [IH, b"Z" * 20]))
    assert scrape == UdpScrape(3, 4, (IH, b"Z" * 20))


def test_bep41_options_nop_end_and_truncation() -> None:
    base = encode_announce_request(1, 2, _request())
    opts = bytes([2, 4]) + b"/abc" + bytes([1, 1, 0, 2, 3]) + b"xyz"
    got = parse_request(base + opts)
    assert isinstance(got, UdpAnnounce) and got.url_data == b"/abc"
    cut = parse_request(base + bytes([2, 200]) + b"short")
    assert isinstance(cut, UdpAnnounce) and cut.url_data == b""


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", None),
        (b"\x00" * 15, None),
        (bytes(8) + b"\0\0\0\0" + b"\0\0\0\1", None),  # connect without the magic
        (
            bytes(8) + b"\0\0\0\1\0\0\0\1" + b"x" * 50,
            UdpMalformed(0, 1, "announce request too short"),
        ),
        (
            bytes(8) + b"\0\0\0\2\0\0\0\1" + b"x" * 19,
            UdpMalformed(0, 1, "scrape without info_hash"),
        ),
        (bytes(8) + b"\0\0\0\x09" + b"\0\0\0\1", UdpMalformed(0, 1, "unknown action 9")),
    ],
)
def test_short_and_odd_datagrams(data: bytes, expected: object) -> None:
    assert parse_request(data) == expected


def test_udp_announce_field_checks() -> None:
    raw = bytearray(encode_announce_request(1, 2, _request()))
    struct.pack_into(">I", raw, 80, 9)  # event 9
    assert parse_request(bytes(raw)) == UdpMalformed(1, 2, "unknown event 9")
    raw = bytearray(encode_announce_request(1, 2, _request()))
    struct.pack_into(">Q", raw, 64, 2**64 - 1)  # left
    assert parse_request(bytes(raw)) == UdpMalformed(1, 2, "byte count out of range")
    raw = bytearray(encode_announce_request(1, 2, _request()))
    struct.pack_into(">i", raw, 92, -1)
    got = parse_request(bytes(raw))
    assert isinstance(got, UdpAnnounce) and got.numwant is None  # BEP 15 "-1 // default"
    zero_port = parse_request(encode_announce_request(1, 2, _request(port=0)))
    assert zero_port == UdpMalformed(1, 2, "port 0")
    scrape = parse_request(encode_scrape_request(3, 4, [IH] * 200))
    assert isinstance(scrape, UdpScrape) and len(scrape.info_hashes) == 74


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_any_datagram_parses_or_drops(data: bytes) -> None:
    parse_request(data)
    parse_request(encode_announce_request(1, 2, _request())[:16] + data)


def test_udp_replies() -> None:
    reply = encode_announce_reply(9, 1800, 2, 3, [bytes([1, 2, 3, 4, 0, 80])])
    assert reply == struct.pack(">IIIII", 1, 9, 1800, 2, 3) + bytes([1, 2, 3, 4, 0, 80])
    assert encode_scrape_reply(4, [ScrapeStats(1, 2, 3)]) == struct.pack(">IIIII", 2, 4, 1, 2, 3)
    err = encode_error(5, "x" * 1000)
    assert err[:8] == struct.pack(">II", 3, 5) and len(err) == 8 + 200


def test_connection_ids_bind_address_and_time() -> None:
    ids = ConnectionIds(b"k" * 32)
    ip, other = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    cid = ids.issue(ip, now=1000.0)
    assert ids.check(cid, ip, now=1000.0)
    assert ids.check(cid, ip, now=1000.0 + 119)  # BEP 15: accepted two minutes after
    assert not ids.check(cid, ip, now=1000.0 + 241)
    assert not ids.check(cid, other, now=1000.0)  # a spoofed source cannot reuse it
    assert not ids.check(cid ^ 1, ip, now=1000.0)  # a forged id fails the MAC
    assert not ids.check(cid, ip, now=1000.0 - 120)  # from the future
    assert not ConnectionIds(b"j" * 32).check(cid, ip, now=1000.0)  # another key
    assert ids.issue(ip, now=1000.0) != ids.issue(ip, now=1100.0)


# --- whitelist, rate limit, metrics -------------------------------------------------------


def test_whitelist_parsing_and_lookup() -> None:
    text = f"# comment\n\n{IH.hex()}  some name\n{'AB' * 20}\n"
    hashes = parse_whitelist(text)
    assert hashes == {IH, b"\xab" * 20}
    wl = Whitelist()
    assert wl.allows(b"anything") and not wl.enabled
    wl.replace(hashes)
    assert wl.allows(IH) and not wl.allows(b"\x00" * 20) and len(wl) == 2
    with pytest.raises(ConfigError, match="line 2: 'nothex'"):
        parse_whitelist(f"{IH.hex()}\nnothex\n", source="whitelist")


def test_rate_limiter_refills_and_forgets_least_recent_addresses() -> None:
    rl = SourceRateLimiter(rate=2.0, burst=3, max_sources=2)
    assert [rl.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert rl.allow("a", 0.5)  # one token back after half a second
    assert not rl.allow("a", 0.5)
    rl.allow("b", 0.5)
    rl.allow("c", 0.5)  # evicts "a"
    assert len(rl) == 2 and rl.allow("a", 0.5)  # a fresh bucket


def test_metrics_render_prometheus_text_and_merge() -> None:
    m = TrackerMetrics()
    m.announce("udp", "started", 0.0002)
    m.announce("udp", "none", 3.0)
    m.error("malformed", "http")
    snap = merge([m.snapshot(), m.snapshot()])
    text = render(snap, StoreTotals(1, 2, 3), {"bitswarm_tracker_workers": 2})
    lines = text.splitlines()
    assert 'bitswarm_tracker_announces_total{proto="udp",event="started"} 2' in lines
    assert 'bitswarm_tracker_errors_total{proto="http",kind="malformed"} 2' in lines
    assert 'bitswarm_tracker_request_seconds_bucket{proto="udp",le="0.00025"} 2' in lines
    assert 'bitswarm_tracker_request_seconds_bucket{proto="udp",le="2.5"} 2' in lines
    assert 'bitswarm_tracker_request_seconds_bucket{proto="udp",le="+Inf"} 4' in lines
    assert 'bitswarm_tracker_request_seconds_count{proto="udp"} 4' in lines
    assert 'bitswarm_tracker_peers{state="leecher"} 3' in lines
    assert "bitswarm_tracker_workers 2" in lines
    for line in lines:  # every sample line is "name{labels} number"
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


def test_config_refuses_settings_that_cannot_work() -> None:
    with pytest.raises(ConfigError, match="shorter than --interval"):
        TrackerConfig(interval=1800, peer_timeout=60)
    with pytest.raises(ConfigError, match="--min-interval"):
        TrackerConfig(interval=60, min_interval=120)
    assert TrackerConfig().numwant(10**9) == TrackerConfig().max_numwant


# The tracker server's pure modules import no I/O: the "pure" import-linter contract in
# pyproject.toml (run by tests/test_layering.py and scripts/test.sh) lists them.
