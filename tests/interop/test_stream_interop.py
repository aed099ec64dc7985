"""`bitswarm stream` against a rate-limited libtorrent seeder, played by Debian's ffmpeg.

The seeder uploads at the video's own bitrate, so the whole file takes as long to arrive
as it takes to play; ffprobe must still find the duration within seconds, and a seek to
the middle must produce a frame while pieces before the middle are still missing (the
reader's deadlines fetched the middle first, not the file in order). The Range edge cases
(HEAD, suffix ranges, 416) are asked of the same server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .stream_fixtures import PIECE_LENGTH, make_video, seeders
from .tools import require_module, require_program, run

pytestmark = pytest.mark.interop


def _get(
    url: str, headers: dict[str, str], method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:  # it holds the response's socket open until closed
            return exc.code, dict(exc.headers), exc.read()


def _pieces_on_disk(path: Path, original: bytes) -> set[int]:
    """The pieces of the download that hold the right bytes now."""
    data = path.read_bytes() if path.exists() else b""
    n = -(-len(original) // PIECE_LENGTH)
    return {
        i
        for i in range(n)
        if data[i * PIECE_LENGTH : (i + 1) * PIECE_LENGTH]
        == original[i * PIECE_LENGTH : (i + 1) * PIECE_LENGTH]
    }


@pytest.mark.timeout(240)  # making the video, then a download as long as the video plays
def test_ffmpeg_probes_and_seeks_while_it_downloads(tmp_path: Path) -> None:
    require_module("libtorrent")
    ffprobe = require_program("ffprobe")
    ffmpeg = require_program("ffmpeg")
    video = make_video(tmp_path)
    original = video.path.read_bytes()
    out = tmp_path / "dl"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    with seeders(video, tmp_path, [int(video.byte_rate)]) as (seed,):
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "bitswarm", "stream", str(video.torrent), "-o", str(out),
                "--peer", f"{seed.host}:{seed.port}", "--port", "0", "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            first = json.loads(proc.stdout.readline())
            started = time.monotonic()
            assert first["event"] == "serving"
            url = first["url"]
            assert url.startswith("http://127.0.0.1:") and url.endswith("/video.mp4")

            status, headers, body = _get(url, {"Range": "bytes=0-65535"})
            ttfb = time.monotonic() - started
            assert status == 206 and body == original[:65536]
            assert headers["Content-Range"] == f"bytes 0-65535/{video.size}"
            assert headers["Content-Type"] == "video/mp4"
            assert headers["Accept-Ranges"] == "bytes"

            t = time.monotonic()
            probe = run(
                [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "json", url]
            )
            probe_seconds = time.monotonic() - t
            assert probe.returncode == 0, probe.stderr
            assert abs(float(json.loads(probe.stdout)["format"]["duration"]) - 20.0) < 0.5

            frame = tmp_path / "middle.png"
            t = time.monotonic()
            seek = run([ffmpeg, "-loglevel", "error", "-y", "-ss", "10", "-i", url,
                        "-frames:v", "1", frame])  # fmt: skip
            seek_seconds = time.monotonic() - t
            have = _pieces_on_disk(out / video.name, original)
            assert seek.returncode == 0, seek.stderr
            assert frame.stat().st_size > 10_000
            middle = len(original) // 2 // PIECE_LENGTH
            assert any(p in have for p in range(middle - 2, middle + 3)), sorted(have)
            assert not set(range(middle - 2)) <= have, sorted(have)  # not fetched in order

            # Range edge cases on the same server
            status, headers, body = _get(url, {}, method="HEAD")
            assert status == 200 and body == b""
            assert headers["Content-Length"] == str(video.size)
            assert headers["Accept-Ranges"] == "bytes"
            status, headers, _ = _get(url, {"Range": f"bytes={video.size}-"})
            assert status == 416 and headers["Content-Range"] == f"bytes */{video.size}"
            status, headers, body = _get(url, {"Range": "bytes=-1000"})
            assert status == 206 and body == original[-1000:]
            assert headers["Content-Range"] == (
                f"bytes {video.size - 1000}-{video.size - 1}/{video.size}"
            )
            status, _, _ = _get(url.rsplit("/", 1)[0] + "/other.mp4", {})
            assert status == 404
            print(
                f"\nstream: first 64 KiB {ttfb:.2f} s after the URL, ffprobe {probe_seconds:.2f} s,"
                f" a frame at 10 s {seek_seconds:.2f} s (seeder at the video's bitrate,"
                f" {video.byte_rate / 1024:.0f} KiB/s); pieces on disk then: {len(have)}"
                f" of {-(-len(original) // PIECE_LENGTH)}"
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                _, err = proc.communicate(timeout=30)
            finally:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
