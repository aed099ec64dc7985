"""opentracker (Debian's build) as a test tracker, on loopback or inside a namespace.

Debian builds opentracker in whitelist mode: it refuses every info-hash not listed in the
file given with `-w` (40 hex digits a line), and rereads that file on SIGHUP. It chroots
into `-d DIR` and drops to user `nobody`, so its folder and whitelist are world-readable
and the whitelist path is given relative to that folder.

`wait_for_peers` asks the tracker's scrape whether a seeder's announce has landed, so a
leecher that only learns peers from the tracker is not started too early (it would wait out
the tracker's interval, half an hour, before asking again).
"""

from __future__ import annotations

import signal
import socket
import time
import urllib.parse
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from bitswarm.bencode import bdecode

from .base import HarnessError
from .http_rpc import HttpReply, http_request
from .netns import free_port
from .process import ManagedProcess

__all__ = ["Opentracker"]

_WHITELIST = "whitelist.txt"


class Opentracker:
    """One opentracker process: `announce_url`, `allow(info_hash)`, `peer_count(...)`."""

    def __init__(
        self,
        workdir: Path,
        *,
        host: str = "127.0.0.1",
        netns: str | None = None,
        info_hashes: tuple[str, ...] = (),
    ) -> None:
        self.workdir = workdir
        self.host = host
        self.netns = netns
        self.http_port = 0
        self.udp_port = 0
        self._info_hashes = [_check_hash(value) for value in info_hashes]
        self._process: ManagedProcess | None = None

    name: ClassVar[str] = "opentracker"

    @staticmethod
    def unavailable_reason() -> str | None:
        import shutil

        return None if shutil.which("opentracker") else "opentracker is not installed"

    def _command(self) -> list[str]:
        """The tracker's argv, once `http_port` and `udp_port` are chosen."""
        return [
            "opentracker",
            "-i", self.host,
            "-p", str(self.http_port),
            "-P", str(self.udp_port),
            "-d", str(self.workdir),
            "-w", _WHITELIST,
        ]  # fmt: skip

    @property
    def announce_url(self) -> str:
        return f"http://{self.host}:{self.http_port}/announce"

    @property
    def udp_announce_url(self) -> str:
        return f"udp://{self.host}:{self.udp_port}/announce"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)  # it drops to `nobody` after chrooting here
        self._write_whitelist()
        self.http_port = free_port(self.host, self.netns)
        self.udp_port = free_port(self.host, self.netns, kind=socket.SOCK_DGRAM)
        self._process = ManagedProcess(
            self._command(), name=self.name, log_dir=self.workdir, netns=self.netns,
            cwd=self.workdir,
        )  # fmt: skip
        self._process.start()
        deadline = time.monotonic() + 10
        while True:
            try:
                http_request(self.host, self.http_port, "GET", "/stats", netns=self.netns)
                break
            except OSError as exc:
                if not self._process.running() or time.monotonic() > deadline:
                    tail = self._process.log_tail()
                    self.stop()
                    raise HarnessError(f"{self.name} did not start: {exc}\n{tail}") from exc
                time.sleep(0.05)
        # opentracker reads its whitelist in a thread of its own, which may run after the
        # server already answers: a busy machine saw the first announce of a listed hash
        # refused. Ready means every listed hash is accepted.
        for info_hash in self._info_hashes:
            while not self.is_allowed(info_hash):
                if time.monotonic() > deadline:
                    tail = self._process.log_tail()
                    self.stop()
                    raise HarnessError(f"{self.name} never loaded its whitelist\n{tail}")
                time.sleep(0.05)

    def allow(self, info_hash: str) -> None:
        """Whitelist one more info-hash (hex) and make the running tracker reread the list."""
        self._info_hashes.append(_check_hash(info_hash))
        self._write_whitelist()
        if self._process is not None:
            self._process.signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while not self.is_allowed(info_hash):
                if time.monotonic() > deadline:
                    raise HarnessError(f"opentracker ignored the new whitelist entry {info_hash}")
                time.sleep(0.05)

    def is_allowed(self, info_hash: str) -> bool:
        """Whether the tracker accepts announces for `info_hash`.

        The probe announces a dummy peer (port 1) and withdraws it at once: opentracker
        answers a `stopped` event even for a hash it refuses, so that alone proves nothing.
        """
        fields: dict[str, str | int | bytes] = {
            "info_hash": bytes.fromhex(info_hash),
            "peer_id": b"-HARNESS-PROBE-00000",
            "port": 1,
            "uploaded": 0,
            "downloaded": 0,
            "left": 0,
            "numwant": 0,
            "compact": 1,
        }
        reply = self._get(f"/announce?{urllib.parse.urlencode(fields)}")
        decoded = bdecode(reply.body, strict=False)
        allowed = isinstance(decoded, dict) and b"failure reason" not in decoded
        if allowed:
            self._get(f"/announce?{urllib.parse.urlencode({**fields, 'event': 'stopped'})}")
        return allowed

    def peer_count(self, info_hash: str) -> int:
        """Seeders plus leechers the tracker knows for `info_hash` (by its scrape)."""
        quoted = urllib.parse.quote_from_bytes(bytes.fromhex(info_hash))
        decoded = bdecode(self._get(f"/scrape?info_hash={quoted}").body, strict=False)
        files = decoded.get(b"files") if isinstance(decoded, dict) else None
        entry = files.get(bytes.fromhex(info_hash)) if isinstance(files, dict) else None
        if not isinstance(entry, dict):
            return 0  # unknown, or not whitelisted: opentracker leaves it out either way
        complete = entry.get(b"complete", 0)
        incomplete = entry.get(b"incomplete", 0)
        assert isinstance(complete, int) and isinstance(incomplete, int)
        return complete + incomplete

    def wait_for_peers(self, info_hash: str, count: int = 1, timeout: float = 15.0) -> None:
        """Block until at least `count` peers have announced `info_hash`."""
        deadline = time.monotonic() + timeout
        while self.peer_count(info_hash) < count:
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"{self.name} at {self.announce_url} saw fewer than {count} peers "
                    f"for {info_hash} after {timeout:.0f} s"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop(grace=2.0)

    def _get(self, path: str) -> HttpReply:
        return http_request(self.host, self.http_port, "GET", path, netns=self.netns)

    def _write_whitelist(self) -> None:
        path = self.workdir / _WHITELIST
        path.write_text("".join(f"{value}\n" for value in self._info_hashes))
        path.chmod(0o644)

    def __enter__(self) -> Opentracker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _check_hash(value: str) -> str:
    lowered = value.lower()
    if len(lowered) != 40 or any(c not in "0123456789abcdef" for c in lowered):
        raise ValueError(f"not a hex v1 info-hash: {value!r}")
    return lowered
