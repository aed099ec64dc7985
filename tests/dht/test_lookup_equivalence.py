"""The sorted-candidate `Lookup` against the re-ranking one it replaced (lookup_reference.py):
the same random answers, failures and slow nodes must give the same queries, the same end
and the same result, step by step. Small id spaces make equal distances (one id at two
addresses, bootstrap addresses with no id) and a small `max_candidates` makes trimming
happen all the time."""

from __future__ import annotations

import random

import pytest

from bitswarm.dht.krpc import Addr, NodeInfo
from bitswarm.dht.lookup import Lookup, LookupKind
from bitswarm.dht.node_id import id_from_int

from .lookup_reference import ReferenceLookup

OWN = id_from_int(3)


def _snapshot(lk: Lookup | ReferenceLookup, addrs: list[Addr]) -> tuple[object, ...]:
    states = []
    for a in addrs:
        c = lk.candidate(a)
        states.append(None if c is None else (c.state, c.node_id, c.distance, c.depth, c.token))
    return (lk.done, [c.addr for c in lk.closest()], [c.addr for c in lk.closest(2)],
            lk.queries, lk.responses, lk.timeouts, lk.rounds, list(lk.peers),
            lk.first_peers_round, states)  # fmt: skip


@pytest.mark.parametrize("seed", range(60))
def test_sorted_lookup_behaves_like_the_reranking_one(seed: int) -> None:
    rng = random.Random(seed)
    space = rng.choice([40, 200, 1 << 20])
    pool = [NodeInfo(id_from_int(rng.randrange(space)), "10.0.0.1", p) for p in range(1, 120)]
    pool.append(NodeInfo(OWN, "10.0.0.3", 9))  # ourselves, as others report us
    boot = [("10.9.9.9", p) for p in range(1, rng.randint(0, 3) + 1)]
    seeds = rng.sample(pool, rng.randint(0, 10))
    target = id_from_int(rng.randrange(space))
    k, alpha = rng.choice([(2, 1), (4, 2), (8, 3)])
    max_queries, max_candidates = rng.choice([5, 30, 100]), rng.choice([None, 3 * k])
    new = Lookup(target, LookupKind.GET_PEERS, seeds, addrs=boot, own_id=OWN, k=k, alpha=alpha,
                 max_queries=max_queries, max_candidates=max_candidates)  # fmt: skip
    ref = ReferenceLookup(target, LookupKind.GET_PEERS, seeds, addrs=boot, own_id=OWN, k=k,
                          alpha=alpha, max_queries=max_queries,
                          max_candidates=max_candidates)  # fmt: skip
    addrs = [n.addr for n in pool] + boot
    asked: list[Addr] = []
    for step in range(400):
        got = [c.addr for c in new.next_queries()]
        assert got == [c.addr for c in ref.next_queries()], step
        asked += got
        assert _snapshot(new, addrs) == _snapshot(ref, addrs), step
        if not asked:
            break
        addr = asked.pop(rng.randrange(len(asked)))
        roll = rng.random()
        if roll < 0.15:
            new.on_failure(addr)
            ref.on_failure(addr)
        elif roll < 0.3:
            new.on_slow(addr)
            ref.on_slow(addr)
            asked.append(addr)  # its answer or failure may still come
        else:
            c = new.candidate(addr)
            node_id = c.node_id if c is not None and c.node_id is not None else OWN
            if rng.random() < 0.1:  # answers with another id (or a bootstrap host that is us)
                node_id = rng.choice([OWN, id_from_int(rng.randrange(space))])
            nodes = rng.sample(pool, rng.randint(0, 8))
            values = [("10.1.0.1", rng.randint(1, 30)) for _ in range(rng.randint(0, 3))]
            token = bytes([step % 256])
            assert new.on_response(addr, node_id, nodes=nodes, values=values,
                                   token=token) == ref.on_response(addr, node_id, nodes=nodes,
                                                                   values=values,
                                                                   token=token)  # fmt: skip
        if rng.random() < 0.01:
            new.cancel()
            ref.cancel()
        assert _snapshot(new, addrs) == _snapshot(ref, addrs), step
