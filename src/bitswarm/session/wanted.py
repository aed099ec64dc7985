"""WantedFiles: which files of a torrent are downloaded, and how much of them is verified.

A torrent's file priorities are one int per entry of its file list (`Layout.files`, the
metainfo's `info.files`, pad files included so that indexes match): 0 means "do not
download", 1..7 higher first, 4 the default (libtorrent's scale, as the picker's). Pad
files (BEP 47) are never downloaded for their own sake: their priority is ignored and
they count as not wanted, so a piece of padding and file data takes the file's priority.

The verified bytes of the wanted files are counted as pieces pass, span by span, so a
status read costs nothing; they are counted afresh only when the priorities change.
While every file is wanted (the usual case) nothing is counted: the torrent's own
progress says it all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import BitswarmError

if TYPE_CHECKING:
    from ..bitfield import Bitfield
    from ..storage.layout import Layout

__all__ = ["DEFAULT_PRIORITY", "MAX_PRIORITY", "WantedFiles"]

DEFAULT_PRIORITY = 4
MAX_PRIORITY = 7


class WantedFiles:
    """The file priorities of one torrent and the verified bytes of its wanted files."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.priorities: tuple[int, ...] = (DEFAULT_PRIORITY,) * len(layout.files)
        self.all_wanted = True
        self.wanted_bytes = sum(f.length for f in layout.files if not f.is_pad)
        self.done_bytes = 0  # verified bytes of wanted files (counted unless all_wanted)

    def set(self, priorities: Sequence[int], have: Bitfield) -> None:
        """Take new priorities (one per file) and count the wanted bytes `have` holds.

        Raises:
            BitswarmError: not one priority per file, or a priority outside 0..7.
        """
        files = self.layout.files
        if len(priorities) != len(files):
            raise BitswarmError(
                f"{len(priorities)} file priorities for a torrent of {len(files)} files"
            )
        for p in priorities:
            if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= MAX_PRIORITY:
                raise BitswarmError(f"file priority {p!r} is not an integer in 0..{MAX_PRIORITY}")
        self.priorities = tuple(priorities)
        self.all_wanted = all(p > 0 for p, f in zip(priorities, files, strict=True) if not f.is_pad)
        self.wanted_bytes = sum(
            f.length for p, f in zip(priorities, files, strict=True) if p and not f.is_pad
        )
        self.done_bytes = 0
        if not self.all_wanted:
            for piece in have:
                self.done_bytes += self.piece_bytes(piece)

    def picker_input(self) -> tuple[list[tuple[int, int]], list[int]]:
        """(file ranges, priorities) for `TorrentCore.set_file_priorities`: pad files at 0,
        so a piece they share with a file takes that file's priority."""
        layout = self.layout
        ranges = [(layout.file_offset(i), f.length) for i, f in enumerate(layout.files)]
        prios = [0 if f.is_pad else p for p, f in zip(self.priorities, layout.files, strict=True)]
        return ranges, prios

    def piece_bytes(self, piece: int) -> int:
        """Bytes of wanted files in `piece`."""
        files, prios = self.layout.files, self.priorities
        return sum(
            s.length
            for s in self.layout.spans(piece, 0, self.layout.piece_size(piece))
            if prios[s.file_index] and not files[s.file_index].is_pad
        )

    def piece_verified(self, piece: int) -> None:
        """A piece passed its hash check: count its wanted bytes."""
        if not self.all_wanted:
            self.done_bytes += self.piece_bytes(piece)

    def wanted(self) -> tuple[int, int] | None:
        """(wanted bytes, verified wanted bytes) for `TorrentStatus.of`; None while every
        file is wanted (the status then counts the whole torrent)."""
        return None if self.all_wanted else (self.wanted_bytes, self.done_bytes)
