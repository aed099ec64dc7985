"""The parsed, validated torrent: `FileEntry`, `InfoHashes`, `InfoDict` and `Metainfo`.

Frozen value objects that the rest of bitswarm reads; `parse.py` is the only place that
builds them from untrusted bytes, so every instance here has passed validation.

The *piece space* is the byte range the peer protocol's piece indices address. For v1 and
hybrid torrents it is the concatenation of the ``files`` list, padding files included (BEP 3,
BEP 47). A pure v2 torrent has no such list: each non-empty file starts on a piece boundary
(BEP 52, "piece length"), so we give each file the offset it would have if the gaps before the
boundaries were padding, and the piece space is the same as the hybrid torrent's would be.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import LocalProtocolError

__all__ = ["FileEntry", "InfoDict", "InfoHashes", "Metainfo"]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a torrent.

    Attributes:
        path: sanitised components relative to the download folder; for a multi-file torrent
            the first component is the torrent's name (its folder).
        length: size in bytes (0 for empty files and symlinks).
        offset: where the file starts in the piece space (see the module docstring).
        is_pad: a BEP 47 padding file (attr ``p``): zeros, never written to disk.
        attr: the BEP 47 attribute letters as given (``p`` pad, ``x`` executable, ``h``
            hidden, ``l`` symlink); "" when absent.
        pieces_root: the BEP 52 merkle root (32 bytes) of a non-empty file of a v2 or hybrid
            torrent; None for v1-only torrents, empty files and padding files.
        symlink_path: for a BEP 47 symlink (attr ``l``), its sanitised target relative to the
            torrent's root; otherwise None.
    """

    path: tuple[str, ...]
    length: int
    offset: int
    is_pad: bool = False
    attr: str = ""
    pieces_root: bytes | None = None
    symlink_path: tuple[str, ...] | None = None

    @property
    def end(self) -> int:
        """One past the file's last byte in the piece space."""
        return self.offset + self.length


@dataclass(frozen=True, slots=True)
class InfoHashes:
    """The identities of a torrent: SHA-1 (v1, BEP 3) and SHA-256 (v2, BEP 52) info-hashes.

    Attributes:
        v1: 20-byte SHA-1 of the info dictionary, or None for a pure v2 torrent.
        v2: 32-byte SHA-256 of the info dictionary, or None for a v1-only torrent.
    """

    v1: bytes | None
    v2: bytes | None

    def __post_init__(self) -> None:
        if self.v1 is None and self.v2 is None:
            raise LocalProtocolError("InfoHashes needs a v1 or a v2 hash")
        if self.v1 is not None and len(self.v1) != 20:
            raise LocalProtocolError(f"a v1 info-hash has 20 bytes, not {len(self.v1)}")
        if self.v2 is not None and len(self.v2) != 32:
            raise LocalProtocolError(f"a v2 info-hash has 32 bytes, not {len(self.v2)}")

    @property
    def hex_v1(self) -> str | None:
        """The v1 hash as 40 lowercase hex digits."""
        return None if self.v1 is None else self.v1.hex()

    @property
    def hex_v2(self) -> str | None:
        """The v2 hash as 64 lowercase hex digits."""
        return None if self.v2 is None else self.v2.hex()

    @property
    def wire(self) -> bytes:
        """The 20 bytes for the handshake, trackers and DHT: v1, else v2 truncated (BEP 52)."""
        if self.v1 is not None:
            return self.v1
        assert self.v2 is not None
        return self.v2[:20]

    def __str__(self) -> str:
        return " ".join(h for h in (self.hex_v1, self.hex_v2) if h is not None)


@dataclass(frozen=True, slots=True)
class InfoDict:
    """A validated ``info`` dictionary (what BEP 9 transfers as "metadata").

    Attributes:
        name: the torrent's display name (``name.utf-8`` preferred); also the file name of a
            single-file torrent and the folder of a multi-file one.
        piece_length: bytes per piece.
        files: every file in piece-space order, padding files included.
        total_length: the bytes of content, padding files excluded.
        pieces: the v1 ``pieces`` string (20-byte SHA-1 per piece); b"" for pure v2.
        num_pieces: how many pieces the piece space holds.
        piece_space_length: the bytes the piece indices address: content plus padding files
            and alignment gaps, up to the end of the last non-empty file.
        private: BEP 27 ``private=1``: use only the torrent's trackers (no DHT, PEX, LSD).
        meta_version: 1 for a BEP 3 torrent, 2 for a v2 or hybrid one (BEP 52).
        single_file: the torrent is one file named `name` rather than a folder.
        raw: the original bytes of the info dictionary, exactly as hashed.
        info_hashes: v1 and/or v2 info-hashes of `raw`.
        source: the optional ``source`` string some private trackers add; None if absent.
        issues: what the parser tolerated (unsorted keys, replaced bytes, odd piece length).
    """

    name: str
    piece_length: int
    files: tuple[FileEntry, ...]
    total_length: int
    pieces: bytes
    num_pieces: int
    piece_space_length: int
    private: bool
    meta_version: int
    single_file: bool
    raw: bytes = field(repr=False)
    info_hashes: InfoHashes
    source: str | None = None
    issues: tuple[str, ...] = ()

    @property
    def has_v1(self) -> bool:
        """The torrent has v1 metadata (v1-only or hybrid)."""
        return self.info_hashes.v1 is not None

    @property
    def has_v2(self) -> bool:
        """The torrent has v2 metadata (v2-only or hybrid)."""
        return self.info_hashes.v2 is not None

    @property
    def is_v1(self) -> bool:
        """A v1-only torrent (BEP 3)."""
        return self.has_v1 and not self.has_v2

    @property
    def is_v2(self) -> bool:
        """A pure v2 torrent (BEP 52) with no v1 ``pieces``."""
        return self.has_v2 and not self.has_v1

    @property
    def is_hybrid(self) -> bool:
        """A hybrid torrent: v1 and v2 metadata describing the same piece-aligned files."""
        return self.has_v1 and self.has_v2

    def _check_piece(self, index: int) -> None:
        if not 0 <= index < self.num_pieces:
            raise IndexError(f"piece {index} is not in 0..{self.num_pieces - 1}")

    def piece_hash(self, index: int) -> bytes:
        """The 20-byte v1 SHA-1 of piece `index`."""
        self._check_piece(index)
        if not self.pieces:
            raise LocalProtocolError("a pure v2 torrent has no v1 piece hashes")
        return self.pieces[20 * index : 20 * index + 20]

    def piece_size(self, index: int) -> int:
        """Bytes in piece `index` of the piece space (only the last piece is shorter).

        Padding and alignment gaps count; `piece_data_size` leaves them out, which is the
        size of a v2 piece on the wire and under the merkle hash (BEP 52).
        """
        self._check_piece(index)
        start = index * self.piece_length
        return min(self.piece_length, self.piece_space_length - start)

    def files_in_piece(self, index: int) -> range:
        """Indices of the files whose bytes piece `index` overlaps (pads included).

        Empty files lying strictly inside the piece are in the range too; skip them.
        """
        self._check_piece(index)
        start = index * self.piece_length
        end = start + self.piece_size(index)
        first = bisect.bisect_right(self.files, start, key=_file_end)
        last = first
        while last < len(self.files) and self.files[last].offset < end:
            last += 1
        return range(first, last)

    def piece_data_size(self, index: int) -> int:
        """Bytes of real file data in piece `index`: padding and alignment gaps excluded."""
        start = index * self.piece_length
        end = start + self.piece_size(index)
        total = 0
        for i in self.files_in_piece(index):
            f = self.files[i]
            if not f.is_pad:
                total += min(end, f.end) - max(start, f.offset)
        return total

    def piece_range_for_file(self, file_index: int) -> range:
        """The piece indices that hold bytes of file `file_index` (empty for an empty file)."""
        f = self.files[file_index]
        if f.length == 0:
            return range(0)
        pl = self.piece_length
        return range(f.offset // pl, (f.end + pl - 1) // pl)

    def v2_file_for_piece(self, index: int) -> int:
        """For a v2 or hybrid torrent, the index of the one non-pad file piece `index` holds.

        BEP 52 aligns files to pieces, so a v2 piece belongs to exactly one file.
        """
        if not self.has_v2:
            raise LocalProtocolError("a v1-only torrent has no per-file v2 pieces")
        for i in self.files_in_piece(index):
            if not self.files[i].is_pad and self.files[i].length:
                return i
        raise LocalProtocolError(f"piece {index} holds only padding")  # not reachable: validated


def _file_end(f: FileEntry) -> int:
    return f.end


@dataclass(frozen=True, slots=True)
class Metainfo:
    """A whole, validated .torrent file.

    Attributes:
        info: the info dictionary.
        announce_tiers: tracker URLs in BEP 12 tiers (``announce-list``, with ``announce``
            appended as a last tier when it is not already listed); empty for trackerless.
        web_seeds: BEP 19 ``url-list`` URLs.
        piece_layers: BEP 52 ``piece layers``: pieces root -> concatenated 32-byte hashes,
            for each v2 file larger than one piece; empty for v1-only torrents.
        comment: the free-text ``comment``, if any.
        created_by: the ``created by`` program name, if any.
        creation_date: ``creation date`` in seconds since the Unix epoch, if any.
        issues: what the parser tolerated, for the whole file (``info.issues`` included).
    """

    info: InfoDict
    announce_tiers: tuple[tuple[str, ...], ...] = ()
    web_seeds: tuple[str, ...] = ()
    piece_layers: Mapping[bytes, bytes] = field(default_factory=dict)
    comment: str | None = None
    created_by: str | None = None
    creation_date: int | None = None
    issues: tuple[str, ...] = ()

    @property
    def info_hashes(self) -> InfoHashes:
        """Shortcut for ``info.info_hashes``."""
        return self.info.info_hashes

    @property
    def trackers(self) -> tuple[str, ...]:
        """Every tracker URL, tiers flattened in order."""
        return tuple(url for tier in self.announce_tiers for url in tier)

    def piece_hash_v2(self, index: int) -> bytes:
        """The SHA-256 merkle hash that v2 piece `index` must match.

        That is the file's ``pieces root`` when the file fits in one piece, otherwise the
        piece's entry in the file's piece layer; check it with `merkle.hash_piece_v2`.
        """
        info = self.info
        fi = info.v2_file_for_piece(index)
        f = info.files[fi]
        assert f.pieces_root is not None
        if f.length <= info.piece_length:
            return f.pieces_root
        k = index - f.offset // info.piece_length
        return self.piece_layers[f.pieces_root][32 * k : 32 * k + 32]
