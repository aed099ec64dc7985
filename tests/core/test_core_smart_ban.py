"""Smart ban through `TorrentCore`: a peer whose blocks fail the hash is charged per
failed piece and banned at `ban_threshold`; its pieces are fetched again elsewhere."""

from __future__ import annotations

import random

from bitswarm.core.actions import BanPeer, PieceVerified
from bitswarm.core.torrent import CoreConfig

from .harness import BLOCK, Swarm, Torrent

PIECE = 4 * BLOCK


def corrupt_one_block_per_piece(torrent: Torrent) -> bytes:
    """The torrent's bytes with one byte flipped in the third block of every piece."""
    data = bytearray(torrent.data)
    for piece in range(torrent.num_pieces):
        at = torrent.span(piece).start + 2 * BLOCK + 100
        data[at] ^= 0xFF
    return bytes(data)


def test_a_peer_sending_corrupt_blocks_is_charged_banned_and_replaced() -> None:
    torrent = Torrent.random(pieces=16, piece_length=PIECE, rng=random.Random(5))
    swarm = Swarm(torrent)
    leecher = swarm.add("leecher")
    liar = swarm.add("liar", seed=True, content=corrupt_one_block_per_piece(torrent))
    link = swarm.connect(leecher, liar, rate=256 * 1024)
    threshold = CoreConfig().ban_threshold

    swarm.run_until(lambda: link.closed, timeout=10.0)

    [ban] = leecher.actions_of(BanPeer)
    assert ban.peer == "liar" and f"{threshold} pieces" in ban.reason
    assert link.close_reason == ban.reason  # the runtime's part: the connection is closed
    assert len(leecher.failed_pieces) == threshold  # charged once per failed piece
    assert not leecher.actions_of(PieceVerified)
    assert "liar" not in leecher.core.peers
    assert leecher.core.wasted == threshold * PIECE

    # an honest seed arrives: the failed pieces are fetched again, and everything passes
    honest = swarm.add("honest", seed=True)
    swarm.connect(leecher, honest, rate=256 * 1024)
    swarm.run_until(lambda: leecher.complete, timeout=10.0)
    assert bytes(leecher.store) == torrent.data
    assert set(leecher.failed_pieces) <= {a.piece for a in leecher.actions_of(PieceVerified)}
    assert len(leecher.actions_of(BanPeer)) == 1  # the honest seed is not charged


def test_only_the_peers_that_sent_a_failed_piece_are_charged() -> None:
    """An honest seed and a liar feed one leecher at once (each piece from one of them):
    the liar is charged for each piece of its that failed and banned at the threshold;
    the honest seed, which sent none of them, is never charged."""
    torrent = Torrent.random(pieces=16, piece_length=PIECE, rng=random.Random(6))
    swarm = Swarm(torrent)
    config = CoreConfig(ban_threshold=3)
    leecher = swarm.add("leecher", config=config)
    honest = swarm.add("honest", seed=True)
    liar = swarm.add("liar", seed=True, content=corrupt_one_block_per_piece(torrent))
    swarm.connect(leecher, honest, rate=128 * 1024)
    liar_link = swarm.connect(leecher, liar, rate=128 * 1024)

    swarm.run_until(lambda: liar_link.closed, timeout=20.0)

    assert [b.peer for b in leecher.actions_of(BanPeer)] == ["liar"]
    assert len(leecher.failed_pieces) == config.ban_threshold
    assert leecher.core.peers["honest"].failed_pieces == 0
    swarm.run_until(lambda: leecher.complete, timeout=20.0)
    assert bytes(leecher.store) == torrent.data
