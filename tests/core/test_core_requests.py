"""Where a `TorrentCore`'s requests go when peers are slow or gone: end-game duplicates
and cancels, and a peer vanishing with blocks outstanding (see harness.py)."""

from __future__ import annotations

import random

from bitswarm.wire import CancelReceived, RequestReceived

from .harness import BLOCK, Arrived, Swarm, Torrent

PIECE = 4 * BLOCK


def asked(swarm: Swarm, by: str, of: str, *, after: float = -1.0) -> list[tuple[int, int]]:
    """The blocks `by` requested of `of`, in order (as `of`'s end of the link saw them)."""
    link = swarm.nodes[by].links[of]
    return [
        (e.index, e.begin)
        for t, e in link.events[of]
        if isinstance(e, RequestReceived) and t > after
    ]


def test_end_game_asks_an_idle_peer_for_a_slow_peers_blocks_and_cancels_them() -> None:
    torrent = Torrent.random(pieces=8, piece_length=PIECE, rng=random.Random(3))
    swarm = Swarm(torrent)
    leecher = swarm.add("leecher")
    fast = swarm.add("fast", seed=True)
    slow = swarm.add("slow", seed=True, read_delay=2.0)  # its disk takes 2 s per read
    swarm.connect(leecher, fast, rate=1024 * 1024)
    slow_link = swarm.connect(leecher, slow, rate=1024 * 1024)

    swarm.run_until(lambda: leecher.complete, timeout=20.0)

    assert bytes(leecher.store) == torrent.data
    from_fast, from_slow = asked(swarm, "leecher", "fast"), asked(swarm, "leecher", "slow")
    assert len(from_fast) == len(set(from_fast))  # never asked twice of the same peer
    duplicates = set(from_fast) & set(from_slow)
    assert duplicates  # end-game: blocks the slow peer owed were asked of the fast one
    # duplicates only once nothing else was left: they are the last blocks asked of it
    first_fast = {b: i for i, b in enumerate(from_fast)}
    assert all(first_fast[b] >= len(from_fast) - len(duplicates) for b in duplicates)
    # each block the fast peer delivered first was cancelled at the slow one, in time for
    # the slow one not to send it
    delivered_by_slow = {(a.index, a.begin) for a in slow_link.received("leecher", Arrived)}
    cancelled = {(e.index, e.begin) for e in slow_link.received("slow", CancelReceived)}
    assert cancelled == duplicates
    assert not delivered_by_slow and slow.core.uploaded == 0
    # and the download did not wait for the slow peer's disk
    assert leecher.completed_at is not None and leecher.completed_at < 2.0


def test_a_peer_vanishing_mid_piece_has_its_blocks_asked_of_another_at_once() -> None:
    torrent = Torrent.random(pieces=32, piece_length=PIECE, rng=random.Random(4))
    swarm = Swarm(torrent)
    leecher = swarm.add("leecher")
    stays, goes = swarm.add("stays", seed=True), swarm.add("goes", seed=True)
    swarm.connect(leecher, stays, rate=256 * 1024)
    link = swarm.connect(leecher, goes, rate=256 * 1024)
    picker = leecher.core.picker

    def pieces_half_done() -> set[int]:
        """Pieces of which `goes` delivered some blocks and still owes others."""
        got = {a.index for a in link.received("leecher", Arrived)}
        return {b.piece for b in picker.requests_of("goes")} & got

    swarm.run_until(lambda: bool(pieces_half_done()), timeout=5.0)
    half_done = pieces_half_done()
    owed = {(b.piece, b.begin) for b in picker.requests_of("goes")}
    vanished_at = swarm.now
    swarm.close(link, by="goes", reason="connection reset", reset=True)
    assert not picker.requests_of("goes")

    # the blocks it owed are asked of the other peer within a tick, long before end-game
    swarm.run_until(
        lambda: owed <= set(asked(swarm, "leecher", "stays", after=vanished_at)), timeout=1.5
    )
    assert not picker.endgame and not leecher.complete
    swarm.run_until(lambda: leecher.complete, timeout=30.0)
    assert bytes(leecher.store) == torrent.data
    assert not leecher.failed_pieces
    # the blocks it did deliver were kept, not asked again: only what it owed moved
    delivered = {(a.index, a.begin) for a in link.received("leecher", Arrived)}
    assert not delivered & set(asked(swarm, "leecher", "stays", after=vanished_at))
    assert half_done <= set(leecher.core.have)
