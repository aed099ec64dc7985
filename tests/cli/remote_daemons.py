"""Daemons for the `bitswarm remote` tests: a real transmission-daemon on loopback.

Transmission wants a config folder of its own (`-g`), `-f` to stay in the foreground, and
speaks RPC only after the session-id handshake. Its RPC works on 127.0.0.1 (it is only
peers on 127.0.0.0/8 that it refuses), so no network namespace is needed here. With
CI=true a missing transmission-daemon fails the test (tests/interop/tools.py `missing`).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bitswarm.cli.remote_client import Endpoint, RemoteError, RpcClient
from tests.interop.tools import require_program

__all__ = ["RunningDaemon", "free_port", "transmission_daemon"]


@dataclass(frozen=True)
class RunningDaemon:
    """A daemon the tests drive: its RPC URL, credentials, and where its data goes."""

    url: str
    download_dir: Path
    username: str | None = None
    password: str | None = None

    def rpc(self) -> RpcClient:
        """A client to check the daemon's own replies with (not through the CLI)."""
        return RpcClient(Endpoint(self.url, self.username, self.password), timeout=10)

    def raw(self, method: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.rpc().call(method, arguments)

    def torrent(self, tid: int, *fields: str) -> dict[str, Any]:
        torrents = self.raw("torrent-get", {"ids": [tid], "fields": list(fields)})["torrents"]
        assert len(torrents) == 1, torrents
        found: dict[str, Any] = torrents[0]
        return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(check: Any, what: str, timeout: float = 30.0) -> Any:
    """Poll `check()` until it returns something truthy; fail saying `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


@contextmanager
def transmission_daemon(
    workdir: Path, *, username: str | None = None, password: str | None = None
) -> Iterator[RunningDaemon]:
    """Debian's transmission-daemon 3.00 with RPC on 127.0.0.1 (Basic auth when given)."""
    program = require_program("transmission-daemon")
    config = workdir / "transmission-config"
    download = workdir / "transmission-downloads"
    config.mkdir(parents=True)
    download.mkdir()
    port = free_port()
    settings = {
        "rpc-enabled": True,
        "rpc-bind-address": "127.0.0.1",
        "rpc-port": port,
        "rpc-authentication-required": username is not None,
        "rpc-username": username or "",
        "rpc-password": password or "",  # plain text: transmission hashes it when it starts
        "rpc-whitelist-enabled": False,
        "rpc-host-whitelist-enabled": False,
        "peer-port": free_port(),
        "peer-port-random-on-start": False,
        "bind-address-ipv4": "127.0.0.1",
        "bind-address-ipv6": "::1",
        "dht-enabled": False,
        "lpd-enabled": False,
        "pex-enabled": False,
        "utp-enabled": False,
        "port-forwarding-enabled": False,
        "download-dir": str(download),
        "incomplete-dir-enabled": False,
        "watch-dir-enabled": False,
        "start-added-torrents": True,
        "download-queue-enabled": False,
        "seed-queue-enabled": False,
        "message-level": 2,
    }
    (config / "settings.json").write_text(json.dumps(settings, indent=2))
    log = (workdir / "transmission.log").open("wb")
    proc = subprocess.Popen(
        [program, "-f", "-g", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    daemon = RunningDaemon(
        f"http://127.0.0.1:{port}/transmission/rpc", download, username, password
    )

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(
                f"transmission-daemon exited with {proc.returncode}: "
                + (workdir / "transmission.log").read_text(errors="replace")[-2000:]
            )
        try:
            daemon.raw("session-get", {"fields": ["version"]})
        except RemoteError:
            return False
        return True

    try:
        wait_for(answers, "transmission-daemon's RPC")
        yield daemon
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
