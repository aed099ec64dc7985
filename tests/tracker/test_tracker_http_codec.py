"""HTTP tracker codec and peer-list codecs: vectors, tolerance, and fuzzing."""

from __future__ import annotations

import ipaddress
from typing import Any, TypedDict, Unpack
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.addresses import CompactFormatError, encode_address
from bitswarm.bencode import bencode
from bitswarm.errors import LocalProtocolError, RemoteProtocolError
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
from bitswarm.tracker.compact import (
    decode_peer_dicts,
    decode_peers,
    decode_peers4,
    decode_peers6,
    encode_peer_dicts,
    encode_peers4,
    encode_peers6,
)
from bitswarm.tracker.http import (
    DEFAULT_INTERVAL,
    build_announce_url,
    build_scrape_url,
    parse_announce_response,
    parse_scrape_response,
    raise_failure,
    scrape_url_for,
)

IH = bytes(range(0xF2, 0x100)) + b" %&+/="  # 20 bytes, many needing escapes
PID = b"-BS0001-\x00\xff~._-aZ09\n?"


assert len(IH) == 20 and len(PID) == 20


class RequestFields(TypedDict, total=False):
    """`AnnounceRequest`'s fields, each one a test may set."""

    info_hash: bytes
    peer_id: bytes
    port: int
    uploaded: int
    downloaded: int
    left: int
    event: AnnounceEvent
    key: int
    numwant: int
    compact: bool
    ip: str | None
    tracker_id: bytes | None


def _req(**kw: Unpack[RequestFields]) -> AnnounceRequest:
    fields: RequestFields = {
        "info_hash": IH,
        "peer_id": PID,
        "port": 6881,
        "uploaded": 1,
        "downloaded": 2,
        "left": 3,
        "event": AnnounceEvent.STARTED,
        "key": 0xDEADBEEF,
    }
    fields.update(kw)
    return AnnounceRequest(**fields)


def _query(url: str) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for part in urlsplit(url).query.split("&"):
        k, _, v = part.partition("=")
        out.setdefault(k, []).append(unquote_to_bytes(v))
    return out


# -- announce URL ------------------------------------------------------------------------


def test_announce_url_round_trips_binary_fields() -> None:
    url = build_announce_url("http://t.example:8080/announce", _req())
    assert url.startswith("http://t.example:8080/announce?")
    q = _query(url)
    assert q["info_hash"] == [IH]
    assert q["peer_id"] == [PID]
    assert q["port"] == [b"6881"] and q["uploaded"] == [b"1"]
    assert q["downloaded"] == [b"2"] and q["left"] == [b"3"]
    assert q["event"] == [b"started"] and q["compact"] == [b"1"]
    assert q["key"] == [b"DEADBEEF"] and q["numwant"] == [b"50"]
    assert "ip" not in q and "trackerid" not in q


def test_announce_url_escapes_exactly_the_reserved_bytes() -> None:
    ih = b"a-._~Z/ %\x00\xff?&=+#bcde"
    assert len(ih) == 20
    url = build_announce_url("http://t/a", _req(info_hash=ih))
    raw = urlsplit(url).query.split("&")[0]
    # only RFC 3986 unreserved characters stay literal, hex escapes are upper case
    assert raw == "info_hash=a-._~Z%2F%20%25%00%FF%3F%26%3D%2B%23bcde"


def test_announce_url_keeps_passkey_query_and_drops_fragment() -> None:
    url = build_announce_url("https://t/x/announce.php?passkey=s3cr3t#frag", _req())
    parts = urlsplit(url)
    assert parts.path == "/x/announce.php" and parts.fragment == ""
    assert parts.query.startswith("passkey=s3cr3t&info_hash=")


def test_announce_url_optional_fields() -> None:
    url = build_announce_url(
        "http://t/announce",
        _req(event=AnnounceEvent.NONE, compact=False, ip="10.0.0.1", tracker_id=b"a b", numwant=0),
    )
    q = _query(url)
    assert "event" not in q
    assert q["compact"] == [b"0"] and q["numwant"] == [b"0"]
    assert q["ip"] == [b"10.0.0.1"] and q["trackerid"] == [b"a b"]


@pytest.mark.parametrize("event", list(AnnounceEvent))
def test_announce_url_event_names(event: AnnounceEvent) -> None:
    q = parse_qs(urlsplit(build_announce_url("http://t/a", _req(event=event))).query)
    if event is AnnounceEvent.NONE:
        assert "event" not in q  # BEP 3: a regular announce leaves the key out
    else:
        assert q["event"] == [event.value]


def test_announce_url_rejects_non_http() -> None:
    with pytest.raises(LocalProtocolError):
        build_announce_url("udp://t:1/announce", _req())


@pytest.mark.parametrize(
    "kw",
    [
        {"info_hash": b"x" * 19},
        {"peer_id": b"x" * 21},
        {"port": 70000},
        {"left": -1},
        {"uploaded": 2**63},
        {"key": 2**32},
        {"numwant": -1},
        {"event": "started"},
    ],
)
def test_request_validation(kw: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        _req(**kw)  # type: ignore[arg-type]  # out-of-range and wrong-typed fields on purpose


# -- scrape URL (BEP 48) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("announce", "scrape"),
    [
        ("http://example.com/announce", "http://example.com/scrape"),
        ("http://example.com/x/announce", "http://example.com/x/scrape"),
        ("http://example.com/announce.php", "http://example.com/scrape.php"),
        ("http://example.com/a?x2%0644", None),
        ("http://example.com/announce?x2%0644", "http://example.com/scrape?x2%0644"),
        ("http://example.com/a", None),
        ("http://example.com/announce?x=2/4", "http://example.com/scrape?x=2/4"),
        ("http://example.com/x%064announce", None),
        ("http://example.com/announce/x", None),
        ("https://example.com:8443/announce", "https://example.com:8443/scrape"),
        ("http://example.com/", None),
    ],
)
def test_scrape_url_derivation(announce: str, scrape: str | None) -> None:
    assert scrape_url_for(announce) == scrape


def test_build_scrape_url_repeats_info_hash() -> None:
    h2 = b"\x01" * 20
    url = build_scrape_url("http://t/tr/announce?pk=1", [IH, h2])
    assert url.startswith("http://t/tr/scrape?pk=1&info_hash=")
    assert _query(url)["info_hash"] == [IH, h2]
    with pytest.raises(ScrapeUnsupported) as e:
        build_scrape_url("http://t/tracker", [IH])
    assert isinstance(e.value, TrackerUnreachable)
    with pytest.raises(LocalProtocolError):
        build_scrape_url("http://t/announce", [b"short"])


# -- announce replies --------------------------------------------------------------------


def test_compact_reply() -> None:
    body = bencode(
        {
            "interval": 1800,
            "min interval": 900,
            "complete": 5,
            "incomplete": 7,
            "peers": bytes([127, 0, 0, 1, 0x1A, 0xE1, 10, 1, 2, 3, 0, 80]),
            "peers6": ipaddress.IPv6Address("::1").packed + b"\x1a\xe2",
            "tracker id": b"TID",
            "warning message": b"be nice\nplease",
        }
    )
    r = parse_announce_response(body)
    assert r.interval == 1800 and r.min_interval == 900
    assert (r.complete, r.incomplete) == (5, 7)
    assert r.peers == (
        PeerAddress("127.0.0.1", 6881),
        PeerAddress("10.1.2.3", 80),
        PeerAddress("::1", 6882),
    )
    assert r.tracker_id == b"TID"
    assert r.warning == "be nice please"


def test_dictionary_reply_and_defaults() -> None:
    body = bencode(
        {
            "peers": [
                {"ip": b"192.168.0.9", "port": 51413, "peer id": b"P" * 20},
                {"ip": b"peer.example.org", "port": 1},
                {"ip": b"[2001:db8::1]", "port": 2, "peer id": b"short"},
                {"ip": b"10.0.0.1", "port": 0},
            ]
        }
    )
    r = parse_announce_response(body)
    assert r.interval == DEFAULT_INTERVAL
    assert r.min_interval is None and r.complete is None and r.tracker_id is None
    assert r.peers == (
        PeerAddress("192.168.0.9", 51413, b"P" * 20),
        PeerAddress("peer.example.org", 1),
        PeerAddress("2001:db8::1", 2),
    )


def test_reply_tolerances() -> None:
    # unsorted keys, trailing newline, negative optional counters, no peers at all
    body = b"d8:intervali60e8:completei-1e5:peers0:e\r\n"
    r = parse_announce_response(body)
    assert r.interval == 60 and r.complete is None and r.peers == ()
    r = parse_announce_response(b"d8:intervali60e5:peersle4:abcdi1ee")
    assert r.peers == ()
    r = parse_announce_response(b"d5:peers0:8:intervali5ee")
    assert r.interval == 5


def test_peer_cap_never_exceeded() -> None:
    many4 = bytes([1, 2, 3, 4, 0, 1]) * 1000
    many6 = (b"\x20\x01" + b"\x00" * 14 + b"\x00\x01") * 1000
    r = parse_announce_response(
        bencode({"interval": 1, "peers": many4, "peers6": many6}), max_peers=30
    )
    assert len(r.peers) == 30
    r = parse_announce_response(
        bencode({"interval": 1, "peers": many4[:60], "peers6": many6}), max_peers=30
    )
    assert len(r.peers) == 30 and r.peers[10].host == "2001::"
    r = parse_announce_response(
        bencode({"interval": 1, "peers": [{"ip": b"1.1.1.1", "port": 1}] * 500}), max_peers=7
    )
    assert len(r.peers) == 7


def test_failure_reason() -> None:
    with pytest.raises(TrackerFailure) as e:
        parse_announce_response(b"d14:failure reason23:torrent not\nregistered!e", url="http://t/a")
    assert e.value.reason == "torrent not\nregistered!"
    assert str(e.value) == "tracker http://t/a refused: torrent not registered!"
    with pytest.raises(TrackerFailure):
        parse_scrape_response(b"d14:failure reasoni3ee")
    with pytest.raises(TrackerFailure):
        raise_failure(b"d14:failure reason1:xe")
    raise_failure(b"<html>nope</html>")  # not a refusal: no exception
    raise_failure(b"d8:intervali1ee")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"", "empty response"),
        (b"   \n", "empty response"),
        (
            b"<html><head><title>502 Bad\nGateway</title></head></html>",
            "HTML page ('502 Bad Gateway')",
        ),
        (b"\n<!DOCTYPE html><p>hi", "an HTML page, not"),
        (b"Not Found", "not bencoded"),
        (b"d8:intervali1e", "not bencoded"),
        (b"i42e", "not a dictionary"),
        (b"d8:interval3:abce", "invalid interval"),
        (b"d8:intervali-5ee", "invalid interval"),
        (b"d8:intervali1e5:peers5:abcdee", "not a multiple of 6"),
        (bencode({"interval": 1, "peers6": b"a" * 19}), "not a multiple of 18"),
        (b"d8:intervali1e5:peersi3ee", "neither a compact string nor a list"),
        (b"d8:intervali1e5:peersli1eee", "not a dictionary"),
        (b"d8:intervali1e5:peersld4:porti1eeee", "no usable 'ip'"),
        (b"d8:intervali1e5:peersld2:ip3:a b4:porti1eeee", "malformed 'ip'"),
        (b"d8:intervali1e5:peersld2:ip1:\xff4:porti1eeee", "non-ASCII"),
        (b"d8:intervali1e5:peersld2:ip1:a4:porti70000eeee", "no usable 'port'"),
        (b"d8:intervali1e6:peers6i1ee", "peers6 is not a string"),
    ],
)
def test_garbage_is_one_clear_error(body: bytes, needle: str) -> None:
    with pytest.raises(TrackerResponseError) as e:
        parse_announce_response(body, url="http://t/announce")
    msg = str(e.value)
    assert needle in msg, msg
    assert "\n" not in msg and msg.startswith("tracker http://t/announce")
    assert isinstance(e.value, RemoteProtocolError) and isinstance(e.value, TrackerUnreachable)


# -- scrape replies ----------------------------------------------------------------------


def test_scrape_reply() -> None:
    h1, h2 = b"x" * 20, b"y" * 20
    body = (
        b"d5:filesd20:" + h1 + b"d8:completei11e10:downloadedi13772e10:incompletei19ee"
        b"20:" + h2 + b"d8:completei21e10:downloadedi206e10:incompletei20eeee"
    )
    r = parse_scrape_response(body)
    assert dict(r.files) == {h1: ScrapeStats(11, 13772, 19), h2: ScrapeStats(21, 206, 20)}


def test_scrape_reply_tolerances_and_caps() -> None:
    mangled = bytes(range(0x80, 0x94)).decode("latin-1").encode("utf-8")  # 40 bytes
    assert len(mangled) == 40
    body = bencode(
        {
            "files": {
                mangled: {"complete": 1, "incomplete": 2, "downloaded": 3},
                b"odd-size-key": {"complete": 9},
                b"z" * 20: {"complete": b"x", "incomplete": -4},
            }
        }
    )
    files = parse_scrape_response(body).files
    assert files == {
        bytes(range(0x80, 0x94)): ScrapeStats(1, 3, 2),
        b"z" * 20: ScrapeStats(0, 0, 0),
    }
    big = bencode({"files": {i.to_bytes(20, "big"): {} for i in range(50)}})
    assert len(parse_scrape_response(big, max_files=10).files) == 10
    for bad in (b"de", b"d5:filesi1ee", b"d5:filesd20:" + b"q" * 20 + b"i1eee"):
        with pytest.raises(TrackerResponseError):
            parse_scrape_response(bad)


# -- compact codecs ----------------------------------------------------------------------


def test_compact_vectors() -> None:
    assert encode_address("1.2.3.4", 0x1AE1) == b"\x01\x02\x03\x04\x1a\xe1"
    assert encode_address("[::1]", 1) == b"\x00" * 15 + b"\x01\x00\x01"
    assert decode_peers4(b"\x01\x02\x03\x04\x1a\xe1") == [PeerAddress("1.2.3.4", 6881)]
    assert decode_peers6(b"\xfe\x80" + b"\x00" * 13 + b"\x05\xff\xff") == [
        PeerAddress("fe80::5", 65535)
    ]
    assert decode_peers(b"\x01\x02\x03\x04\x00\x01\x09", 6, strict=False) == [
        PeerAddress("1.2.3.4", 1)
    ]
    with pytest.raises(CompactFormatError):
        decode_peers4(b"\x01\x02\x03\x04\x00\x01\x09")
    with pytest.raises(LocalProtocolError):
        encode_peers4([PeerAddress("::1", 1)])
    with pytest.raises(LocalProtocolError):
        encode_peers6([PeerAddress("1.2.3.4", 1)])
    with pytest.raises(LocalProtocolError):
        encode_address("host.example", 1)
    with pytest.raises(LocalProtocolError):
        decode_peers(b"", 7)


ipv4 = st.builds(lambda n: str(ipaddress.IPv4Address(n)), st.integers(0, 2**32 - 1))
ipv6 = st.builds(lambda n: str(ipaddress.IPv6Address(n)), st.integers(0, 2**128 - 1))
ports = st.integers(1, 65535)


@given(st.lists(st.builds(PeerAddress, ipv4, ports)), st.lists(st.builds(PeerAddress, ipv6, ports)))
def test_compact_round_trip(p4: list[PeerAddress], p6: list[PeerAddress]) -> None:
    assert decode_peers4(encode_peers4(p4)) == p4
    assert decode_peers6(encode_peers6(p6)) == p6
    assert decode_peer_dicts(encode_peer_dicts(p4 + p6)) == p4 + p6


@given(st.lists(st.builds(PeerAddress, ipv4, ports, st.binary(min_size=20, max_size=20))))
def test_dict_round_trip_with_ids(peers: list[PeerAddress]) -> None:
    assert decode_peer_dicts(encode_peer_dicts(peers)) == peers


# -- fuzzing: only our error types escape -------------------------------------------------

_TRACKER_KEYS = [
    b"interval",
    b"peers",
    b"peers6",
    b"ip",
    b"port",
    b"peer id",
    b"files",
    b"complete",
    b"min interval",
    b"tracker id",
    b"warning message",
    b"failure reason",
    b"x" * 20,
]


def _extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # a named function: hypothesis reads a lambda's source to check that it recurses,
    # and cannot read a lambda that spans several lines
    return st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(_TRACKER_KEYS), inner, max_size=5
    )


_bvalue = st.recursive(
    st.integers(-(2**63), 2**63 - 1) | st.binary(max_size=40),
    _extend,
    max_leaves=12,
)


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=200), _bvalue.map(bencode)))
def test_parsers_raise_only_tracker_errors(body: bytes) -> None:
    for parse in (parse_announce_response, parse_scrape_response):
        try:
            parse(body)
        except (TrackerFailure, TrackerResponseError) as e:
            assert "\n" not in str(e)


@settings(max_examples=200)
@given(st.binary(max_size=100), st.sampled_from([6, 18]))
def test_compact_decode_raises_only_format_error(data: bytes, stride: int) -> None:
    try:
        peers = decode_peers(data, stride)
    except CompactFormatError:
        assert len(data) % stride
    else:
        assert len(peers) <= len(data) // stride
