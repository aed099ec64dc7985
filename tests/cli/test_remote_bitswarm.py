"""`bitswarm remote` drives `bitswarm daemon` (a process, as a person runs it) through the
same life as Transmission's daemon in test_remote_life.py, and meets its guard: Basic
auth, the lockout after repeated failures, and a JSON 404 for a wrong path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bitswarm.cli.main import main
from bitswarm.daemon.auth import hash_password
from tests.daemon.conftest import DaemonProcess, start_daemon_process

from .remote_daemons import RunningDaemon
from .remote_life import Remote, run_life


@pytest.fixture
def processes() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for p in started:
        if p.proc.poll() is None:
            p.proc.terminate()
        try:
            p.proc.communicate(timeout=30)
        except Exception:
            p.proc.kill()
            p.proc.communicate(timeout=30)


def _start(
    tmp_path: Path, processes: list[DaemonProcess], env: dict[str, str] | None = None
) -> DaemonProcess:
    downloads = tmp_path / "bitswarm-downloads"
    downloads.mkdir()
    process = start_daemon_process(tmp_path / "bitswarm-state", downloads, env=env)
    processes.append(process)
    return process


@pytest.mark.timeout(120)  # two daemon start-ups and hash checks on a loaded machine
def test_life_against_bitswarm_daemon(
    tmp_path: Path,
    processes: list[DaemonProcess],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    process = _start(tmp_path, processes)
    daemon = RunningDaemon(process.rpc_url, tmp_path / "bitswarm-downloads")
    units = daemon.raw("session-get", {"fields": ["units"]})["units"]
    run_life(daemon, Remote(daemon, capsys), tmp_path, units["speed-bytes"])


def test_auth_and_lockout_against_bitswarm_daemon(
    tmp_path: Path,
    processes: list[DaemonProcess],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    password = "correct horse"
    env = {"BITSWARM_RPC_USERNAME": "alice", "BITSWARM_RPC_PASSWORD_HASH": hash_password(password)}
    url = _start(tmp_path, processes, env).rpc_url
    monkeypatch.delenv("BITSWARM_RPC_USERNAME", raising=False)
    monkeypatch.delenv("BITSWARM_RPC_PASSWORD", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main(["remote", "--url", url, *argv])
        out, err = capsys.readouterr()
        return rc, out, err

    assert run("list", "--auth", f"alice:{password}")[0] == 0
    rc, out, err = run("list")
    assert (rc, out) == (1, "") and "authentication failed" in err and "--auth" in err
    failures = 1
    while True:  # the daemon locks a client out after a few failures in a row
        rc, out, err = run("list", "--auth", "alice:guess")
        assert (rc, out) == (1, "") and err.count("\n") == 1 and "guess" not in err
        if "authentication failed" not in err:
            break
        failures += 1
        assert failures < 50, "never locked out"
    assert "HTTP 403" in err and "too many failed logins" in err, err
    rc, out, err = run("list", "--auth", f"alice:{password}")  # even the right one, now
    assert rc == 1 and "HTTP 403" in err and password not in err


def test_wrong_path_is_one_line(
    tmp_path: Path, processes: list[DaemonProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    url = _start(tmp_path, processes).url
    assert main(["remote", "--url", f"{url}/not/the/rpc", "list"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("bitswarm: error: HTTP 404 from ") and err.count("\n") == 1
