"""The picker's piece orders: first-last (previews), sequential with several peers through
end-game, and switching either mode while pieces are in flight."""

from __future__ import annotations

import random

import pytest

from bitswarm.bitfield import Bitfield
from bitswarm.errors import LocalProtocolError
from bitswarm.swarm.picker import PiecePicker, PieceState, first_last_pieces
from tests.swarm.test_picker import PIECE, pick_pieces, picker_from_strings


def test_first_last_pieces_of_wanted_files() -> None:
    # a: pieces 0-2 (ends inside 2), b: rest of 2 to 5, an empty file, c: pieces 6-9
    files = [
        (0, 2 * PIECE + 5),
        (2 * PIECE + 5, 4 * PIECE - 5),
        (6 * PIECE, 0),
        (6 * PIECE, 4 * PIECE),
    ]
    assert first_last_pieces(files, [4, 4, 4, 4], PIECE) == {0, 2, 5, 6, 9}
    assert first_last_pieces(files, [4, 0, 7, 1], PIECE) == {0, 2, 6, 9}
    assert first_last_pieces([(0, PIECE)], [4], PIECE) == {0}
    with pytest.raises(LocalProtocolError):
        first_last_pieces(files, [4], PIECE)


def test_first_last_come_before_rarer_pieces() -> None:
    # the edges (0, 4, 5, 9) are the most common pieces: rarest first would take them last
    p = picker_from_strings("9111991119")
    p.set_first_last({0, 4, 5, 9})
    order = pick_pieces(p, "me", 10)
    assert set(order[:4]) == {0, 4, 5, 9}
    assert sorted(order) == list(range(10))


def test_first_last_beats_priority_but_never_picks_skipped_pieces() -> None:
    p = picker_from_strings("111111", priority="007444")
    p.set_first_last({0, 3, 5})
    order = pick_pieces(p, "me", 6)
    assert set(order[:2]) == {3, 5}  # before piece 2 of priority 7
    assert order[2] == 2
    assert 0 not in order and 1 not in order
    p.set_first_last(set())  # off again
    assert p.first_last == frozenset()
    with pytest.raises(LocalProtocolError):
        p.set_first_last({6})


def test_sequential_with_first_last() -> None:
    p = picker_from_strings("1111111", sequential=True)
    p.set_first_last({0, 6})
    assert pick_pieces(p, "me", 7) == [0, 6, 1, 2, 3, 4, 5]


def test_first_last_survives_a_switch_to_sequential() -> None:
    p = picker_from_strings("11111111")
    p.set_first_last({2, 7})
    p.set_sequential(True)
    assert pick_pieces(p, "me", 8) == [2, 7, 0, 1, 3, 4, 5, 6]


def _swarm(
    p: PiecePicker,
    peers: list[str],
    rng: random.Random,
    *,
    switch_at: int | None = None,
    before_switch: list[int] | None = None,
) -> list[int]:
    """Peers each keep 2 blocks requested and answer one request at a time in random order
    until every piece has passed (end-game included); return the order pieces started.
    At round `switch_at` the mode flips, and the pieces started so far go to `before_switch`."""
    started: list[int] = []
    seen: set[int] = set()
    rounds = 0
    while not p.is_complete():
        rounds += 1
        assert rounds < 10_000, "the swarm stalled"
        if switch_at is not None and rounds == switch_at:
            p.set_sequential(not p.sequential)
            if before_switch is not None:
                before_switch.extend(started)
        for peer in peers:
            want = 2 - len(p.requests_of(peer))
            for block in p.pick(peer, want) if want > 0 else []:
                if block.piece not in seen:
                    seen.add(block.piece)
                    started.append(block.piece)
        peer = rng.choice(peers)
        requests = sorted(p.requests_of(peer), key=lambda b: (b.piece, b.begin))
        if not requests:
            continue
        block = rng.choice(requests)
        complete, _cancels = p.block_received(peer, block)
        if complete:
            p.piece_passed(block.piece)
    return started


@pytest.mark.parametrize("seed", range(5))
def test_sequential_stays_in_order_with_several_peers_through_endgame(seed: int) -> None:
    n = 24
    p = PiecePicker(
        num_pieces=n,
        piece_length=PIECE,
        total_length=n * PIECE - 100,  # a short last piece too
        rng=random.Random(seed),
        sequential=True,
    )
    peers = ["a", "b", "c"]
    for peer in peers:
        p.peer_joined(peer, Bitfield(n, full=True))
    started = _swarm(p, peers, random.Random(seed))
    assert started == list(range(n))  # every new piece is the lowest one left
    assert all(p.piece_state(i) is PieceState.HAVE for i in range(n))
    assert p.wanted_remaining_bytes() == 0


def test_sequential_skips_pieces_no_peer_has_and_takes_them_later() -> None:
    n = 8
    p = PiecePicker(
        num_pieces=n,
        piece_length=PIECE,
        total_length=n * PIECE,
        rng=random.Random(1),
        sequential=True,
    )
    p.peer_joined("a", Bitfield.from_indices(n, [0, 1, 3, 4, 5, 6, 7]))
    assert pick_pieces(p, "a", 3) == [0, 1, 3]
    p.peer_joined("b", Bitfield.from_indices(n, [2]))
    assert pick_pieces(p, "b", 1) == [2]


@pytest.mark.parametrize("seed", range(3))
def test_switching_modes_mid_download_loses_nothing(seed: int) -> None:
    n = 16
    p = PiecePicker(
        num_pieces=n, piece_length=PIECE, total_length=n * PIECE, rng=random.Random(seed)
    )
    peers = ["a", "b"]
    for peer in peers:
        p.peer_joined(peer, Bitfield(n, full=True))
    p.set_first_last({0, n - 1})
    before: list[int] = []
    started = _swarm(p, peers, random.Random(seed), switch_at=6, before_switch=before)
    assert set(started[:2]) == {0, n - 1}
    assert sorted(started) == list(range(n))
    assert p.num_have == n
    assert p.sequential
    assert 2 < len(before) < n
    # after the switch to sequential, new pieces started in index order
    later = started[len(before) :]
    assert later == sorted(later)
    assert later == [i for i in range(n) if i not in before]
