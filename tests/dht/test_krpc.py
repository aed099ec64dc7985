"""KRPC codec: BEP 5's example packets byte for byte, compact encodings, bounds, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.bencode import bdecode, bencode
from bitswarm.dht.krpc import (
    MAX_NODES,
    MAX_VALUES,
    AnnouncePeerQuery,
    ErrorMessage,
    FindNodeQuery,
    GetPeersQuery,
    KrpcError,
    Message,
    NodeInfo,
    PingQuery,
    Response,
    UnknownQuery,
    decode_message,
    decode_nodes,
    encode_message,
    encode_nodes,
)

A = b"abcdefghij0123456789"
M = b"mnopqrstuvwxyz123456"

# (bencoded example from BEP 5 "DHT Queries", the message it stands for)
BEP5_EXAMPLES: list[tuple[bytes, Message]] = [
    (b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
     PingQuery(tid=b"aa", sender_id=A)),
    (b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
     Response(tid=b"aa", sender_id=M)),
    (b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
     FindNodeQuery(tid=b"aa", sender_id=A, target=M)),
    (b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
     GetPeersQuery(tid=b"aa", sender_id=A, info_hash=M)),
    (b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
     Response(tid=b"aa", sender_id=A, token=b"aoeusnth",
              values=(("97.120.106.101", 0x2E75), ("105.100.104.116", 0x6E6D)))),
    (b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
     AnnouncePeerQuery(tid=b"aa", sender_id=A, info_hash=M, port=6881, token=b"aoeusnth",
                       implied_port=True)),
    (b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
     ErrorMessage(tid=b"aa", code=201, message="A Generic Error Ocurred")),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "message"), BEP5_EXAMPLES)
def test_bep5_examples_decode(raw: bytes, message: Message) -> None:
    assert decode_message(raw) == message


@pytest.mark.parametrize(("raw", "message"), BEP5_EXAMPLES)
def test_bep5_examples_encode_byte_for_byte(raw: bytes, message: Message) -> None:
    assert encode_message(message, version=None) == raw


def test_version_and_read_only_flags() -> None:
    raw = encode_message(PingQuery(tid=b"x", sender_id=A, read_only=True))
    top = bdecode(raw)
    assert isinstance(top, dict)
    assert top[b"ro"] == 1  # BEP 43: '2:roi1e' at the top level
    assert b"2:roi1e" in raw
    assert top[b"v"] == b"BS\x00\x01"
    assert decode_message(raw) == PingQuery(tid=b"x", sender_id=A, read_only=True)
    assert b"ro" not in encode_message(PingQuery(tid=b"x", sender_id=A))


def test_want_round_trips_and_ignores_unknown_strings() -> None:
    q = FindNodeQuery(tid=b"t", sender_id=A, target=M, want=frozenset({"n4", "n6"}))
    assert decode_message(encode_message(q)) == q
    raw = bencode(
        {
            b"t": b"t",
            b"y": b"q",
            b"q": b"get_peers",
            b"a": {b"id": A, b"info_hash": M, b"want": [b"n6", b"zz", 7]},
        }
    )
    decoded = decode_message(raw)
    assert isinstance(decoded, GetPeersQuery)
    assert decoded.want == {"n6", "zz"}


def test_response_with_nodes_nodes6_and_ip_round_trips() -> None:
    nodes = (NodeInfo(A, "1.2.3.4", 6881), NodeInfo(M, "10.0.0.1", 1))
    nodes6 = (NodeInfo(A, "2001:db8::1", 6881),)
    r = Response(
        tid=b"\x00\x01",
        sender_id=M,
        nodes=nodes,
        nodes6=nodes6,
        token=b"tok",
        values=(("1.2.3.4", 80), ("2001:db8::2", 443)),
        your_addr=("9.8.7.6", 4242),
    )
    raw = encode_message(r)
    top = bdecode(raw)
    assert isinstance(top, dict) and isinstance(top[b"r"], dict)
    compact4, compact6 = top[b"r"][b"nodes"], top[b"r"][b"nodes6"]
    assert isinstance(compact4, bytes) and len(compact4) == 2 * 26
    assert isinstance(compact6, bytes) and len(compact6) == 38
    assert top[b"ip"] == bytes([9, 8, 7, 6]) + (4242).to_bytes(2, "big")  # BEP 42 top-level
    assert decode_message(raw) == r


def test_compact_nodes() -> None:
    nodes = [NodeInfo(bytes([i]) * 20, f"192.168.0.{i}", 1000 + i) for i in range(1, 5)]
    packed = encode_nodes(nodes)
    assert len(packed) == 4 * 26
    assert packed[:20] == bytes([1]) * 20 and packed[20:26] == bytes([192, 168, 0, 1, 3, 233])
    assert decode_nodes(packed) == nodes
    assert decode_nodes(packed, limit=2) == nodes[:2]
    six = [NodeInfo(A, "::1", 6881)]
    assert decode_nodes(encode_nodes(six, family=6), family=6) == six
    with pytest.raises(KrpcError, match="multiple of 26"):
        decode_nodes(packed[:-1])
    with pytest.raises(KrpcError, match="multiple of 38"):
        decode_nodes(packed, family=6)
    zero_port = A + bytes([1, 2, 3, 4, 0, 0])
    assert decode_nodes(zero_port) == []  # nobody listens on port 0


def test_decoder_caps_nodes_and_values() -> None:
    many_nodes = encode_nodes(
        NodeInfo(i.to_bytes(20, "big"), "1.1.1.1", i + 1) for i in range(MAX_NODES + 10)
    )
    values = [bytes([1, 1, 1, 1]) + (i + 1).to_bytes(2, "big") for i in range(MAX_VALUES + 50)]
    raw = bencode(
        {b"t": b"t", b"y": b"r", b"r": {b"id": A, b"nodes": many_nodes, b"values": values}}
    )
    r = decode_message(raw)
    assert isinstance(r, Response)
    assert len(r.nodes) == MAX_NODES
    assert len(r.values) == MAX_VALUES


def test_hybrid_values_parse_and_junk_entries_are_skipped() -> None:
    v6 = bytes(15) + b"\x01" + (443).to_bytes(2, "big")
    raw = bencode(
        {
            b"t": b"t",
            b"y": b"r",
            b"r": {b"id": A, b"values": [bytes([1, 2, 3, 4, 0, 80]), v6, b"short", 5, bytes(6)]},
        }
    )
    r = decode_message(raw)
    assert isinstance(r, Response)
    assert r.values == (("1.2.3.4", 80), ("::1", 443))  # port 0 and odd sizes dropped


def test_unknown_method_is_a_query_we_can_refuse() -> None:
    raw = bencode(
        {b"t": b"zz", b"y": b"q", b"q": b"sample_infohashes", b"a": {b"id": A, b"target": M}}
    )
    assert decode_message(raw) == UnknownQuery(tid=b"zz", sender_id=A, method=b"sample_infohashes")


MALFORMED = [
    (b"", None, False),
    (b"garbage", None, False),
    (b"li1ee", None, False),
    (bencode({b"y": b"q"}), None, False),
    (bencode({b"t": b"", b"y": b"q"}), None, False),
    (bencode({b"t": b"x" * 33, b"y": b"r"}), None, False),
    (bencode({b"t": b"ab", b"y": b"z"}), b"ab", False),
    (bencode({b"t": b"ab", b"y": b"q", b"q": b"ping"}), b"ab", True),
    (bencode({b"t": b"ab", b"y": b"q", b"q": b"ping", b"a": {b"id": b"short"}}), b"ab", True),
    (bencode({b"t": b"ab", b"y": b"q", b"q": b"find_node", b"a": {b"id": A}}), b"ab", True),
    (bencode({b"t": b"ab", b"y": b"q", b"q": b"announce_peer",
              b"a": {b"id": A, b"info_hash": M, b"port": 70000, b"token": b"t"}}), b"ab", True),
    (bencode({b"t": b"ab", b"y": b"q", b"q": b"announce_peer",
              b"a": {b"id": A, b"info_hash": M, b"port": 1, b"token": b"t" * 65}}), b"ab", True),
    (bencode({b"t": b"ab", b"y": b"r"}), b"ab", False),
    (bencode({b"t": b"ab", b"y": b"r", b"r": {b"id": A, b"nodes": b"x" * 27}}), b"ab", False),
    (bencode({b"t": b"ab", b"y": b"r", b"r": {b"id": A, b"values": b"notalist"}}), b"ab", False),
    (bencode({b"t": b"ab", b"y": b"e", b"e": [201]}), b"ab", False),
    (bencode({b"t": b"ab", b"y": b"e", b"e": [b"x", b"y"]}), b"ab", False),
    (b"d1:t2:ab1:y1:q1:q4:ping1:ad2:id" + b"l" * 20 + b"e" * 20 + b"ee", None, False),  # deep
]  # fmt: skip


@pytest.mark.parametrize(("raw", "tid", "query"), MALFORMED)
def test_malformed_messages_raise_krpc_error(raw: bytes, tid: bytes | None, query: bool) -> None:
    with pytest.raises(KrpcError) as info:
        decode_message(raw)
    assert info.value.tid == tid
    assert info.value.query is query


ids = st.binary(min_size=20, max_size=20)
tids = st.binary(min_size=1, max_size=8)
v4 = st.tuples(st.ip_addresses(v=4).map(str), st.integers(1, 65535))
node4 = st.builds(NodeInfo, ids, st.ip_addresses(v=4).map(str), st.integers(1, 65535))
node6 = st.builds(NodeInfo, ids, st.ip_addresses(v=6).map(str), st.integers(1, 65535))
messages = st.one_of(
    st.builds(PingQuery, tid=tids, sender_id=ids, read_only=st.booleans()),
    st.builds(FindNodeQuery, tid=tids, sender_id=ids, target=ids,
              want=st.frozensets(st.sampled_from(["n4", "n6"]))),
    st.builds(GetPeersQuery, tid=tids, sender_id=ids, info_hash=ids, read_only=st.booleans()),
    st.builds(AnnouncePeerQuery, tid=tids, sender_id=ids, info_hash=ids,
              port=st.integers(0, 65535), token=st.binary(max_size=20),
              implied_port=st.booleans()),
    st.builds(Response, tid=tids, sender_id=ids, nodes=st.lists(node4, max_size=8).map(tuple),
              nodes6=st.lists(node6, max_size=4).map(tuple),
              values=st.lists(v4, max_size=20).map(tuple),
              token=st.none() | st.binary(max_size=20), your_addr=st.none() | v4),
    st.builds(ErrorMessage, tid=tids, code=st.integers(200, 299),
              message=st.text(alphabet=st.characters(codec="ascii"), max_size=40)),
)  # fmt: skip


@given(messages)
def test_encode_decode_round_trip(message: Message) -> None:
    assert decode_message(encode_message(message)) == message


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_krpc_error(data: bytes) -> None:
    try:
        decode_message(data)
    except KrpcError:
        pass


@settings(max_examples=300)
@given(messages, st.integers(0, 400), st.integers(0, 255))
def test_mutated_messages_raise_only_krpc_error(message: Message, pos: int, byte: int) -> None:
    raw = bytearray(encode_message(message))
    raw[pos % len(raw)] = byte
    try:
        decode_message(bytes(raw))
    except KrpcError:
        pass
