"""Piece-length rules: what we accept when parsing, and what we choose when creating.

BEP 3 only says a piece length is positive and "almost always a power of two"; BEP 52 makes
v2 piece lengths a power of two of at least 16 KiB. Parsing follows libtorrent: a v1 piece
length that is not a power of two is accepted and recorded as an issue; anything above
`MAX_PIECE_LENGTH` is refused because every piece is buffered whole in memory.
"""

from __future__ import annotations

from ..errors import MetainfoError
from ..merkle import BLOCK_SIZE, is_power_of_two

__all__ = [
    "AUTO_MAX_PIECE_LENGTH",
    "AUTO_TARGET_PIECES",
    "MAX_PIECE_LENGTH",
    "MIN_V2_PIECE_LENGTH",
    "auto_piece_length",
    "check_piece_length",
]

MIN_V2_PIECE_LENGTH = BLOCK_SIZE  # BEP 52: "a power of two and at least 16KiB"
MAX_PIECE_LENGTH = 512 * 1024 * 1024  # refuse above this: pieces are held in memory whole
AUTO_MAX_PIECE_LENGTH = 16 * 1024 * 1024
AUTO_TARGET_PIECES = 2000


def auto_piece_length(total_size: int) -> int:
    """The piece length to create a torrent of `total_size` bytes with.

    The smallest power of two from 16 KiB to 16 MiB that keeps the torrent at no more than
    2000 pieces, so most torrents get 1000–2000 pieces (like mktorrent and libtorrent aim
    for: small metadata, yet pieces small enough to share early). Above 32 GiB the 16 MiB
    cap wins and the count grows.
    """
    if total_size < 0:
        raise ValueError(f"a total size cannot be negative ({total_size})")
    length = MIN_V2_PIECE_LENGTH
    while length < AUTO_MAX_PIECE_LENGTH and -(-total_size // length) > AUTO_TARGET_PIECES:
        length *= 2
    return length


def check_piece_length(piece_length: int, *, v2: bool, issues: list[str]) -> None:
    """Refuse a piece length a torrent cannot use; record a tolerated oddity in `issues`.

    Raises:
        MetainfoError: not positive, too large, or (for v2) not a power of two >= 16 KiB.
    """
    if piece_length <= 0:
        raise MetainfoError(f"piece length must be positive, not {piece_length}")
    if piece_length > MAX_PIECE_LENGTH:
        raise MetainfoError(
            f"piece length {piece_length} is larger than the {MAX_PIECE_LENGTH // 2**20} MiB "
            "bitswarm accepts"
        )
    if v2:
        if not is_power_of_two(piece_length) or piece_length < MIN_V2_PIECE_LENGTH:
            raise MetainfoError(
                f"piece length {piece_length} is not a power of two of at least 16 KiB, "
                "as a v2 torrent needs (BEP 52)"
            )
    elif not is_power_of_two(piece_length):
        issues.append(f"piece length {piece_length} is not a power of two")
