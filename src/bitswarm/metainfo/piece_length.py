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
    "LIBTORRENT_SIZE_TABLE",
    "MAX_PIECE_LENGTH",
    "MIN_V2_PIECE_LENGTH",
    "auto_piece_length",
    "check_piece_length",
]

MIN_V2_PIECE_LENGTH = BLOCK_SIZE  # BEP 52: "a power of two and at least 16KiB"
MAX_PIECE_LENGTH = 512 * 1024 * 1024  # refuse above this: pieces are held in memory whole
AUTO_MAX_PIECE_LENGTH = 16 * 1024 * 1024
# libtorrent's size table (create_torrent.cpp): up to LIBTORRENT_SIZE_TABLE[i] bytes take
# pieces of 16 KiB << i; above the last entry, 16 MiB.
LIBTORRENT_SIZE_TABLE = (
    2_684_355,  # -> 16 KiB
    10_737_418,  # -> 32 KiB
    42_949_673,  # -> 64 KiB
    171_798_692,  # -> 128 KiB
    687_194_767,  # -> 256 KiB
    2_748_779_069,  # -> 512 KiB
    10_995_116_278,  # -> 1 MiB
    43_980_465_111,  # -> 2 MiB
    175_921_860_444,  # -> 4 MiB
    703_687_441_777,  # -> 8 MiB
)


def auto_piece_length(total_size: int) -> int:
    """The piece length to create a torrent of `total_size` bytes with: libtorrent's rule.

    libtorrent (create_torrent.cpp, 1.2 to 2.1; what qBittorrent and Deluge create with)
    aims at a piece list of 2·sqrt(size) bytes, i.e. pieces of about 10·sqrt(size), rounded
    up to a power of two from 16 KiB to 16 MiB; the thresholds are its table
    `LIBTORRENT_SIZE_TABLE`, kept exact so that bitswarm and libtorrent agree to the byte.
    A 17 MiB folder gets 64 KiB pieces (272 of them), 1 GiB 512 KiB, 100 GiB 4 MiB.

    mktorrent differs: 1.1 (Debian's) always takes 256 KiB, which libtorrent's rule also
    picks from 164 to 655 MiB; mktorrent's unreleased automatic table aims at 800-1600
    pieces (32 KiB up to 50 MiB, doubling every doubling of size). We follow libtorrent
    because it grows the piece count with the size (more pieces to share early in big
    torrents) while keeping the metadata of a 100 GiB torrent near 500 KB.
    """
    if total_size < 0:
        raise ValueError(f"a total size cannot be negative ({total_size})")
    step = sum(1 for limit in LIBTORRENT_SIZE_TABLE if total_size > limit)
    return MIN_V2_PIECE_LENGTH << step


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
