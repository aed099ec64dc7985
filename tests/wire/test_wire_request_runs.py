"""Requests sent as one run (`PeerConnection.send_requests`) and pieces parsed on the fast
path: the same bytes and the same rules as one message at a time."""

from __future__ import annotations

import struct

import pytest

from bitswarm.bitfield import Bitfield
from bitswarm.errors import LocalProtocolError
from bitswarm.wire import PeerConnection, PieceReceived
from bitswarm.wire.codec import MAX_BLOCK_LENGTH
from bitswarm.wire.messages import HaveAll, Piece, Unchoke

from .wire_pair import NUM_PIECES, PIECE_LENGTH, TOTAL_LENGTH, closed_for, deliver, handshaken

BLOCK = 16384
LAST_PIECE = TOTAL_LENGTH // PIECE_LENGTH  # a short last piece of 1000 bytes
BLOCKS = [(0, 0, BLOCK), (0, BLOCK, BLOCK), (3, 2 * BLOCK, BLOCK), (LAST_PIECE, 0, 1000)]


def _unchoked() -> PeerConnection:
    conn = handshaken(fast=True)
    conn.send_bitfield(Bitfield(NUM_PIECES))  # with fast, our first message (BEP 6)
    deliver(conn, HaveAll(), Unchoke())
    conn.events()
    conn.data_to_send()
    return conn


def test_a_run_of_requests_is_the_same_bytes_and_bookkeeping_as_one_by_one() -> None:
    one, run = _unchoked(), _unchoked()
    for block in BLOCKS:
        assert one.send_request(*block)
    assert run.send_requests(BLOCKS) == len(BLOCKS)
    assert run.data_to_send() == one.data_to_send()
    assert run.outstanding_requests == one.outstanding_requests
    assert run.outstanding_count == len(BLOCKS)


@pytest.mark.parametrize(
    ("blocks", "problem"),
    [
        ([(0, 0, BLOCK), (0, 0, BLOCK)], "already requested"),
        ([(0, 0, BLOCK), (99, 0, BLOCK)], "piece 99"),
        ([(0, 0, BLOCK), (0, PIECE_LENGTH - 10, BLOCK)], "beyond the end"),
        ([(0, 0, BLOCK), (0, 0, 0)], "bytes"),
    ],
)
def test_a_bad_run_raises_with_nothing_sent(
    blocks: list[tuple[int, int, int]], problem: str
) -> None:
    conn = _unchoked()
    with pytest.raises(LocalProtocolError, match=problem):
        conn.send_requests(blocks)
    assert conn.data_to_send() == b""
    assert not conn.outstanding_requests


def test_a_run_repeating_an_outstanding_request_raises_with_nothing_sent() -> None:
    conn = _unchoked()
    assert conn.send_request(0, BLOCK, BLOCK)
    conn.data_to_send()
    with pytest.raises(LocalProtocolError, match="already requested"):
        conn.send_requests([(0, 0, BLOCK), (0, BLOCK, BLOCK)])
    assert conn.data_to_send() == b""
    assert conn.outstanding_count == 1


def test_a_run_to_a_peer_choking_us_without_fast_sends_nothing() -> None:
    conn = handshaken(fast=False)  # choked from the start (BEP 3)
    conn.data_to_send()
    assert conn.send_requests(BLOCKS) == 0
    assert conn.data_to_send() == b""
    assert conn.send_requests([]) == 0


def test_pieces_of_one_read_arrive_in_order_with_their_bytes() -> None:
    conn = _unchoked()
    conn.send_requests(BLOCKS)
    blocks = [bytes([i]) * length for i, (_, _, length) in enumerate(BLOCKS)]
    deliver(conn, *(Piece(i, b, data) for (i, b, _), data in zip(BLOCKS, blocks, strict=True)))
    events = conn.events()
    assert [(e.index, e.begin, bytes(e.data)) for e in events if isinstance(e, PieceReceived)] == [
        (i, b, data) for (i, b, _), data in zip(BLOCKS, blocks, strict=True)
    ]
    assert not conn.closed and conn.outstanding_count == 0


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        # whole frames, with more bytes behind them: the fast path sees 13 bytes or more
        (struct.pack(">IBII", 9, 7, 0, 0) + b"\0\0\0\0", "piece message of length 9"),
        (
            struct.pack(">IBII", 10 + MAX_BLOCK_LENGTH, 7, 0, 0) + bytes(MAX_BLOCK_LENGTH + 1),
            "piece message of length",
        ),
        (struct.pack(">IBII", 9 + BLOCK, 7, 0, BLOCK) + bytes(BLOCK), "never requested"),
        (struct.pack(">IBII", 9 + 100, 7, 0, 0) + bytes(100), "we requested 16384"),
    ],
)
def test_a_bad_piece_frame_still_closes_the_connection(frame: bytes, problem: str) -> None:
    conn = _unchoked()
    conn.send_request(0, 0, BLOCK)
    conn.receive_data(frame)
    closed_for(conn, problem)
