"""Helpers of the tracker-server tests: a tracker process, a redis-server, raw clients.

`TrackerProcess` runs ``python -m bitswarm.tracker_server`` (what ``bitswarm tracker``
runs) on free loopback ports and reads its one ``listening`` line; `RedisServer` runs a
real redis-server on a free port with no persistence. Both always stop what they start.
With ``CI=true`` a missing program fails the test instead of skipping it (DESIGN.md).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import NoReturn

import pytest

from bitswarm.bencode import BValue, bdecode

__all__ = ["RedisServer", "TrackerProcess", "http_get", "missing", "require_program"]


def missing(what: str) -> NoReturn:
    """Fail under CI=true, skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI=true: test programs must be installed)", pytrace=False)
    pytest.skip(what)


def require_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"program {name!r} is not installed")
    return path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TrackerProcess:
    """One ``bitswarm tracker`` process; `http_url`, `udp_url`, `http_port`, `udp_port`."""

    def __init__(self, *args: str, workdir: Path, udp: bool = True, http: bool = True) -> None:
        self.args = list(args)
        self.workdir = workdir
        self.http = http
        self.udp = udp
        self.proc: subprocess.Popen[str] | None = None
        self.ready: dict[str, object] = {}
        self.started_in = 0.0
        self.start_cpu = 0.0

    @property
    def http_url(self) -> str:
        return str(self.ready["http"])

    @property
    def udp_url(self) -> str:
        return str(self.ready["udp"])

    @property
    def http_port(self) -> int:
        return int(self.http_url.rsplit(":", 1)[1].split("/")[0])

    @property
    def udp_port(self) -> int:
        return int(self.udp_url.rsplit(":", 1)[1].split("/")[0])

    @property
    def log_path(self) -> Path:
        return self.workdir / "tracker.log"

    def start(self) -> TrackerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "bitswarm.tracker_server"]
        if self.http:
            argv += ["--http", "127.0.0.1:0"]
        if self.udp:
            argv += ["--udp", "127.0.0.1:0"]
        argv += self.args
        started = time.monotonic()
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(5)
            raise AssertionError(f"tracker exited {self.proc.returncode}: {self.log()}")
        self.ready = json.loads(line)
        self.started_in = time.monotonic() - started
        # the CPU it took to get there: what the start costs, whatever else the machine runs
        ticks = os.sysconf("SC_CLK_TCK")
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        self.start_cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        return self

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> TrackerProcess:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class RedisServer:
    """A real redis-server on 127.0.0.1, no persistence; `url`; restartable on its port."""

    def __init__(self, workdir: Path) -> None:
        require_program("redis-server")
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("redis-server did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def http_get(port: int, target: str | bytes, *, headers: str = "") -> tuple[int, bytes, str]:
    """One raw HTTP/1.1 GET to 127.0.0.1:`port` (the target is sent byte for byte).

    Returns (status, body, headers).
    """
    raw_target = target.encode("latin-1") if isinstance(target, str) else target
    request = (b"GET " + raw_target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               + headers.encode() + b"Connection: close\r\n\r\n")  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body, head.decode("latin-1")


def bdict(body: bytes) -> dict[bytes, BValue]:
    value = bdecode(body)
    assert isinstance(value, dict), body
    return value
