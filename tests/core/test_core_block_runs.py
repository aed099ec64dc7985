"""A read's blocks handed to the core as one run (`TorrentCore.handle_blocks`, what the
runtime does) download as the same blocks handed over one at a time (`handle_peer_event`):
the per-peer bookkeeping done once per run (rate meters, pipelining depth, the next
requests) changes no outcome."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from bitswarm.core.actions import PieceVerified
from bitswarm.core.torrent import TorrentCore
from bitswarm.wire import PieceReceived, RequestReceived

from .harness import BLOCK, Swarm, Torrent

PIECE = 4 * BLOCK


@pytest.mark.parametrize("batch", [True, False])
def test_runs_of_blocks_and_single_blocks_both_download_everything_once(
    batch: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []
    handle_blocks = TorrentCore.handle_blocks

    def counting(
        self: TorrentCore, key: object, blocks: Sequence[PieceReceived], *, now: float
    ) -> None:
        runs.append(len(blocks))
        handle_blocks(self, key, blocks, now=now)

    monkeypatch.setattr(TorrentCore, "handle_blocks", counting)
    torrent = Torrent.random(pieces=24, piece_length=PIECE, rng=random.Random(5), short=3000)
    swarm = Swarm(torrent)
    swarm.batch_blocks = batch
    leecher = swarm.add("leecher")
    seeds = [swarm.add(f"seed{i}", seed=True) for i in range(2)]
    swarm.connect(leecher, seeds[0], rate=8 * 2**20)  # ~5 blocks per 10 ms step: runs
    swarm.connect(leecher, seeds[1], rate=256 * 1024)

    swarm.run_until(lambda: leecher.complete, timeout=30.0)

    assert bytes(leecher.store) == torrent.data
    verified = [a.piece for a in leecher.actions_of(PieceVerified)]
    assert sorted(verified) == list(range(torrent.num_pieces))  # each piece once, none failed
    assert not leecher.failed_pieces
    # end-game duplicates only, a few blocks at most
    assert torrent.total_length <= leecher.core.downloaded <= torrent.total_length + 4 * BLOCK
    for seed in seeds:
        link = swarm.link(leecher, seed)
        asked = [(e.index, e.begin) for e in link.received(seed.name, RequestReceived)]
        assert asked and len(asked) == len(set(asked))  # both seeds served, nothing asked twice
    if batch:
        assert max(runs) > 1  # runs of several blocks really went through handle_blocks
        assert sum(runs) * BLOCK >= torrent.total_length - BLOCK
    else:
        assert not runs
