"""PeerConnection end to end: two connections paired in memory (handshake, data, BEP 10)."""

from __future__ import annotations

import hashlib

import pytest

from bitswarm.bitfield import Bitfield
from bitswarm.errors import LocalProtocolError
from bitswarm.wire import (
    BitfieldReceived,
    ConnectionClosed,
    ConnectionState,
    ExtendedHandshakeReceived,
    ExtendedMessageReceived,
    ExtensionHandshake,
    HandshakeReceived,
    HaveAllReceived,
    HaveReceived,
    PieceReceived,
    PortReceived,
    RequestReceived,
)
from bitswarm.wire.handshake import encode_handshake, make_reserved
from bitswarm.wire.messages import Extended, Have, Unknown

from .wire_pair import (
    INFO_HASH,
    NUM_PIECES,
    PEER_A,
    PEER_B,
    closed_for,
    feed,
    handshaken,
    make_conn,
    make_pair,
)

# ---- handshake ---------------------------------------------------------------------------


def test_handshake_exchange_reports_each_side_and_negotiates_bits() -> None:
    pair = make_pair(handshake=False, enable_dht=True)
    assert pair.a.state is ConnectionState.HANDSHAKE
    pair.a.send_handshake()
    a_events, b_events = pair.shuttle()
    assert a_events == [
        HandshakeReceived(
            INFO_HASH, PEER_B, True, True, True, make_reserved(fast=True, extended=True, dht=True)
        )
    ]
    assert isinstance(b_events[0], HandshakeReceived) and b_events[0].peer_id == PEER_A
    for conn, remote in ((pair.a, PEER_B), (pair.b, PEER_A)):
        assert conn.state is ConnectionState.ACTIVE
        assert conn.remote_peer_id == remote
        assert conn.supports_fast and conn.supports_extended and conn.supports_dht


@pytest.mark.parametrize(
    ("a_fast", "b_fast", "a_ext", "b_ext"),
    [(True, False, True, True), (False, True, True, False), (False, False, False, False)],
)
def test_an_extension_is_on_only_when_both_sides_set_its_bit(
    a_fast: bool, b_fast: bool, a_ext: bool, b_ext: bool
) -> None:
    pair = make_pair(
        a_kwargs={"enable_fast": a_fast, "enable_extended": a_ext},
        b_kwargs={"enable_fast": b_fast, "enable_extended": b_ext},
        bitfields=False,
    )
    for conn in (pair.a, pair.b):
        assert conn.supports_fast == (a_fast and b_fast)
        assert conn.supports_extended == (a_ext and b_ext)
        assert not conn.supports_dht  # off by default


def test_responder_answers_only_after_reading_the_info_hash() -> None:
    a = make_conn(initiator=True, peer_id=PEER_A)
    b = make_conn(initiator=False, peer_id=PEER_B)
    b.send_handshake()  # a responder's call is harmless: it answers by itself
    assert b.data_to_send() == b""
    a.send_handshake()
    a.send_handshake()  # idempotent
    hello = a.data_to_send()
    assert len(hello) == 68
    b.receive_data(hello[:47])
    assert b.data_to_send() == b""
    b.receive_data(hello[47:48])  # the info-hash is complete: now b answers
    reply = b.data_to_send()
    assert reply == encode_handshake(INFO_HASH, PEER_B, make_reserved(
        fast=True, extended=True, dht=False))  # fmt: skip
    assert b.events() == [] and b.state is ConnectionState.HANDSHAKE
    b.receive_data(hello[48:])
    assert isinstance(b.events()[0], HandshakeReceived)


def test_multi_torrent_listener_lookup_accepts_and_adopts_the_hash() -> None:
    other = hashlib.sha1(b"other torrent").digest()
    b = make_conn(
        initiator=False, peer_id=PEER_B, expected_info_hash_lookup=lambda h: h in (INFO_HASH, other)
    )
    b.receive_data(encode_handshake(other, PEER_A, bytes(8)))
    assert b.data_to_send()[28:48] == other
    assert b.info_hash == other
    assert b.events()[0] == HandshakeReceived(other, PEER_A, False, False, False, bytes(8))


def test_lookup_refusal_closes_before_we_answer() -> None:
    b = make_conn(initiator=False, peer_id=PEER_B, expected_info_hash_lookup=lambda h: False)
    b.receive_data(encode_handshake(INFO_HASH, PEER_A, bytes(8)))
    closed_for(b, "not a torrent we serve")
    assert b.data_to_send() == b""


@pytest.mark.parametrize("initiator", [True, False])
def test_wrong_info_hash_closes(initiator: bool) -> None:
    conn = make_conn(initiator=initiator, peer_id=PEER_B)
    conn.send_handshake()
    conn.receive_data(encode_handshake(bytes(20), PEER_A, bytes(8)))
    closed_for(conn, "not a torrent we serve")


def test_wrong_protocol_string_closes_at_the_first_wrong_byte() -> None:
    conn = make_conn(initiator=False)
    conn.receive_data(b"\x13BitTorrent")
    assert not conn.closed
    conn.receive_data(b" protocoX")
    closed_for(conn, "protocol string")
    conn.receive_data(b"more")  # ignored once closed
    assert conn.events() == []


def test_connecting_to_ourselves_closes() -> None:
    conn = make_conn(initiator=True, peer_id=PEER_A)
    conn.send_handshake()
    conn.receive_data(conn.data_to_send())  # our own handshake echoed back
    closed_for(conn, "ourselves")


def test_expected_peer_id_mismatch_closes() -> None:
    conn = make_conn(initiator=True, expected_peer_id=b"-XX0000-000000000000")
    conn.send_handshake()
    conn.receive_data(encode_handshake(INFO_HASH, PEER_B, bytes(8)))
    closed_for(conn, "peer id differs")


def test_messages_in_the_same_read_as_the_handshake_are_processed() -> None:
    conn = make_conn(initiator=True, enable_fast=False)
    conn.send_handshake()
    bits = Bitfield.from_indices(NUM_PIECES, [0, 9])
    raw = encode_handshake(INFO_HASH, PEER_B, bytes(8))
    raw += b"\x00\x00\x00\x03\x05" + bits.to_bytes() + b"\x00\x00\x00\x05\x04\x00\x00\x00\x03"
    conn.receive_data(raw)
    events = conn.events()
    assert [type(e) for e in events] == [HandshakeReceived, BitfieldReceived, HaveReceived]
    assert set(conn.peer_has) == {0, 3, 9}


# ---- data transfer -----------------------------------------------------------------------


def test_one_mebibyte_transfer_through_a_pair() -> None:
    piece_length = 256 * 1024
    total = 1024 * 1024
    data = bytes(i * 7 % 251 for i in range(total))
    pair = make_pair(num_pieces=4, piece_length=piece_length, total_length=total, bitfields=False)
    pair.a.send_bitfield(Bitfield(4))
    pair.b.send_bitfield(Bitfield(4, full=True))
    a_events, _ = pair.shuttle()
    assert a_events == [HaveAllReceived()] and pair.a.peer_has.all()
    pair.a.send_interested()
    pair.b.send_unchoke()
    pair.shuttle()
    received = bytearray(total)
    blocks = [(i, b) for i in range(4) for b in range(0, piece_length, 16384)]
    while blocks:
        for index, begin in blocks[:20]:  # 20 in flight, like a pipelining client
            assert pair.a.send_request(index, begin, 16384)
        del blocks[:20]
        _, b_events = pair.shuttle()
        for e in b_events:
            assert isinstance(e, RequestReceived)
            start = e.index * piece_length + e.begin
            assert pair.b.send_piece(e.index, e.begin, memoryview(data)[start : start + e.length])
        a_events, _ = pair.shuttle()
        for e in a_events:
            assert isinstance(e, PieceReceived)
            start = e.index * piece_length + e.begin
            received[start : start + len(e.data)] = e.data
        assert not pair.a.outstanding_requests and not pair.b.peer_requests
    assert received == data


def test_pieces_split_across_reads_at_every_offset() -> None:
    conn = handshaken(fast=False)
    feed(conn, Unknown(1, b""))  # unchoke, spelled raw
    conn.send_request(3, 16384, 100)
    wire = b"\x00\x00\x00\x6d\x07\x00\x00\x00\x03\x00\x00\x40\x00" + bytes(range(100))
    for i in range(len(wire)):
        conn.receive_data(wire[i : i + 1])
    assert conn.events() == [PieceReceived(3, 16384, bytes(range(100)))]
    assert not conn.closed


def test_have_is_reported_once_per_piece() -> None:
    conn = handshaken(fast=False)
    events = feed(conn, Have(4), Have(4), Have(5))
    assert events == [HaveReceived(4), HaveReceived(5)]


def test_unknown_messages_and_keepalives_are_skipped() -> None:
    conn = handshaken(fast=False)
    conn.receive_data(b"\x00\x00\x00\x00" + b"\x00\x00\x00\x04\x63abc" + b"\x00\x00\x00\x00")
    assert conn.events() == [] and not conn.closed
    assert feed(conn, Have(1)) == [HaveReceived(1)]


def test_port_message() -> None:
    conn = handshaken(dht=True)
    conn.receive_data(b"\x00\x00\x00\x01\x0f" + b"\x00\x00\x00\x03\x09\x1a\xe1")
    assert conn.events()[-1] == PortReceived(6881)
    conn.send_bitfield(Bitfield(NUM_PIECES))
    conn.data_to_send()
    conn.send_port(6881)
    assert conn.data_to_send() == b"\x00\x00\x00\x03\x09\x1a\xe1"


# ---- BEP 10 ------------------------------------------------------------------------------


def test_extended_handshake_round_trip_and_messages() -> None:
    pair = make_pair()
    ours = ExtensionHandshake(
        m={"ut_metadata": 3, "ut_pex": 1}, v="bitswarm", reqq=500, metadata_size=12345
    )
    pair.a.send_extended_handshake(ours.to_payload())
    _, b_events = pair.shuttle()
    assert b_events == [ExtendedHandshakeReceived(ours)]
    assert pair.b.remote_extensions == {"ut_metadata": 3, "ut_pex": 1}
    pair.b.send_extended(pair.b.remote_extensions["ut_metadata"], b"d8:msg_typei0ee")
    a_events, _ = pair.shuttle()
    assert a_events == [ExtendedMessageReceived(3, b"d8:msg_typei0ee")]
    # BEP 10: later handshakes are additive and 0 disables one extension
    pair.a.send_extended_handshake({b"m": {b"ut_pex": 0}})
    pair.shuttle()
    assert pair.b.remote_extensions == {"ut_metadata": 3}


def test_extended_handshake_may_come_before_the_bitfield() -> None:
    conn = handshaken()
    events = feed(conn, Extended(0, b"d1:md6:ut_pexi2eee"), Unknown(14, b""))
    assert [type(e) for e in events] == [ExtendedHandshakeReceived, HaveAllReceived]


# ---- closing and API misuse --------------------------------------------------------------


def test_eof_and_local_close_are_not_violations() -> None:
    pair = make_pair()
    pair.a.receive_data(b"")
    assert pair.a.events() == [ConnectionClosed("the peer closed the connection", False)]
    pair.b.close("shutting down")
    pair.b.close("twice")  # no-op
    assert pair.b.events() == [ConnectionClosed("shutting down", False)]
    assert pair.b.close_reason == "shutting down" and pair.b.get_timer() is None
    pair.b.send_have(1)  # every command is a no-op once closed
    assert not pair.b.send_request(0, 0, 16384)
    assert pair.b.data_to_send() == b"" and pair.b.events() == []


def test_api_misuse_raises_local_protocol_error() -> None:
    fresh = make_conn(initiator=True)
    with pytest.raises(LocalProtocolError, match="handshake"):
        fresh.send_interested()
    with pytest.raises(LocalProtocolError):
        make_conn(initiator=True, info_hash=b"short")
    with pytest.raises(LocalProtocolError, match="pieces"):
        make_conn(initiator=True, num_pieces=NUM_PIECES + 1)
    fast = handshaken()
    with pytest.raises(LocalProtocolError, match="send_bitfield comes first"):
        fast.send_interested()
    with pytest.raises(LocalProtocolError, match="for 10"):
        fast.send_bitfield(Bitfield(3))
    fast.send_bitfield(Bitfield(NUM_PIECES))
    with pytest.raises(LocalProtocolError, match="first message"):
        fast.send_bitfield(Bitfield(NUM_PIECES))
    with pytest.raises(LocalProtocolError, match="beyond the end"):
        fast.send_request(NUM_PIECES - 1, 0, 16384)  # the last piece is 1000 bytes
    fast.send_request(0, 0, 16384)
    with pytest.raises(LocalProtocolError, match="already requested"):
        fast.send_request(0, 0, 16384)
    with pytest.raises(LocalProtocolError, match="out of range"):
        fast.send_have(NUM_PIECES)
    with pytest.raises(LocalProtocolError, match=r"1\.\.255"):
        fast.send_extended(0, b"x")
    plain = handshaken(fast=False, extended=False)
    with pytest.raises(LocalProtocolError, match="fast extension"):
        plain.send_reject(0, 0, 16384)
    with pytest.raises(LocalProtocolError, match="extension protocol"):
        plain.send_extended_handshake({b"m": {}})
    plain.send_interested()
    with pytest.raises(LocalProtocolError, match="first message"):
        plain.send_bitfield(Bitfield(NUM_PIECES))


def test_send_piece_checks_the_request() -> None:
    pair = make_pair()
    pair.b.send_unchoke()
    pair.shuttle()
    pair.a.send_request(1, 0, 16384)
    pair.shuttle()
    assert (1, 0, 16384) in pair.b.peer_requests
    assert not pair.b.send_piece(2, 0, bytes(16384))  # never requested: a race, not a bug
    with pytest.raises(LocalProtocolError, match="16383 bytes"):
        pair.b.send_piece(1, 0, bytes(16383))
    assert pair.b.send_piece(1, 0, bytes(16384))
    assert not pair.b.send_piece(1, 0, bytes(16384))  # answered once only
    assert pair.shuttle()[0] == [PieceReceived(1, 0, bytes(16384))]
