"""The one wire codec (`wire/codec.py`): frames packed and read back, in place, at any offset.

The connection parses with exactly these functions (`frame_header`, ``read_*``) and writes
with the ``pack_*`` ones; `test_wire_messages.py` checks the same layouts byte by byte
through the value objects built on them.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.errors import RemoteProtocolError
from bitswarm.wire import codec
from bitswarm.wire.codec import KEEPALIVE, PAYLOAD, MessageId

u32 = st.integers(min_value=0, max_value=2**32 - 1)
FLAG_IDS = [m for m, n in codec.FIXED_LENGTHS.items() if n == 1]
INDEX_IDS = [MessageId.HAVE, MessageId.SUGGEST, MessageId.ALLOWED_FAST]
BLOCK_IDS = [MessageId.REQUEST, MessageId.CANCEL, MessageId.REJECT]
LIMIT = codec.max_frame_length(-1)


def framed(frame: bytes, lead: bytes) -> tuple[memoryview, int]:
    """`frame` after `lead` junk bytes, as a memoryview (the hot path's input) and its offset."""
    return memoryview(lead + frame), len(lead)


def header_of(frame: bytes, lead: bytes = b"") -> tuple[int, int]:
    view, pos = framed(frame, lead)
    got = codec.frame_header(view, pos, LIMIT, -1)
    assert got is not None
    msg_id, length = got
    assert length == len(frame) - 4  # the frame is exactly its length prefix long
    return msg_id, length


def test_message_ids_are_the_beps_numbers() -> None:
    assert {m.name: int(m) for m in MessageId} == {
        "CHOKE": 0,
        "UNCHOKE": 1,
        "INTERESTED": 2,
        "NOT_INTERESTED": 3,
        "HAVE": 4,
        "BITFIELD": 5,
        "REQUEST": 6,
        "PIECE": 7,
        "CANCEL": 8,
        "PORT": 9,
        "SUGGEST": 13,
        "HAVE_ALL": 14,
        "HAVE_NONE": 15,
        "REJECT": 16,
        "ALLOWED_FAST": 17,
        "EXTENDED": 20,
        "HASH_REQUEST": 21,  # BEP 52
        "HASHES": 22,
        "HASH_REJECT": 23,
    }


@pytest.mark.parametrize("msg_id", FLAG_IDS)
def test_flags_round_trip(msg_id: int) -> None:
    assert header_of(codec.pack_flag(msg_id), b"\x07junk") == (msg_id, 1)


@given(msg_id=st.sampled_from(INDEX_IDS), index=u32, lead=st.binary(max_size=9))
def test_index_messages_round_trip(msg_id: int, index: int, lead: bytes) -> None:
    frame = codec.pack_index(msg_id, index)
    assert header_of(frame, lead) == (msg_id, 5)
    view, pos = framed(frame, lead)
    assert codec.read_index(view, pos + PAYLOAD) == index


@given(msg_id=st.sampled_from(BLOCK_IDS), fields=st.tuples(u32, u32, u32))
def test_block_messages_round_trip(msg_id: int, fields: tuple[int, int, int]) -> None:
    frame = codec.pack_block(msg_id, *fields)
    assert header_of(frame) == (msg_id, 13)
    assert codec.read_block(memoryview(frame), PAYLOAD) == fields


@given(index=u32, begin=u32, block=st.binary(min_size=1, max_size=2000), lead=st.binary(max_size=5))
def test_piece_round_trip_with_the_block_left_in_place(
    index: int, begin: int, block: bytes, lead: bytes
) -> None:
    frame = codec.pack_piece_header(index, begin, len(block)) + block
    msg_id, length = header_of(frame, lead)
    assert msg_id == MessageId.PIECE
    view, pos = framed(frame, lead)
    assert codec.read_piece_header(view, pos + PAYLOAD) == (index, begin)
    assert view[pos + 13 : pos + 4 + length] == block  # a slice of the view: no copy


@given(bits=st.binary(min_size=1, max_size=40))
def test_bitfield_round_trip_and_its_size_rule(bits: bytes) -> None:
    frame = codec.pack_bitfield(bits)
    assert header_of(frame) == (MessageId.BITFIELD, 1 + len(bits))
    assert codec.frame_header(frame, 0, LIMIT, len(bits)) is not None
    with pytest.raises(RemoteProtocolError, match="bitfield of"):
        codec.frame_header(frame, 0, LIMIT, len(bits) + 1)


@given(port=st.integers(0, 0xFFFF))
def test_port_round_trip(port: int) -> None:
    frame = codec.pack_port(port)
    assert header_of(frame) == (MessageId.PORT, 3)
    assert codec.read_port(frame, PAYLOAD) == port


@given(ext_id=st.integers(0, 255), payload=st.binary(max_size=300))
def test_extended_round_trip(ext_id: int, payload: bytes) -> None:
    frame = codec.pack_extended(ext_id, payload)
    assert header_of(frame) == (MessageId.EXTENDED, 2 + len(payload))
    assert frame[PAYLOAD] == ext_id and frame[PAYLOAD + 1 :] == payload


def test_keepalive_is_a_frame_without_id() -> None:
    assert codec.frame_header(codec.KEEPALIVE_BYTES, 0, LIMIT, -1) == (KEEPALIVE, 0)


@given(
    frame=st.one_of(
        st.builds(codec.pack_block, st.sampled_from(BLOCK_IDS), u32, u32, u32),
        st.builds(lambda b: codec.pack_piece_header(1, 2, len(b)) + b, st.binary(min_size=1)),
        st.builds(codec.pack_extended, st.integers(0, 255), st.binary(max_size=50)),
        st.builds(codec.pack_unknown, st.integers(24, 255), st.binary(max_size=50)),
    )
)
def test_an_incomplete_frame_is_none_at_every_cut(frame: bytes) -> None:
    for cut in range(len(frame)):
        assert codec.frame_header(memoryview(frame)[:cut], 0, LIMIT, -1) is None
    assert codec.frame_header(frame, 0, LIMIT, -1) is not None


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (b"\x7f\xff\xff\xff", "exceeds any legal size"),  # refused from the length alone
        (b"\x00\x00\x00\x09\x04", "message 4 has length 9"),  # a have with 8 bytes
        (b"\x00\x02\x00\x0a\x07", "piece message of length"),  # a block over 128 KiB
    ],
)
def test_sizes_are_refused_from_the_header_before_the_body(start: bytes, reason: str) -> None:
    with pytest.raises(RemoteProtocolError, match=reason):
        codec.frame_header(memoryview(start), 0, LIMIT, -1)
