"""Fixtures: a real bitswarm daemon on loopback, in a thread of its own or as a process.

`daemon` runs `Daemon` (the whole daemon: state database, session, HTTP) on its own event
loop in a background thread, with free ports on 127.0.0.1, DHT and LSD off (nothing
leaves the machine). Tests speak HTTP to `daemon.url` with the real clients, and reach the
`TorrentManager` only through `daemon.call`, which runs on the daemon's loop.
`daemon_factory(**settings)` starts one with other settings (auth, queue sizes...), and
`start_daemon_process` runs `bitswarm daemon` itself, for the signal and SIGKILL tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

from bitswarm.daemon.manager import TorrentManager
from bitswarm.daemon.service import Daemon
from bitswarm.daemon.settings import DaemonSettings

START_TIMEOUT = 60.0


@dataclass
class RunningDaemon:
    """A daemon running in a background thread (see the module docstring)."""

    daemon: Daemon
    loop: asyncio.AbstractEventLoop
    state_dir: Path
    download_dir: Path
    _thread: threading.Thread | None = field(default=None, repr=False)
    _stop: asyncio.Event | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.daemon.url

    @property
    def rpc_url(self) -> str:
        return f"{self.url}/transmission/rpc"

    @property
    def rpc_port(self) -> int:
        return self.daemon.rpc_port

    @property
    def peer_port(self) -> int:
        assert self.daemon.session is not None
        return self.daemon.session.listen_port

    @property
    def api(self) -> TorrentManager:
        """The manager: touch it only inside `call` (it lives on the daemon's loop)."""
        assert self.daemon.manager is not None
        return self.daemon.manager

    def call(self, fn: Callable[[TorrentManager], Any], timeout: float = 60.0) -> Any:
        """Run `fn(manager)` on the daemon's loop (awaiting it if it is async)."""

        async def run() -> Any:
            result = fn(self.api)
            if isinstance(result, Awaitable):
                return await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    @property
    def session_id(self) -> str:
        from bitswarm.daemon.appkeys import SESSION_ID_KEY

        runner = self.daemon._runner
        assert runner is not None
        return runner.app[SESSION_ID_KEY]

    def stop(self) -> None:
        if self._stop is not None and self._thread is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(START_TIMEOUT)
            assert not self._thread.is_alive(), "the daemon did not stop"
            self._thread = None


def test_settings(root: Path, **changes: Any) -> DaemonSettings:
    """Settings for a loopback test daemon below `root`."""
    settings = DaemonSettings(
        download_dir=str(root / "downloads"),
        rpc_host="127.0.0.1",
        rpc_port=0,
        peer_port=0,
        listen_host="127.0.0.1",
        dht_enabled=False,
        dht_bootstrap=[],
        lsd_enabled=False,
    )
    for key, value in changes.items():
        if not hasattr(settings, key):
            raise AttributeError(f"DaemonSettings has no {key}")
        setattr(settings, key, value)
    return settings


def run_daemon_thread(settings: DaemonSettings, state_dir: Path) -> RunningDaemon:
    """Start a daemon in a thread and return once it serves HTTP."""
    ready: threading.Event = threading.Event()
    box: dict[str, Any] = {}

    def main() -> None:
        async def body() -> None:
            stop = asyncio.Event()
            try:
                async with Daemon(settings, state_dir) as d:
                    box["running"] = RunningDaemon(
                        daemon=d,
                        loop=asyncio.get_running_loop(),
                        state_dir=state_dir,
                        download_dir=Path(settings.download_dir),
                        _stop=stop,
                    )
                    ready.set()
                    await stop.wait()
            except BaseException as exc:
                box["error"] = exc
                ready.set()

        asyncio.run(body())

    thread = threading.Thread(target=main, name="bitswarm-daemon", daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT):
        raise TimeoutError("the daemon did not start")
    if "error" in box:
        raise box["error"]
    running: RunningDaemon = box["running"]
    running._thread = thread
    return running


class DaemonFactory(Protocol):
    def __call__(self, **settings: Any) -> RunningDaemon: ...


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[DaemonFactory]:
    started: list[RunningDaemon] = []

    def make(**changes: Any) -> RunningDaemon:
        n = len(started)
        root = tmp_path / f"daemon{n}"
        settings = test_settings(root, **changes)
        running = run_daemon_thread(settings, root / "state")
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def daemon(daemon_factory: DaemonFactory) -> RunningDaemon:
    """A running daemon on loopback (see the module docstring)."""
    return daemon_factory()


@dataclass
class DaemonProcess:
    """`bitswarm daemon` as a child process, with its ready line parsed."""

    proc: subprocess.Popen[str]
    ready: dict[str, Any]

    @property
    def rpc_url(self) -> str:
        return str(self.ready["rpc"])

    @property
    def url(self) -> str:
        return str(self.ready["web"]).rstrip("/")


def start_daemon_process(
    state_dir: Path, download_dir: Path, *extra: str, env: dict[str, str] | None = None
) -> DaemonProcess:
    """Run `bitswarm daemon` on free loopback ports; wait for its ready line."""
    environment = {
        **os.environ,
        "BITSWARM_DHT_ENABLED": "false",
        "BITSWARM_LISTEN_HOST": "127.0.0.1",
        "XDG_CONFIG_HOME": str(state_dir / "no-config"),
        **(env or {}),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bitswarm",
            "daemon",
            "--state-dir",
            str(state_dir),
            "--download-dir",
            str(download_dir),
            "--rpc",
            "127.0.0.1:0",
            "--port",
            "0",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    assert proc.stdout is not None
    line_box: list[str] = []
    reader = threading.Thread(target=lambda: line_box.append(proc.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(START_TIMEOUT)
    if not line_box or not line_box[0].strip():
        proc.kill()
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"bitswarm daemon printed no ready line; stderr:\n{err}")
    return DaemonProcess(proc, json.loads(line_box[0]))


@pytest.fixture
def daemon_processes() -> Iterator[list[DaemonProcess]]:
    """Daemon processes a test started; any still running are killed at the end."""
    procs: list[DaemonProcess] = []
    yield procs
    for p in procs:
        if p.proc.poll() is None:
            p.proc.kill()
        with contextlib.suppress(Exception):
            p.proc.communicate(timeout=30)
