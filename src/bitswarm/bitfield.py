"""A fixed-size set of piece indices, laid out as BEP 3's ``bitfield`` message.

BEP 3: "The high bit in the first byte corresponds to piece index 0 ... Spare bits at the
end are set to zero." A received bitfield with spare bits set is a protocol violation,
so `Bitfield.from_bytes` refuses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .errors import RemoteProtocolError

__all__ = ["Bitfield"]

# popcount of every byte value, for fast counting on 3.11 (int.bit_count per byte is slower)
_POPCOUNT = bytes(bin(i).count("1") for i in range(256))


class Bitfield:
    """Which of `size` pieces are present. Mutable; cheap to copy and to serialise."""

    __slots__ = ("_bits", "_count", "size")

    def __init__(self, size: int, *, full: bool = False) -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        self.size = size
        nbytes = (size + 7) // 8
        if full and size:
            self._bits = bytearray(b"\xff" * nbytes)
            spare = nbytes * 8 - size
            if spare:
                self._bits[-1] = (0xFF << spare) & 0xFF
            self._count = size
        else:
            self._bits = bytearray(nbytes)
            self._count = 0

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, size: int) -> Bitfield:
        """Parse a wire bitfield for `size` pieces.

        Raises:
            RemoteProtocolError: wrong length, or spare bits set (BEP 3).
        """
        nbytes = (size + 7) // 8
        if len(data) != nbytes:
            raise RemoteProtocolError(
                f"bitfield of {len(data)} bytes for {size} pieces (expected {nbytes})"
            )
        bf = cls(size)
        bf._bits[:] = data
        spare = nbytes * 8 - size
        if spare and bf._bits[-1] & ((1 << spare) - 1):
            raise RemoteProtocolError("bitfield has spare bits set")
        bf._count = sum(_POPCOUNT[b] for b in bf._bits)
        return bf

    @classmethod
    def from_indices(cls, size: int, indices: Iterable[int]) -> Bitfield:
        bf = cls(size)
        for i in indices:
            bf.add(i)
        return bf

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    def copy(self) -> Bitfield:
        bf = Bitfield(0)
        bf.size = self.size
        bf._bits = bytearray(self._bits)
        bf._count = self._count
        return bf

    def __contains__(self, index: int) -> bool:
        if not 0 <= index < self.size:
            return False
        return bool(self._bits[index >> 3] & (0x80 >> (index & 7)))

    def __getitem__(self, index: int) -> bool:
        if not 0 <= index < self.size:
            raise IndexError(index)
        return bool(self._bits[index >> 3] & (0x80 >> (index & 7)))

    def add(self, index: int) -> bool:
        """Set bit `index`; return True if it was not set before."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        mask = 0x80 >> (index & 7)
        byte = self._bits[index >> 3]
        if byte & mask:
            return False
        self._bits[index >> 3] = byte | mask
        self._count += 1
        return True

    def discard(self, index: int) -> bool:
        """Clear bit `index`; return True if it was set before."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        mask = 0x80 >> (index & 7)
        byte = self._bits[index >> 3]
        if not byte & mask:
            return False
        self._bits[index >> 3] = byte & ~mask
        self._count -= 1
        return True

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def all(self) -> bool:
        return self._count == self.size

    def none(self) -> bool:
        return self._count == 0

    def __iter__(self) -> Iterator[int]:
        """The set indices, in increasing order."""
        bits = self._bits
        for byte_index, byte in enumerate(bits):
            if byte:
                base = byte_index << 3
                for bit in range(8):
                    if byte & (0x80 >> bit):
                        yield base + bit

    def missing(self) -> Iterator[int]:
        """The clear indices, in increasing order."""
        for i in range(self.size):
            if not self._bits[i >> 3] & (0x80 >> (i & 7)):
                yield i

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bitfield) and self.size == other.size and self._bits == other._bits

    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable

    def __repr__(self) -> str:
        return f"Bitfield({self._count}/{self.size})"
