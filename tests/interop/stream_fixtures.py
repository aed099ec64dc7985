"""A short video made with Debian's ffmpeg, its torrent, and rate-limited libtorrent seeders:
what the streaming tests and `python -m bench stream` play from."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bitswarm.create import create_torrent
from bitswarm_lab.peers.base import Endpoint, PeerSpec, Role
from bitswarm_lab.peers.libtorrent_peer import LibtorrentPeer
from bitswarm_lab.peers.netns import free_port

from .tools import require_program, run

__all__ = ["Video", "make_video", "seeders"]

VIDEO_SECONDS = 20
BITRATE = 1_000_000  # bits/s
PIECE_LENGTH = 32 * 1024


@dataclass(frozen=True, slots=True)
class Video:
    folder: Path  # holds `name`
    name: str
    torrent: Path
    size: int
    seconds: int = VIDEO_SECONDS

    @property
    def path(self) -> Path:
        return self.folder / self.name

    @property
    def byte_rate(self) -> float:
        return self.size / self.seconds


def make_video(where: Path) -> Video:
    """A 20 s 640x360 H.264 video at about 1 Mbit/s (noise keeps the bitrate up), with its
    index at the front (+faststart) and a key frame every second; mpeg4 if there is no
    libx264."""
    ffmpeg = require_program("ffmpeg")
    folder = where / "seed"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "video.mp4"
    encoders = run([ffmpeg, "-hide_banner", "-encoders"]).stdout
    codec = ["libx264", "-preset", "ultrafast"] if "libx264" in encoders else ["mpeg4"]
    proc = run(
        [
            ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", f"testsrc=duration={VIDEO_SECONDS}:size=640x360:rate=25",
            "-vf", "noise=alls=12:allf=t", "-c:v", *codec,
            "-b:v", "1M", "-maxrate", "1M", "-bufsize", "1M", "-g", "25",
            "-movflags", "+faststart", out,
        ],
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    torrent = where / "video.torrent"
    torrent.write_bytes(create_torrent(out, piece_length=PIECE_LENGTH))
    return Video(folder, out.name, torrent, out.stat().st_size)


@contextlib.contextmanager
def seeders(
    video: Video, work: Path, limits: list[int], *, dial: tuple[Endpoint, ...] = ()
) -> Iterator[list[Endpoint]]:
    """libtorrent seeders of `video`, each uploading at most its limit (bytes/s), dialling
    `dial` once their data is checked."""
    peers: list[LibtorrentPeer] = []
    try:
        for i, limit in enumerate(limits):
            workdir = work / f"lt{i}"
            workdir.mkdir(parents=True, exist_ok=True)
            data = work / f"lt{i}-data"
            data.mkdir(exist_ok=True)
            shutil.copy(video.path, data / video.name)
            spec = PeerSpec(
                role=Role.SEED,
                torrent=video.torrent,
                data_dir=data,
                workdir=workdir,
                listen=Endpoint("127.0.0.1", free_port("127.0.0.1")),
                upload_limit=limit,
                peers=dial,
            )
            peer = LibtorrentPeer(spec)
            peers.append(peer)
            peer.start()
        for peer in peers:
            peer.wait_complete(60)
        yield [p.endpoint for p in peers]
    finally:
        for peer in peers:
            peer.stop()
