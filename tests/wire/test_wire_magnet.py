"""A connection made before the torrent's metadata is known (a magnet link, BEP 9)."""

from __future__ import annotations

import pytest

from bitswarm.bitfield import Bitfield
from bitswarm.errors import LocalProtocolError
from bitswarm.wire import (
    BitfieldReceived,
    ConnectionClosed,
    ExtendedHandshakeReceived,
    HaveAllReceived,
    HaveReceived,
    PeerConnection,
)
from bitswarm.wire.messages import (
    BitfieldMessage,
    Extended,
    Have,
    HaveAll,
    HaveNone,
    Reject,
    Request,
    decode_stream,
)

from .wire_pair import NUM_PIECES, PIECE_LENGTH, TOTAL_LENGTH, feed, handshaken


def magnet_conn(fast: bool = True) -> PeerConnection:
    conn = handshaken(fast=fast, num_pieces=0, piece_length=1, total_length=0, geometry_known=False)
    assert not conn.geometry_known
    conn.send_bitfield(Bitfield(0))  # we have nothing: have_none with fast, nothing without
    assert decode_stream(conn.data_to_send())[0] == ([HaveNone()] if fast else [])
    return conn


def test_bitfield_and_haves_are_held_until_the_geometry_is_known() -> None:
    conn = magnet_conn(fast=False)
    bits = Bitfield.from_indices(NUM_PIECES, [0, 5])
    events = feed(conn, BitfieldMessage(bits.to_bytes()), Have(7), Extended(0, b"de"))
    assert [type(e) for e in events] == [ExtendedHandshakeReceived]  # metadata talk goes on
    with pytest.raises(LocalProtocolError):
        conn.send_request(0, 0, 16384)
    conn.set_geometry(NUM_PIECES, PIECE_LENGTH, TOTAL_LENGTH)
    expected = Bitfield.from_indices(NUM_PIECES, [0, 5])
    assert conn.events() == [BitfieldReceived(expected), HaveReceived(7)]
    assert set(conn.peer_has) == {0, 5, 7}
    with pytest.raises(LocalProtocolError, match="already set"):
        conn.set_geometry(NUM_PIECES, PIECE_LENGTH, TOTAL_LENGTH)


def test_have_all_is_replayed() -> None:
    conn = magnet_conn()
    assert feed(conn, HaveAll()) == []
    conn.set_geometry(NUM_PIECES, PIECE_LENGTH, TOTAL_LENGTH)
    assert conn.events() == [HaveAllReceived()]
    assert conn.peer_has.all()


def test_a_held_bitfield_of_the_wrong_size_closes_once_checked() -> None:
    conn = magnet_conn(fast=False)
    feed(conn, BitfieldMessage(b"\xff" * 5))
    conn.set_geometry(NUM_PIECES, PIECE_LENGTH, TOTAL_LENGTH)
    events = conn.events()
    assert conn.closed and isinstance(events[-1], ConnectionClosed) and events[-1].violation


def test_a_held_have_out_of_range_closes_once_checked() -> None:
    conn = magnet_conn(fast=False)
    feed(conn, Have(NUM_PIECES + 100))
    conn.set_geometry(NUM_PIECES, PIECE_LENGTH, TOTAL_LENGTH)
    assert conn.closed and "out of range" in (conn.close_reason or "")


def test_requests_before_the_geometry_are_rejected_with_fast() -> None:
    conn = magnet_conn()
    assert feed(conn, HaveAll(), Request(0, 0, 16384)) == []
    assert decode_stream(conn.data_to_send())[0] == [Reject(0, 0, 16384)]
