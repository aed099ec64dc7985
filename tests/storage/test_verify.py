"""Piece verification: v1 SHA-1 and v2 merkle piece hashes (storage.verify).

The v2 expectations are computed here from BEP 52's words with plain hashlib (leaves are
SHA-256 of 16 KiB blocks, missing leaves are 32 zero bytes, parents hash the concatenation of
their two children), and cross-checked against torrents that libtorrent creates.
"""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path
from types import ModuleType

import pytest

from bitswarm.bencode import BValue
from bitswarm.errors import LocalProtocolError
from bitswarm.storage.layout import FileSpec, Layout
from bitswarm.storage.verify import piece_is_valid, sha1_piece, v2_piece_root

KIB16 = 16 * 1024


def _reference_root(data: bytes, leaf_count: int) -> bytes:
    """BEP 52 from first principles: a full binary tree of `leaf_count` leaves."""
    leaves = [hashlib.sha256(data[i : i + KIB16]).digest() for i in range(0, len(data), KIB16)]
    assert len(leaves) <= leaf_count
    layer = leaves + [b"\0" * 32] * (leaf_count - len(leaves))
    while len(layer) > 1:
        layer = [hashlib.sha256(layer[i] + layer[i + 1]).digest() for i in range(0, len(layer), 2)]
    return layer[0]


def _next_pow2(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


def _data(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def test_sha1_vector() -> None:
    assert sha1_piece(b"abc").hex() == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert sha1_piece(memoryview(b"abc")) == hashlib.sha1(b"abc").digest()


def test_v2_full_piece() -> None:
    piece_length = 4 * KIB16
    data = _data(piece_length)
    assert v2_piece_root(data, piece_length) == _reference_root(data, 4)


def test_v2_single_block_piece_root_is_leaf_hash() -> None:
    data = _data(KIB16)
    assert v2_piece_root(data, KIB16) == hashlib.sha256(data).digest()


@pytest.mark.parametrize("size", [1, KIB16 - 1, KIB16, KIB16 + 1, 3 * KIB16 + 5])
def test_v2_last_piece_of_big_file_padded_to_full_piece(size: int) -> None:
    # BEP 52: leaf hashes beyond the end of the file are zero, up to the piece's subtree
    piece_length = 8 * KIB16
    data = _data(size, seed=size)
    assert v2_piece_root(data, piece_length) == _reference_root(data, 8)


@pytest.mark.parametrize("size", [1, KIB16, KIB16 + 1, 3 * KIB16 + 5, 5 * KIB16, 8 * KIB16])
def test_v2_whole_file_padded_to_next_power_of_two(size: int) -> None:
    # a file of at most one piece is checked against its pieces root, whose tree is only as
    # wide as the next power of two of its blocks, not as wide as a piece
    piece_length = 8 * KIB16
    data = _data(size, seed=size)
    blocks = -(-size // KIB16)
    expected = _reference_root(data, _next_pow2(blocks))
    assert v2_piece_root(data, piece_length, whole_file=True) == expected
    if _next_pow2(blocks) != 8:
        assert v2_piece_root(data, piece_length) != expected  # the two paddings differ


def test_v2_piece_hashes_compose_into_the_file_root() -> None:
    # the piece layer is a layer of the file's own tree: hashing the piece roots (padded with
    # roots of all-zero pieces) must give the root of the whole file's tree
    piece_length = 2 * KIB16
    data = _data(5 * piece_length + 100)
    layer = [
        v2_piece_root(data[i : i + piece_length], piece_length)
        for i in range(0, len(data), piece_length)
    ]
    zero_piece = _reference_root(b"", 2)
    layer += [zero_piece] * (_next_pow2(len(layer)) - len(layer))
    while len(layer) > 1:
        layer = [hashlib.sha256(layer[i] + layer[i + 1]).digest() for i in range(0, len(layer), 2)]
    blocks = -(-len(data) // KIB16)
    assert layer[0] == _reference_root(data, _next_pow2(blocks))


@pytest.mark.parametrize(
    ("size", "piece_length"), [(0, KIB16), (KIB16 + 1, KIB16), (1, 3 * KIB16), (1, 8192)]
)
def test_v2_bad_arguments(size: int, piece_length: int) -> None:
    with pytest.raises(LocalProtocolError):
        v2_piece_root(bytes(size), piece_length)


def test_piece_is_valid_hybrid_checks_both_and_padding() -> None:
    piece_length = 2 * KIB16
    a, b = _data(piece_length + 100, 7), _data(50, 8)
    pad = piece_length - 100
    layout = Layout(
        [
            FileSpec(("a",), len(a)),
            FileSpec((".pad", str(pad)), pad, is_pad=True),
            FileSpec(("b",), len(b)),
        ],
        piece_length,
    )
    piece1 = a[piece_length:] + bytes(pad)
    sha = hashlib.sha1(piece1).digest()
    root = _reference_root(a[piece_length:], 2)
    assert piece_is_valid(layout, 1, piece1, expected_sha1=sha, expected_v2_root=root)
    assert piece_is_valid(layout, 1, piece1, expected_v2_root=root)
    assert not piece_is_valid(layout, 1, piece1, expected_sha1=bytes(20), expected_v2_root=root)
    assert not piece_is_valid(layout, 1, piece1, expected_sha1=sha, expected_v2_root=bytes(32))
    # non-zero padding passes v2 (which does not cover it) only if we forget to check it
    dirty = bytearray(piece1)
    dirty[-1] = 1
    assert not piece_is_valid(layout, 1, bytes(dirty), expected_v2_root=root)
    # b fits in one piece: checked against its pieces root (next power of two: 1 leaf)
    assert piece_is_valid(layout, 2, b, expected_v2_root=hashlib.sha256(b).digest())
    with pytest.raises(LocalProtocolError):
        piece_is_valid(layout, 1, piece1)
    with pytest.raises(LocalProtocolError):
        piece_is_valid(layout, 1, piece1[:-1], expected_sha1=sha)
    with pytest.raises(LocalProtocolError):
        piece_is_valid(layout, 1, piece1, expected_sha1=sha[:19])


def _libtorrent() -> ModuleType:
    try:
        import libtorrent
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("the libtorrent python module is required in CI")
        pytest.skip("libtorrent python module not installed")
    return libtorrent


def test_against_libtorrent_hybrid_torrent(tmp_path: Path) -> None:
    lt = _libtorrent()
    piece_length = 4 * KIB16
    root = tmp_path / "t"
    root.mkdir()
    sizes = {
        "big.bin": 3 * piece_length + 3 * KIB16 + 77,
        "small.bin": 2 * KIB16 + 5,
        "tiny.bin": 10,
    }
    contents = {name: _data(n, seed=n) for name, n in sizes.items()}
    for name, content in contents.items():
        (root / name).write_bytes(content)
    creator = lt.create_torrent(lt.list_files(str(root)), piece_length)
    lt.set_piece_hashes(creator, str(tmp_path))
    torrent = creator.generate()
    info = torrent[b"info"]
    layers: dict[bytes, bytes] = torrent[b"piece layers"]
    tree: dict[bytes, BValue] = info[b"file tree"]

    # v2 alone: every piece-layer entry, and the pieces root of files of one piece
    for name, content in contents.items():
        entry = tree[name.encode()]
        assert isinstance(entry, dict)
        meta = entry[b""]
        assert isinstance(meta, dict)
        pieces_root = meta[b"pieces root"]
        assert isinstance(pieces_root, bytes)
        if len(content) <= piece_length:
            assert pieces_root not in layers
            assert v2_piece_root(content, piece_length, whole_file=True) == pieces_root
            continue
        layer = layers[pieces_root]
        ours = b"".join(
            v2_piece_root(content[i : i + piece_length], piece_length)
            for i in range(0, len(content), piece_length)
        )
        assert ours == layer

    # the hybrid v1 piece space with libtorrent's pad files: both hashes of every piece
    specs = [
        FileSpec(tuple(p.decode() for p in f[b"path"]), f[b"length"], b"p" in f.get(b"attr", b""))
        for f in info[b"files"]
    ]
    layout = Layout(specs, piece_length)
    blob = b"".join(bytes(s.length) if s.is_pad else contents[s.path[-1]] for s in specs)
    sha1s = info[b"pieces"]
    assert len(sha1s) == 20 * layout.num_pieces
    for piece in range(layout.num_pieces):
        data = blob[piece * piece_length : piece * piece_length + layout.piece_size(piece)]
        file_index, _ = layout.v2_piece_file(piece)
        entry = tree[specs[file_index].path[-1].encode()]
        assert isinstance(entry, dict)
        meta = entry[b""]
        assert isinstance(meta, dict)
        pieces_root = meta[b"pieces root"]
        assert isinstance(pieces_root, bytes)
        if pieces_root in layers:  # libtorrent's piece layer entry for this piece
            nth = piece - layout.file_piece_range(file_index).start
            v2 = layers[pieces_root][32 * nth : 32 * nth + 32]
        else:  # a file of one piece: its pieces root
            v2 = pieces_root
        assert piece_is_valid(
            layout,
            piece,
            data,
            expected_sha1=sha1s[20 * piece : 20 * piece + 20],
            expected_v2_root=v2,
        )
