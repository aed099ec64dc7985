"""The L0 wire codecs: messages (BEP 3/5/6/10 framing) and the 68-byte handshake."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.errors import RemoteProtocolError
from bitswarm.wire import handshake as hs
from bitswarm.wire.messages import (
    MAX_BLOCK_LENGTH,
    MAX_EXTENDED_PAYLOAD,
    AllowedFast,
    BitfieldMessage,
    Cancel,
    Choke,
    Extended,
    Have,
    HaveAll,
    HaveNone,
    Interested,
    KeepAlive,
    Message,
    NotInterested,
    Piece,
    Port,
    Reject,
    Request,
    Suggest,
    Unchoke,
    Unknown,
    decode_message,
    decode_stream,
    encode_message,
    length_error,
)

# Every message with its exact wire bytes, written out by hand from the BEPs.
VECTORS: list[tuple[Message, bytes]] = [
    (KeepAlive(), b"\x00\x00\x00\x00"),
    (Choke(), b"\x00\x00\x00\x01\x00"),
    (Unchoke(), b"\x00\x00\x00\x01\x01"),
    (Interested(), b"\x00\x00\x00\x01\x02"),
    (NotInterested(), b"\x00\x00\x00\x01\x03"),
    (Have(0x01020304), b"\x00\x00\x00\x05\x04\x01\x02\x03\x04"),
    (BitfieldMessage(b"\xa0\x80"), b"\x00\x00\x00\x03\x05\xa0\x80"),
    (Request(1, 2, 16384), b"\x00\x00\x00\x0d\x06" + struct.pack(">III", 1, 2, 16384)),
    (Piece(7, 16384, b"abc"), b"\x00\x00\x00\x0c\x07" + struct.pack(">II", 7, 16384) + b"abc"),
    (Cancel(1, 2, 3), b"\x00\x00\x00\x0d\x08" + struct.pack(">III", 1, 2, 3)),
    (Port(6881), b"\x00\x00\x00\x03\x09\x1a\xe1"),
    (Suggest(5), b"\x00\x00\x00\x05\x0d\x00\x00\x00\x05"),
    (HaveAll(), b"\x00\x00\x00\x01\x0e"),
    (HaveNone(), b"\x00\x00\x00\x01\x0f"),
    (Reject(1, 2, 3), b"\x00\x00\x00\x0d\x10" + struct.pack(">III", 1, 2, 3)),
    (AllowedFast(9), b"\x00\x00\x00\x05\x11\x00\x00\x00\x09"),
    (Extended(0, b"de"), b"\x00\x00\x00\x04\x14\x00de"),
    (Extended(3, b"x"), b"\x00\x00\x00\x03\x14\x03x"),
    (Unknown(24, b"\x01\x02"), b"\x00\x00\x00\x03\x18\x01\x02"),
]


@pytest.mark.parametrize(("message", "wire"), VECTORS, ids=lambda v: type(v).__name__)
def test_every_message_encodes_to_its_bep_bytes_and_back(message: Message, wire: bytes) -> None:
    assert encode_message(message) == wire
    decoded, used = decode_stream(wire)
    assert decoded == [message]
    assert used == len(wire)


def test_a_stream_decodes_in_order_and_stops_at_an_incomplete_message() -> None:
    stream = b"".join(encode_message(m) for m, _ in VECTORS)
    tail = encode_message(Piece(1, 0, b"x" * 100))
    decoded, used = decode_stream(stream + tail[:50])
    assert decoded == [m for m, _ in VECTORS]
    assert used == len(stream)
    assert decode_stream(b"\x00\x00")[1] == 0


block_ints = st.integers(min_value=0, max_value=2**32 - 1)


@given(
    st.one_of(
        st.builds(Have, block_ints),
        st.builds(Suggest, block_ints),
        st.builds(AllowedFast, block_ints),
        st.builds(Request, block_ints, block_ints, block_ints),
        st.builds(Cancel, block_ints, block_ints, block_ints),
        st.builds(Reject, block_ints, block_ints, block_ints),
        st.builds(Piece, block_ints, block_ints, st.binary(min_size=1, max_size=300)),
        st.builds(Port, st.integers(0, 65535)),
        st.builds(Extended, st.integers(0, 255), st.binary(max_size=300)),
        st.builds(BitfieldMessage, st.binary(max_size=64)),
    )
)
def test_round_trip_property(message: Message) -> None:
    assert decode_stream(encode_message(message))[0] == [message]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x00\x00", "message 0 has length 2"),  # choke with a payload
        (b"\x04\x00\x00\x00", "message 4 has length 4"),  # short have
        (b"\x06" + bytes(13), "message 6 has length 14"),  # long request
        (b"\x07\x00\x00\x00\x00\x00\x00\x00\x00", "piece message of length 9"),  # no data
        (b"\x14", "extended message of length 1"),
    ],
)
def test_decode_refuses_wrong_lengths(body: bytes, reason: str) -> None:
    with pytest.raises(RemoteProtocolError, match=reason):
        decode_message(body)


def test_length_rules_for_variable_messages() -> None:
    assert length_error(7, 9 + MAX_BLOCK_LENGTH, 2) is None
    assert length_error(7, 10 + MAX_BLOCK_LENGTH, 2) is not None
    assert length_error(5, 3, 2) is None
    assert length_error(5, 4, 2) == "bitfield of 3 bytes, expected 2"
    assert length_error(5, 4000, -1) is None  # piece count unknown: any size
    assert length_error(20, 2 + MAX_EXTENDED_PAYLOAD, 2) is None
    assert length_error(20, 3 + MAX_EXTENDED_PAYLOAD, 2) is not None
    assert length_error(99, 12345, 2) is None  # unknown ids: only the global cap applies


def test_encode_refuses_out_of_range_fields() -> None:
    with pytest.raises(ValueError, match="index"):
        encode_message(Have(2**32))
    with pytest.raises(ValueError, match="port"):
        encode_message(Port(70000))
    with pytest.raises(ValueError, match="extended"):
        encode_message(Extended(256, b""))


# ---- handshake ---------------------------------------------------------------------------

INFO = bytes(range(20))
PEER = b"-BS0100-abcdefghijkl"


def test_handshake_layout_per_bep3() -> None:
    raw = hs.encode_handshake(INFO, PEER, bytes(8))
    assert len(raw) == hs.HANDSHAKE_LENGTH == 68
    assert raw[0] == 19 and raw[1:20] == b"BitTorrent protocol"
    assert raw[20:28] == bytes(8) and raw[28:48] == INFO and raw[48:] == PEER
    decoded = hs.decode_handshake(raw + b"trailing")
    assert decoded == hs.Handshake(bytes(8), INFO, PEER)
    assert decoded.encode() == raw


def test_reserved_bits_are_the_ones_the_beps_name() -> None:
    assert hs.make_reserved(fast=True, extended=False, dht=False) == bytes(7) + b"\x04"  # BEP 6
    assert hs.make_reserved(fast=False, extended=True, dht=False) == bytes(5) + b"\x10" + bytes(2)
    assert hs.make_reserved(fast=False, extended=False, dht=True) == bytes(7) + b"\x01"  # BEP 5
    both = hs.decode_handshake(hs.encode_handshake(INFO, PEER, hs.make_reserved(
        fast=True, extended=True, dht=True)))  # fmt: skip
    assert both.supports_fast and both.supports_extended and both.supports_dht
    none = hs.decode_handshake(hs.encode_handshake(INFO, PEER, bytes(8)))
    assert not (none.supports_fast or none.supports_extended or none.supports_dht)


def test_handshake_refusals() -> None:
    raw = hs.encode_handshake(INFO, PEER, bytes(8))
    with pytest.raises(RemoteProtocolError, match="68 bytes"):
        hs.decode_handshake(raw[:67])
    with pytest.raises(RemoteProtocolError, match="protocol string"):
        hs.decode_handshake(b"\x13BitTorrent protocoL" + raw[20:])
    with pytest.raises(ValueError, match="20 bytes"):
        hs.encode_handshake(INFO[:19], PEER, bytes(8))


def test_peek_info_hash_for_a_listener() -> None:
    raw = hs.encode_handshake(INFO, PEER, bytes(8))
    assert hs.peek_info_hash(raw[:47]) is None
    assert hs.peek_info_hash(raw[:48]) == INFO
    assert hs.protocol_prefix_ok(raw[:5]) and hs.protocol_prefix_ok(b"")
    assert not hs.protocol_prefix_ok(b"\x13BiX")
    with pytest.raises(RemoteProtocolError):
        hs.peek_info_hash(b"GET / HTTP/1.1\r\n")
