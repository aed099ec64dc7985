"""`PeerConnection` after a valid handshake: any sequence of messages (well-formed or
with a mutated length or id), cut at arbitrary points, never raises; the receive buffer
never holds more than one frame (`codec.max_frame_length` plus its length prefix), and
a connection that closed says why."""

from __future__ import annotations

import itertools

from bench.fuzz.targets import check_wire
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.bitfield import Bitfield
from bitswarm.wire import ConnectionClosed, PeerConnection, codec
from bitswarm.wire.handshake import encode_handshake, make_reserved
from bitswarm.wire.messages import (
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
    encode_message,
)

from .mutations import mutate_bytes
from .profile import FUZZ

IH = bytes(range(20))
PIECES, PIECE_LENGTH = 12, 32 * 1024
TOTAL = PIECE_LENGTH * (PIECES - 1) + 777

index = st.one_of(st.integers(0, PIECES + 1), st.sampled_from([2**31, 2**32 - 1]))
offset = st.sampled_from([0, 16384, 32768 - 1, 2**32 - 1])
length = st.sampled_from([0, 1, 16384, 16385, 128 * 1024, 128 * 1024 + 1])
MESSAGES = st.one_of(
    st.sampled_from([KeepAlive(), Choke(), Unchoke(), Interested(), NotInterested(),
                     HaveAll(), HaveNone()]),
    st.builds(Have, index), st.builds(Suggest, index), st.builds(AllowedFast, index),
    st.builds(BitfieldMessage, st.sampled_from([b"\xff\xf0", b"\xff\xff", b"", b"\x00" * 2,
                                                bytes(3)])),
    st.builds(Request, index, offset, length), st.builds(Cancel, index, offset, length),
    st.builds(Reject, index, offset, length),
    st.builds(Piece, index, offset, st.sampled_from([b"x", bytes(16384), bytes(777)])),
    st.builds(Port, st.integers(0, 65535)),
    st.builds(Extended, st.integers(0, 5), st.sampled_from(
        [b"", b"de", b"d1:md11:ut_metadatai1eee", b"d8:msg_typei0e5:piecei0ee", b"x"])),
    st.builds(Unknown, st.sampled_from([10, 11, 18, 19, 21, 22, 255]), st.binary(max_size=8)),
)  # fmt: skip
EDITS = st.lists(
    st.tuples(st.sampled_from(["flip", "insert", "delete", "truncate"]), st.integers(0, 1 << 18),
              st.integers(0, 255)),
    max_size=2,
)  # fmt: skip


def _connection(fast: bool, extended: bool, magnet: bool) -> PeerConnection:
    conn = PeerConnection(
        info_hash=IH, our_peer_id=b"-BS0100-aaaaaaaaaaaa", num_pieces=PIECES,
        piece_length=PIECE_LENGTH, total_length=TOTAL, initiator=True, enable_fast=fast,
        enable_extended=extended, geometry_known=not magnet,
    )  # fmt: skip
    conn.send_handshake()
    conn.receive_data(
        encode_handshake(IH, b"-XX0001-bbbbbbbbbbbb", make_reserved(fast=True, extended=True,
                                                                   dht=True))
    )  # fmt: skip
    if not magnet:
        conn.send_bitfield(Bitfield(PIECES))
        conn.send_unchoke()
        conn.send_interested()
        conn.send_request(0, 0, 16384)
    conn.data_to_send()
    conn.events()
    return conn


@FUZZ
@given(
    msgs=st.lists(MESSAGES, max_size=16),
    edits=EDITS,
    cuts=st.lists(st.integers(0, 1 << 18), max_size=8),
    fast=st.booleans(),
    extended=st.booleans(),
    magnet=st.booleans(),
)
def test_message_streams_cut_anywhere(
    msgs: list[Message], edits: list[tuple[str, int, int]], cuts: list[int], fast: bool,
    extended: bool, magnet: bool,
) -> None:  # fmt: skip
    conn = _connection(fast, extended, magnet)
    wire = mutate_bytes(b"".join(encode_message(m) for m in msgs), edits)
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    for i, (start, end) in enumerate(itertools.pairwise(points)):
        conn.receive_data(wire[start:end], now=float(i))
        if magnet and i == 1 and not conn.closed:
            conn.set_geometry(PIECES, PIECE_LENGTH, TOTAL)
        conn.data_to_send()
        for event in conn.events():
            if isinstance(event, ConnectionClosed):
                assert conn.closed and event.reason
        if not conn.closed:
            rx = conn._rx
            assert len(rx.buf) <= 4 + codec.max_frame_length(rx._bitfield_bytes)


@FUZZ
@given(
    opts=st.integers(0, 31),
    step=st.integers(0, 40),
    body=st.binary(max_size=400) | st.lists(MESSAGES, max_size=10).map(
        lambda ms: b"".join(encode_message(m) for m in ms)),
)  # fmt: skip
def test_the_wire_target_with_every_option(opts: int, step: int, body: bytes) -> None:
    """The atheris target's own framing: magnet links, answering, raw handshakes."""
    check_wire(bytes([opts, step]) + body)


def test_a_frame_over_the_limit_closes_without_buffering_it() -> None:
    conn = _connection(True, True, False)
    huge = (codec.max_frame_length(2) + 1).to_bytes(4, "big") + b"\x07"
    conn.receive_data(huge)
    assert conn.closed
    assert len(conn._rx.buf) == 0
