"""Build a large, realistic v1 multi-file torrent for the bencode benchmark.

20,000 files in nested folders (like a big software or photo archive), an announce-list
of several tiers, and a ``pieces`` string that matches the total size and piece length,
so the file is about 10 MB and the decoder sees the same mix of short keys, many small
dicts and one huge string that real large torrents have. Deterministic (seeded).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from bitswarm.bencode import bencode

__all__ = ["make_big_torrent"]

_WORDS = (
    "alpha",
    "beta",
    "gamma",
    "delta",
    "photos",
    "music",
    "video",
    "docs",
    "src",
    "build",
    "assets",
    "data",
    "raw",
    "final",
    "2019",
    "2020",
    "2021",
    "2022",
    "2023",
    "holiday",
    "project",
    "archive",
    "backup",
    "linux",
    "debian",
    "release",
    "notes",
)
_EXTS = (".jpg", ".flac", ".mkv", ".txt", ".iso", ".tar.gz", ".pdf", ".png", ".c", ".h")


def make_big_torrent(
    files: int = 20_000,
    piece_length: int = 1 << 20,
    target_pieces_bytes: int = 8_750_000,
    seed: int = 1,
) -> bytes:
    """Return the bencoded torrent. File sizes are scaled so that the number of pieces
    gives a ``pieces`` string of about `target_pieces_bytes` (20 bytes per piece)."""
    rng = random.Random(seed)
    total_target = target_pieces_bytes // 20 * piece_length
    weights = [rng.paretovariate(1.2) for _ in range(files)]
    scale = total_target / sum(weights)
    entries: list[dict[bytes, object]] = []
    total = 0
    for i, w in enumerate(weights):
        depth = rng.randint(1, 4)
        folders = [rng.choice(_WORDS).encode() for _ in range(depth)]
        name = f"{rng.choice(_WORDS)}_{i:05d}{rng.choice(_EXTS)}".encode()
        length = max(1, int(w * scale))
        total += length
        entry: dict[bytes, object] = {b"length": length, b"path": [*folders, name]}
        if i % 50 == 0:
            entry[b"attr"] = b"x"  # a few executable files, as BEP 47 allows
        entries.append(entry)
    pieces = (total + piece_length - 1) // piece_length
    torrent = {
        b"announce": b"http://tracker.example.org:6969/announce",
        b"announce-list": [
            [b"http://tracker.example.org:6969/announce"],
            [b"udp://tracker.example.net:1337/announce", b"udp://tracker2.example.net:80"],
            [b"https://tracker.example.com/announce"],
        ],
        b"comment": b"bitswarm bencode benchmark torrent",
        b"created by": b"bitswarm bench",
        b"creation date": 1_700_000_000,
        b"info": {
            b"files": entries,
            b"name": b"big-archive",
            b"piece length": piece_length,
            b"pieces": rng.randbytes(20 * pieces),
        },
        b"url-list": [b"https://mirror.example.org/big-archive/"],
    }
    return bencode(torrent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench big-torrent",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("out", type=Path, help="where to write the .torrent")
    parser.add_argument("--files", type=int, default=20_000)
    args = parser.parse_args(argv)
    data = make_big_torrent(files=args.files)
    args.out.write_bytes(data)
    print(f"wrote {args.out}: {len(data):,} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
