"""Issue 14: a tracker out of file descriptors logs one line now and then, no tracebacks,
and raises its soft descriptor limit to the hard one at start.

The tracker runs with a descriptor limit set in the child (`preexec_fn`), and the test
opens far more connections than it allows and holds them.
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

TRACKER = [sys.executable, "-m", "bitswarm.tracker_server", "--http", "127.0.0.1:0"]


def _start(limits: tuple[int, int], log: Path) -> tuple[subprocess.Popen[str], int]:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)

    with log.open("w") as err:
        proc = subprocess.Popen(
            TRACKER, stdout=subprocess.PIPE, stderr=err, text=True, preexec_fn=cap
        )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, log.read_text()
    port = urlsplit(json.loads(line)["http"]).port
    assert port is not None
    return proc, port


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


def _soft_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit in /proc")


def test_out_of_descriptors_is_one_line_not_a_traceback_flood(tmp_path: Path) -> None:
    log = tmp_path / "tracker.log"
    proc, port = _start((48, 48), log)  # the hard limit too: raising cannot help here
    held: list[socket.socket] = []
    try:
        for _ in range(150):
            try:
                held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                break
        time.sleep(3.0)  # accept fails, pauses 1 s, fails again...
        assert proc.poll() is None, log.read_text()
    finally:
        for sock in held:
            sock.close()
        _stop(proc)
    text = log.read_text()
    assert "Traceback" not in text, text[:2000]
    reports = [line for line in text.splitlines() if "cannot accept connections" in line]
    assert 1 <= len(reports) <= 2, text[:2000]
    assert "Too many open files" in reports[0]


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    hard = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    proc, _ = _start((128, hard), tmp_path / "tracker.log")
    try:
        assert _soft_limit(proc.pid) == hard
    finally:
        _stop(proc)
