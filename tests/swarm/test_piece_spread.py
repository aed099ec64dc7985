"""PieceSpread: a seed hands each peer different not-yet-sent pieces until all left once."""

from __future__ import annotations

import random

from bitswarm.bitfield import Bitfield
from bitswarm.swarm.piece_spread import MAX_AHEAD, PieceSpread

N = 40


def test_peers_get_disjoint_pieces_they_lack() -> None:
    spread = PieceSpread(N, random.Random(1))
    has_a = Bitfield.from_indices(N, range(10))
    a = spread.top_up("a", has_a, 5)
    b = spread.top_up("b", Bitfield(N), 5)
    assert len(a) == len(b) == 5
    assert not set(a) & set(b)
    assert not any(p in has_a for p in a)
    assert spread.top_up("a", has_a, 5) == []  # already 5 ahead
    assert spread.reserved_for("a") == a


def test_requested_or_announced_pieces_leave_the_plan() -> None:
    spread = PieceSpread(N, random.Random(2))
    a = spread.top_up("a", Bitfield(N), 3)
    spread.piece_out(a[0])  # "a" asked for it
    assert spread.reserved_for("a") == a[1:]
    assert spread.top_up("a", Bitfield(N), 3) != []  # topped up again
    # a piece someone announced is never suggested
    others = [p for p in range(N) if p not in spread.reserved_for("a")]
    for p in others[:-1]:
        spread.piece_out(p)
    last = others[-1]
    assert spread.top_up("b", Bitfield(N), 10) == [last]
    assert spread.top_up("c", Bitfield(N), 10) == []  # nothing left in the pool


def test_released_pieces_go_to_the_next_peer_and_the_plan_ends() -> None:
    spread = PieceSpread(4, random.Random(3))
    a = spread.top_up("a", Bitfield(4), 4)
    assert sorted(a) == [0, 1, 2, 3] and not spread.done
    assert spread.top_up("b", Bitfield(4), 4) == []
    spread.release("a")  # choked before asking for any
    b = spread.top_up("b", Bitfield(4), 4)
    assert sorted(b) == [0, 1, 2, 3]
    for p in b:
        spread.piece_out(p)
    assert spread.done


def test_reservations_are_bounded() -> None:
    spread = PieceSpread(500, random.Random(4))
    assert len(spread.top_up("a", Bitfield(500), 1000)) == MAX_AHEAD
