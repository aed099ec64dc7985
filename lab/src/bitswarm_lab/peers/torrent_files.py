"""Payloads and .torrent files for interop tests and the transfer benchmark.

The torrent is made by libtorrent's `create_torrent` (v1 only), not by bitswarm, so a test
that passes proves the real peers agree with each other before bitswarm is involved.
Payloads are pseudo-random from a seed: incompressible, reproducible, and cheap to make.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from bitswarm.bencode import bdecode, bencode, decode_spans

__all__ = [
    "TorrentFile",
    "files_identical",
    "load_torrent",
    "make_torrent",
    "parse_size",
    "sha1_of_file",
    "with_announce",
    "write_payload",
]

_CHUNK = 1 << 20
_UNITS = {
    "": 1,
    "b": 1,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "k": 1 << 10,
    "m": 1 << 20,
    "g": 1 << 30,
}


def parse_size(text: str) -> int:
    """'256MiB' -> 268435456; binary units for KiB/MiB/GiB and bare K/M/G."""
    stripped = text.strip().lower()
    digits = stripped.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = stripped[len(digits) :]
    if not digits or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (try 8MiB, 256MiB, 1GiB)")
    return int(float(digits) * _UNITS[unit])


def write_payload(path: Path, size: int, seed: int = 0) -> None:
    """Write `size` pseudo-random bytes determined by `seed` to `path`."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        left = size
        while left > 0:
            count = min(left, _CHUNK)
            out.write(rng.randbytes(count))
            left -= count


@dataclass(frozen=True, slots=True)
class TorrentFile:
    """A .torrent on disk and the facts about it the harness needs."""

    path: Path
    info_hash: str  # v1 (SHA-1) info-hash, 40 lower-case hex digits
    name: str  # the torrent's `name`: the file (or folder) inside a peer's data_dir
    total_size: int
    piece_length: int


def make_torrent(content: Path, out: Path, piece_length: int = 1 << 20) -> TorrentFile:
    """A v1 torrent of file or folder `content` with libtorrent, written to `out`."""
    import libtorrent as lt

    entries = lt.list_files(str(content))
    creator = lt.create_torrent(entries, piece_length, lt.create_torrent.v1_only)
    creator.set_creator("bitswarm interop harness")
    lt.set_piece_hashes(creator, str(content.parent))
    data = lt.bencode(creator.generate())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return load_torrent(out)


def load_torrent(path: Path) -> TorrentFile:
    data = path.read_bytes()
    parsed = decode_spans(data)
    decoded = parsed.value
    assert isinstance(decoded, dict)
    info = decoded[b"info"]
    start, end = parsed.spans[b"info"]
    assert isinstance(info, dict)
    files = info.get(b"files")
    if isinstance(files, list):
        total = sum(_int(entry, b"length") for entry in files)
    else:
        total = _int(info, b"length")
    return TorrentFile(
        path=path,
        info_hash=hashlib.sha1(data[start:end]).hexdigest(),  # BEP 3: the original bytes
        name=_bytes(info, b"name").decode(),
        total_size=total,
        piece_length=_int(info, b"piece length"),
    )


def _int(mapping: object, key: bytes) -> int:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if not isinstance(value, int):
        raise ValueError(f"torrent field {key!r} is not an integer")
    return value


def _bytes(mapping: object, key: bytes) -> bytes:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if not isinstance(value, bytes):
        raise ValueError(f"torrent field {key!r} is not a string")
    return value


def with_announce(torrent_bytes: bytes, url: str) -> bytes:
    """The same torrent (same info-hash) announcing to `url`."""
    decoded = bdecode(torrent_bytes)
    assert isinstance(decoded, dict)
    decoded[b"announce"] = url.encode()
    decoded.pop(b"announce-list", None)
    return bencode(decoded)


def sha1_of_file(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as source:
        while block := source.read(4 * _CHUNK):
            digest.update(block)
    return digest.hexdigest()


def files_identical(expected: Path, actual: Path) -> bool:
    """Byte-for-byte equality of two files, read in chunks."""
    if not actual.is_file() or expected.stat().st_size != actual.stat().st_size:
        return False
    with expected.open("rb") as left, actual.open("rb") as right:
        while True:
            a = left.read(4 * _CHUNK)
            if a != right.read(4 * _CHUNK):
                return False
            if not a:
                return True
