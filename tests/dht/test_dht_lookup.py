"""Lookups: the traversal on its own, then 60 DhtNode cores in virtual time (no sockets)."""

from __future__ import annotations

import math
import random

import pytest

from bitswarm.dht import AnnounceDone, DhtConfig, LookupDone, LookupKind, PeersFound
from bitswarm.dht.krpc import NodeInfo
from bitswarm.dht.lookup import CandidateState, Lookup
from bitswarm.dht.node_id import distance, id_from_int
from bitswarm_lab.dht_net import DhtNet

TARGET = id_from_int(0)


def info(value: int) -> NodeInfo:
    return NodeInfo(id_from_int(value), "10.0.0.1", value % 60000 + 1)


def test_lookup_asks_alpha_at_a_time_and_converges_on_the_k_closest() -> None:
    seeds = [info(1000 + i) for i in range(10)]
    lk = Lookup(TARGET, LookupKind.FIND_NODE, seeds, k=4, alpha=2)
    first = lk.next_queries()
    assert [c.node_id for c in first] == [seeds[0].node_id, seeds[1].node_id]  # closest two
    assert lk.next_queries() == []  # alpha in flight
    lk.on_response(first[0].addr, seeds[0].node_id, nodes=[info(1), info(2), info(3)])
    nxt = lk.next_queries()
    assert [c.node_id for c in nxt] == [info(1).node_id]
    lk.on_response(first[1].addr, seeds[1].node_id, nodes=[info(4)])
    lk.on_response(nxt[0].addr, info(1).node_id)
    for _ in range(5):
        for c in lk.next_queries():
            assert c.node_id is not None
            lk.on_response(c.addr, c.node_id)
    assert lk.done
    assert [c.node_id for c in lk.closest()] == [info(v).node_id for v in (1, 2, 3, 4)]
    assert lk.queries == 4 + 2  # the 4 closest plus the two seeds asked first
    assert lk.rounds == 2


def test_lookup_failures_and_slow_nodes() -> None:
    seeds = [info(10 + i) for i in range(6)]
    lk = Lookup(TARGET, LookupKind.GET_PEERS, seeds, k=3, alpha=2)
    a, b = lk.next_queries()
    lk.on_slow(a.addr)  # a slow node frees its slot ...
    (c,) = lk.next_queries()
    assert c.node_id == seeds[2].node_id
    lk.on_failure(b.addr)
    failed = lk.candidate(b.addr)
    assert failed is not None and failed.state is CandidateState.FAILED
    assert lk.timeouts == 1
    # ... and its late answer still counts
    assert lk.on_response(a.addr, seeds[0].node_id, values=[("1.2.3.4", 5)]) == [("1.2.3.4", 5)]
    assert lk.on_response(a.addr, seeds[0].node_id) == []  # not twice
    assert lk.first_peers_round == 1
    lk.on_response(c.addr, seeds[2].node_id)
    assert not lk.done  # seeds[3] is among the 3 closest live ones and not asked yet
    (d,) = lk.next_queries()
    assert d.node_id == seeds[3].node_id
    lk.on_response(d.addr, seeds[3].node_id)
    assert lk.done and lk.next_queries() == []
    assert [x.node_id for x in lk.closest()] == [seeds[i].node_id for i in (0, 2, 3)]


def test_lookup_ends_when_the_k_closest_answered_without_waiting_for_farther_ones() -> None:
    seeds = [info(10), info(11)]
    lk = Lookup(TARGET, LookupKind.GET_PEERS, seeds, k=2, alpha=2)
    a, far = lk.next_queries()
    lk.on_response(a.addr, seeds[0].node_id, nodes=[info(1)])  # a closer node: 11 drops out
    (near,) = lk.next_queries()
    lk.on_slow(far.addr)  # 11 is dead: its query would only time out seconds later
    assert not lk.done
    lk.on_response(near.addr, info(1).node_id)
    assert lk.done and lk.next_queries() == []
    assert [x.node_id for x in lk.closest()] == [info(1).node_id, seeds[0].node_id]


def test_lookup_budget_and_bootstrap_addresses() -> None:
    own = id_from_int(5)
    lk = Lookup(
        TARGET, LookupKind.FIND_NODE, [], addrs=[("10.9.9.9", 1)], own_id=own, max_queries=3
    )
    (boot,) = lk.next_queries()
    assert boot.node_id is None  # unknown id: asked first
    many = [info(100 + i) for i in range(20)] + [NodeInfo(own, "10.0.0.5", 5)]
    lk.on_response(boot.addr, id_from_int(999), nodes=many)
    assert all(c.node_id != own for c in lk.next_queries())  # never asks itself
    assert lk.queries == 3 and lk.next_queries() == []
    lk.cancel()
    assert lk.done


def test_a_bootstrap_address_that_is_ourselves_is_dropped() -> None:
    own = id_from_int(5)
    lk = Lookup(TARGET, LookupKind.FIND_NODE, [], addrs=[("10.9.9.9", 1)], own_id=own)
    (boot,) = lk.next_queries()
    lk.on_response(boot.addr, own, nodes=[info(1)])
    assert lk.responses == 0 and lk.done


# --- a whole network ---------------------------------------------------------------------

N_NODES = 60


def announce_then_find(
    net: DhtNet, announcer: int, seekers: list[int], info_hash: bytes
) -> list[LookupDone]:
    handle = net.nodes[announcer].announce_peer(info_hash, 51413, now=net.now)
    done = net.wait_event(announcer, AnnounceDone, handle)
    assert isinstance(done, AnnounceDone)
    assert done.stored >= 4, done
    results = []
    for i in seekers:
        handle = net.nodes[i].get_peers(info_hash, now=net.now)
        result = net.wait_event(i, LookupDone, handle)
        assert isinstance(result, LookupDone)
        results.append(result)
        found = [e for e in net.events[i] if isinstance(e, PeersFound) and e.handle == handle]
        assert found and found[0].peers == ((net.addrs[announcer][0], 51413),)
    return results


def test_get_peers_finds_the_announcer_in_a_few_round_trips() -> None:
    net = DhtNet(N_NODES, seed=11)
    net.join_all()
    assert min(len(n.table) for n in net.nodes) >= 8
    info_hash = random.Random(3).randbytes(20)
    results = announce_then_find(net, 17, [5, 29, 42, 59], info_hash)
    bound = 2 * math.ceil(math.log2(N_NODES))  # generous: hops grow with log(n)
    for r in results:
        assert r.peers == ((net.addrs[17][0], 51413),)
        assert r.first_peers_round is not None and r.first_peers_round <= 3
        assert r.rounds <= 4 and r.queries <= bound and r.timeouts == 0
        # the lookup converged on the true 8 closest nodes
        truth = sorted(net.nodes, key=lambda n: distance(n.node_id, info_hash))[:8]
        assert [c.node_id for c in r.closest] == [n.node_id for n in truth]


def test_get_peers_survives_packet_loss() -> None:
    net = DhtNet(N_NODES, seed=12, loss=0.15)
    net.join_all()
    info_hash = random.Random(4).randbytes(20)
    results = announce_then_find(net, 3, [10, 20, 30, 40, 50], info_hash)
    for r in results:
        assert r.peers == ((net.addrs[3][0], 51413),)
        assert r.rounds <= 6 and r.queries <= 40
    assert net.dropped > 0
    assert sum(r.timeouts for r in results) + sum(n.counters.timeouts for n in net.nodes) > 0


def test_two_announcers_on_one_address_and_implied_port() -> None:
    net = DhtNet(
        30, seed=5, same_ip=True, config=DhtConfig(rate_limit=0)
    )  # every node is 127.0.0.1
    net.join_all()
    info_hash = random.Random(6).randbytes(20)
    h1 = net.nodes[4].announce_peer(info_hash, 7000, now=net.now)
    h2 = net.nodes[9].announce_peer(info_hash, 1, now=net.now, implied_port=True)
    net.wait_event(4, AnnounceDone, h1)
    net.wait_event(9, AnnounceDone, h2)
    handle = net.nodes[20].get_peers(info_hash, now=net.now)
    result = net.wait_event(20, LookupDone, handle)
    assert isinstance(result, LookupDone)
    # implied_port: the announcer's UDP source port is stored instead of `port`
    assert set(result.peers) == {("127.0.0.1", 7000), net.addrs[9]}


@pytest.mark.parametrize("seed", [21, 22])
def test_find_node_reaches_a_node_from_anywhere(seed: int) -> None:
    net = DhtNet(50, seed=seed)
    net.join_all()
    rng = random.Random(seed)
    for _ in range(3):
        a, b = rng.sample(range(50), 2)
        handle = net.nodes[a].find_node(net.nodes[b].node_id, now=net.now)
        result = net.wait_event(a, LookupDone, handle)
        assert isinstance(result, LookupDone)
        assert result.closest[0].node_id == net.nodes[b].node_id
        assert result.closest[0].addr == net.addrs[b]
