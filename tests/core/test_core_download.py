"""Whole downloads through `TorrentCore`s over in-memory connections (see harness.py).

The harness flushes only the peers a core reports touched and fails on any byte queued
for another, so each of these also checks the core's one way out.
"""

from __future__ import annotations

import random

from bitswarm.core.actions import BanPeer, PieceVerified, TorrentCompleted
from bitswarm.core.torrent import BOTH_SEEDS
from bitswarm.wire import RequestReceived

from .harness import BLOCK, Arrived, Swarm, Torrent

PIECE = 4 * BLOCK


def test_a_leecher_downloads_everything_from_three_seeds() -> None:
    torrent = Torrent.random(pieces=32, piece_length=PIECE, rng=random.Random(1), short=5000)
    swarm = Swarm(torrent)
    leecher = swarm.add("leecher")
    seeds = [swarm.add(f"seed{i}", seed=True) for i in range(3)]
    for seed, rate in zip(seeds, (512 * 1024, 256 * 1024, 128 * 1024), strict=True):
        swarm.connect(leecher, seed, rate=rate)

    swarm.run_until(lambda: leecher.complete, timeout=30.0)

    assert bytes(leecher.store) == torrent.data
    verified = [a.piece for a in leecher.actions_of(PieceVerified)]
    assert sorted(verified) == list(range(torrent.num_pieces))  # each piece once, none failed
    assert not leecher.failed_pieces and not leecher.actions_of(BanPeer)
    assert len(leecher.actions_of(TorrentCompleted)) == 1
    core = leecher.core
    # end-game duplicates only, a few blocks at most (one that lands before its piece is
    # whole is not counted in `wasted`: the difference is not asserted)
    assert torrent.total_length <= core.downloaded <= torrent.total_length + 4 * BLOCK
    for seed in seeds:
        link = swarm.link(leecher, seed)
        asked = [(e.index, e.begin) for e in link.received(seed.name, RequestReceived)]
        assert asked and len(asked) == len(set(asked))  # every seed served; nothing asked twice
        got = sum(a.length for a in link.received(leecher.name, Arrived))
        # what arrived was sent (blocks still in flight when the link closed are lost)
        assert 0 < got <= seed.core.uploaded
    # a finished leecher is a seed: it drops the seeds (nothing left to trade)
    assert all(swarm.link(leecher, s).close_reason == BOTH_SEEDS for s in seeds)


def test_leechers_trade_pieces_with_each_other_while_the_seed_is_slow() -> None:
    torrent = Torrent.random(pieces=24, piece_length=PIECE, rng=random.Random(2))
    swarm = Swarm(torrent, step=0.02)
    seed = swarm.add("seed", seed=True)
    leechers = [swarm.add(f"leecher{i}") for i in range(3)]
    for i, leecher in enumerate(leechers):
        swarm.connect(leecher, seed, rate=64 * 1024)
        for other in leechers[i + 1 :]:
            swarm.connect(leecher, other, rate=512 * 1024)

    swarm.run_until(lambda: all(n.complete for n in leechers), timeout=60.0)

    for leecher in leechers:
        assert bytes(leecher.store) == torrent.data
        assert not leecher.failed_pieces
    # the seed alone could not have fed three copies in the time it took
    assert seed.core.uploaded < 2 * torrent.total_length
    assert all(n.core.uploaded > 0 for n in leechers)  # HAVEs went out, and requests came in
