"""A multi-file payload and its v1 and hybrid torrents, for the engine interop matrix.

The payload is three files, one in a subfolder, none a multiple of the piece length, so a
hybrid torrent (BEP 52 with a v1 part) needs BEP 47 padding files between them. The v1
torrent is made by libtorrent (`torrent_files.make_torrent`); the hybrid one by bitswarm
(`bitswarm.create.create_torrent`) or by libtorrent, so each side is tested with the other's.

Also what a test needs to judge the result: the info-hashes a tracker must accept (a hybrid
torrent is announced under its v1 hash and, by libtorrent, under its truncated v2 hash too),
and the real files (BEP 47 pad files excluded) to compare byte for byte.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from bitswarm.bencode import decode_spans
from bitswarm_lab.peers.torrent_files import (
    TorrentFile,
    files_identical,
    load_torrent,
    make_torrent,
    write_payload,
)

__all__ = [
    "PAYLOAD_FILES",
    "PIECE_LENGTH",
    "FileEntry",
    "Maker",
    "TorrentUnderTest",
    "differing_files",
    "make_hybrid",
    "make_v1",
    "write_multi_file_payload",
]

PIECE_LENGTH = 256 << 10
# 7.7 MiB in all: 31 pieces as v1 and 32 as hybrid (each file starts a piece), so every
# bitfield is 4 bytes, no longer than one HAVE message: aria2 then announces each new piece
# with a BITFIELD (see test_engine_interop.py).
PAYLOAD_FILES: dict[str, int] = {
    "big.bin": (5 << 20) - 1000,
    "small.txt": 700 << 10,
    "sub/mid.bin": (2 << 20) + 333,
}
_NAME = "content"

Maker = Literal["bitswarm", "libtorrent"]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One entry of the v1 `files` list: its path inside the data folder (name first)."""

    path: PurePosixPath
    length: int
    pad: bool  # BEP 47 attr "p": zeros that no client needs to store


@dataclass(frozen=True, slots=True)
class TorrentUnderTest:
    """A torrent, how it was made, and the facts a test needs about it."""

    torrent: TorrentFile
    version: Literal["v1", "hybrid"]
    maker: Maker
    tracker_hashes: tuple[str, ...]  # v1, then the truncated v2 hash of a hybrid
    files: tuple[FileEntry, ...]

    @property
    def real_files(self) -> tuple[PurePosixPath, ...]:
        return tuple(entry.path for entry in self.files if not entry.pad)

    @property
    def pad_files(self) -> tuple[FileEntry, ...]:
        return tuple(entry for entry in self.files if entry.pad)


def write_multi_file_payload(parent: Path) -> Path:
    """Write the payload to `parent/content` (deterministic bytes) and return that folder."""
    content = parent / _NAME
    for seed, (rel, size) in enumerate(sorted(PAYLOAD_FILES.items())):
        write_payload(content / rel, size, seed=100 + seed)
    return content


def make_v1(content: Path, out: Path) -> TorrentUnderTest:
    """A v1 torrent of `content` made by libtorrent."""
    return _describe(make_torrent(content, out, PIECE_LENGTH), "v1", "libtorrent")


def make_hybrid(content: Path, out: Path, maker: Maker) -> TorrentUnderTest:
    """A hybrid (v1 + v2) torrent of `content` made by bitswarm or by libtorrent."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if maker == "bitswarm":
        from bitswarm.create import create_torrent

        out.write_bytes(create_torrent(content, piece_length=PIECE_LENGTH, version="hybrid"))
    else:
        import libtorrent as lt

        creator = lt.create_torrent(lt.list_files(str(content)), PIECE_LENGTH, 0)  # 0: hybrid
        creator.set_creator("bitswarm interop harness")
        lt.set_piece_hashes(creator, str(content.parent))
        out.write_bytes(lt.bencode(creator.generate()))
    return _describe(load_torrent(out), "hybrid", maker)


def _describe(
    torrent: TorrentFile, version: Literal["v1", "hybrid"], maker: Maker
) -> TorrentUnderTest:
    data = torrent.path.read_bytes()
    parsed = decode_spans(data)
    start, end = parsed.spans[b"info"]
    top = parsed.value
    assert isinstance(top, dict)
    info = top[b"info"]
    assert isinstance(info, dict)
    hashes = [torrent.info_hash]
    if b"file tree" in info:  # BEP 52: the v2 hash is SHA-256 of the same bencoded info
        hashes.append(hashlib.sha256(data[start:end]).hexdigest()[:40])
    entries = info.get(b"files")
    assert isinstance(entries, list), "the payload is a folder: a multi-file torrent"
    files = []
    for entry in entries:
        assert isinstance(entry, dict)
        parts, length, attr = entry[b"path"], entry[b"length"], entry.get(b"attr", b"")
        assert isinstance(parts, list) and isinstance(length, int) and isinstance(attr, bytes)
        names = [part.decode() for part in parts if isinstance(part, bytes)]
        assert len(names) == len(parts), f"a path of non-strings: {parts!r}"
        files.append(FileEntry(PurePosixPath(torrent.name, *names), length, b"p" in attr))
    return TorrentUnderTest(torrent, version, maker, tuple(hashes), tuple(files))


def differing_files(subject: TorrentUnderTest, expected: Path, actual: Path) -> list[str]:
    """The torrent's real files whose copy under `actual` is not byte-identical."""
    return [
        str(rel) for rel in subject.real_files if not files_identical(expected / rel, actual / rel)
    ]
