"""Streaming in the core: pieces with deadlines come first, from the faster peer, and a
seek's new window overtakes requests already queued (see `TorrentCore.set_piece_deadlines`)."""

from __future__ import annotations

import random

from bitswarm.core.actions import PieceVerified
from bitswarm.wire import RequestReceived

from .harness import BLOCK, Node, Swarm, Torrent

PIECE = 4 * BLOCK


def _swarm(pieces: int = 96) -> tuple[Swarm, Node, Node, Node, Torrent]:
    torrent = Torrent.random(pieces=pieces, piece_length=PIECE, rng=random.Random(7))
    swarm = Swarm(torrent, step=0.02)
    leecher = swarm.add("leecher")
    fast = swarm.add("fast", seed=True)
    slow = swarm.add("slow", seed=True)
    swarm.connect(leecher, fast, rate=256 * 1024)
    swarm.connect(leecher, slow, rate=32 * 1024)
    return swarm, leecher, fast, slow, torrent


def _verified(node: Node) -> list[int]:
    return [a.piece for a in node.actions_of(PieceVerified)]


def test_pieces_with_deadlines_arrive_first_and_from_the_fast_peer() -> None:
    swarm, leecher, _fast, slow, _t = _swarm()
    window = list(range(60, 66))
    leecher.core.set_piece_deadlines(
        "reader", {p: swarm.now + i * 0.2 for i, p in enumerate(window)}, now=swarm.now
    )
    swarm.run_until(lambda: all(p in leecher.core.have for p in window), timeout=10.0)
    # 6 pieces of 64 KiB at 256 KiB/s take 1.5 s; the whole torrent takes over 20 s
    assert swarm.now < 2.5, swarm.now
    assert not leecher.core.deadlines  # each deadline went with its piece
    # before other pieces (one block at a time of a piece asked of the slow peer before
    # any rate was measured is asked again of the fast one once late)
    assert set(window) <= set(_verified(leecher)[:8])
    # once rates were measured, none of their blocks was asked of the slow peer
    link = swarm.link(leecher, slow)
    asked = {e.index for t, e in link.events["slow"] if isinstance(e, RequestReceived) and t > 0.3}
    assert asked and not asked & set(window)


def test_a_seek_overtakes_requests_already_queued() -> None:
    swarm, leecher, _fast, _slow, _t = _swarm()
    leecher.core.set_piece_deadlines("reader", {0: 0.0, 1: 0.5}, now=swarm.now)
    swarm.run_until(lambda: 1 in leecher.core.have, timeout=5.0)
    swarm.run_for(2.0)  # the reader stays open, its window fetched: queues refill
    seek = [p for p in range(80, 96) if p not in leecher.core.have][:2]
    asked_at = swarm.now
    leecher.core.set_piece_deadlines(
        "reader", {seek[0]: swarm.now, seek[1]: swarm.now + 0.25}, now=swarm.now
    )
    leecher.process()
    swarm.run_until(lambda: all(p in leecher.core.have for p in seek), timeout=5.0)
    # two pieces at 256 KiB/s take 0.5 s, after at most 1 s of blocks already sent (the
    # queue of a time-critical peer while a reader is open); with the usual 3 s queue
    # they would wait behind up to 3 s of other blocks
    assert swarm.now - asked_at < 1.8, swarm.now - asked_at
    swarm.run_until(lambda: leecher.complete, timeout=60.0)
    assert bytes(leecher.store) == swarm.torrent.data


def test_released_deadlines_leave_the_picker_as_it_was() -> None:
    swarm, leecher, *_ = _swarm(pieces=16)
    leecher.core.set_piece_deadlines("reader", {5: 1.0, 6: 2.0}, now=swarm.now)
    leecher.core.release_deadlines("reader")
    assert not leecher.core.deadlines
    swarm.run_until(lambda: leecher.complete, timeout=30.0)
    assert bytes(leecher.store) == swarm.torrent.data
