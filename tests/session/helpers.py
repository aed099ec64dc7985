"""Shared pieces of the engine tests: payloads, torrents, sessions on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Iterable
from pathlib import Path
from typing import TypedDict, Unpack

from bitswarm.create import Version, create_torrent
from bitswarm.metainfo import Metainfo, parse_torrent
from bitswarm.session import Session, SessionConfig, TorrentRuntime
from bitswarm.wire.mse import Encryption

__all__ = [
    "SessionOptions",
    "digest_tree",
    "make_multifile",
    "make_torrent",
    "start_session",
    "wait_all_complete",
]


def make_multifile(root: Path, sizes: Iterable[int], *, seed: int = 7) -> Path:
    """A folder `root/content` of files with pseudo-random bytes; returns the folder."""
    rng = random.Random(seed)
    folder = root / "content"
    folder.mkdir(parents=True)
    for i, size in enumerate(sizes):
        sub = folder / ("sub" if i % 2 else "") / f"file{i}.bin"
        sub.parent.mkdir(parents=True, exist_ok=True)
        sub.write_bytes(rng.randbytes(size))
    return folder


def make_torrent(
    path: Path,
    *,
    piece_length: int = 64 * 1024,
    version: Version = "hybrid",
    trackers: list[list[str]] | None = None,
) -> Metainfo:
    data = create_torrent(
        path,
        piece_length=piece_length,
        version=version,
        trackers=trackers or [],
    )
    return parse_torrent(data)


def digest_tree(folder: Path) -> dict[str, str]:
    """Relative path → sha256 of every file below `folder`."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


class SessionOptions(TypedDict, total=False):
    """`SessionConfig`'s fields that `start_session` passes on (it sets the listen address)."""

    find_free_port: bool
    max_peers: int
    max_connections: int
    upload_limit: float
    download_limit: float
    dht_port: int | None
    dht_bootstrap: tuple[tuple[str, int], ...]
    dht_state: Path | None
    dht_rate_limit: float
    lsd: bool
    lsd_interface: str
    lsd_port: int
    direct_io: bool
    encryption: Encryption
    transport: str
    handshake_timeout: float


async def start_session(host: str = "127.0.0.1", **kw: Unpack[SessionOptions]) -> Session:
    s = Session(SessionConfig(listen_host=host, listen_port=0, **kw))
    await s.start()
    return s


async def wait_all_complete(runtimes: Iterable[TorrentRuntime], within: float) -> None:
    async with asyncio.timeout(within):
        await asyncio.gather(*(rt.completed.wait() for rt in runtimes))
