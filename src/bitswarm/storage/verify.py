"""Piece verification: the v1 SHA-1 of a piece, the v2 SHA-256 merkle hash of a piece.

BEP 3 ("pieces"): each piece's SHA-1 is listed in ``info.pieces``. BEP 52 ("pieces root",
"piece layers"): a v2 piece is checked against the root of the merkle subtree over its 16 KiB
blocks, whose leaves beyond the end of the file are zero hashes, padded to the piece's full
leaf count; a file of at most one piece is checked against its ``pieces root``, whose tree is
padded only to the next power of two of its blocks. The tree helpers live in
`bitswarm.merkle`, shared with the metainfo parser and the torrent creator.

Pure functions over bytes (layer L1); hashlib releases the GIL on large buffers, so the disk
worker runs these on several threads at once.
"""

from __future__ import annotations

import hashlib

from ..errors import LocalProtocolError
from ..merkle import BLOCK_SIZE, block_hashes, file_root, is_power_of_two, piece_hash
from .layout import Layout

__all__ = ["SHA1_SIZE", "V2_HASH_SIZE", "piece_is_valid", "sha1_piece", "v2_piece_root"]

SHA1_SIZE = 20
V2_HASH_SIZE = 32

Buffer = bytes | bytearray | memoryview


def sha1_piece(data: Buffer) -> bytes:
    """The SHA-1 digest of a whole v1 piece (BEP 3)."""
    return hashlib.sha1(data).digest()


def v2_piece_root(data: Buffer, piece_length: int, *, whole_file: bool = False) -> bytes:
    """The v2 hash of one piece's file data (BEP 52).

    Args:
        data: the bytes of one file inside the piece (no padding); the last piece of a file
            may be short.
        piece_length: the torrent's piece length, a power of two of at least 16 KiB.
        whole_file: the file fits in this one piece, so the hash to match is the file's
            ``pieces root`` (tree padded to the next power of two of blocks), not an entry of
            its piece layer (tree padded to ``piece_length / 16 KiB`` leaves).

    Raises:
        LocalProtocolError: bad piece length, or data empty or longer than a piece.
    """
    if piece_length < BLOCK_SIZE or not is_power_of_two(piece_length):
        raise LocalProtocolError(f"v2 piece length {piece_length} is not a power of two >= 16 KiB")
    if not 0 < len(data) <= piece_length:
        raise LocalProtocolError(f"{len(data)} bytes is not one v2 piece of {piece_length}")
    leaves = block_hashes(data)
    return file_root(leaves) if whole_file else piece_hash(leaves, piece_length)


def piece_is_valid(
    layout: Layout,
    piece: int,
    data: Buffer,
    *,
    expected_sha1: bytes | None = None,
    expected_v2_root: bytes | None = None,
) -> bool:
    """Whether a whole piece matches every expected hash given (at least one is required).

    For v2 the hash covers only the piece's file bytes; any BEP 47 padding after them must be
    zeros, since the v2 hash does not protect it. Hybrid torrents give both hashes and both
    must match.

    Raises:
        LocalProtocolError: no hash given, hash of the wrong size, data not the piece's size,
            or a v2 hash for a piece that is not piece-aligned (see `Layout.v2_piece_file`).
    """
    if expected_sha1 is None and expected_v2_root is None:
        raise LocalProtocolError("piece_is_valid needs an expected SHA-1 or v2 root")
    if len(data) != layout.piece_size(piece):
        raise LocalProtocolError(
            f"{len(data)} bytes for piece {piece} of {layout.piece_size(piece)} bytes"
        )
    if expected_sha1 is not None:
        if len(expected_sha1) != SHA1_SIZE:
            raise LocalProtocolError(f"SHA-1 of {len(expected_sha1)} bytes")
        if sha1_piece(data) != expected_sha1:
            return False
    if expected_v2_root is not None:
        if len(expected_v2_root) != V2_HASH_SIZE:
            raise LocalProtocolError(f"v2 piece hash of {len(expected_v2_root)} bytes")
        file_index, used = layout.v2_piece_file(piece)
        view = memoryview(data).cast("B")
        if view[used:] != bytes(len(view) - used):  # BEP 47: padding is zeros
            return False
        whole = layout.files[file_index].length <= layout.piece_length
        if v2_piece_root(view[:used], layout.piece_length, whole_file=whole) != expected_v2_root:
            return False
    return True
