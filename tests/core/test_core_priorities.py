"""File priorities in the core: completing on what is wanted, reopening when more is, and
the picker's piece map (partial pieces, availability of every piece)."""

from __future__ import annotations

import random

from bitswarm.bitfield import Bitfield
from bitswarm.core.actions import TorrentCompleted, TorrentReopened
from bitswarm.core.torrent import TorrentCore
from bitswarm.swarm.picker import Block, PiecePicker

PIECE = 32 * 1024


def _core(have: list[int], num_pieces: int = 6) -> TorrentCore:
    bits = Bitfield(num_pieces)
    for p in have:
        bits.add(p)
    return TorrentCore(
        num_pieces=num_pieces,
        piece_length=PIECE,
        total_length=num_pieces * PIECE,
        have=bits,
        rng=random.Random(3),
    )


def test_priorities_complete_and_reopen_the_torrent() -> None:
    core = _core(have=[0, 1, 2])
    ranges = [(0, 3 * PIECE), (3 * PIECE, 3 * PIECE)]  # two files of three pieces
    assert not core.is_complete
    core.set_file_priorities(ranges, [4, 0], now=1.0)
    assert core.is_complete and core.actions() == [TorrentCompleted()]
    core.set_file_priorities(ranges, [4, 0], now=1.0)
    assert core.actions() == []  # still complete: reported once
    core.set_file_priorities(ranges, [1, 7], now=2.0)
    assert not core.is_complete and core.actions() == [TorrentReopened()]
    assert [core.picker.piece_priority(p) for p in range(6)] == [1, 1, 1, 7, 7, 7]
    core.set_file_priorities(ranges, [4, 0], now=3.0)
    assert core.actions() == [TorrentCompleted()]


def test_piece_map_counts_every_piece() -> None:
    rng = random.Random(5)
    n = 37
    picker = PiecePicker(num_pieces=n, piece_length=PIECE, total_length=n * PIECE, rng=rng)
    for peer in range(5):
        bits = Bitfield(n)
        for p in range(n):
            if rng.random() < 0.5:
                bits.add(p)
        picker.peer_joined(peer, bits)
    picker.peer_joined("seed", Bitfield(n, full=True))
    assert picker.availability_counts() == [picker.availability(p) for p in range(n)]
    assert picker.partial_pieces() == []
    blocks = picker.pick("seed", 3)
    assert picker.partial_pieces() == sorted({b.piece for b in blocks})
    assert all(isinstance(b, Block) for b in blocks)
