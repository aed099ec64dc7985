"""Every protocol violation closes the connection with a reason, and never raises.

Each test scripts the remote by hand (raw bytes or codec messages) against one connection.
"""

from __future__ import annotations

import struct

import pytest

from bitswarm.bitfield import Bitfield
from bitswarm.wire import (
    BitfieldReceived,
    HaveAllReceived,
    HaveNoneReceived,
    HaveReceived,
    PeerConnection,
    RequestReceived,
)
from bitswarm.wire.messages import (
    MAX_BLOCK_LENGTH,
    AllowedFast,
    BitfieldMessage,
    Cancel,
    Extended,
    Have,
    HaveAll,
    HaveNone,
    Interested,
    Message,
    Piece,
    Reject,
    Request,
    Suggest,
    Unchoke,
)

from .wire_pair import (
    NUM_PIECES,
    PIECE_LENGTH,
    TOTAL_LENGTH,
    closed_for,
    deliver,
    feed,
    handshaken,
)

# ---- sizes, refused from the header before the body is buffered --------------------------


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (struct.pack(">I", 9 + MAX_BLOCK_LENGTH + 1) + b"\x07", "piece message of length"),
        (struct.pack(">I", 50_000_000), "exceeds any legal size"),
        (struct.pack(">IB", 6, 4), "message 4 has length 6"),  # a have with a long body
        (struct.pack(">IB", 100, 5), "bitfield of 99 bytes, expected 2"),
        (struct.pack(">IB", 2 + 1024 * 1024 + 1, 20), "exceeds any legal size"),
    ],
)
def test_oversized_or_misshapen_messages_close_from_the_header(header: bytes, reason: str) -> None:
    conn = handshaken(fast=False)
    conn.receive_data(header)  # only the header: the body is never waited for
    closed_for(conn, reason)
    assert not conn._rx.buf  # nothing kept


def test_largest_legal_block_is_accepted() -> None:
    conn = handshaken(fast=False, piece_length=256 * 1024, num_pieces=2, total_length=512 * 1024)
    feed(conn, Unchoke())
    assert conn.send_request(0, 0, MAX_BLOCK_LENGTH)
    events = feed(conn, Piece(0, 0, bytes(MAX_BLOCK_LENGTH)))
    assert len(events) == 1 and not conn.closed


# ---- bitfield and friends (BEP 3, BEP 6) -------------------------------------------------


def test_bitfield_as_first_message() -> None:
    conn = handshaken(fast=False)
    bits = Bitfield.from_indices(NUM_PIECES, [1, 8])
    assert feed(conn, BitfieldMessage(bits.to_bytes())) == [BitfieldReceived(bits)]
    assert conn.peer_has == bits


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([BitfieldMessage(b"\x00\x01")], "spare bits"),  # 10 pieces: the low 6 bits are spare
        ([Have(NUM_PIECES)], "out of range"),
        ([HaveAll()], "have_all without the fast extension"),
        ([HaveNone()], "have_none without the fast extension"),
        ([Suggest(1)], "suggest without the fast extension"),
        ([Reject(1, 0, 16384)], "reject without the fast extension"),
        ([AllowedFast(1)], "allowed_fast without the fast extension"),
        ([Extended(0, b"de")], "extension protocol"),
    ],
)
def test_violations_without_fast(messages: list[Message], reason: str) -> None:
    conn = handshaken(fast=False, extended=False)
    deliver(conn, *messages)
    closed_for(conn, reason)
    conn.receive_data(b"\x00\x00\x00\x01\x02")  # further input is ignored
    assert conn.events() == []


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([Interested()], "interested before bitfield/have_all/have_none"),
        ([Have(1)], "have before bitfield"),
        ([HaveNone(), Suggest(NUM_PIECES)], "out of range"),
        ([HaveNone(), AllowedFast(NUM_PIECES + 5)], "out of range"),
        ([HaveNone(), Reject(0, 0, 16384)], "never requested"),
        ([HaveNone(), Extended(0, b"i1e")], "not a dictionary"),
        ([HaveNone(), Extended(0, b"d1:m")], "not bencoded"),
    ],
)
def test_violations_with_fast(messages: list[Message], reason: str) -> None:
    conn = handshaken()
    deliver(conn, *messages)
    closed_for(conn, reason)


def test_have_all_and_have_none_with_fast() -> None:
    conn = handshaken()
    assert feed(conn, HaveAll()) == [HaveAllReceived()]
    assert conn.peer_has.all()
    other = handshaken()
    assert feed(other, HaveNone()) == [HaveNoneReceived()]
    assert other.peer_has.none()


# ---- requests from the peer --------------------------------------------------------------


def unchoked_seed(
    num_pieces: int = NUM_PIECES, piece_length: int = PIECE_LENGTH, total_length: int = TOTAL_LENGTH
) -> PeerConnection:
    """A connection without fast that has unchoked its peer, so requests are taken."""
    conn = handshaken(
        fast=False, num_pieces=num_pieces, piece_length=piece_length, total_length=total_length
    )
    conn.send_unchoke()
    conn.data_to_send()
    return conn


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (Request(NUM_PIECES, 0, 16384), "request for piece 10"),
        (Request(0, 0, 0), "request of 0 bytes"),
        (Request(0, 0, MAX_BLOCK_LENGTH + 1), "request of 131073 bytes"),
        (Request(0, PIECE_LENGTH - 100, 16384), "beyond the end"),
        (Request(NUM_PIECES - 1, 0, 1001), "beyond the end of a 1000-byte piece"),
    ],
)
def test_bad_requests_close(request_: Request, reason: str) -> None:
    conn = unchoked_seed()
    deliver(conn, request_)
    closed_for(conn, reason)


def test_requests_at_the_edges_are_accepted() -> None:
    conn = unchoked_seed()
    events = feed(conn, Request(NUM_PIECES - 1, 0, 1000), Request(0, PIECE_LENGTH - 1, 1))
    assert events == [
        RequestReceived(NUM_PIECES - 1, 0, 1000),
        RequestReceived(0, PIECE_LENGTH - 1, 1),
    ]


def test_too_many_outstanding_requests_close() -> None:
    conn = unchoked_seed(num_pieces=200, piece_length=256 * 1024, total_length=200 * 256 * 1024)
    many = [Request(i // 16, (i % 16) * 16384, 16384) for i in range(2000)]
    assert len(feed(conn, *many)) == 2000
    deliver(conn, Request(199, 0, 16384))
    closed_for(conn, "more than 2000 outstanding requests")


# ---- pieces and rejects we did not ask for -----------------------------------------------


def test_unrequested_piece_closes() -> None:
    conn = handshaken(fast=False)
    feed(conn, Unchoke())
    deliver(conn, Piece(0, 0, b"x" * 16384))
    closed_for(conn, "never requested")


def test_piece_of_the_wrong_length_closes() -> None:
    conn = handshaken(fast=False)
    feed(conn, Unchoke())
    conn.send_request(0, 0, 16384)
    deliver(conn, Piece(0, 0, b"x" * 16000))
    closed_for(conn, "has 16000 bytes, we requested 16384")


def test_piece_answered_twice_closes() -> None:
    conn = handshaken(fast=False)
    feed(conn, Unchoke())
    conn.send_request(0, 0, 16384)
    assert len(feed(conn, Piece(0, 0, bytes(16384)))) == 1
    deliver(conn, Piece(0, 0, bytes(16384)))
    closed_for(conn, "never requested")


def test_cancel_of_nothing_is_ignored() -> None:
    conn = unchoked_seed()
    assert feed(conn, Cancel(0, 0, 16384)) == []
    assert not conn.closed


# ---- late bitfield / have_all: tolerated as haves (aria2 sends them mid-connection) -------


def test_late_bitfield_and_have_all_count_as_haves() -> None:
    conn = handshaken(fast=True)
    assert isinstance(feed(conn, HaveNone())[0], HaveNoneReceived)
    events = feed(conn, Have(1), BitfieldMessage(b"\x60\x00"))  # pieces 1 and 2
    assert [e.index for e in events if isinstance(e, HaveReceived)] == [1, 2]
    events = feed(conn, HaveAll())
    assert sorted(e.index for e in events if isinstance(e, HaveReceived)) == [
        i for i in range(NUM_PIECES) if i not in (1, 2)
    ]
    assert conn.peer_has.all() and not conn.closed
    assert feed(conn, HaveNone()) == []  # nothing can be un-had
    assert conn.peer_has.all()


def test_late_bitfield_is_still_checked() -> None:
    conn = handshaken(fast=False)
    feed(conn, Have(1))
    deliver(conn, BitfieldMessage(b"\x00\x01"))  # spare bits set
    closed_for(conn, "spare bits")
