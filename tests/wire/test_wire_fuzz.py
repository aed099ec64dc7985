"""Whatever a remote sends, a PeerConnection never raises: it reports events or closes."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.bitfield import Bitfield
from bitswarm.wire import ConnectionClosed, PeerConnection
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

from .wire_pair import INFO_HASH, NUM_PIECES, PEER_B, make_conn


def started(fast: bool, extended: bool, *, handshake_done: bool) -> PeerConnection:
    conn = make_conn(initiator=True, enable_fast=fast, enable_extended=extended)
    conn.send_handshake()
    if handshake_done:
        reserved = make_reserved(fast=fast, extended=extended, dht=True)
        conn.receive_data(encode_handshake(INFO_HASH, PEER_B, reserved))
        conn.send_bitfield(Bitfield(NUM_PIECES))
        conn.send_unchoke()
        conn.send_request(0, 0, 16384)  # may be refused while choked: fine either way
    conn.events()
    return conn


def feed_chunks(conn: PeerConnection, data: bytes, cuts: list[int]) -> None:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(points):
        if start != end:
            conn.receive_data(data[start:end])
        conn.data_to_send()
        for event in conn.events():
            if isinstance(event, ConnectionClosed):
                assert conn.closed and event.reason


small = st.integers(min_value=0, max_value=40)
any_u32 = st.one_of(small, st.integers(min_value=0, max_value=2**32 - 1))
messages = st.one_of(
    st.sampled_from([KeepAlive(), Choke(), Unchoke(), Interested(), NotInterested(),
                     HaveAll(), HaveNone()]),
    st.builds(Have, any_u32),
    st.builds(Suggest, any_u32),
    st.builds(AllowedFast, any_u32),
    st.builds(BitfieldMessage, st.binary(max_size=4)),
    st.builds(Request, any_u32, st.sampled_from([0, 16384, 65535]), st.sampled_from([0, 1, 16384])),
    st.builds(Cancel, any_u32, st.sampled_from([0, 16384]), st.sampled_from([16384])),
    st.builds(Reject, any_u32, st.sampled_from([0, 16384]), st.sampled_from([16384])),
    st.builds(Piece, st.sampled_from([0, 1]), st.sampled_from([0, 16384]),
              st.sampled_from([b"x", bytes(16384)])),
    st.builds(Port, st.integers(0, 65535)),
    st.builds(Extended, st.integers(0, 3), st.sampled_from([b"", b"de", b"d1:md1:ai1eee", b"x"])),
    st.builds(Unknown, st.sampled_from([10, 11, 12, 18, 19, 24, 255]), st.binary(max_size=8)),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=300),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
    fast=st.booleans(),
    extended=st.booleans(),
    handshake_done=st.booleans(),
)
def test_arbitrary_bytes_never_raise(
    data: bytes, cuts: list[int], fast: bool, extended: bool, handshake_done: bool
) -> None:
    conn = started(fast, extended, handshake_done=handshake_done)
    feed_chunks(conn, data, cuts)


@settings(max_examples=300, deadline=None)
@given(
    msgs=st.lists(messages, max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=20000), max_size=6),
    fast=st.booleans(),
    extended=st.booleans(),
)
def test_arbitrary_message_sequences_never_raise(
    msgs: list[Message], cuts: list[int], fast: bool, extended: bool
) -> None:
    conn = started(fast, extended, handshake_done=True)
    wire = b"".join(encode_message(m) for m in msgs)
    feed_chunks(conn, wire, cuts)
    # a connection that survived still runs its timers: silence after activity drops it
    if not conn.closed:
        conn.handle_timer(now=1000.0)  # activity without a timestamp counts from here
        assert not conn.closed
        conn.handle_timer(now=1180.0)
        assert conn.closed
