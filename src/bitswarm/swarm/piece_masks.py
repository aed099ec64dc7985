"""Piece sets as big-int bit vectors, and bit-sliced availability counts, for the picker.

Why: the picker must find "the rarest wanted pieces this peer has" among 100,000 pieces many
times a second. In Python a loop over pieces costs ~50 ns each; an AND of two 100,000-bit
ints costs a few microseconds. So every piece set is an int over a *rank* order of the
pieces, and availability is stored bit-sliced (`slices[j]` holds bit j of every count):

* rank order: a random permutation fixed at construction (the groups of 8 pieces that share
  a bitfield byte are shuffled, and the bit order inside a byte is shuffled once), so the
  lowest set bit of a set is a stable random tie-break, and a peer's wire bitfield converts
  to a mask with two C-speed byte operations (`map` + `bytes.translate`). In sequential mode
  the rank is the piece index.
* `rarest(x)`: walk the slices from the top bit down, keeping the members of x whose bit is
  0 whenever some are: O(log peers) ANDs, no sort.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..bitfield import Bitfield

if TYPE_CHECKING:
    from random import Random

__all__ = ["PieceMasks"]

_HAVE = 3  # PieceState.HAVE (picker.py), kept numeric to avoid an import cycle
_FREE = 0


class PieceMasks:
    """The rank order of pieces plus the picker's piece sets and availability counts."""

    __slots__ = (
        "_src",
        "_table",
        "all",
        "free",
        "num_pieces",
        "piece_at",
        "pos",
        "prio",
        "seeds",
        "sequential",
        "slices",
        "wanted",
        "wanted_by_index",
    )

    def __init__(self, num_pieces: int, rng: Random, *, sequential: bool) -> None:
        self.num_pieces = num_pieces
        self.sequential = sequential
        nbytes = (num_pieces + 7) // 8
        src = list(range(nbytes))  # rank byte j holds wire byte src[j]
        bit_dest = [7 - b for b in range(8)]  # wire bit b (0 = LSB) goes to rank bit bit_dest[b]
        if not sequential:
            rng.shuffle(src)
            rng.shuffle(bit_dest)
        self._src: list[int] | None = None if sequential else src
        self._table = bytes(
            sum(1 << bit_dest[b] for b in range(8) if v >> b & 1) for v in range(256)
        )
        dest = [0] * nbytes
        for j, k in enumerate(src):
            dest[k] = j
        # wire piece i is bit 7 - (i & 7) (0 = LSB) of byte i >> 3 (BEP 3 bitfield layout)
        self.pos = [(dest[i >> 3] << 3) + bit_dest[7 - (i & 7)] for i in range(num_pieces)]
        self.piece_at = [-1] * (nbytes * 8)
        for i, p in enumerate(self.pos):
            self.piece_at[p] = i
        self.all = self.from_bitfield(Bitfield(num_pieces, full=True))
        self.prio: list[int] = [0] * 8  # pieces of each priority (all states)
        self.wanted = 0  # priority > 0 and not HAVE
        self.wanted_by_index = 0  # the same set in wire order, for `is_interesting`
        self.free = 0  # wanted and FREE: may start now
        self.slices: list[int] = []
        self.seeds = 0

    # ----------------------------------------------------------------- conversions
    def from_bitfield(self, bitfield: Bitfield) -> int:
        data = bitfield.to_bytes()
        if self._src is not None:
            data = bytes(map(data.__getitem__, self._src))
        return int.from_bytes(data.translate(self._table), "little")

    def from_pieces(self, pieces: Iterable[int]) -> int:
        buf = bytearray((self.num_pieces + 7) // 8)
        pos = self.pos
        for i in pieces:
            p = pos[i]
            buf[p >> 3] |= 1 << (p & 7)
        return int.from_bytes(buf, "little")

    def load_pieces(self, prio: bytearray, state: bytearray) -> None:
        """Rebuild the priority, wanted and free sets from per-piece arrays."""
        n = (self.num_pieces + 7) // 8
        levels = [bytearray(n) for _ in range(8)]
        wanted, free, by_index = bytearray(n), bytearray(n), bytearray(n)
        for i, p in enumerate(self.pos):
            byte, bit = p >> 3, 1 << (p & 7)
            pr = prio[i]
            levels[pr][byte] |= bit
            st = state[i]
            if pr and st != _HAVE:
                wanted[byte] |= bit
                by_index[i >> 3] |= 0x80 >> (i & 7)
                if st == _FREE:
                    free[byte] |= bit
        self.prio = [int.from_bytes(b, "little") for b in levels]
        self.wanted = int.from_bytes(wanted, "little")
        self.free = int.from_bytes(free, "little")
        self.wanted_by_index = int.from_bytes(by_index, "big")

    # ----------------------------------------------------------------- single pieces
    def with_(self, mask: int, piece: int) -> int:
        return mask | (1 << self.pos[piece])

    def without(self, mask: int, piece: int) -> int:
        bit = 1 << self.pos[piece]
        return mask ^ bit if mask & bit else mask

    def contains(self, mask: int, piece: int) -> bool:
        return bool(mask >> self.pos[piece] & 1)

    def _index_bit(self, piece: int) -> int:
        return 1 << (((self.num_pieces + 7) // 8) * 8 - 1 - piece)

    def add_wanted(self, piece: int) -> None:
        self.wanted = self.with_(self.wanted, piece)
        self.wanted_by_index |= self._index_bit(piece)

    def remove_wanted(self, piece: int) -> None:
        self.wanted = self.without(self.wanted, piece)
        self.wanted_by_index &= ~self._index_bit(piece)

    def add_free(self, piece: int) -> None:
        self.free = self.with_(self.free, piece)

    def remove_free(self, piece: int) -> None:
        self.free = self.without(self.free, piece)

    # ----------------------------------------------------------------- availability
    def increment(self, piece: int) -> None:
        """One more non-seed peer has `piece` (ripple-carry on one bit)."""
        bit = 1 << self.pos[piece]
        s = self.slices
        for j, sj in enumerate(s):
            if sj & bit:
                s[j] = sj ^ bit  # 1 + 1: carry on
            else:
                s[j] = sj | bit
                return
        s.append(bit)

    def add_counts(self, mask: int) -> None:
        """Add one to the count of every piece in `mask` (a peer joined)."""
        s = self.slices
        carry = mask
        for j, sj in enumerate(s):
            if not carry:
                return
            s[j] = sj ^ carry
            carry &= sj
        if carry:
            s.append(carry)

    def subtract_counts(self, mask: int) -> None:
        """Subtract one from every piece in `mask` (a peer left); counts must be >= 1."""
        s = self.slices
        borrow = mask
        for j, sj in enumerate(s):
            if not borrow:
                break
            s[j] = sj ^ borrow
            borrow &= ~sj
        while s and not s[-1]:
            s.pop()

    def count(self, piece: int) -> int:
        p = self.pos[piece]
        return self.seeds + sum((sj >> p & 1) << j for j, sj in enumerate(self.slices))

    def counts(self) -> list[int]:
        """`count` of every piece, in index order: each slice is read as bytes once."""
        n = self.num_pieces
        out = [self.seeds] * n
        nbytes = (n + 7) // 8
        pos = self.pos
        for j, sj in enumerate(self.slices):
            if not sj:
                continue
            raw = sj.to_bytes(nbytes, "little")
            weight = 1 << j
            for i in range(n):
                p = pos[i]
                if raw[p >> 3] >> (p & 7) & 1:
                    out[i] += weight
        return out

    def available(self) -> int:
        """Pieces at least one connected peer has."""
        if self.seeds:
            return self.all
        out = 0
        for sj in self.slices:
            out |= sj
        return out

    def rarest(self, mask: int) -> int:
        """The members of `mask` with the lowest count (seeds add equally to all)."""
        for sj in reversed(self.slices):
            zero = mask ^ (mask & sj)
            if zero:
                mask = zero
        return mask
