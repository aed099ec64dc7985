"""KRPC decoding and `DhtNode` receiving datagrams: well-formed queries, replies to its own
outstanding queries (right transaction id, arbitrary nodes, values, tokens, addresses),
errors, and mutations of each. The node never raises, its routing table stays within
160 buckets of k, and what it sends stays within its packet size
(bench/fuzz/targets.py `check_dht`)."""

from __future__ import annotations

from bench.fuzz.targets import check_dht, check_krpc, pack_frames
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.dht.krpc import (
    AnnouncePeerQuery,
    ErrorMessage,
    FindNodeQuery,
    GetPeersQuery,
    Message,
    NodeInfo,
    PingQuery,
    Response,
    UnknownQuery,
    encode_message,
)

from .mutations import mutate_bytes
from .profile import FUZZ

ids = st.binary(min_size=20, max_size=20) | st.sampled_from([bytes(20), b"\xff" * 20])
hosts4 = st.sampled_from(["10.0.0.1", "10.0.0.3", "0.0.0.0", "255.255.255.255", "127.0.0.1"])
hosts6 = st.sampled_from(["2001:db8::1", "::", "::1", "fe80::1"])
ports = st.integers(0, 65535)
nodes4 = st.lists(st.builds(NodeInfo, ids, hosts4, ports), max_size=10).map(tuple)
nodes6 = st.lists(st.builds(NodeInfo, ids, hosts6, ports), max_size=4).map(tuple)
values = st.lists(st.tuples(hosts4 | hosts6, ports), max_size=12).map(tuple)
tokens = st.none() | st.binary(max_size=70)
wants = st.frozensets(st.sampled_from(["n4", "n6", "x"]), max_size=3)


def _messages(tid: bytes) -> st.SearchStrategy[Message]:
    common = {"tid": st.just(tid), "sender_id": ids}
    return st.one_of(
        st.builds(PingQuery, **common, read_only=st.booleans()),
        st.builds(FindNodeQuery, **common, target=ids, want=wants),
        st.builds(GetPeersQuery, **common, info_hash=ids, want=wants),
        st.builds(AnnouncePeerQuery, **common, info_hash=ids, port=ports,
                  token=st.binary(max_size=64), implied_port=st.booleans()),
        st.builds(UnknownQuery, **common, method=st.sampled_from(["vote", "put", "get", "x"])),
        st.builds(Response, **common, nodes=nodes4, nodes6=nodes6, values=values, token=tokens,
                  your_addr=st.none() | st.tuples(hosts4, ports)),
        st.builds(ErrorMessage, tid=st.just(tid), code=st.integers(-1, 300),
                  message=st.text(max_size=20)),
    )  # fmt: skip


EDITS = st.lists(
    st.tuples(st.sampled_from(["flip", "insert", "delete"]), st.integers(0, 2000),
              st.integers(0, 255)),
    max_size=2,
)  # fmt: skip


@FUZZ
@given(message=_messages(b"ab"), edits=EDITS)
def test_krpc_messages_decode_to_themselves_or_raise_krpc_error(
    message: Message, edits: list[tuple[str, int, int]]
) -> None:
    check_krpc(mutate_bytes(encode_message(message), edits))


@FUZZ
@given(
    datagrams=st.lists(
        st.tuples(st.integers(0, 255), _messages(b"ZZ"), EDITS), min_size=1, max_size=12
    )
)
def test_a_node_receiving_queries_and_replies_to_its_own_queries(
    datagrams: list[tuple[int, Message, list[tuple[str, int, int]]]],
) -> None:
    check_dht(
        pack_frames([bytes([src]) + mutate_bytes(encode_message(m), e) for src, m, e in datagrams])
    )
