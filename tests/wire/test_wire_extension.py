"""BEP 10 extended handshake codec: round trip, tolerance of unknown/odd fields, bounds."""

from __future__ import annotations

import pytest

from bitswarm.bencode import bencode
from bitswarm.errors import RemoteProtocolError
from bitswarm.wire.extension import (
    MAX_METADATA_SIZE,
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
