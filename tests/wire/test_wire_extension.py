"""BEP 10 extended handshake codec: round trip, tolerance of unknown/odd fields, bounds."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from bitswarm.bencode import bencode
from bitswarm.errors import RemoteProtocolError
from bitswarm.wire.codec import MAX_EXTENDED_PAYLOAD
from bitswarm.wire.extension import (
    MAX_EXTENSIONS,
    MAX_EXTRA,
    MAX_METADATA_SIZE,
    MAX_TOKENS,
    ExtensionHandshake,
    decode_extension_handshake,
    encode_extension_handshake,
)


def test_round_trip_of_every_field() -> None:
    fields = ExtensionHandshake(
        m={"ut_metadata": 3, "ut_pex": 1, "lt_donthave": 0},
        p=6881,
        v="bitswarm 0.1.0",
        yourip=b"\x7f\x00\x00\x01",
        ipv4=b"\x0a\x00\x00\x02",
        ipv6=bytes(15) + b"\x01",
        reqq=500,
        metadata_size=31235,
        upload_only=True,
        extra={b"complete_ago": 12},
    )
    assert decode_extension_handshake(encode_extension_handshake(fields)) == fields


def test_the_bep10_example_decodes() -> None:
    # BEP 10's example, with the µ written as UTF-8 (and its "µT_PEX" name kept).
    raw = b"d1:md11:LT_metadatai1e7:\xc2\xb5T_PEXi2ee1:pi6881e1:v13:\xc2\xb5Torrent 1.2e"
    fields = decode_extension_handshake(raw)
    assert fields.m == {"LT_metadata": 1, "µT_PEX": 2}
    assert fields.p == 6881
    assert fields.v == "µTorrent 1.2"
    assert fields.reqq is None and fields.metadata_size is None and fields.extra == {}


def test_unsorted_keys_are_tolerated() -> None:
    fields = decode_extension_handshake(b"d1:pi1e1:md6:ut_pexi1eee")
    assert fields.p == 1 and fields.m == {"ut_pex": 1}


@pytest.mark.parametrize(
    ("payload", "attr", "expected"),
    [
        ({b"p": 0}, "p", None),
        ({b"p": 65536}, "p", None),
        ({b"p": b"6881"}, "p", None),
        ({b"reqq": 0}, "reqq", None),
        ({b"reqq": 10**9}, "reqq", None),
        ({b"metadata_size": MAX_METADATA_SIZE + 1}, "metadata_size", None),
        ({b"metadata_size": -5}, "metadata_size", None),
        ({b"yourip": b"\x01\x02\x03"}, "yourip", None),
        ({b"yourip": bytes(16)}, "yourip", bytes(16)),
        ({b"ipv4": bytes(16)}, "ipv4", None),
        ({b"ipv6": bytes(4)}, "ipv6", None),
        ({b"v": b"\xff\xfeclient"}, "v", "\ufffd\ufffdclient"),
        ({b"v": b"x" * 1000}, "v", "x" * 256),
        ({b"m": [1, 2]}, "m", {}),
        ({b"m": {b"good": 2, b"neg": -1, b"big": 256, b"str": b"1", b"\xff": 4}}, "m", {"good": 2}),
        ({b"upload_only": 0}, "upload_only", False),
    ],
)
def test_out_of_bounds_fields_are_dropped_not_fatal(
    payload: dict[bytes, object], attr: str, expected: object
) -> None:
    fields = decode_extension_handshake(bencode(payload))
    assert getattr(fields, attr) == expected


@pytest.mark.parametrize("raw", [b"", b"i3e", b"l1:ae", b"d1:m", b"d1:pi1ee junk"])
def test_a_payload_that_is_not_a_dictionary_is_a_violation(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_extension_handshake(raw)


def test_to_payload_is_what_send_extended_handshake_takes() -> None:
    payload = ExtensionHandshake(m={"ut_metadata": 2}, reqq=250).to_payload()
    assert payload == {b"m": {b"ut_metadata": 2}, b"reqq": 250}


def _retained(payload: bytes) -> int | None:
    """Bytes the decoded handshake keeps alive (None: refused as a protocol violation)."""
    gc.collect()
    tracemalloc.start()
    try:
        try:
            fields = decode_extension_handshake(payload)
        except RemoteProtocolError:
            return None
        gc.collect()
        kept, _ = tracemalloc.get_traced_memory()
        assert fields is not None
        return kept
    finally:
        tracemalloc.stop()


_HOSTILE_HANDSHAKES = {
    # measured before the bound: 32.5 MiB of objects kept for the connection's lifetime
    "a million empty lists": b"d1:xl" + b"le" * 524271 + b"ee",
    "unknown keys with long strings": bencode(
        {b"k%04d" % i: b"x" * 2000 for i in range(500)} | {b"m": {b"ut_pex": 1}}
    ),
    "many extension names": bencode({b"m": {b"e%060d" % i: 1 for i in range(500)}}),
    "unknown containers": bencode({b"x%d" % i: [b"y" * 100] * 4 for i in range(100)}),
    "a long version": bencode({b"v": b"v" * (MAX_EXTENDED_PAYLOAD - 100)}),
}


@pytest.mark.parametrize("name", list(_HOSTILE_HANDSHAKES))
def test_one_handshake_never_retains_more_than_a_few_kib(name: str) -> None:
    payload = _HOSTILE_HANDSHAKES[name]
    assert len(payload) <= MAX_EXTENDED_PAYLOAD
    kept = _retained(payload)
    assert kept is None or kept < 12 * 1024, f"{name}: {kept} bytes kept"


def test_what_is_kept_of_unknown_keys_and_names() -> None:
    fields = decode_extension_handshake(_HOSTILE_HANDSHAKES["unknown keys with long strings"])
    assert fields.m == {"ut_pex": 1} and fields.extra == {}
    payload = {b"complete_ago": 5, b"flag": b"1", b"list": [1], b"z" * 65: 1}
    payload |= {b"n%02d" % i: i for i in range(20)}
    extra = decode_extension_handshake(bencode(payload)).extra
    assert extra[b"complete_ago"] == 5 and extra[b"flag"] == b"1"
    assert b"list" not in extra and b"z" * 65 not in extra and len(extra) == MAX_EXTRA
    names = decode_extension_handshake(_HOSTILE_HANDSHAKES["many extension names"]).m
    assert len(names) == MAX_EXTENSIONS
    with pytest.raises(RemoteProtocolError, match="tokens"):
        decode_extension_handshake(bencode({b"m": {b"e%d" % i: 1 for i in range(MAX_TOKENS)}}))
