"""BEP 52 hash request (21), hashes (22) and hash reject (23): layouts, the rules the
connection enforces, and the v2 reserved bit of the handshake."""

from __future__ import annotations

import struct

import pytest

from bitswarm.errors import LocalProtocolError, RemoteProtocolError
from bitswarm.wire import MAX_PEER_HASH_REQUESTS, codec
from bitswarm.wire import handshake as hs
from bitswarm.wire.events import (
    ConnectionClosed,
    HashesReceived,
    HashRejectReceived,
    HashRequestReceived,
)
from bitswarm.wire.messages import (
    Hashes,
    HashReject,
    HashRequest,
    decode_message,
    encode_message,
)

from .wire_pair import make_pair

ROOT = bytes(range(32))
H = [bytes([i]) * 32 for i in range(8)]


def test_layouts_are_bep52s() -> None:
    req = HashRequest(ROOT, 1, 4, 4, 3)
    wire = encode_message(req)
    assert wire == struct.pack(">IB", 49, 21) + ROOT + struct.pack(">IIII", 1, 4, 4, 3)
    assert decode_message(wire[4:]) == req
    reject = encode_message(HashReject(ROOT, 1, 4, 4, 3))
    assert reject[4] == 23 and reject[5:] == wire[5:]
    hashes = Hashes(ROOT, 1, 4, 4, 3, b"".join(H[:6]))
    raw = encode_message(hashes)
    assert raw[:5] == struct.pack(">IB", 49 + 6 * 32, 22) and decode_message(raw[4:]) == hashes


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x15" + bytes(47), "length 48, expected 49"),  # a hash request one byte short
        (b"\x17" + bytes(49), "length 50, expected 49"),
        (b"\x16" + bytes(48 + 31), "hashes message of length"),  # not whole hashes
        (b"\x16" + bytes(48 + 32), "hashes message of length"),  # fewer than two
    ],
)
def test_lengths_are_refused_from_the_header(body: bytes, reason: str) -> None:
    with pytest.raises(RemoteProtocolError, match=reason):
        decode_message(body)


def test_uncle_count_omits_the_layers_the_run_itself_gives() -> None:
    # BEP 52: "the first log2(length)-1 proof layers are omitted"
    assert codec.uncle_count(2, 0) == 0
    assert codec.uncle_count(2, 1) == 1
    assert codec.uncle_count(8, 2) == 0
    assert codec.uncle_count(8, 5) == 3
    assert codec.uncle_count(512, 9) == 1


def _feed(pair, message: object) -> list[object]:  # type: ignore[no-untyped-def]
    pair.b.receive_data(encode_message(message))  # type: ignore[arg-type]
    return pair.b.events()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ((0, 0, 3, 0), "power of two"),
        ((0, 0, 1, 0), "power of two"),
        ((0, 0, 16384, 0), "power of two"),
        ((0, 2, 4, 0), "not a multiple"),
        ((64, 0, 2, 0), "base layer"),
    ],
)
def test_a_hash_request_breaking_bep52_closes_the_connection(
    fields: tuple[int, int, int, int], reason: str
) -> None:
    pair = make_pair()
    events = _feed(pair, HashRequest(ROOT, *fields))
    assert isinstance(events[-1], ConnectionClosed) and reason in events[-1].reason
    assert events[-1].violation


def test_request_and_answers_flow_between_two_connections() -> None:
    pair = make_pair()
    assert pair.a.send_hash_request(ROOT, 0, 0, 4, 1)
    assert not pair.a.send_hash_request(ROOT, 0, 0, 4, 1)  # already out
    assert pair.a.hash_requests == 1
    _, b_events = pair.shuttle()
    assert b_events == [HashRequestReceived(ROOT, 0, 0, 4, 1)]
    # the answer carries 4 hashes, no uncle (proof layer 1 is inside the run)
    pair.b.send_hashes(ROOT, 0, 0, 4, 1, b"".join(H[:4]))
    a_events, _ = pair.shuttle()
    assert a_events == [HashesReceived(ROOT, 0, 0, 4, 1, b"".join(H[:4]))]
    assert pair.a.hash_requests == 0
    assert pair.a.send_hash_request(ROOT, 0, 4, 4, 3)
    pair.shuttle()
    pair.b.send_hash_reject(ROOT, 0, 4, 4, 3)
    a_events, _ = pair.shuttle()
    assert a_events == [HashRejectReceived(ROOT, 0, 4, 4, 3)]


def test_unsolicited_or_miscounted_answers_close_the_connection() -> None:
    pair = make_pair()
    pair.b.send_hashes(ROOT, 0, 0, 2, 0, b"".join(H[:2]))  # never asked
    a_events, _ = pair.shuttle()
    assert isinstance(a_events[-1], ConnectionClosed) and "never sent" in a_events[-1].reason
    pair = make_pair()
    pair.a.send_hash_request(ROOT, 0, 0, 2, 3)  # 2 hashes and 3 uncles expected
    pair.shuttle()
    pair.b.send_hashes(ROOT, 0, 0, 2, 3, b"".join(H[:4]))  # one short: a truncated proof
    a_events, _ = pair.shuttle()
    assert isinstance(a_events[-1], ConnectionClosed) and "needs 5" in a_events[-1].reason
    pair = make_pair()
    pair.b.send_hash_reject(ROOT, 0, 0, 2, 0)
    a_events, _ = pair.shuttle()
    assert isinstance(a_events[-1], ConnectionClosed)


def test_we_never_send_a_request_bep52_forbids() -> None:
    pair = make_pair()
    with pytest.raises(LocalProtocolError):
        pair.a.send_hash_request(ROOT, 0, 2, 4, 0)


def test_the_v2_reserved_bit() -> None:
    reserved = hs.make_reserved(fast=False, extended=False, dht=False, v2=True)
    assert reserved == bytes(7) + b"\x10"
    shake = hs.decode_handshake(hs.encode_handshake(bytes(20), bytes(20), reserved))
    assert shake.supports_v2 and not shake.supports_fast
    assert not hs.Handshake(bytes(8), bytes(20), bytes(20)).supports_v2


def test_unanswered_hash_requests_are_capped_like_block_requests() -> None:
    pair = make_pair()
    for i in range(MAX_PEER_HASH_REQUESTS - 1):
        pair.b.receive_data(encode_message(HashRequest(ROOT, 0, 2 * i, 2, 0)))
    pair.b.receive_data(encode_message(HashRequest(ROOT, 0, 0, 2, 0)))  # a repeat counts
    events = pair.b.events()
    assert len(events) == MAX_PEER_HASH_REQUESTS
    assert all(isinstance(e, HashRequestReceived) for e in events)
    assert pair.b.peer_hash_requests == MAX_PEER_HASH_REQUESTS
    pair.b.send_hash_reject(ROOT, 0, 0, 2, 0)  # each answer frees one place
    pair.b.send_hashes(ROOT, 0, 0, 2, 0, b"".join(H[:2]))
    assert pair.b.peer_hash_requests == MAX_PEER_HASH_REQUESTS - 2
    pair.b.send_hash_reject(ROOT, 9, 0, 2, 0)  # never asked: frees nothing
    assert pair.b.peer_hash_requests == MAX_PEER_HASH_REQUESTS - 2
    for index in (0, 2):
        pair.b.receive_data(encode_message(HashRequest(ROOT, 1, index, 2, 0)))
    assert not pair.b.closed
    pair.b.receive_data(encode_message(HashRequest(ROOT, 1, 4, 2, 0)))
    closed = pair.b.events()[-1]
    assert isinstance(closed, ConnectionClosed) and closed.violation
    assert f"more than {MAX_PEER_HASH_REQUESTS} hash requests" in closed.reason
