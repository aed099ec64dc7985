"""SHA-256 merkle trees of BitTorrent v2 (BEP 52, "pieces root" and "piece layers").

Pure helpers shared by the metainfo parser (checking ``piece layers`` against ``pieces root``),
the torrent creator (building roots) and storage (verifying a v2 piece). The rules, from
BEP 52 ("File tree layout", "piece layers"):

* leaves are the SHA-256 digests of 16 KiB blocks of one file; the last block may be short;
* the tree is binary, its leaf count the number of blocks rounded up to a power of two, and
  leaves beyond the end of the file are 32 zero bytes (zero *hashes*, not hashes of zeros);
* a piece hash is the root of the subtree of ``piece_length // 16 KiB`` leaves that covers the
  piece; the ``piece layers`` value of a file is the concatenation of those, omitting subtrees
  that lie wholly beyond the end of the file;
* a file of at most one piece has no piece layer: its root is the root of its own (smaller)
  power-of-two tree.

Everything here takes and returns bytes; no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

__all__ = [
    "BLOCK_SIZE",
    "HASH_SIZE",
    "ZERO_HASH",
    "block_hashes",
    "file_root",
    "hash_piece_v2",
    "hashes_for_request",
    "is_power_of_two",
    "log2",
    "next_power_of_two",
    "pad_hash",
    "piece_hash",
    "piece_layer",
    "request_pieces",
    "root_from_piece_layer",
    "split_layer",
    "subtree_root",
    "uncles_needed",
    "verify_hashes",
]

BLOCK_SIZE = 16 * 1024  # BEP 52: leaves cover 16 KiB blocks
HASH_SIZE = 32
ZERO_HASH = bytes(HASH_SIZE)

# pad_hash(h) for h = 0..63: the root of a subtree of 2**h zero leaves.
_PAD: list[bytes] = [ZERO_HASH]
for _ in range(63):
    _PAD.append(hashlib.sha256(_PAD[-1] + _PAD[-1]).digest())


def is_power_of_two(n: int) -> bool:
    """True for 1, 2, 4, ...; False for zero and negatives."""
    return n > 0 and n & (n - 1) == 0


def next_power_of_two(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1)."""
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def log2(n: int) -> int:
    """The exponent of a power of two; ValueError for anything else."""
    if not is_power_of_two(n):
        raise ValueError(f"{n} is not a power of two")
    return n.bit_length() - 1


def pad_hash(height: int) -> bytes:
    """The root of a subtree of ``2**height`` zero leaves (height 0 is the zero hash)."""
    return _PAD[height]


def block_hashes(data: bytes | bytearray | memoryview) -> list[bytes]:
    """SHA-256 of each 16 KiB block of `data` (the last block may be short).

    Empty data has no blocks. hashlib releases the GIL on buffers this size, so callers may
    run this on several threads at once.
    """
    view = memoryview(data)
    sha256 = hashlib.sha256
    return [sha256(view[i : i + BLOCK_SIZE]).digest() for i in range(0, len(view), BLOCK_SIZE)]


def subtree_root(hashes: Sequence[bytes], width: int, height: int = 0) -> bytes:
    """The root over `hashes` at layer `height`, padded to `width` entries.

    `width` must be a power of two >= len(hashes); missing entries are ``pad_hash(height)``,
    the root of an all-zero subtree of that height.
    """
    if not is_power_of_two(width) or width < len(hashes):
        raise ValueError(f"width {width} is not a power of two >= {len(hashes)}")
    layer = list(hashes)
    pad = _PAD[height]
    sha256 = hashlib.sha256
    while width > 1:
        if len(layer) % 2:
            layer.append(pad)
        layer = [sha256(layer[i] + layer[i + 1]).digest() for i in range(0, len(layer), 2)]
        width //= 2
        height += 1
        pad = _PAD[height]
    return layer[0] if layer else pad


def file_root(leaves: Sequence[bytes]) -> bytes:
    """A file's ``pieces root`` from its block hashes (BEP 52). An empty file has none."""
    if not leaves:
        raise ValueError("an empty file has no merkle root")
    return subtree_root(leaves, next_power_of_two(len(leaves)))


def piece_hash(leaves: Sequence[bytes], piece_length: int) -> bytes:
    """The piece-layer hash of one piece of a file larger than one piece, from its leaves.

    A file's last piece may have fewer leaves; the rest of its subtree is zero hashes.
    """
    per_piece = piece_length // BLOCK_SIZE
    if len(leaves) > per_piece:
        raise ValueError(f"{len(leaves)} leaves do not fit in one piece of {piece_length} bytes")
    return subtree_root(leaves, per_piece)


def hash_piece_v2(
    data: bytes | bytearray | memoryview, piece_length: int, *, whole_file: bool
) -> bytes:
    """The v2 hash to check one piece of file data against.

    With ``whole_file`` (the file fits in one piece) this is the file's ``pieces root``;
    otherwise it is the piece's entry in the file's piece layer.
    """
    leaves = block_hashes(data)
    return file_root(leaves) if whole_file else piece_hash(leaves, piece_length)


def piece_layer(leaves: Sequence[bytes], piece_length: int) -> list[bytes]:
    """The ``piece layers`` hashes of a file, from all its block hashes, in piece order."""
    per_piece = piece_length // BLOCK_SIZE
    return [
        subtree_root(leaves[i : i + per_piece], per_piece) for i in range(0, len(leaves), per_piece)
    ]


def root_from_piece_layer(layer: Sequence[bytes], piece_length: int) -> bytes:
    """The ``pieces root`` implied by a file's piece layer (for a file of > 1 piece).

    The layer sits ``log2(piece_length / 16 KiB)`` levels above the leaves; the tree is
    completed with roots of all-zero subtrees of that height.
    """
    height = log2(piece_length // BLOCK_SIZE)
    return subtree_root(layer, next_power_of_two(len(layer)), height)


def split_layer(value: bytes) -> list[bytes]:
    """Split a concatenated ``piece layers`` value into its 32-byte hashes."""
    if len(value) % HASH_SIZE:
        raise ValueError(f"a piece layer of {len(value)} bytes is not a multiple of 32")
    return [value[i : i + HASH_SIZE] for i in range(0, len(value), HASH_SIZE)]


# ---- BEP 52 hash requests: proofs of a run of one layer up to a file's root --------------


def _tree_height(file_length: int) -> int:
    """Layers above the leaves of a file's tree: log2 of its blocks padded to a power of 2."""
    return log2(next_power_of_two(-(-file_length // BLOCK_SIZE)))


def uncles_needed(file_length: int, base: int, length: int) -> int:
    """The proof layers a hash request for `length` hashes of layer `base` needs so that
    its answer proves itself against the file's root: libtorrent's bound, one less than
    the layers above `base`. (Only ``proof - log2(length) + 1`` of them carry a hash:
    `wire.codec.uncle_count`.)"""
    return _tree_height(file_length) - base - 1


def verify_hashes(
    root: bytes,
    file_length: int,
    base: int,
    index: int,
    length: int,
    hashes: Sequence[bytes],
) -> bool:
    """Whether `hashes` (the `length` hashes of layer `base` from `index` on, then the
    uncles, nearest first) chain up to the file's `root` (BEP 52 "hashes").

    The run's own subtree is computed from it; each uncle is then its sibling one layer
    higher, left or right by the position's parity. A proof that stops short of the root,
    a run outside the layer, or any wrong hash is False.
    """
    height = _tree_height(file_length)
    if not is_power_of_two(length) or index % length or base + log2(length) > height:
        return False
    if index + length > (1 << (height - base)) or len(hashes) < length:
        return False
    node = subtree_root(hashes[:length], length, base)
    level = base + log2(length)
    pos = index // length
    sha256 = hashlib.sha256
    for uncle in hashes[length:]:
        if level >= height:
            return False  # more uncles than the tree has layers
        node = sha256(node + uncle if pos % 2 == 0 else uncle + node).digest()
        pos //= 2
        level += 1
    return level == height and node == root


def request_pieces(
    file_length: int, piece_length: int, base: int, index: int, length: int
) -> range:
    """The file's pieces (0 = its first) under a hash request's run for a layer below the
    piece layer: to answer it (and its uncles below the piece layer), their block hashes
    are needed (`hashes_for_request`'s `leaves`). Empty for the piece layer and above, and
    for a run whose pieces are all past the file's end (pad hashes)."""
    piece_base = log2(piece_length // BLOCK_SIZE)
    if base >= piece_base or length <= 0:
        return range(0)
    pieces = -(-file_length // piece_length)
    first, end = index << base, (index + length) << base
    return range(first >> piece_base, min(pieces, ((end - 1) >> piece_base) + 1))


def hashes_for_request(
    layer: Sequence[bytes],
    file_length: int,
    piece_length: int,
    base: int,
    index: int,
    length: int,
    proof_layers: int,
    leaves: Mapping[int, Sequence[bytes]] | None = None,
) -> bytes | None:
    """The answer to a hash request from a file's piece layer: `length` hashes of layer
    `base` from `index` on (pad hashes past the file's end), then one uncle per proof layer
    above the run's subtree (BEP 52 "hashes").

    A layer below the piece layer (base 0: block hashes) needs the block hashes of the
    pieces it covers (`request_pieces`), in `leaves` (file piece -> its blocks' hashes,
    what `block_hashes` gives of the piece's file bytes); each such piece must hash to its
    piece-layer entry, so what we serve is what the torrent says.

    None for what cannot be answered: a run outside the layer, more proof layers than the
    tree has (libtorrent's bound: below the root), a layer below the piece layer without
    the leaves of its pieces (or with leaves that do not match the piece layer).
    """
    height = _tree_height(file_length)
    piece_base = log2(piece_length // BLOCK_SIZE)
    if base > piece_base or base >= height or proof_layers >= height - base:
        return None
    width = 1 << (height - base)
    if not is_power_of_two(length) or index % length or index + length > width:
        return None
    sha256 = hashlib.sha256
    # the tree above the piece layer, from the layer padded to a power of two
    levels = [list(layer) + [pad_hash(piece_base)] * ((width >> (piece_base - base)) - len(layer))]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([sha256(below[i] + below[i + 1]).digest() for i in range(0, len(below), 2)])
    # below it, the subtrees of the pieces the run touches, from their block hashes
    per_piece = 1 << piece_base
    low: dict[int, list[list[bytes]]] = {}  # file piece -> its levels 0 .. piece_base
    for k in request_pieces(file_length, piece_length, base, index, length):
        given = None if leaves is None else leaves.get(k)
        if given is None or len(given) > per_piece or k >= len(layer):
            return None
        tree = [list(given) + [pad_hash(0)] * (per_piece - len(given))]
        while len(tree[-1]) > 1:
            below = tree[-1]
            tree.append([sha256(below[i] + below[i + 1]).digest() for i in range(0, len(below), 2)])
        if tree[-1][0] != layer[k]:
            return None  # the data no longer matches the torrent
        low[k] = tree

    def node(level: int, pos: int) -> bytes:
        if level >= piece_base:
            return levels[level - piece_base][pos]
        piece = (pos << level) >> piece_base
        tree = low.get(piece)
        if tree is None:  # a subtree wholly past the file's end
            return pad_hash(level)
        return tree[level][pos - (piece << (piece_base - level))]

    out = [node(base, i) for i in range(index, index + length)]
    level = base + log2(length)
    pos = index // length
    for _ in range(max(0, proof_layers - log2(length) + 1)):
        out.append(node(level, pos ^ 1))
        pos //= 2
        level += 1
    return b"".join(out)
