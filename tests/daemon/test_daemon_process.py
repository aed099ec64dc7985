"""`bitswarm daemon` as a process: the ready line, the signals, the one-line errors."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from .conftest import DaemonProcess, start_daemon_process


def test_ready_line_then_sigterm_and_sigint_exit_0(
    tmp_path: Path, daemon_processes: list[DaemonProcess]
) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        p = start_daemon_process(tmp_path / "state", tmp_path / "downloads")
        daemon_processes.append(p)
        ready = p.ready
        assert ready["event"] == "ready"
        assert str(ready["rpc"]).startswith("http://127.0.0.1:")
        assert str(ready["rpc"]).endswith("/transmission/rpc")
        assert str(ready["web"]).endswith("/") and isinstance(ready["port"], int)
        p.proc.send_signal(sig)
        assert p.proc.wait(60) == 0, p.proc.stderr.read() if p.proc.stderr else ""
    assert (tmp_path / "state" / "state.sqlite").exists()


def test_two_daemons_on_one_state_folder_and_exposed_rpc_without_password(
    tmp_path: Path, daemon_processes: list[DaemonProcess]
) -> None:
    first = start_daemon_process(tmp_path / "state", tmp_path / "downloads")
    daemon_processes.append(first)
    base = [sys.executable, "-m", "bitswarm", "daemon", "--rpc", "127.0.0.1:0", "--port", "0"]
    second = subprocess.run(
        [*base, "--state-dir", str(tmp_path / "state")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"BITSWARM_DHT_ENABLED": "false", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert second.returncode != 0
    assert second.stderr.count("\n") == 1 and "bitswarm: error:" in second.stderr
    exposed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bitswarm",
            "daemon",
            "--rpc",
            "0.0.0.0:0",
            "--state-dir",
            str(tmp_path / "other"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"BITSWARM_DHT_ENABLED": "false", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert exposed.returncode != 0 and "password" in exposed.stderr
    assert exposed.stderr.count("\n") == 1


def test_hash_password_prints_a_hash_the_daemon_accepts(tmp_path: Path) -> None:
    from bitswarm.daemon.auth import check_password

    run = subprocess.run(
        [sys.executable, "-m", "bitswarm", "daemon", "--hash-password"],
        input="correct horse\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    stored = run.stdout.strip()
    assert stored.startswith("scrypt$") and check_password("correct horse", stored)
    assert not check_password("wrong", stored)
    empty = subprocess.run(
        [sys.executable, "-m", "bitswarm", "daemon", "--hash-password"],
        input="\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert empty.returncode != 0 and empty.stderr.count("\n") == 1
