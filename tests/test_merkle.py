"""BEP 52 merkle helpers against a naive reference written straight from the BEP's words."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm import merkle

KIB16 = 16 * 1024


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def naive_root(leaves: list[bytes], width: int) -> bytes:
    """Pad with zero hashes to `width`, then pair up until one hash is left."""
    layer = leaves + [bytes(32)] * (width - len(leaves))
    while len(layer) > 1:
        layer = [sha256(layer[i] + layer[i + 1]) for i in range(0, len(layer), 2)]
    return layer[0]


def naive_file_root(data: bytes) -> bytes:
    leaves = [sha256(data[i : i + KIB16]) for i in range(0, len(data), KIB16)]
    width = 1
    while width < len(leaves):
        width *= 2
    return naive_root(leaves, width)


def test_pad_hashes_are_roots_of_zero_subtrees() -> None:
    assert merkle.pad_hash(0) == bytes(32)
    assert merkle.pad_hash(1) == sha256(bytes(64))
    assert merkle.pad_hash(2) == sha256(sha256(bytes(64)) * 2)
    assert merkle.pad_hash(3) == naive_root([], 8)


def test_power_of_two_helpers() -> None:
    assert [merkle.next_power_of_two(n) for n in (0, 1, 2, 3, 5, 16, 17)] == [1, 1, 2, 4, 8, 16, 32]
    assert merkle.is_power_of_two(16384) and not merkle.is_power_of_two(0)
    assert not merkle.is_power_of_two(3 * 16384)
    assert merkle.log2(1 << 20) == 20
    with pytest.raises(ValueError):
        merkle.log2(12)


def test_block_hashes_split_at_16_kib() -> None:
    data = bytes(range(256)) * 160  # 40960 bytes: two full blocks and one of 8192
    leaves = merkle.block_hashes(data)
    assert leaves == [sha256(data[:KIB16]), sha256(data[KIB16 : 2 * KIB16]), sha256(data[32768:])]
    assert merkle.block_hashes(b"") == []


def test_known_three_block_root() -> None:
    """A 3-block file: root = H(H(l0 l1) H(l2 0)), the zero leaf being 32 zero bytes."""
    data = b"a" * KIB16 + b"b" * KIB16 + b"c" * 100
    l0, l1, l2 = sha256(b"a" * KIB16), sha256(b"b" * KIB16), sha256(b"c" * 100)
    expected = sha256(sha256(l0 + l1) + sha256(l2 + bytes(32)))
    assert merkle.file_root(merkle.block_hashes(data)) == expected
    assert merkle.hash_piece_v2(data, 4 * KIB16, whole_file=True) == expected


def test_a_file_of_one_block_has_its_leaf_as_root() -> None:
    assert merkle.file_root([sha256(b"x")]) == sha256(b"x")
    with pytest.raises(ValueError):
        merkle.file_root([])


def test_piece_hash_pads_a_short_last_piece_to_the_piece_width() -> None:
    leaves = [sha256(b"z")]
    # In a file larger than one 64 KiB piece, a one-block last piece is padded to 4 leaves.
    assert merkle.piece_hash(leaves, 4 * KIB16) == naive_root(leaves, 4)
    assert merkle.piece_hash(leaves, 4 * KIB16) != merkle.file_root(leaves)
    with pytest.raises(ValueError):
        merkle.piece_hash(leaves * 5, 4 * KIB16)


def test_subtree_root_refuses_bad_widths() -> None:
    with pytest.raises(ValueError):
        merkle.subtree_root([bytes(32)] * 3, 2)
    with pytest.raises(ValueError):
        merkle.subtree_root([bytes(32)], 3)


def test_split_layer() -> None:
    assert merkle.split_layer(b"a" * 32 + b"b" * 32) == [b"a" * 32, b"b" * 32]
    with pytest.raises(ValueError):
        merkle.split_layer(b"x" * 33)


@settings(max_examples=60, deadline=None)
@given(blocks=st.integers(1, 40), tail=st.integers(0, KIB16 - 1), height=st.integers(0, 3))
def test_piece_layer_completes_to_the_file_root(blocks: int, tail: int, height: int) -> None:
    """For files larger than a piece, the root rebuilt from the piece layer is the file root."""
    data = hashlib.shake_256(f"{blocks}/{tail}".encode()).digest(KIB16) * blocks + b"t" * tail
    leaves = merkle.block_hashes(data)
    piece_length = KIB16 << height
    assert merkle.file_root(leaves) == naive_file_root(data)
    layer = merkle.piece_layer(leaves, piece_length)
    assert len(layer) == -(-len(data) // piece_length)
    if len(data) > piece_length:
        assert merkle.root_from_piece_layer(layer, piece_length) == naive_file_root(data)
        # and each piece hash is what storage computes from the piece's bytes alone
        for k, expected in enumerate(layer):
            piece = data[k * piece_length : (k + 1) * piece_length]
            assert merkle.hash_piece_v2(piece, piece_length, whole_file=False) == expected
