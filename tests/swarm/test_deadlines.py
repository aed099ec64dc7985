"""Piece deadlines (swarm/deadlines.py): the queue merged over readers, the choice of fast
peers, and the picker's blocks of time-critical pieces."""

from __future__ import annotations

import random

from bitswarm.bitfield import Bitfield
from bitswarm.swarm.deadlines import DeadlineQueue, PeerLoad, fast_peers, pick_critical, pick_late
from bitswarm.swarm.picker import BLOCK_SIZE, Block, PiecePicker, PieceState

BPP = 4
PIECE = BPP * BLOCK_SIZE


def _picker(n: int = 16, peers: tuple[str, ...] = ("a", "b")) -> PiecePicker:
    p = PiecePicker(num_pieces=n, piece_length=PIECE, total_length=n * PIECE, rng=random.Random(1))
    for peer in peers:
        p.peer_joined(peer, Bitfield(n, full=True))
    return p


def test_the_queue_merges_readers_and_keeps_the_earliest_deadline() -> None:
    q = DeadlineQueue()
    assert not q and q.ordered() == []
    assert q.set_owner("r1", {3: 5.0, 4: 6.0}) == [3, 4]
    assert q.set_owner("r2", {4: 2.0, 9: 1.0}) == [9]
    assert q.ordered() == [(1.0, 9), (2.0, 4), (5.0, 3)]
    assert q.deadline(4) == 2.0 and 9 in q and len(q) == 3
    q.release("r2")  # r1's deadline for 4 is back
    assert q.ordered() == [(5.0, 3), (6.0, 4)]
    # a seek: the window is replaced, the pieces left behind lose their deadline
    assert q.set_owner("r1", {10: 1.5, 11: 2.5}) == [10, 11]
    assert q.ordered() == [(1.5, 10), (2.5, 11)] and 3 not in q


def test_a_piece_that_arrives_leaves_every_reader() -> None:
    q = DeadlineQueue()
    q.set_owner("r1", {1: 1.0})
    q.set_owner("r2", {1: 3.0, 2: 4.0})
    q.discard(1)
    assert q.ordered() == [(4.0, 2)]
    q.discard(2)
    assert not q and q.active  # the readers are still there: they may seek
    q.set_owner("r1", {5: 1.0})
    assert q.ordered() == [(1.0, 5)]
    assert q.late(0.5) == [] and q.late(1.0) == [5]
    q.release("r2")
    assert q.active
    q.release("r1")
    assert not q.active
    q.set_owner("r3", {1: 1.0})
    q.clear()
    assert not q and not q.active


def test_fast_peers_leave_out_the_slowest_tenth() -> None:
    loads = [PeerLoad(f"p{i}", 0, 1024.0 * (i + 1)) for i in range(20)]
    kept = fast_peers(loads)
    assert len(kept) == 18 and "p0" not in kept and "p1" not in kept
    assert kept[0] == "p19"  # the shortest queue first
    # two peers: the slower one is left out; one peer is always kept
    assert fast_peers([PeerLoad("x", 0, 10.0), PeerLoad("y", 0, 1e6)]) == ["y"]
    assert fast_peers([PeerLoad("x", 0, 10.0)]) == ["x"]
    assert fast_peers([PeerLoad("x", 0, 0.0), PeerLoad("y", 0, 0.0)]) == ["x", "y"]
    # a long queue makes a fast peer slow
    busy = PeerLoad("busy", 100 * BLOCK_SIZE, 200_000.0)
    idle = PeerLoad("idle", 0, 100_000.0)
    assert fast_peers([busy, idle]) == ["idle"]


def test_critical_blocks_come_first_and_in_deadline_order() -> None:
    p = _picker()
    q = DeadlineQueue()
    q.set_owner("r", {7: 2.0, 12: 1.0})
    blocks = pick_critical(p, q, "a", 6)
    assert [b.piece for b in blocks] == [12, 12, 12, 12, 7, 7]
    # the piece has no owner: another peer takes its remaining blocks, not an orphan's owner
    assert [b.piece for b in pick_critical(p, q, "b", 4)] == [7, 7]
    assert p.piece_state(7) is PieceState.PARTIAL and p.piece_state(12) is PieceState.PARTIAL
    normal = p.pick("b", 4)
    assert all(b.piece not in (7, 12) for b in normal)


def test_pick_in_piece_skips_pieces_we_have_or_do_not_want() -> None:
    p = _picker()
    p.set_have(3)
    p.set_piece_priority(4, 0)
    assert p.pick_in_piece("a", 3, 4) == []
    assert p.pick_in_piece("a", 4, 4) == []
    p.peer_joined("partial", Bitfield.from_indices(16, [1]))
    assert p.pick_in_piece("partial", 2, 4) == []  # it lacks the piece
    assert len(p.pick_in_piece("partial", 1, 9)) == BPP


def test_a_late_piece_is_asked_of_a_second_peer() -> None:
    p = _picker(peers=("a", "b", "c"))
    q = DeadlineQueue()
    q.set_owner("r", {5: 10.0})
    first = pick_critical(p, q, "a", 8)
    assert len(first) == BPP
    p.block_received("a", first[0])
    assert pick_late(p, q, dict.fromkeys("abc", 8), 9.0) == []  # not late yet
    late = pick_late(p, q, dict.fromkeys("abc", 8), 11.0)
    assert late == [("b", Block(5, i * BLOCK_SIZE, BLOCK_SIZE)) for i in range(1, BPP)]
    # each block has two requesters now: nobody else is asked
    assert pick_late(p, q, dict.fromkeys("abc", 8), 12.0) == []
    # the first copy to arrive cancels the other
    done, cancels = p.block_received("b", Block(5, BLOCK_SIZE, BLOCK_SIZE))
    assert not done and cancels == [("a", Block(5, BLOCK_SIZE, BLOCK_SIZE))]
