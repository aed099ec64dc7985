"""How a block leaves the wire: lent as a view of the bytes read, never copied, never stale.

`PieceReceived.data` is a read-only memoryview of the buffer the driver passed to
`receive_data`, valid until the next `receive_data` call (see `PieceReceived`). These tests
hold the connection to both halves of that contract: no copy while it is valid, and no way
to read a block after it (the driver's read buffer is reused, so a stale view would show
other bytes; a live view would stop a bytearray from being resized).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.wire import PeerConnection, PieceReceived
from bitswarm.wire.messages import Piece, Unchoke, encode_message

from .wire_pair import handshaken

BLOCK = 16384


def _requesting(count: int) -> PeerConnection:
    """A connection, unchoked, with `count` blocks of piece 0 and 1 requested."""
    conn = handshaken(fast=False)
    conn.receive_data(encode_message(Unchoke()))
    conn.events()
    for i in range(count):
        assert conn.send_request(i // 4, (i % 4) * BLOCK, BLOCK)
    return conn


def _block(i: int) -> bytes:
    return bytes((i * 7 + j) % 251 for j in range(BLOCK))


def _stream(count: int) -> bytes:
    return b"".join(encode_message(Piece(i // 4, (i % 4) * BLOCK, _block(i))) for i in range(count))


def test_a_block_is_a_read_only_view_of_the_callers_buffer() -> None:
    conn = _requesting(2)
    raw = bytearray(_stream(2))
    conn.receive_data(raw)
    events = conn.events()
    assert [type(e) for e in events] == [PieceReceived, PieceReceived]
    for i, e in enumerate(events):
        assert isinstance(e, PieceReceived) and isinstance(e.data, memoryview)
        assert e.data.obj is raw  # the very buffer passed in: the wire copied nothing
        assert e.data.readonly
        assert e.data == _block(i)


def test_the_next_receive_data_ends_the_loan() -> None:
    conn = _requesting(2)
    raw = bytearray(_stream(2))
    conn.receive_data(raw)
    first, second = conn.events()
    assert isinstance(first, PieceReceived) and isinstance(second, PieceReceived)
    with pytest.raises(BufferError):
        raw.clear()  # while lent, the caller's bytearray cannot be resized
    conn.receive_data(b"\x00\x00\x00\x00")  # a keep-alive: any next call will do
    for event in (first, second):
        with pytest.raises(ValueError, match="released"):
            bytes(event.data)  # a stale block cannot be read
    raw.clear()  # and the caller's buffer is free again


def test_a_block_split_between_reads_survives_the_next_read() -> None:
    """A frame split between two reads is assembled in a buffer the connection then lets
    go of: the lent block stays intact while more data (another split frame) comes in."""
    conn = _requesting(3)
    wire = _stream(3)
    cut1, cut2 = 100, len(wire) // 3 * 2  # inside the first and the third frame
    conn.receive_data(wire[:cut1])
    assert conn.events() == []
    conn.receive_data(wire[cut1:cut2])
    events = conn.events()
    assert events == [PieceReceived(0, 0, _block(0)), PieceReceived(0, BLOCK, _block(1))]
    kept = events[0]
    assert isinstance(kept, PieceReceived) and isinstance(kept.data, memoryview)
    assert kept.data.obj is not None and kept.data.nbytes == BLOCK
    conn.receive_data(wire[cut2:])  # no BufferError: the old assembly buffer is not reused
    assert conn.events() == [PieceReceived(0, 2 * BLOCK, _block(2))]
    assert not conn.closed


@settings(max_examples=60, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=4 * (BLOCK + 13)), max_size=8),
    read_size=st.sampled_from([7, 1000, BLOCK, 65536]),
)
def test_a_driver_reusing_one_read_buffer_gets_every_block_intact(
    cuts: list[int], read_size: int
) -> None:
    """What `aio/peer.py` does: one bytearray, refilled in place for every read, a view of
    it passed to `receive_data`, events consumed (copied) before the next read."""
    count = 4
    conn = _requesting(count)
    wire = _stream(count)
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    reads = [
        wire[s : min(s + read_size, e)]
        for s0, e in itertools.pairwise(points)
        for s in range(s0, e, read_size)
    ]
    rbuf = bytearray(read_size)
    rview = memoryview(rbuf)
    got = bytearray(count * BLOCK)
    for chunk in reads:
        rbuf[: len(chunk)] = chunk  # the kernel writing into the reused read buffer
        with rview[: len(chunk)] as data:
            conn.receive_data(data)
        for e in conn.events():
            assert isinstance(e, PieceReceived)
            at = (e.index * 4 + e.begin // BLOCK) * BLOCK
            got[at : at + BLOCK] = e.data  # the one copy, as TorrentCore makes it
    assert not conn.closed
    assert got == b"".join(_block(i) for i in range(count))
