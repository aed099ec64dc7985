"""Piece/file geometry: where the bytes of a piece live among a torrent's files.

BEP 3 ("info dictionary"): a multi-file torrent is treated as "the concatenation of the files
in the order they appear in the files list", cut into pieces of ``piece length`` bytes, the
last one possibly shorter. This module maps byte ranges of that piece space onto files.

Rules:

* pad files (BEP 47) are real entries of the piece space, reported with ``is_pad``; storage
  never puts them on disk, reads them as zeros and checks that writes to them are zeros;
* zero-length files occupy no bytes, so no span ever names them (they still exist on disk);
* a span always lies inside its file, and the spans of a request cover it exactly, in order.

Pure (layer L1): no I/O. `FileSpec` is storage's own input type, so the session adapts the
metainfo file list to it and storage does not depend on the metainfo parser.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import LocalProtocolError

__all__ = ["FileSpan", "FileSpec", "Layout"]


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One file of the piece space: a relative path (component tuple) and a length."""

    path: tuple[str, ...]
    length: int
    is_pad: bool = False


@dataclass(frozen=True, slots=True)
class FileSpan:
    """`length` bytes at `file_offset` inside file number `file_index`."""

    file_index: int
    file_offset: int
    length: int


class Layout:
    """The v1 piece space over an ordered file list.

    Raises:
        LocalProtocolError: a non-positive piece length or a negative file length.
    """

    __slots__ = ("_offsets", "files", "num_pieces", "piece_length", "total_length")

    def __init__(self, files: Sequence[FileSpec], piece_length: int) -> None:
        if piece_length <= 0:
            raise LocalProtocolError(f"piece length must be positive, not {piece_length}")
        offsets: list[int] = []
        total = 0
        for spec in files:
            if spec.length < 0:
                raise LocalProtocolError(f"file {spec.path!r} has negative length {spec.length}")
            offsets.append(total)
            total += spec.length
        self.files: tuple[FileSpec, ...] = tuple(files)
        self.piece_length = piece_length
        self.total_length = total
        self.num_pieces = -(-total // piece_length)
        self._offsets = offsets

    def __repr__(self) -> str:
        return (
            f"Layout({len(self.files)} files, {self.total_length} bytes, "
            f"{self.num_pieces} x {self.piece_length})"
        )

    # ---------------------------------------------------------------- pieces

    def piece_size(self, piece: int) -> int:
        """The length of piece `piece`: `piece_length`, except for a shorter last piece."""
        self._check_piece(piece)
        if piece == self.num_pieces - 1:
            return self.total_length - piece * self.piece_length
        return self.piece_length

    def piece_offset(self, piece: int) -> int:
        """Where piece `piece` starts in the concatenated byte space."""
        self._check_piece(piece)
        return piece * self.piece_length

    def _check_piece(self, piece: int) -> None:
        if not 0 <= piece < self.num_pieces:
            raise LocalProtocolError(f"piece {piece} out of range 0..{self.num_pieces - 1}")

    # ---------------------------------------------------------------- files

    def file_offset(self, file_index: int) -> int:
        """Where file `file_index` starts in the concatenated byte space."""
        return self._offsets[file_index]

    def file_piece_range(self, file_index: int) -> range:
        """The pieces that hold at least one byte of the file (empty for a zero-length file)."""
        spec = self.files[file_index]
        if spec.length == 0:
            return range(0)
        start = self._offsets[file_index]
        return self.pieces_for_byte_range(start, spec.length)

    def pieces_for_byte_range(self, offset: int, length: int) -> range:
        """The pieces that overlap ``[offset, offset + length)`` of the byte space."""
        if offset < 0 or length < 0 or offset + length > self.total_length:
            raise LocalProtocolError(f"byte range {offset}+{length} outside 0..{self.total_length}")
        if length == 0:
            return range(0)
        first = offset // self.piece_length
        last = (offset + length - 1) // self.piece_length
        return range(first, last + 1)

    # ---------------------------------------------------------------- spans

    def spans(self, piece: int, begin: int, length: int) -> list[FileSpan]:
        """Map ``length`` bytes at ``begin`` inside piece `piece` onto file spans.

        Raises:
            LocalProtocolError: the range does not lie inside the piece.
        """
        size = self.piece_size(piece)
        if begin < 0 or length < 0 or begin + length > size:
            raise LocalProtocolError(
                f"range {begin}+{length} outside piece {piece} of {size} bytes"
            )
        return self.byte_spans(piece * self.piece_length + begin, length)

    def byte_spans(self, offset: int, length: int) -> list[FileSpan]:
        """Map ``length`` bytes at `offset` of the concatenated byte space onto file spans."""
        if offset < 0 or length < 0 or offset + length > self.total_length:
            raise LocalProtocolError(f"byte range {offset}+{length} outside 0..{self.total_length}")
        result: list[FileSpan] = []
        if length == 0:
            return result
        offsets = self._offsets
        files = self.files
        # the last file starting at or before `offset`; zero-length files sharing that start
        # come earlier in the list, so this is the file that really holds byte `offset`
        index = bisect_right(offsets, offset) - 1
        remaining = length
        while remaining:
            spec = files[index]
            inner = offset - offsets[index]
            take = min(spec.length - inner, remaining)
            if take > 0:
                result.append(FileSpan(index, inner, take))
                offset += take
                remaining -= take
            index += 1
        return result

    def v2_piece_file(self, piece: int) -> tuple[int, int]:
        """The one non-pad file in a piece of a piece-aligned (v2 or hybrid) torrent.

        Returns (file_index, bytes of that file in the piece); those bytes start the piece.
        BEP 52 ("piece length"): each non-empty file starts on a piece boundary, so a v2 piece
        holds data of exactly one file, followed in hybrid torrents by BEP 47 padding.

        Raises:
            LocalProtocolError: the piece mixes several files or starts with padding, so it
                cannot have a v2 hash (the torrent's files are not piece-aligned).
        """
        spans = self.spans(piece, 0, self.piece_size(piece))
        data = [s for s in spans if not self.files[s.file_index].is_pad]
        if (
            len(data) != 1
            or spans[0] is not data[0]
            or self._offsets[data[0].file_index] % self.piece_length
        ):
            raise LocalProtocolError(f"piece {piece} does not start one piece-aligned file")
        return data[0].file_index, data[0].length
