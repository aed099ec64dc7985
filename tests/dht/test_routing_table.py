"""Routing table: bucket splits, node states, replacement, pings it asks for, refresh."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.dht.krpc import NodeInfo
from bitswarm.dht.node_id import ID_SPACE, distance, id_from_int, id_to_int
from bitswarm.dht.routing_table import NodeState, RoutingTable

OWN = id_from_int(0)  # our id is 0: bucket i of a full table holds ids with top bit i set


def node(value: int, port: int | None = None) -> NodeInfo:
    return NodeInfo(id_from_int(value), "10.0.0.1", port if port is not None else value % 60000 + 1)


def top(bits: int, n: int) -> int:
    """An id whose highest set bit is `bits` (so it shares 159-bits prefix bits with 0)."""
    return (1 << bits) | n


def test_first_bucket_splits_when_full_and_it_holds_our_id() -> None:
    t = RoutingTable(OWN, now=0)
    for i in range(8):
        assert t.heard_from(node(top(159, i)), now=0, responded=True) == []
    assert len(t.buckets) == 1 and len(t) == 8
    # a ninth node in the far half: the bucket covers our id, so it splits ...
    assert t.heard_from(node(top(158, 0)), now=0, responded=True) == []
    split = list(t.buckets)  # a list: mypy still holds `t.buckets` to the length asserted above
    assert [(b.lo, b.hi) for b in split] == [(0, ID_SPACE // 2), (ID_SPACE // 2, ID_SPACE)]
    assert len(split[0].nodes) == 1 and len(split[1].nodes) == 8
    # ... but the far bucket (without our id) never splits: a new node is cached
    assert t.heard_from(node(top(159, 99)), now=0, responded=True) == []
    assert len(t.buckets) == 2 and len(t.buckets[1].replacements) == 1
    assert len(t) == 9


def test_splitting_goes_deep_near_our_id() -> None:
    t = RoutingTable(OWN, now=0)
    for bits in range(150, 160):
        for i in range(8):
            t.heard_from(node(top(bits, i)), now=0, responded=True)
    assert len(t) == 80
    # splits happen only when needed: our bucket [0, 2**151) holds the 8 nodes of bit 150
    assert [b.depth for b in t.buckets] == [9, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    assert t.heard_from(node(top(149, 0)), now=0, responded=True) == []
    assert [b.depth for b in t.buckets] == [10, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]


def test_node_states_follow_bep5_times() -> None:
    t = RoutingTable(OWN, now=0)
    n = node(top(100, 1))
    t.heard_from(n, now=0, responded=True)
    entry = t.get(n.node_id)
    assert entry is not None
    assert t.state(entry, 899) is NodeState.GOOD
    assert t.state(entry, 900) is NodeState.QUESTIONABLE  # 15 minutes without an answer
    t.heard_from(n, now=1000, responded=False)  # it queries us: good again (has answered once)
    assert t.state(entry, 1000) is NodeState.GOOD
    t.node_failed(n.addr, n.node_id, now=2000)
    assert t.state(entry, 2000) is NodeState.QUESTIONABLE
    t.node_failed(n.addr, n.node_id, now=2001)
    assert t.state(entry, 2001) is NodeState.BAD  # failed twice in a row
    t.heard_from(n, now=2002, responded=True)
    assert t.state(entry, 2002) is NodeState.GOOD


def test_a_node_that_only_queried_is_pinged_not_added() -> None:
    t = RoutingTable(OWN, now=0)
    n = node(top(159, 5))
    assert t.heard_from(n, now=0, responded=False) == [n]
    assert len(t) == 0 and t.get(n.node_id) is None
    assert t.heard_from(NodeInfo(OWN, "10.0.0.9", 1), now=0, responded=True) == []  # ourselves
    assert len(t) == 0


def full_far_bucket(now: float = 0) -> RoutingTable:
    t = RoutingTable(OWN, now=now)
    t.heard_from(node(top(10, 0)), now=now, responded=True)
    for i in range(8):
        t.heard_from(node(top(159, i)), now=now, responded=True)
    return t


def test_full_bucket_of_good_nodes_caches_the_newcomer_and_pings_nobody() -> None:
    t = full_far_bucket()
    newcomer = node(top(159, 50))
    assert t.heard_from(newcomer, now=10, responded=True) == []
    cached = t.get(newcomer.node_id)
    assert cached is not None and not t.is_live(cached)
    # a querier that would land there is not worth a ping either
    assert t.heard_from(node(top(159, 60)), now=10, responded=False) == []


def test_questionable_node_is_pinged_and_replaced_after_failing_twice() -> None:
    t = full_far_bucket(now=0)
    far = list(t.buckets[-1].nodes)
    # time passes; one node answered recently, the others went quiet
    for e in far[1:]:
        t.heard_from(e.info, now=800, responded=True)
    newcomer = node(top(159, 77))
    pings = t.heard_from(newcomer, now=1000, responded=True)
    assert pings == [far[0].info]  # the least recently seen questionable node
    t.node_failed(far[0].addr, far[0].node_id, now=1001)
    assert t.is_live(far[0])
    t.node_failed(far[0].addr, far[0].node_id, now=1010)
    assert not t.is_live(far[0]) and t.get(far[0].node_id) is None
    fresh = t.get(newcomer.node_id)
    assert fresh is not None and t.is_live(fresh)


def test_bad_node_is_replaced_by_a_new_verified_node() -> None:
    t = full_far_bucket()
    victim = t.buckets[-1].nodes[3]
    t.node_failed(victim.addr, victim.node_id, now=1)
    t.node_failed(victim.addr, victim.node_id, now=2)
    newcomer = node(top(159, 90))
    assert t.heard_from(newcomer, now=3, responded=True) == []
    assert t.get(victim.node_id) is None
    assert len(t.buckets[-1].nodes) == 8


def test_an_id_does_not_move_and_a_verified_address_may_change_id() -> None:
    t = RoutingTable(OWN, now=0)
    a = node(top(159, 1), port=1000)
    t.heard_from(a, now=0, responded=True)
    thief = NodeInfo(a.node_id, "6.6.6.6", 1000)
    t.heard_from(thief, now=1, responded=True)
    kept = t.get(a.node_id)
    assert kept is not None and kept.host == "10.0.0.1"
    renamed = NodeInfo(id_from_int(top(159, 2)), a.host, a.port)
    t.heard_from(renamed, now=2, responded=False)  # a claim in a query is not enough
    assert t.get(a.node_id) is not None and t.get(renamed.node_id) is None
    t.heard_from(renamed, now=3, responded=True)  # an answer to our query is
    at_addr = t.by_addr(a.addr)
    assert t.get(a.node_id) is None and at_addr is not None and at_addr.node_id == renamed.node_id


def test_closest_matches_brute_force_and_skips_bad_nodes() -> None:
    rng = random.Random(4)
    own = rng.randbytes(20)
    t = RoutingTable(own, now=0)
    for i in range(300):
        t.heard_from(NodeInfo(rng.randbytes(20), "10.0.0.2", i + 1), now=0, responded=True)
    live = [e.info for e in t.live_entries()]
    for _ in range(20):
        target = rng.randbytes(20)
        expect = sorted(live, key=lambda n: distance(n.node_id, target))[:8]
        assert t.closest(target, now=0) == expect
    worst = t.closest(own, now=0)[0]
    t.node_failed(worst.addr, worst.node_id, now=1)
    t.node_failed(worst.addr, worst.node_id, now=1)
    assert worst not in t.closest(own, now=1)


def test_refresh_targets_are_in_stale_buckets_only() -> None:
    rng = random.Random(1)
    t = RoutingTable(OWN, now=0)
    for bits in (159, 158, 157):
        for i in range(8):
            t.heard_from(node(top(bits, i)), now=0, responded=True)
    t.heard_from(node(top(159, 0)), now=800, responded=True)  # touches the far bucket
    targets = t.refresh_targets(900, rng, refresh_after=900)
    assert len(targets) == len(t.buckets) - 1
    far = t.buckets[-1]
    assert all(not far.covers(id_to_int(x)) for x in targets)
    assert all(any(b.covers(id_to_int(x)) for b in t.buckets) for x in targets)
    assert t.refresh_targets(901, rng, refresh_after=900) == []  # marked as refreshed


def test_questionable_nodes_are_offered_for_pinging_once_a_minute() -> None:
    t = full_far_bucket(now=0)
    assert t.questionable(100) == []
    stale = t.questionable(1000)
    assert len(stale) == 9
    for n in stale:
        t.mark_pinged(n.node_id, 1000)
    assert t.questionable(1030) == []
    assert len(t.questionable(1060)) == 9


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, ID_SPACE - 1), st.booleans(), st.booleans()), max_size=200),
    st.binary(min_size=20, max_size=20),
)
def test_invariants_hold_under_any_sequence(ops: list[tuple[int, bool, bool]], own: bytes) -> None:
    t = RoutingTable(own, now=0)
    for step, (value, responded, fail) in enumerate(ops):
        info = NodeInfo(id_from_int(value), "10.1.1.1", value % 65535 + 1)
        if fail:
            t.node_failed(info.addr, info.node_id, now=step)
        else:
            t.heard_from(info, now=step, responded=responded)
    buckets = t.buckets
    assert buckets[0].lo == 0 and buckets[-1].hi == ID_SPACE
    assert all(a.hi == b.lo for a, b in itertools.pairwise(buckets))
    assert sum(1 for b in buckets if b.covers(id_to_int(own))) == 1
    seen: set[bytes] = set()
    addrs: set[tuple[str, int]] = set()
    for b in buckets:
        assert len(b.nodes) <= 8 and len(b.replacements) <= 8
        for e in [*b.nodes, *b.replacements]:
            assert b.covers(id_to_int(e.node_id))
            assert e.node_id != own
            assert e.node_id not in seen and e.addr not in addrs
            seen.add(e.node_id)
            addrs.add(e.addr)
            assert t.get(e.node_id) is e


def test_closest_visits_buckets_in_distance_order_and_matches_a_full_scan() -> None:
    from bitswarm.dht.node_id import random_node_id

    rng = random.Random(3)
    for _ in range(20):
        own = random_node_id(rng)
        table = RoutingTable(own, now=0.0)
        for i in range(400):
            table.heard_from(NodeInfo(random_node_id(rng), f"10.0.{i >> 8}.{i & 255}", 1),
                             now=0.0, responded=True)  # fmt: skip
        for e in list(table.live_entries())[::7]:
            e.failures = table.max_failures  # bad: never returned
        for target in (own, random_node_id(rng), bytes(20)):
            t = id_to_int(target)
            usable = [e for e in table.live_entries() if e.failures < table.max_failures]
            for count in (1, 8, 20, 1000):
                want = sorted(usable, key=lambda e: id_to_int(e.node_id) ^ t)[:count]
                assert table.closest(target, count, now=0.0) == [e.info for e in want]


def test_an_answer_through_the_queriers_own_pinhole_does_not_make_it_good() -> None:
    """Rule 3: a host behind NAT queries us, we ping back at once and it answers through
    the pinhole its query opened. It enters the table, but it is not good and is not
    handed out while verified nodes are at hand, until an answer to a query sent
    `verify_after` seconds after its last query shows that it is reachable."""
    t = RoutingTable(OWN, now=0, verify_after=180)
    verified = [node(top(155, i)) for i in range(8)]
    for n in verified:
        t.heard_from(n, now=0, responded=True)  # found by our lookups: verified
    natted = node(top(150, 96))  # low id bits 0: checked after exactly verify_after
    assert t.heard_from(natted, now=10, responded=False) == [natted]  # ping it
    t.heard_from(natted, now=10.3, responded=True, sent_at=10.0)  # the ping's answer
    entry = t.get(natted.node_id)
    assert entry is not None and t.is_live(entry)
    assert t.state(entry, 11) is NodeState.QUESTIONABLE
    assert natted not in t.closest(natted.node_id, now=11)  # not handed out
    assert natted not in t.questionable(60)  # pinging now would pass the pinhole again
    t.heard_from(natted, now=100, responded=False)  # it queries again: the pinhole stays
    assert natted not in t.questionable(250)
    assert natted in t.questionable(281)  # 180 s after its last query: check it
    t.heard_from(natted, now=281.2, responded=True, sent_at=281)  # a reachable node answers
    assert t.state(entry, 282) is NodeState.GOOD
    assert t.closest(natted.node_id, now=282)[0] == natted


def test_unverified_nodes_fill_a_table_short_of_verified_ones() -> None:
    t = RoutingTable(OWN, now=0, verify_after=180)
    queriers = [node(top(150, i)) for i in range(3)]
    for n in queriers:
        t.heard_from(n, now=0, responded=False)
        t.heard_from(n, now=0.2, responded=True, sent_at=0.0)
    fresh = node(top(150, 50))
    t.heard_from(fresh, now=1, responded=True)  # never queried us: verified at once
    assert t.closest(OWN, now=2) == [fresh, *queriers]  # verified first, the rest fill


def test_a_query_that_arrives_after_ours_went_out_does_not_spoil_the_answer() -> None:
    """A newcomer asks a node, which answers and pings the newcomer back: the ping comes
    with the answer, after our query had arrived, so it opened no pinhole for it and the
    answer verifies. A query that reached us earlier in the round trip could have."""
    t = RoutingTable(OWN, now=0, verify_after=180)
    peer = node(top(150, 1))
    t.heard_from(peer, now=5.2, responded=False)  # its ping back to us ...
    t.heard_from(peer, now=5.2, responded=True, sent_at=5.0)  # ... with its answer
    entry = t.get(peer.node_id)
    assert entry is not None and t.state(entry, 6) is NodeState.GOOD
    other = node(top(151, 1))
    t.heard_from(other, now=5.05, responded=False)  # sent before our query went out
    t.heard_from(other, now=5.2, responded=True, sent_at=5.0)
    entry = t.get(other.node_id)
    assert entry is not None and t.state(entry, 6) is NodeState.QUESTIONABLE
