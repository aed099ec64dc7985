"""Choking rounds through `TorrentCore`: each rechoke's decision reaches the wire as
choke and unchoke messages, and the optimistic slot rotates (see harness.py)."""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence, Set

import pytest

from bitswarm.core.torrent import CoreConfig
from bitswarm.swarm.choker import ChokeDecision, PeerStats
from bitswarm.wire import Choked, Unchoked

from .harness import BLOCK, Swarm, Torrent

PIECE = 4 * BLOCK
LEECHERS = 10


def test_each_rechoke_decision_reaches_the_wire(monkeypatch: pytest.MonkeyPatch) -> None:
    torrent = Torrent.random(pieces=64, piece_length=PIECE, rng=random.Random(7))
    swarm = Swarm(torrent, step=0.05)
    config = CoreConfig()
    seed = swarm.add("seed", seed=True, config=config)
    leechers = [swarm.add(f"leecher{i}") for i in range(LEECHERS)]
    # slow links: nobody finishes (or loses interest) during the rounds watched
    links = {n.name: swarm.connect(n, seed, rate=(32 + i) * 1024) for i, n in enumerate(leechers)}

    def leechers_see(unchoked: Set[Hashable]) -> Callable[[], bool]:
        """Does each leecher's end of its link say `unchoked` (by the seed) as it should?"""
        return lambda: (
            unchoked == {n for n, link in links.items() if not link.conns[n].peer_choking}
        )

    decisions: list[tuple[float, ChokeDecision]] = []
    real_rechoke = seed.core.choker.rechoke

    def recording_rechoke(
        peers: Sequence[PeerStats], *, seeding: bool, now: float, rng: random.Random
    ) -> ChokeDecision:
        decision = real_rechoke(peers, seeding=seeding, now=now, rng=rng)
        decisions.append((now, decision))
        return decision

    monkeypatch.setattr(seed.core.choker, "rechoke", recording_rechoke)

    swarm.run_for(1.0)  # handshakes, interest, and the first unchokes into free slots
    assert sum(not link.conns[n].peer_choking for n, link in links.items()) == 8
    while swarm.now < 75.0:
        swarm.step()
        if not decisions or decisions[-1][0] != swarm.now:
            continue
        decision = decisions[-1][1]
        assert len(decision.unchoke) == config.seed_unchoke_slots
        # the seed's side acts on it at once; each leecher's end sees it once the
        # messages queued before it (blocks already sent) have arrived
        assert {n for n, link in links.items() if not link.conns["seed"].am_choking} == (
            decision.unchoke
        )
        swarm.run_until(leechers_see(decision.unchoke), timeout=8.0)
    assert [t for t, _ in decisions] == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0]
    assert not any(n.complete for n in leechers)
    # the optimistic slot rotated: some leechers were choked, then unchoked again
    choked = [n for n, link in links.items() if link.received(n, Choked)]
    assert choked
    assert any(len(links[n].received(n, Unchoked)) >= 2 for n in choked)
    # a choked leecher's pending requests were rejected (BEP 6), not left hanging
    choked_now = set(links) - decisions[-1][1].unchoke
    assert all(not links[n].conns[n].outstanding_requests for n in choked_now)
