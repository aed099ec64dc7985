"""The command line as a user runs it: `bitswarm seed` and `bitswarm download` as processes.

Covers resume after SIGKILL (nothing verified is fetched again, nothing corrupt is kept),
a clean SIGTERM stop that saves resume data, and one-line errors.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

from bitswarm.create import create_torrent
from bitswarm.metainfo import Metainfo, parse_torrent
from tests.session.helpers import digest_tree, make_multifile

MiB = 2**20
BITSWARM = [sys.executable, "-m", "bitswarm.cli.main"]


def _env(state: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_STATE_HOME"] = str(state)
    return env


def _json_lines(stream: IO[str]) -> Iterator[dict[str, Any]]:
    for line in stream:
        line = line.strip()
        if line.startswith("{"):
            yield json.loads(line)


@contextmanager
def _seeder(torrent: Path, data: Path, state: Path, limit: str) -> Iterator[int]:
    proc = subprocess.Popen(
        [
            *BITSWARM,
            "seed",
            str(torrent),
            str(data),
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--upload-limit",
            limit,
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(state),
    )
    try:
        assert proc.stdout is not None
        port = next(d["port"] for d in _json_lines(proc.stdout) if "port" in d)
        yield int(port)
    finally:
        proc.terminate()
        proc.communicate(timeout=20)  # also closes the pipes


def _download_cmd(torrent: Path, out: Path, port: int) -> list[str]:
    return [
        *BITSWARM,
        "download",
        str(torrent),
        "-o",
        str(out),
        "--no-seed",
        "--json",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--peer",
        f"127.0.0.1:{port}",
    ]


@pytest.fixture
def swarm_files(tmp_path: Path) -> tuple[Path, Path, Metainfo]:
    """A two-file hybrid torrent (with a pad file) and its content, ready to seed."""
    content = make_multifile(tmp_path / "seed", [5 * MiB, 3 * MiB + 777])
    data = create_torrent(content, piece_length=128 * 1024, version="hybrid")
    torrent = tmp_path / "t.torrent"
    torrent.write_bytes(data)
    return content, torrent, parse_torrent(data)


# Two CLI downloads in child processes: up to 60 s to the kill, then up to 120 s for
# the resumed run, each with its own deadline.
@pytest.mark.timeout(240)
def test_resume_after_sigkill(tmp_path: Path, swarm_files: tuple[Path, Path, Metainfo]) -> None:
    content, torrent, meta = swarm_files
    n, plen = meta.info.num_pieces, meta.info.piece_length
    state = tmp_path / "state"
    out = tmp_path / "leech"
    with _seeder(torrent, tmp_path / "seed", state, "2MiB") as port:
        first = subprocess.Popen(
            _download_cmd(torrent, out, port),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(state),
        )
        assert first.stdout is not None
        done_at_kill = 0
        deadline = time.monotonic() + 60
        for status in _json_lines(first.stdout):
            done_at_kill = status.get("pieces_done", 0)
            if done_at_kill >= n * 0.4 or time.monotonic() > deadline:
                break
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
        assert 0 < done_at_kill < n, f"killed at {done_at_kill}/{n} pieces"

        second = subprocess.run(
            _download_cmd(torrent, out, port),
            capture_output=True,
            text=True,
            env=_env(state),
            timeout=120,
        )
    assert second.returncode == 0, second.stderr
    statuses = [d for d in map(json.loads, second.stdout.splitlines()) if d["event"] == "status"]
    last = statuses[-1]
    assert last["pieces_done"] == n
    # Only what was not verified before the kill comes over the wire again (+ a little
    # end-game overlap); had it started over, it would fetch all n pieces.
    assert last["downloaded"] <= (n - done_at_kill + 4) * plen
    assert last["downloaded"] < meta.info.total_length
    assert digest_tree(out / "content") == digest_tree(content)


def test_sigterm_saves_resume_data(
    tmp_path: Path, swarm_files: tuple[Path, Path, Metainfo]
) -> None:
    _, torrent, _ = swarm_files
    state = tmp_path / "state"
    out = tmp_path / "leech"
    with _seeder(torrent, tmp_path / "seed", state, "1MiB") as port:
        proc = subprocess.Popen(
            _download_cmd(torrent, out, port),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(state),
        )
        assert proc.stdout is not None
        for status in _json_lines(proc.stdout):
            if status.get("pieces_done", 0) >= 3:
                break
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0  # SIGTERM: stopped cleanly, resume data saved (issue 12)
    folder_key = hashlib.sha1(str(out.resolve()).encode()).hexdigest()[:12]
    resume = list((state / "bitswarm" / "resume").glob(f"*-{folder_key}.resume"))
    assert len(resume) == 1
    assert resume[0].stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["download", "missing.torrent", "--no-seed"], "no such file or folder"),
        (["info", "magnet:?xt=urn:btih:zz"], "magnet"),
        (["seed", "missing.torrent", "."], "no such file or folder"),
        (["download", "magnet:?xt=urn:btih:" + "ab" * 20], "no tracker and no peer"),
        (["download", "magnet:?xt=urn:btih:zz"], "bad magnet link"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    r = subprocess.run(
        [*BITSWARM, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path / "state"),
        timeout=30,
    )
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("bitswarm: error:")
    assert needle in lines[0].lower()
    assert "Traceback" not in r.stderr
