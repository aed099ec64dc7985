"""Block-request bookkeeping for one peer connection: ours, theirs, and the torrent geometry.

Split from `PeerConnection` the way aioquic splits a stream's sender from its receiver:
`ours` are requests we sent and still expect a piece (or, with BEP 6, a reject) for;
`theirs` are the peer's requests we have not served. `recent` remembers, for a while, the
requests we cancelled or lost to a choke, because their pieces may still be on the way
(BEP 3: "It's possible for an unexpected piece to arrive if choke and unchoke messages are
sent in quick succession") and must not be mistaken for unrequested data.

All maps are keyed by (index, begin) with the block length as value, so a piece of the
wrong length is told apart from a piece nobody asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Set

from .events import BlockKey
from .messages import MAX_BLOCK_LENGTH

__all__ = ["RECENT_LIMIT", "BlockSet", "RequestBook"]

RECENT_LIMIT = 4096
"""How many cancelled or choked-away requests we remember (oldest forgotten first)."""


class BlockSet(Set[BlockKey]):
    """A live, read-only set view of (index, begin, length) triples over a request map."""

    __slots__ = ("_blocks",)

    def __init__(self, blocks: dict[tuple[int, int], int]) -> None:
        self._blocks = blocks

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 3:
            return False
        index, begin, length = item
        return bool(self._blocks.get((index, begin)) == length)

    def __iter__(self) -> Iterator[BlockKey]:
        for (index, begin), length in self._blocks.items():
            yield index, begin, length

    def __len__(self) -> int:
        return len(self._blocks)

    def __repr__(self) -> str:
        return f"BlockSet({sorted(self)})"


class RequestBook:
    """Outstanding requests in both directions, checked against the piece layout."""

    __slots__ = (
        "last_piece_length",
        "max_theirs",
        "num_pieces",
        "ours",
        "piece_length",
        "recent",
        "theirs",
    )

    def __init__(self, max_theirs: int) -> None:
        self.max_theirs = max_theirs
        self.num_pieces = 0
        self.piece_length = 1
        self.last_piece_length = 0
        self.ours: dict[tuple[int, int], int] = {}
        self.theirs: dict[tuple[int, int], int] = {}
        self.recent: dict[tuple[int, int], int] = {}

    def set_geometry(self, num_pieces: int, piece_length: int, total_length: int) -> None:
        self.num_pieces = num_pieces
        self.piece_length = piece_length
        self.last_piece_length = total_length - (num_pieces - 1) * piece_length

    def piece_size(self, index: int) -> int:
        return self.last_piece_length if index == self.num_pieces - 1 else self.piece_length

    def index_problem(self, index: int) -> str | None:
        if not 0 <= index < self.num_pieces:
            return f"piece index {index} out of range (torrent has {self.num_pieces} pieces)"
        return None

    def block_problem(self, index: int, begin: int, length: int) -> str | None:
        """Why (index, begin, length) is not a block of this torrent, or None if it is."""
        if not 0 <= index < self.num_pieces:
            return f"request for piece {index} of a {self.num_pieces}-piece torrent"
        if not 0 < length <= MAX_BLOCK_LENGTH:
            return f"request of {length} bytes (blocks are 1 to {MAX_BLOCK_LENGTH} bytes)"
        size = self.piece_size(index)
        if begin < 0 or begin + length > size:
            return f"request {index}:{begin}+{length} beyond the end of a {size}-byte piece"
        return None

    # ---- ours ---------------------------------------------------------------------------

    def remember(self, key: tuple[int, int], length: int) -> None:
        """Note a request whose piece may still arrive although we gave it up."""
        recent = self.recent
        recent[key] = length
        if len(recent) > RECENT_LIMIT:
            del recent[next(iter(recent))]

    def cancel(self, index: int, begin: int, length: int) -> bool:
        """Give up one of our requests; False if it was not outstanding."""
        key = (index, begin)
        if self.ours.get(key) != length:
            return False
        del self.ours[key]
        self.remember(key, length)
        return True

    def drop_all_ours(self) -> tuple[BlockKey, ...]:
        """A choke without the fast extension voids every request we made (BEP 3)."""
        dropped = tuple((index, begin, length) for (index, begin), length in self.ours.items())
        for key, length in self.ours.items():
            self.remember(key, length)
        self.ours.clear()
        return dropped

    def take_reject(self, index: int, begin: int, length: int) -> bool | None:
        """Match a BEP 6 reject: True for an outstanding request (report it), False for one
        we already gave up (ignore it), None for one we never made (a violation)."""
        key = (index, begin)
        if self.ours.get(key) == length:
            del self.ours[key]
            return True
        if self.recent.get(key) == length:
            del self.recent[key]
            return False
        return None

    # ---- theirs -------------------------------------------------------------------------

    def cancel_theirs(self, index: int, begin: int, length: int) -> bool:
        """Remove a pending request of the peer; False if it was not pending."""
        key = (index, begin)
        if self.theirs.get(key) != length:
            return False
        del self.theirs[key]
        return True
