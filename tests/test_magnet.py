"""Magnet links (BEP 9, BEP 53): parsing, formatting, round trips, refusals."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.errors import MagnetError
from bitswarm.magnet import Magnet, format_select_only, parse_magnet
from bitswarm.metainfo import InfoHashes

V1 = bytes.fromhex("c12fe1c06bba254a9dc9f519b335aa7c1367a88a")
V2 = bytes(range(32))


def test_hex_v1_with_name_trackers_and_seeds() -> None:
    m = parse_magnet(
        "magnet:?xt=urn:btih:C12FE1C06BBA254A9DC9F519B335AA7C1367A88A&dn=Ubuntu+22.04%20LTS"
        "&tr=http%3A%2F%2Ft1%2Fannounce&tr.1=udp://t2:80&tr=http%3A%2F%2Ft1%2Fannounce"
        "&ws=http%3A%2F%2Fseed%2Ffile&xl=123"
    )
    assert m.info_hashes == InfoHashes(V1, None) and m.info_hash_v1 == V1
    assert m.info_hash_v2 is None
    assert m.display_name == "Ubuntu 22.04 LTS"
    assert m.trackers == ("http://t1/announce", "udp://t2:80")
    assert m.web_seeds == ("http://seed/file",)
    assert m.extra == (("xl", "123"),)
    assert m.select_only == () and m.peers == ()


def test_base32_v1_hash() -> None:
    b32 = base64.b32encode(V1).decode()
    assert len(b32) == 32
    assert parse_magnet(f"magnet:?xt=urn:btih:{b32}").info_hashes.v1 == V1
    assert parse_magnet(f"magnet:?xt=urn:btih:{b32.lower()}").info_hashes.v1 == V1


def test_v2_and_hybrid() -> None:
    m = parse_magnet(f"magnet:?xt=urn:btmh:1220{V2.hex()}")
    assert m.info_hashes == InfoHashes(None, V2)
    assert m.info_hashes.wire == V2[:20]
    both = parse_magnet(f"magnet:?xt=urn:btih:{V1.hex()}&xt.2=urn:btmh:1220{V2.hex().upper()}")
    assert both.info_hashes == InfoHashes(V1, V2)


def test_peers_and_select_only() -> None:
    m = parse_magnet(
        f"magnet:?xt=urn:btih:{V1.hex()}&x.pe=10.0.0.1:6881&x.pe=%5B2001:db8::1%5D:51413"
        "&x.pe=peer.example:1&so=0,2,4-6&so=9"
    )
    assert m.peers == (("10.0.0.1", 6881), ("2001:db8::1", 51413), ("peer.example", 1))
    assert m.select_only == (0, 2, 4, 5, 6, 9)
    uri = m.to_uri()
    assert "x.pe=[2001:db8::1]:51413" in uri and "so=0,2,4-6,9" in uri
    assert parse_magnet(uri) == m


def test_to_uri_known_form() -> None:
    m = Magnet(InfoHashes(V1, V2), display_name="a b&c+d", trackers=("http://t/a?x=1&y=2",))
    assert m.to_uri() == (
        f"magnet:?xt=urn:btih:{V1.hex()}&xt=urn:btmh:1220{V2.hex()}"
        "&dn=a%20b%26c%2Bd&tr=http%3A%2F%2Ft%2Fa%3Fx%3D1%26y%3D2"
    )
    assert parse_magnet(m.to_uri()) == m
    assert str(m) == m.to_uri()


def test_format_select_only() -> None:
    assert format_select_only((0, 2, 4, 5, 6)) == "0,2,4-6"
    assert format_select_only([3, 1, 2, 2]) == "1-3"
    assert format_select_only((7, 8)) == "7,8"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://example.com/", "not a magnet link"),
        ("magnet:?dn=x", "no BitTorrent info-hash"),
        ("magnet:?xt=urn:sha1:abc", "no BitTorrent info-hash"),
        ("magnet:?xt=urn:btih:1234", "neither 40 hex digits nor 32 base32"),
        ("magnet:?xt=urn:btih:" + "g" * 40, "neither 40 hex digits nor 32 base32"),
        ("magnet:?xt=urn:btih:" + "1" * 32, "neither 40 hex digits nor 32 base32"),
        ("magnet:?xt=urn:btmh:1114" + "a" * 40, "not a SHA-256 multihash"),
        ("magnet:?xt=urn:btmh:1220" + "a" * 63, "not a SHA-256 multihash"),
        (f"magnet:?xt=urn:btih:{V1.hex()}&xt=urn:btih:{'0' * 40}", "two different v1"),
        (f"magnet:?xt=urn:btih:{V1.hex()}&x.pe=1.2.3.4", "has no port"),
        (f"magnet:?xt=urn:btih:{V1.hex()}&x.pe=1.2.3.4:0", "outside 1..65535"),
        (f"magnet:?xt=urn:btih:{V1.hex()}&x.pe=1.2.3.4:70000", "outside 1..65535"),
        (f"magnet:?xt=urn:btih:{V1.hex()}&x.pe=::1:80", "IPv6 address in brackets"),
        (f"magnet:?xt=urn:btih:{V1.hex()}&x.pe=[::1]80", "[ipv6]:port"),
        (f"magnet:?xt=urn:btih:{V1.hex()}&x.pe=:80", "has no host"),
        (f"magnet:?xt=urn:btih:{V1.hex()}&so=3-1", "runs backwards"),
        (f"magnet:?xt=urn:btih:{V1.hex()}&so=a", "not an index or a range"),
        (f"magnet:?xt=urn:btih:{V1.hex()}&so=", "not an index or a range"),
        (f"magnet:?xt=urn:btih:{V1.hex()}&so=0-999999999", "beyond any torrent"),
        (f"magnet:?xt=urn:btih:{V1.hex()}&dn=%ff", "not valid UTF-8"),
    ],
)
def test_bad_magnets_are_refused(uri: str, message: str) -> None:
    with pytest.raises(MagnetError) as info:
        parse_magnet(uri)
    assert message in str(info.value)


_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
_url = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30)
_host = st.sampled_from(["127.0.0.1", "::1", "2001:db8::7", "peer.example", "h"])


@st.composite
def magnets(draw: st.DrawFn) -> Magnet:
    v1 = draw(st.none() | st.binary(min_size=20, max_size=20))
    v2 = draw(
        st.binary(min_size=32, max_size=32)
        if v1 is None
        else st.none() | st.binary(min_size=32, max_size=32)
    )
    return Magnet(
        info_hashes=InfoHashes(v1, v2),
        display_name=draw(st.none() | _text),
        trackers=tuple(draw(st.lists(_url, unique=True, max_size=4))),
        web_seeds=tuple(draw(st.lists(_url, unique=True, max_size=3))),
        peers=tuple(
            draw(st.lists(st.tuples(_host, st.integers(1, 65535)), unique=True, max_size=3))
        ),
        select_only=tuple(sorted(draw(st.sets(st.integers(0, 5000), max_size=10)))),
    )


@settings(max_examples=200, deadline=None)
@given(magnets())
def test_round_trip(m: Magnet) -> None:
    assert parse_magnet(m.to_uri()) == m


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_magnet_error(text: str) -> None:
    for uri in (text, "magnet:?" + text, f"magnet:?xt=urn:btih:{V1.hex()}&" + text):
        try:
            parse_magnet(uri)
        except MagnetError as e:
            assert str(e)


def test_libtorrent_reads_our_magnets() -> None:
    try:
        import libtorrent as lt
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("libtorrent is not installed")
    m = Magnet(InfoHashes(V1, V2), display_name="na me", trackers=("http://t/a", "udp://u:1"))
    p = lt.parse_magnet_uri(m.to_uri())
    assert p.info_hashes.v1.to_bytes() == V1 and p.info_hashes.v2.to_bytes() == V2
    assert p.name == "na me" and list(p.trackers) == ["http://t/a", "udp://u:1"]
    back = lt.make_magnet_uri(p)
    assert parse_magnet(back).info_hashes == m.info_hashes
