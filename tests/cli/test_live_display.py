"""The live display and the end (issue 12, item 5), in a pseudo-terminal at 80 and 200
columns, and its parts rendered by rich at a fixed width."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest
from rich.console import Console

from bitswarm.cli.jobs import Job, JobState
from bitswarm.cli.live import LiveView, fit_line, short_tracker_message, status_line
from bitswarm.cli.sources import Source
from bitswarm.create import create_torrent
from bitswarm.metainfo import parse_torrent
from bitswarm.session import TorrentState, TorrentStatus
from tests.cli.cli_helpers import BITSWARM, env_for, seeding
from tests.session.helpers import make_multifile

KiB = 1024
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[=>]")
BAR = re.compile(r"^[━╸╺ ]+$")
TRACKER_ERROR = "udp://tracker.example.invalid:6969/announce: " + "Cannot connect " * 20


def _screen_lines(raw: bytes) -> list[str]:
    """What was printed, as lines, with the cursor movements of a live display removed."""
    text = ANSI.sub("", raw.decode("utf-8", "replace"))
    return [line for chunk in text.split("\n") for line in chunk.split("\r") if line.strip()]


def _run_in_pty(args: list[str], columns: int, env: dict[str, str], cwd: Path) -> tuple[int, bytes]:
    main, child = pty.openpty()
    env = {**env, "COLUMNS": str(columns), "LINES": "40", "TERM": "xterm-256color"}
    proc = subprocess.Popen(
        [*BITSWARM, *args], stdin=child, stdout=child, stderr=child, env=env, cwd=cwd
    )
    os.close(child)
    out = bytearray()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO: the child side is closed
                break
            if not data:
                break
            out += data
        elif proc.poll() is not None:
            break
    os.close(main)
    return proc.wait(timeout=30), bytes(out)


@pytest.mark.parametrize("columns", [80, 200])
def test_download_display_in_a_terminal(tmp_path: Path, columns: int) -> None:
    made = make_multifile(tmp_path / "seed", [600 * KiB, 200 * KiB])
    content = made.rename(made.with_name("a-long-name-" + "x" * 90))
    torrent = tmp_path / "t.torrent"
    torrent.write_bytes(create_torrent(content, piece_length=32 * KiB))
    with seeding(
        torrent, tmp_path / "seed", tmp_path / "state", "--upload-limit", "256KiB"
    ) as port:
        code, raw = _run_in_pty(
            ["download", str(torrent), "-o", "out", "--no-seed", "--port", "0",
             "--bind", "127.0.0.1", "--peer", f"127.0.0.1:{port}",
             "--tracker", "http://127.0.0.1:9/announce"],
            columns, env_for(tmp_path / "state"), tmp_path,
        )  # fmt: skip
    assert code == 0, raw[-2000:]
    lines = _screen_lines(raw)
    summary_at = max(i for i, line in enumerate(lines) if BAR.match(line)) + 1  # the last frame
    display, summary = lines[:summary_at], lines[summary_at:]
    too_wide = [line for line in display if len(line) > columns]
    assert not too_wide, too_wide  # nothing of the live display wraps
    bars = [line for line in display if BAR.match(line)]
    assert bars and all(len(line) == columns for line in bars)  # the bar takes the width
    statuses = [line for line in display if "%" in line and "ratio" in line]
    assert statuses, display
    assert all(len(line) <= columns for line in statuses)
    # The last frame says what happened; uploaded total and ratio are on the line at 200.
    last = [line for line in display if "100.0%" in line][-1]
    assert "done" in last
    if columns == 200:
        assert "up 0 B" in last and "ratio 0.00" in last and content.name in last
    trackers = [line for line in display if line.startswith("tracker 127.0.0.1:9")]
    assert trackers and all(len(line) <= columns for line in trackers)
    # One paragraph at the end: size, time, average rate, peers, uploaded and ratio.
    paragraph = " ".join(" ".join(summary).split())
    assert paragraph.endswith("Exit status 0.")
    for needed in ("downloaded; 800.0 KiB in", "/s on average", "up to 1 peers", "ratio 0.00"):
        assert needed in paragraph, paragraph


def _status(name: str, *, tracker: str | None = None, progress: float = 0.5) -> TorrentStatus:
    return TorrentStatus(
        name=name, info_hash="ab" * 20, state=TorrentState.DOWNLOADING, progress=progress,
        total_bytes=10 * 2**30, done_bytes=5 * 2**30, pieces_done=5, num_pieces=10,
        download_rate=12.5 * 2**20, upload_rate=3 * 2**20, downloaded=5 * 2**30,
        uploaded=7 * 2**30, wasted=0, peers=123, seeds=45, eta=3725.0, error=None,
        tracker_message=tracker, banned=0, wanted_bytes=10 * 2**30, wanted_done_bytes=5 * 2**30,
    )  # fmt: skip


@pytest.mark.parametrize("width", [80, 200])
def test_rendered_frame_fits_the_console(tmp_path: Path, width: int) -> None:
    content = make_multifile(tmp_path / "c", [10 * KiB])
    meta = parse_torrent(create_torrent(content, piece_length=16 * KiB))
    job = Job(Source("t.torrent", meta))
    job.last = _status("A Very Long Torrent Name " * 8, tracker=TRACKER_ERROR)
    job.state = JobState.STOPPED
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system="standard")
    view = LiveView([job], port=6881, json_lines=False, console=console)
    view.close()
    lines = _screen_lines(out.getvalue().encode())
    assert lines and all(len(line) <= width for line in lines)
    assert len(lines[-1]) == width and BAR.match(lines[-1])
    assert "stopped" in lines[0] and "ratio 0.70" in lines[0]


def test_status_line_drops_the_least_useful_parts_first() -> None:
    st = _status("ubuntu-24.04-desktop-amd64.iso")
    wide = status_line(st, 200)
    assert "up 7.0 GiB" in wide and "peers 123 (45 seeds)" in wide and "ETA 1h02m" in wide
    narrow = status_line(st, 80)
    assert len(narrow) <= 80 and "peers" not in narrow  # peers go first
    assert "50.0%" in narrow and "ratio 0.70" in narrow and "downloading" in narrow
    tiny = status_line(st, 30)
    assert len(tiny) <= 30 and tiny.endswith("downloading")


def test_fit_line_shortens_the_name_last() -> None:
    assert fit_line("name", [(0, "50%")], 80) == "name  50%"
    assert fit_line("x" * 100, [(0, "50%"), (3, "extra")], 20) == "x" * 14 + "…  50%"


def test_tracker_errors_read_as_one_short_line() -> None:
    many = "; ".join([TRACKER_ERROR, "http://t2.example/announce: HTTP 500 [details]"])
    line = short_tracker_message(many, 80)
    assert line.startswith("tracker tracker.example.invalid:6969: Cannot connect")
    assert line.endswith("(+1 more)") and len(line) <= 80 and "\n" not in line
    assert short_tracker_message("http://t/announce: refused [Errno 111]", 80) == (
        "tracker t: refused"
    )
