"""The daemon benchmark's load: N small distinct torrents and their data.

Each torrent is one file of 16-64 KiB of pseudo-random bytes (seeded, so a run is
repeatable), 16 KiB pieces, no tracker (nothing to announce: with DHT, LSD and PEX off a
loaded daemon has no reason to send a packet, so its idle CPU is its own bookkeeping).
The data is written once; every client gets its own copy of the folder, so no client can
disturb another's files.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from bitswarm.bencode import bencode

__all__ = ["Load", "TorrentFile", "make_load"]

PIECE = 16 * 1024


@dataclass(frozen=True, slots=True)
class TorrentFile:
    name: str  # the file's name, also the torrent's name
    info_hash: str  # 40 hex digits
    torrent: bytes  # the .torrent file
    size: int


@dataclass(frozen=True, slots=True)
class Load:
    """N torrents whose data lies in `data_dir` (one file per torrent, flat)."""

    torrents: list[TorrentFile]
    data_dir: Path

    @property
    def total_size(self) -> int:
        return sum(t.size for t in self.torrents)

    def copy_data(self, target: Path) -> Path:
        """A private copy of the data for one client; returns `target`."""
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(self.data_dir, target)
        return target


def make_load(root: Path, count: int, seed: int = 11) -> Load:
    """Write `count` files below `root/data` and make a torrent of each."""
    data = root / "data"
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    rng = random.Random(seed)
    torrents: list[TorrentFile] = []
    for i in range(count):
        size = rng.randrange(16 * 1024, 64 * 1024 + 1)
        payload = rng.randbytes(size)
        name = f"bench-{seed}-{i:05d}.bin"
        (data / name).write_bytes(payload)
        pieces = b"".join(
            hashlib.sha1(payload[o : o + PIECE]).digest() for o in range(0, size, PIECE)
        )
        info = {b"length": size, b"name": name.encode(), b"piece length": PIECE, b"pieces": pieces}
        raw_info = bencode(info)
        torrent = bencode({b"created by": b"bitswarm bench", b"info": info})
        torrents.append(TorrentFile(name, hashlib.sha1(raw_info).hexdigest(), torrent, size))
    return Load(torrents, data)
