"""``python -m bench stream``: streaming a video while it downloads, against a plain download.

A 30 s H.264 video at ~1 Mbit/s (Debian's ffmpeg, noise keeps the bitrate up) is seeded by
two libtorrent seeders each limited to twice the video's byte rate: together 4x, the
issue's swarm. Measured, each run on a fresh download folder:

- ``bitswarm stream``: time to first byte (64 KiB at offset 0, from the URL line);
  playback from the start as a player does it (one GET of the whole file, a player that
  starts after 1 s of video and then consumes at the video's byte rate: each moment the
  bytes it needs have not arrived is a stall); 0.5 s after the first byte, a seek to the middle
  (a new GET of 64 KiB there);
- ``bitswarm download`` (``--sequential`` when the command has it): when the first and the
  middle 64 KiB are on disk, and the stalls of the same player reading the file as its
  pieces land (polled every 20 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bitswarm.create import create_torrent
from bitswarm_lab.peers.base import Endpoint, PeerSpec, Role
from bitswarm_lab.peers.libtorrent_peer import LibtorrentPeer
from bitswarm_lab.peers.netns import free_port

__all__ = ["main"]

PIECE = 32 * 1024
PROBE = 64 * 1024
PREBUFFER = 1.0  # seconds of video a player holds before it starts
SEEK_AFTER = 0.5  # seconds after the playing GET starts that the player seeks


def make_video(where: Path, seconds: int) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    out = where / "video.mp4"
    subprocess.run(
        [
            "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", f"testsrc=duration={seconds}:size=640x360:rate=25",
            "-vf", "noise=alls=12:allf=t", "-c:v", "libx264", "-preset", "ultrafast",
            "-b:v", "1M", "-maxrate", "1M", "-bufsize", "1M", "-g", "25",
            "-movflags", "+faststart", out,
        ],
        check=True,
    )  # fmt: skip
    return out


def start_seeders(
    video: Path, torrent: Path, work: Path, limit: int, n: int
) -> list[LibtorrentPeer]:
    peers = []
    for i in range(n):
        data = work / f"seed{i}"
        data.mkdir(parents=True, exist_ok=True)
        shutil.copy(video, data / video.name)
        spec = PeerSpec(
            role=Role.SEED,
            torrent=torrent,
            data_dir=data,
            workdir=work / f"lt{i}",
            listen=Endpoint("127.0.0.1", free_port("127.0.0.1")),
            upload_limit=limit,
        )
        spec.workdir.mkdir(parents=True, exist_ok=True)
        peer = LibtorrentPeer(spec)
        peer.start()
        peers.append(peer)
    for peer in peers:
        peer.wait_complete(60)
    return peers


def stalls(arrivals: list[tuple[float, int]], size: int, byte_rate: float) -> tuple[int, float]:
    """(stalls, seconds stalled) of a player that starts once `PREBUFFER` s of video
    arrived and then needs byte b at start + b / byte_rate (+ the stalls so far)."""
    need_first = min(size, int(PREBUFFER * byte_rate))
    start = next(t for t, got in arrivals if got >= need_first)
    count, stalled, clock_shift = 0, 0.0, 0.0
    for t, got in arrivals:
        due = start + clock_shift + got / byte_rate
        if t > due + 0.05:  # it arrived after the player needed it
            count += 1
            stalled += t - due
            clock_shift += t - due
    return count, stalled


def run_stream(
    bitswarm: list[str],
    torrent: Path,
    seeds: list[LibtorrentPeer],
    work: Path,
    original: bytes,
    byte_rate: float,
) -> dict[str, float]:
    env = {**os.environ, "XDG_STATE_HOME": str(work / "state")}
    peers = [a for p in seeds for a in ("--peer", str(p.endpoint))]
    proc = subprocess.Popen(
        [*bitswarm, "stream", str(torrent), "-o", str(work / "dl"), "--port", "0", *peers],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        t0 = time.monotonic()
        arrivals: list[tuple[float, int]] = []
        seek: dict[str, float] = {}

        def seek_later() -> None:
            time.sleep(SEEK_AFTER)
            middle = len(original) // 2
            request = urllib.request.Request(
                url, headers={"Range": f"bytes={middle}-{middle + PROBE - 1}"}
            )
            t = time.monotonic()
            with urllib.request.urlopen(request, timeout=60) as r:
                assert r.read() == original[middle : middle + PROBE]
            seek["seconds"] = time.monotonic() - t

        seeker = threading.Thread(target=seek_later)
        with urllib.request.urlopen(url, timeout=120) as r:
            got = 0
            ttfb = None
            seeker.start()
            while chunk := r.read(16384):
                got += len(chunk)
                now = time.monotonic() - t0
                arrivals.append((now, got))
                if ttfb is None and got >= PROBE:
                    ttfb = now
        seeker.join()
        n, stalled = stalls(arrivals, len(original), byte_rate)
        return {
            "ttfb": ttfb or 0.0,
            "seek": seek["seconds"],
            "stalls": n,
            "stalled": stalled,
            "whole": arrivals[-1][0],
        }
    finally:
        proc.terminate()
        proc.wait(30)


def run_download(
    bitswarm: list[str],
    torrent: Path,
    seeds: list[LibtorrentPeer],
    work: Path,
    original: bytes,
    byte_rate: float,
    sequential: bool,
) -> dict[str, float]:
    env = {**os.environ, "XDG_STATE_HOME": str(work / "state")}
    peers = [a for p in seeds for a in ("--peer", str(p.endpoint))]
    extra = ["--sequential"] if sequential else []
    out = work / "dl"
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [
            *bitswarm,
            "download",
            str(torrent),
            "-o",
            str(out),
            "--port",
            "0",
            "--no-seed",
            "--json",
            *extra,
            *peers,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    path = out / "video.mp4"
    middle = len(original) // 2
    first = mid = None
    arrivals: list[tuple[float, int]] = []
    while proc.poll() is None or not arrivals or arrivals[-1][1] < len(original):
        data = path.read_bytes() if path.exists() else b""
        now = time.monotonic() - t0
        prefix = 0  # the verified bytes from the start, a piece at a time
        while (
            prefix < len(original)
            and data[prefix : prefix + PIECE] == original[prefix : prefix + PIECE]
        ):
            prefix += PIECE
        prefix = min(prefix, len(original))
        if not arrivals or prefix > arrivals[-1][1]:
            arrivals.append((now, prefix))
        if first is None and prefix >= PROBE:
            first = now
        if mid is None and data[middle : middle + PROBE] == original[middle : middle + PROBE]:
            mid = now
        if proc.poll() is not None and prefix >= len(original):
            break
        time.sleep(0.02)
    n, stalled = stalls(arrivals, len(original), byte_rate)
    return {
        "ttfb": first or 0.0,
        "middle": mid or 0.0,
        "stalls": n,
        "stalled": stalled,
        "whole": arrivals[-1][0],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench stream",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=int, default=30, help="video length (default 30)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (default 3)")
    args = parser.parse_args(argv)
    bitswarm = [sys.executable, "-m", "bitswarm"]
    helptext = subprocess.run(
        [*bitswarm, "download", "--help"], capture_output=True, text=True
    ).stdout
    sequential = "--sequential" in helptext
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        root = Path(tmp)
        video = make_video(root / "src", args.seconds)
        torrent = root / "video.torrent"
        torrent.write_bytes(create_torrent(video, piece_length=PIECE))
        original = video.read_bytes()
        byte_rate = len(original) / args.seconds
        seeds = start_seeders(video, torrent, root, int(2 * byte_rate), 2)
        try:
            results: dict[str, list[dict[str, float]]] = {"stream": [], "download": []}
            for i in range(args.runs):
                results["stream"].append(
                    run_stream(bitswarm, torrent, seeds, root / f"s{i}", original, byte_rate)
                )
                results["download"].append(
                    run_download(
                        bitswarm, torrent, seeds, root / f"d{i}", original, byte_rate, sequential
                    )
                )
        finally:
            for peer in seeds:
                peer.stop()
    summary = {
        "video": {
            "seconds": args.seconds,
            "bytes": len(original),
            "bitrate": 8 * byte_rate,
            "seeders": 2,
            "swarm_upload": 4 * byte_rate,
        },
        "download_mode": "--sequential" if sequential else "plain (rarest first)",
        **results,
    }
    print(json.dumps(summary, indent=1))
    for kind, runs in results.items():
        keys = runs[0].keys()
        med = {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in keys}
        print(f"{kind}: " + ", ".join(f"{k} {v:.2f}" for k, v in med.items()), file=sys.stderr)
    return 0
