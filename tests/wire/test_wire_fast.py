"""BEP 3 versus BEP 6 semantics: chokes, rejects, cancels, allowed-fast, have_all/none."""

from __future__ import annotations

import pytest

from bitswarm.bitfield import Bitfield
from bitswarm.wire import (
    AllowedFastReceived,
    CancelReceived,
    Choked,
    HaveAllReceived,
    HaveNoneReceived,
    PieceReceived,
    RejectReceived,
    RequestReceived,
    SuggestReceived,
    Unchoked,
)
from bitswarm.wire.messages import (
    AllowedFast,
    BitfieldMessage,
    Cancel,
    Choke,
    HaveAll,
    HaveNone,
    Piece,
    Reject,
    Request,
    Suggest,
    Unchoke,
    decode_stream,
)

from .wire_pair import NUM_PIECES, closed_for, deliver, feed, handshaken, make_pair

# ---- a choke from the peer ---------------------------------------------------------------


def test_without_fast_a_choke_voids_our_requests_but_late_pieces_are_accepted() -> None:
    conn = handshaken(fast=False)
    assert feed(conn, Unchoke()) == [Unchoked()]
    conn.send_request(0, 0, 16384)
    conn.send_request(0, 16384, 16384)
    assert feed(conn, Choke()) == [Choked(((0, 0, 16384), (0, 16384, 16384)))]
    assert not conn.outstanding_requests
    # BEP 3: "an unexpected piece may arrive if choke and unchoke come in quick succession"
    assert feed(conn, Piece(0, 0, bytes(16384))) == [PieceReceived(0, 0, bytes(16384))]
    deliver(conn, Piece(0, 0, bytes(16384)))  # but not twice
    closed_for(conn, "never requested")


def test_without_fast_requests_are_not_sent_while_choked() -> None:
    conn = handshaken(fast=False)
    assert not conn.send_request(0, 0, 16384)
    assert conn.data_to_send() == b"" and not conn.outstanding_requests


def test_with_fast_a_choke_keeps_requests_until_rejected() -> None:
    conn = handshaken()
    feed(conn, HaveAll(), Unchoke())
    conn.send_bitfield(Bitfield(NUM_PIECES))
    conn.send_request(0, 0, 16384)
    conn.send_request(1, 0, 16384)
    assert feed(conn, Choke()) == [Choked(())]
    assert set(conn.outstanding_requests) == {(0, 0, 16384), (1, 0, 16384)}
    assert feed(conn, Reject(0, 0, 16384)) == [RejectReceived(0, 0, 16384)]
    assert feed(conn, Piece(1, 0, bytes(16384))) == [PieceReceived(1, 0, bytes(16384))]
    assert not conn.outstanding_requests
    deliver(conn, Reject(0, 0, 16384))  # answered already: BEP 6 says close
    closed_for(conn, "never requested")


def test_with_fast_we_may_request_while_choked() -> None:
    conn = handshaken()
    assert feed(conn, HaveAll(), AllowedFast(3)) == [
        HaveAllReceived(),
        AllowedFastReceived(3),
    ]
    assert feed(conn, AllowedFast(3)) == []  # reported once
    conn.send_bitfield(Bitfield(NUM_PIECES))
    assert conn.send_request(3, 0, 16384)
    assert conn.peer_allowed_fast == {3}


# ---- our cancels -------------------------------------------------------------------------


@pytest.mark.parametrize("fast", [False, True])
def test_after_our_cancel_the_piece_or_a_reject_may_still_come(fast: bool) -> None:
    conn = handshaken(fast=fast)
    feed(conn, HaveAll() if fast else BitfieldMessage(b"\xff\xc0"), Unchoke())
    if fast:
        conn.send_bitfield(Bitfield(NUM_PIECES))
    conn.send_request(0, 0, 16384)
    conn.send_request(0, 16384, 16384)
    conn.data_to_send()
    conn.send_cancel(0, 0, 16384)
    conn.send_cancel(0, 0, 16384)  # not outstanding any more: nothing sent
    assert decode_stream(conn.data_to_send())[0] == [Cancel(0, 0, 16384)]
    assert set(conn.outstanding_requests) == {(0, 16384, 16384)}
    assert feed(conn, Piece(0, 0, bytes(16384))) == [PieceReceived(0, 0, bytes(16384))]
    if fast:
        conn.send_cancel(0, 16384, 16384)
        assert feed(conn, Reject(0, 16384, 16384)) == []  # the answer to a cancel: quiet
    assert not conn.closed


# ---- the peer's requests while we choke --------------------------------------------------


def test_without_fast_requests_while_choking_are_dropped_silently() -> None:
    conn = handshaken(fast=False)
    assert feed(conn, Request(0, 0, 16384)) == []
    assert conn.data_to_send() == b"" and not conn.peer_requests


def test_with_fast_requests_while_choking_are_rejected_unless_allowed_fast() -> None:
    conn = handshaken()
    feed(conn, HaveNone())
    conn.send_bitfield(Bitfield(NUM_PIECES, full=True))
    conn.send_allowed_fast(2)
    conn.data_to_send()
    events = feed(conn, Request(0, 0, 16384), Request(2, 0, 16384))
    assert events == [RequestReceived(2, 0, 16384)]
    assert decode_stream(conn.data_to_send())[0] == [Reject(0, 0, 16384)]
    assert set(conn.peer_requests) == {(2, 0, 16384)}


@pytest.mark.parametrize("fast", [False, True])
def test_send_choke_drops_or_rejects_pending_requests(fast: bool) -> None:
    pair = make_pair(a_kwargs={"enable_fast": fast}, b_kwargs={"enable_fast": fast})
    if fast:
        pair.b.send_allowed_fast(1)
    pair.b.send_unchoke()
    pair.shuttle()
    for index in (0, 1):
        pair.a.send_request(index, 0, 16384)
    assert len(pair.shuttle()[1]) == 2
    pair.b.send_choke()
    a_events, _ = pair.shuttle()
    if fast:  # BEP 6: choke, then reject all but the allowed-fast ones
        assert a_events == [Choked(()), RejectReceived(0, 0, 16384)]
        assert set(pair.b.peer_requests) == {(1, 0, 16384)}
        assert set(pair.a.outstanding_requests) == {(1, 0, 16384)}
    else:  # BEP 3: both sides forget them
        assert a_events == [Choked(((0, 0, 16384), (1, 0, 16384)))]
        assert not pair.b.peer_requests and not pair.a.outstanding_requests
        assert not pair.b.send_piece(0, 0, bytes(16384))


@pytest.mark.parametrize("fast", [False, True])
def test_a_cancel_from_the_peer(fast: bool) -> None:
    pair = make_pair(a_kwargs={"enable_fast": fast}, b_kwargs={"enable_fast": fast})
    pair.b.send_unchoke()
    pair.shuttle()
    pair.a.send_request(0, 0, 16384)
    pair.shuttle()
    pair.a.send_cancel(0, 0, 16384)
    pair.b.receive_data(pair.a.data_to_send())
    assert pair.b.events() == [CancelReceived(0, 0, 16384)]
    assert not pair.b.peer_requests
    assert not pair.b.send_piece(0, 0, bytes(16384))
    answer = pair.b.data_to_send()
    # BEP 6: with fast every request gets exactly one answer, so the cancel is rejected
    assert decode_stream(answer)[0] == ([Reject(0, 0, 16384)] if fast else [])
    if answer:
        pair.a.receive_data(answer)
    assert pair.a.events() == []  # the reject of a cancelled request is absorbed quietly
    assert not pair.a.closed and not pair.b.closed


# ---- our bitfield ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fast", "have", "expected"),
    [
        (True, Bitfield(NUM_PIECES), [HaveNone()]),
        (True, Bitfield(NUM_PIECES, full=True), [HaveAll()]),
        (True, Bitfield.from_indices(NUM_PIECES, [0]), [BitfieldMessage(b"\x80\x00")]),
        (False, Bitfield(NUM_PIECES), []),  # BEP 3: may be skipped
        (False, Bitfield(NUM_PIECES, full=True), [BitfieldMessage(b"\xff\xc0")]),
    ],
)
def test_send_bitfield_picks_the_shortest_form(
    fast: bool, have: Bitfield, expected: list[object]
) -> None:
    conn = handshaken(fast=fast)
    conn.send_bitfield(have)
    assert decode_stream(conn.data_to_send())[0] == expected


def test_suggest_is_reported() -> None:
    conn = handshaken()
    assert feed(conn, HaveNone(), Suggest(4)) == [HaveNoneReceived(), SuggestReceived(4)]
