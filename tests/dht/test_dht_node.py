"""DhtNode as a server and a client, one datagram at a time: tokens, limits, read-only
mode, malformed input, timers, saved state, BEP 32 answers."""

from __future__ import annotations

import random

import pytest

from bitswarm.bencode import bdecode, bencode
from bitswarm.dht import (
    BootstrapDone,
    DhtConfig,
    DhtNode,
    DhtStateError,
    LookupDone,
    PeerAnnounced,
    PingDone,
)
from bitswarm.dht.krpc import (
    AnnouncePeerQuery,
    ErrorMessage,
    FindNodeQuery,
    GetPeersQuery,
    Message,
    NodeInfo,
    PingQuery,
    Response,
    decode_message,
    encode_message,
)
from bitswarm.dht.peer_store import PeerStore
from bitswarm.dht.routing_table import NodeState
from bitswarm.dht.tokens import TokenSecrets
from bitswarm.errors import LocalProtocolError
from bitswarm_lab.dht_net import DhtNet

ASKER = b"q" * 20
IH = b"i" * 20
SRC = ("10.1.2.3", 4000)


def make(config: DhtConfig | None = None, seed: int = 1) -> DhtNode:
    return DhtNode(config, rng=random.Random(seed), now=0.0, node_id=b"n" * 20)


def ask(node: DhtNode, msg: Message, src: tuple[str, int] = SRC, now: float = 1.0) -> list[Message]:
    node.receive_datagram(encode_message(msg), src, now=now)
    return [decode_message(data) for data, dst in node.datagrams_to_send(now=now) if dst == src]


def reply_to(node: DhtNode, msg: Message, src: tuple[str, int] = SRC, now: float = 1.0) -> Message:
    replies = [m for m in ask(node, msg, src, now) if not isinstance(m, PingQuery)]
    assert len(replies) == 1, replies
    return replies[0]


def test_ping_answer_carries_our_id_and_the_askers_address() -> None:
    node = make()
    r = reply_to(node, PingQuery(tid=b"t1", sender_id=ASKER))
    assert r == Response(tid=b"t1", sender_id=node.node_id, your_addr=SRC)


def test_a_new_querier_is_pinged_and_enters_the_table_when_it_answers() -> None:
    node = make()
    out = ask(node, PingQuery(tid=b"t1", sender_id=ASKER))
    (ping,) = [m for m in out if isinstance(m, PingQuery)]
    assert node.table.get(ASKER) is None
    node.receive_datagram(encode_message(Response(tid=ping.tid, sender_id=ASKER)), SRC, now=2)
    assert node.table.get(ASKER) is not None


def test_token_round_trip_and_announce_rules() -> None:
    node = make()
    r = reply_to(node, GetPeersQuery(tid=b"g", sender_id=ASKER, info_hash=IH))
    assert isinstance(r, Response) and r.token and r.values == ()
    good = AnnouncePeerQuery(tid=b"a", sender_id=ASKER, info_hash=IH, port=6881, token=r.token)
    assert reply_to(node, good) == Response(tid=b"a", sender_id=node.node_id, your_addr=SRC)
    assert PeerAnnounced(IH, (SRC[0], 6881)) in node.events()
    # the token is bound to the IP: another address cannot use it
    other = ("10.9.9.9", 4000)
    err = reply_to(node, good, src=other)
    assert isinstance(err, ErrorMessage) and err.code == 203
    assert node.counters.bad_tokens == 1
    # get_peers now returns the stored peer (BEP 5 "values")
    r2 = reply_to(node, GetPeersQuery(tid=b"h", sender_id=ASKER, info_hash=IH), src=other)
    assert isinstance(r2, Response) and r2.values == ((SRC[0], 6881),)
    implied = AnnouncePeerQuery(
        tid=b"b", sender_id=ASKER, info_hash=IH, port=1, token=r.token, implied_port=True
    )
    reply_to(node, implied)
    assert set(node.peer_store.get(IH, now=1, family=4, limit=10, rng=random.Random())) == {
        (SRC[0], 6881),
        SRC,
    }


def test_tokens_rotate_every_five_minutes_and_the_previous_one_still_counts() -> None:
    secrets = TokenSecrets(random.Random(7), now=0)
    t0 = secrets.issue("1.2.3.4")
    assert secrets.check(t0, "1.2.3.4") and not secrets.check(t0, "1.2.3.5")
    assert not secrets.rotate_if_due(299)
    assert secrets.rotate_if_due(300)
    assert secrets.check(t0, "1.2.3.4")  # up to ten minutes old: still accepted
    t1 = secrets.issue("1.2.3.4")
    assert t1 != t0
    secrets.rotate_if_due(600)
    assert not secrets.check(t0, "1.2.3.4") and secrets.check(t1, "1.2.3.4")
    secrets.rotate_if_due(1500)  # the clock jumped two periods: both old secrets go
    assert not secrets.check(t1, "1.2.3.4")


def test_the_node_rotates_tokens_on_its_timer() -> None:
    node = make(DhtConfig(token_rotation=300, maintenance_interval=5))
    r = reply_to(node, GetPeersQuery(tid=b"g", sender_id=ASKER, info_hash=IH))
    assert isinstance(r, Response) and r.token
    now = 1.0
    while now < 700:
        now = node.get_timer()
        node.handle_timer(now=now)
        node.datagrams_to_send(now=now)
    late = AnnouncePeerQuery(tid=b"a", sender_id=ASKER, info_hash=IH, port=1, token=r.token)
    err = reply_to(node, late, now=now)
    assert isinstance(err, ErrorMessage) and err.code == 203


def test_unknown_method_gets_204_and_malformed_query_gets_203() -> None:
    node = make()
    raw = bencode({b"t": b"u", b"y": b"q", b"q": b"vote", b"a": {b"id": ASKER}})
    node.receive_datagram(raw, SRC, now=1)
    out = [decode_message(d) for d, _ in node.datagrams_to_send(now=1)]
    errors = [m for m in out if isinstance(m, ErrorMessage)]
    assert [(e.tid, e.code) for e in errors] == [(b"u", 204)]
    node.receive_datagram(bencode({b"t": b"m", b"y": b"q", b"q": b"ping", b"a": {}}), SRC, now=1)
    (out1,) = [decode_message(d) for d, _ in node.datagrams_to_send(now=1)]
    assert isinstance(out1, ErrorMessage) and (out1.tid, out1.code) == (b"m", 203)
    assert node.counters.malformed == 1 and node.counters.errors_out == 2


def test_garbage_oversized_and_unsolicited_datagrams_are_dropped_and_counted() -> None:
    node = make(DhtConfig(max_packet_size=1500))
    for junk in (b"", b"\xff" * 40, b"d1:t2:aae", b"i42e"):
        node.receive_datagram(junk, SRC, now=1)
    node.receive_datagram(b"d" + b"x" * 1500 + b"e", SRC, now=1)
    node.receive_datagram(encode_message(Response(tid=b"zz", sender_id=ASKER)), SRC, now=1)
    assert node.datagrams_to_send(now=1) == []  # nothing answered
    c = node.counters
    assert (c.malformed, c.oversized, c.unmatched, c.datagrams_in) == (4, 1, 1, 6)
    assert node.table.get(ASKER) is None  # an unsolicited "response" teaches us nothing


def test_an_answer_from_the_wrong_address_does_not_match() -> None:
    node = make()
    node.ping(("10.0.0.2", 1), now=1)
    ((data, _dst),) = node.datagrams_to_send(now=1)
    tid = decode_message(data).tid
    node.receive_datagram(
        encode_message(Response(tid=tid, sender_id=ASKER)), ("10.0.0.3", 1), now=1.1
    )
    assert node.counters.unmatched == 1 and node.events() == []
    node.receive_datagram(
        encode_message(Response(tid=tid, sender_id=ASKER)), ("10.0.0.2", 1), now=1.2
    )
    assert node.events() == [PingDone(1, ("10.0.0.2", 1), ASKER)]


def test_rate_limit_per_source_ip() -> None:
    node = make(DhtConfig(rate_limit=2.0, rate_burst=5))
    answered = 0
    for i in range(20):
        answered += len(ask(node, PingQuery(tid=bytes([i]), sender_id=ASKER), now=10.0))
    assert answered <= 5 + 1  # the burst (plus the one ping we send to the new node)
    assert node.counters.rate_limited == 15
    # another address is not affected
    assert ask(node, PingQuery(tid=b"x", sender_id=b"z" * 20), src=("10.7.7.7", 1), now=10.0)
    # tokens come back with time: 2 per second
    got = sum(
        len(ask(node, PingQuery(tid=b"y" + bytes([i]), sender_id=ASKER), now=11.0))
        for i in range(5)
    )
    assert got == 2


def test_read_only_node_answers_nothing_and_marks_its_queries() -> None:
    ro = make(DhtConfig(read_only=True))
    assert ask(ro, PingQuery(tid=b"t", sender_id=ASKER)) == []
    assert ro.counters.ignored_read_only == 1
    ro.bootstrap([("10.0.0.9", 1)], now=2)
    ((data, _),) = ro.datagrams_to_send(now=2)
    query = bdecode(data)
    assert isinstance(query, dict) and query[b"ro"] == 1


def test_queries_from_read_only_nodes_are_answered_but_not_added() -> None:
    node = make()
    out = ask(node, PingQuery(tid=b"t", sender_id=ASKER, read_only=True))
    assert [type(m) for m in out] == [Response]  # answered, and nobody pinged back
    assert node.table.get(ASKER) is None


def test_read_only_network_member_can_still_find_peers() -> None:
    net = DhtNet(20, seed=8)
    ro = net.add_node(DhtConfig(read_only=True))
    net.join_all()
    assert all(n.table.get(net.nodes[ro].node_id) is None for n in net.nodes)  # BEP 43
    h = net.nodes[3].announce_peer(IH, 9999, now=net.now)
    net.run_until(lambda: not net.nodes[3].status(now=net.now).lookups)
    handle = net.nodes[ro].get_peers(IH, now=net.now)
    done = net.wait_event(ro, LookupDone, handle)
    assert isinstance(done, LookupDone) and done.peers == ((net.addrs[3][0], 9999),)
    assert h


def test_get_peers_reply_stays_under_1024_bytes_with_many_peers() -> None:
    node = make()
    for i in range(300):
        node.peer_store.add(IH, (f"10.0.{i // 250}.{i % 250 + 1}", 1000 + i), now=0)
    for i in range(40):
        node.table.heard_from(NodeInfo(bytes([i]) * 20, "10.5.5.5", 100 + i), now=0, responded=True)
    r = reply_to(node, GetPeersQuery(tid=b"g", sender_id=ASKER, info_hash=IH))
    assert isinstance(r, Response)
    assert 20 <= len(r.values) <= 50 and len(r.nodes) == 8
    assert len(encode_message(r)) <= 1024
    v6 = ("2001:db8::1", 5)
    for i in range(100):
        node.peer_store.add(IH, (f"2001:db8::{i + 10:x}", 1000 + i), now=0)
    r6 = reply_to(node, GetPeersQuery(tid=b"g", sender_id=ASKER, info_hash=IH), src=v6)
    assert isinstance(r6, Response) and r6.values and all(":" in h for h, _ in r6.values)
    assert len(encode_message(r6)) <= 1024


def test_peer_store_bounds_and_expiry() -> None:
    store = PeerStore(ttl=100, max_per_hash=3, max_hashes=2)
    for port in range(1, 6):
        assert store.add(IH, ("1.1.1.1", port), now=0)
    assert set(store.get(IH, now=1, family=4, limit=10, rng=random.Random())) == {
        ("1.1.1.1", 3),
        ("1.1.1.1", 4),
        ("1.1.1.1", 5),
    }  # the oldest went first
    assert store.add(b"j" * 20, ("1.1.1.1", 1), now=50)
    assert not store.add(b"k" * 20, ("1.1.1.1", 1), now=50)  # full of info-hashes
    assert store.refused == 1
    assert store.add(b"k" * 20, ("1.1.1.1", 1), now=101)  # after expiry there is room
    assert store.get(IH, now=101, family=4, limit=10, rng=random.Random()) == []
    assert len(store.get(b"j" * 20, now=101, family=4, limit=10, rng=random.Random())) == 1


def test_want_n6_is_answered_from_the_paired_ipv6_table() -> None:
    rng = random.Random(2)
    v4 = DhtNode(DhtConfig(family=4), rng=rng, now=0, node_id=b"n" * 20)
    v6 = DhtNode(DhtConfig(family=6), rng=rng, now=0, node_id=b"n" * 20)
    v4.pair(v6)
    v6.table.heard_from(NodeInfo(b"s" * 20, "2001:db8::7", 6881), now=0, responded=True)
    v4.table.heard_from(NodeInfo(b"f" * 20, "10.0.0.7", 6881), now=0, responded=True)
    q = FindNodeQuery(tid=b"f", sender_id=ASKER, target=b"s" * 20, want=frozenset({"n4", "n6"}))
    r = reply_to(v4, q)
    assert isinstance(r, Response)
    assert [n.host for n in r.nodes] == ["10.0.0.7"]
    assert [n.host for n in r.nodes6] == ["2001:db8::7"]
    plain = reply_to(
        v6, FindNodeQuery(tid=b"p", sender_id=ASKER, target=b"s" * 20), src=("2001:db8::99", 1)
    )
    assert isinstance(plain, Response) and plain.nodes == () and len(plain.nodes6) == 1
    with pytest.raises(LocalProtocolError):
        v4.pair(DhtNode(DhtConfig(family=4), rng=rng, now=0))


def test_timeouts_fail_queries_and_the_table_learns_it() -> None:
    node = make(DhtConfig(query_timeout=2.0))
    node.table.heard_from(NodeInfo(ASKER, *SRC), now=0, responded=True)
    h = node.ping(SRC, now=1)
    assert node.get_timer() <= 2.0  # the soft deadline comes first
    node.handle_timer(now=node.get_timer())
    assert node.events() == []
    assert node.get_timer() == 3.0
    node.handle_timer(now=3.0)
    assert node.events() == [PingDone(h, SRC, None)]
    assert node.counters.timeouts == 1
    entry = node.table.get(ASKER)
    assert entry is not None and entry.failures == 1


def test_save_and_load_state(tmp_path: object) -> None:
    net = DhtNet(12, seed=9)
    net.join_all()
    old = net.nodes[5]
    blob = old.save_state()
    top = bdecode(blob)
    assert isinstance(top, dict) and top[b"id"] == old.node_id
    nodes = top[b"nodes"]
    assert isinstance(nodes, bytes) and len(nodes) == 26 * len(old.table)
    # a restarted node: same id; its saved nodes seed the bootstrap, no address needed
    fresh = DhtNode(rng=random.Random(99), now=net.now)
    fresh.load_state(blob, now=net.now)
    assert fresh.node_id == old.node_id and len(fresh.table) == 0
    net.nodes[5] = fresh
    net.events[5].clear()
    handle = fresh.bootstrap(now=net.now)
    done = net.wait_event(5, BootstrapDone, handle)
    assert isinstance(done, BootstrapDone) and done.good_nodes >= 8
    with pytest.raises(LocalProtocolError):
        fresh.load_state(blob, now=net.now)  # not once traffic has started
    for bad in (
        b"",
        b"garbage",
        bencode({b"id": b"short"}),
        bencode({b"id": b"x" * 20, b"nodes": b"y" * 25}),
    ):
        with pytest.raises(DhtStateError):
            make().load_state(bad, now=0)


def test_cancel_stops_a_lookup_without_an_event() -> None:
    net = DhtNet(10, seed=3)
    net.join_all()
    h = net.nodes[2].get_peers(IH, now=net.now)
    net.nodes[2].cancel(h)
    net.run_until(lambda: net.now > 30)
    assert not [e for e in net.events[2] if getattr(e, "handle", None) == h]


def test_bep42_mismatches_are_counted_not_enforced() -> None:
    node = make()
    node.ping(("8.8.8.8", 53), now=1)
    ((data, _),) = node.datagrams_to_send(now=1)
    tid = decode_message(data).tid
    node.receive_datagram(
        encode_message(Response(tid=tid, sender_id=b"\x00" * 20)), ("8.8.8.8", 53), now=1.1
    )
    assert node.counters.not_bep42 == 1
    assert node.table.get(b"\x00" * 20) is not None  # still used


def test_maintenance_keeps_an_idle_network_good() -> None:
    """Bucket refreshes and pings of questionable nodes keep tables good with no traffic
    from users (in a network this small either one suffices); with neither, every node
    would be questionable after 15 minutes."""
    net = DhtNet(16, seed=10)
    net.join_all()
    before = [n.counters.datagrams_out for n in net.nodes]
    start = net.now
    net.run_until(lambda: net.now - start > 40 * 60, timeout=50 * 60)
    statuses = [n.status(now=net.now) for n in net.nodes]
    assert all(s.good >= 8 and s.questionable <= 2 for s in statuses), statuses
    sent = [n.counters.datagrams_out - b for n, b in zip(net.nodes, before, strict=True)]
    assert all(x > 0 for x in sent)
    assert max(sent) < 400  # housekeeping, not a storm: a few dozen datagrams per node


def test_a_lookup_keeps_at_most_max_peers() -> None:
    from bitswarm.dht.lookup import MAX_PEERS, Lookup, LookupKind

    lk = Lookup(IH, LookupKind.GET_PEERS, [NodeInfo(ASKER, "10.0.0.1", 1)])
    (c,) = lk.next_queries()
    flood = [(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", 1) for i in range(MAX_PEERS + 500)]
    assert len(lk.on_response(c.addr, ASKER, values=flood)) == MAX_PEERS
    assert len(lk.peers) == MAX_PEERS


def test_questionable_nodes_are_pinged_by_maintenance() -> None:
    node = make(DhtConfig(maintenance_interval=5, bucket_refresh=10_000))
    node.table.heard_from(NodeInfo(ASKER, *SRC), now=0, responded=True)
    now = 0.0
    sent: list[Message] = []
    while now < 901:
        now = node.get_timer()
        node.handle_timer(now=now)
        sent += [decode_message(d) for d, dst in node.datagrams_to_send(now=now) if dst == SRC]
        if now < 900:
            assert sent == []  # still good: nothing to check
    assert [type(m) for m in sent] == [PingQuery]  # questionable at 15 minutes: pinged once


def test_a_natted_querier_is_not_handed_out_and_turns_bad_when_checked() -> None:
    """routing_table.py rule 3 end to end: a querier that answers our ping only through its
    own pinhole is kept questionable and out of our answers; 180 s after its last query
    maintenance pings it again, the NAT drops those pings, and it turns bad."""
    node = make(DhtConfig(maintenance_interval=5, bucket_refresh=10_000))
    for i in range(8):  # nodes our own lookups found: verified
        node.table.heard_from(NodeInfo(bytes([0x70 + i]) * 20, "10.5.5.5", 100 + i), now=0,
                              responded=True)  # fmt: skip
    natted = NodeInfo(b"\xf1" * 20, "10.6.6.6", 7000)  # alone in its bucket
    node.receive_datagram(encode_message(PingQuery(tid=b"p", sender_id=natted.node_id)),
                          natted.addr, now=1)  # fmt: skip
    (ping,) = [decode_message(d) for d, dst in node.datagrams_to_send(now=1)
               if dst == natted.addr and isinstance(decode_message(d), PingQuery)]  # fmt: skip
    node.receive_datagram(encode_message(Response(tid=ping.tid, sender_id=natted.node_id)),
                          natted.addr, now=1.2)  # the answer, through the pinhole  # fmt: skip
    entry = node.table.get(natted.node_id)
    assert entry is not None and node.status(now=2).good == 8
    r = reply_to(node, FindNodeQuery(tid=b"f", sender_id=ASKER, target=natted.node_id),
                 src=("10.7.7.7", 1), now=2)  # fmt: skip
    assert isinstance(r, Response) and natted not in r.nodes and len(r.nodes) == 8
    now, pings = 2.0, []
    while now < 400:  # no answers now: the NAT's pinhole has closed
        now = node.get_timer()
        node.handle_timer(now=now)
        pings += [now for d, dst in node.datagrams_to_send(now=now) if dst == natted.addr]
    assert pings and min(pings) >= 181  # checked only once its pinhole would be shut
    assert entry.failures >= 2 and node.table.state(entry, now) is NodeState.BAD
