"""`bitswarm download` meeting a disk fault (issue 14, point 4): EIO on every write to the
file (a FUSE file system, tests/faultfs.py) ends the run with exit status 1, one line on
stderr naming the file and the errno (besides the summary), and with ``--json`` an
``error`` event saying the same and a ``finished`` event with the reason ``failed``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ..daemon.helpers import Swarm
from ..fault_mounts import fault_fs
from ..faultfs import FaultFs
from .cli_helpers import BITSWARM, checked_events, env_for

__all__ = ["fault_fs"]  # the fixture, used by name below


def test_eio_is_one_line_and_an_error_event(tmp_path: Path, fault_fs: FaultFs) -> None:
    content = tmp_path / "seed" / "disk"
    content.mkdir(parents=True)
    (content / "movie.bin").write_bytes(os.urandom(1 << 20))
    fault_fs.set_rules([{"op": "write", "path": "movie.bin", "errno": "EIO"}])
    with Swarm() as swarm:
        torrent = tmp_path / "t.torrent"
        torrent.write_bytes(swarm.torrent(content, piece_length=64 * 1024))
        base = [*BITSWARM, "download", str(torrent), "--output", str(fault_fs.mount),
                "--no-dht", "--port", "0", "--bind", "127.0.0.1", "--no-seed"]  # fmt: skip
        plain = subprocess.run(
            base, env=env_for(tmp_path / "state"), capture_output=True, text=True, timeout=90
        )
        as_json = subprocess.run(
            [*base, "--json"],
            env=env_for(tmp_path / "state2"),
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert plain.returncode == 1, plain.stderr
    errors = [line for line in plain.stderr.splitlines() if line.startswith("bitswarm: ")]
    assert len(errors) == 1, plain.stderr  # one line says it (the summary ends the run)
    assert "Input/output error" in errors[0] and "movie.bin" in errors[0], plain.stderr
    assert as_json.returncode == 1, as_json.stderr
    events = checked_events(as_json.stdout, "download")
    [error] = [e for e in events if e["event"] == "error"]
    assert "Input/output error" in error["error"] and "movie.bin" in error["error"], error
    assert "\n" not in error["error"]
    finished = [e for e in events if e["event"] == "finished"]
    assert [e["reason"] for e in finished] == ["failed"], json.dumps(events)[-2000:]
