"""Child processes for the daemon benchmark: own process groups, CPU and memory from /proc.

Every daemon runs in a new session (its own process group), so stopping it stops whatever
it started too. `Child.stop` sends SIGTERM to the group and waits (a daemon saves its
state on SIGTERM: the next start reads it), then SIGKILL. Every child still alive when
the benchmark exits -- normally, by an exception, or by SIGTERM/SIGINT/SIGHUP -- is killed
by `kill_all`, which `install_cleanup` hooks to atexit and to those signals.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

__all__ = ["Child", "cpu_seconds", "free_port", "install_cleanup", "kill_all", "rss_mib"]

_LIVE: set[Child] = set()
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process so far, in seconds (fields 14 and 15 of its stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (and, for a peer port, its UDP twin)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Child:
    """One daemon process in its own process group; output goes to `log` (stdout to a pipe
    with `pipe`, for a ready line)."""

    def __init__(
        self, argv: list[str], log: Path, env: dict[str, str] | None = None, *, pipe: bool = False
    ) -> None:
        self.argv = argv
        self.log = log
        self.started = time.perf_counter()
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE if pipe else self._out,
            stderr=self._out,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check(self) -> None:
        if not self.alive():
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.argv[0]} exited with {self.proc.returncode}:\n{tail}")

    def readline(self, timeout: float) -> str:
        """The next line on stdout ("" if none came within `timeout` or the process ended)."""
        import threading

        out = self.proc.stdout
        assert out is not None
        box: list[bytes] = []
        reader = threading.Thread(target=lambda: box.append(out.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        return box[0].decode() if box else ""

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 60.0) -> float:
        """SIGTERM the group, wait for the exit (SIGKILL after `timeout`); seconds it took."""
        t0 = time.perf_counter()
        if self.alive():
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(30)
        self._signal(signal.SIGKILL)  # anything the daemon left behind in its group
        self._close()
        return time.perf_counter() - t0

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(30)
        self._close()

    def _close(self) -> None:
        _LIVE.discard(self)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._out.close()


def kill_all() -> None:
    for child in list(_LIVE):
        child.kill()


def install_cleanup() -> Callable[[], None]:
    """Kill every live child at exit and on SIGTERM, SIGINT or SIGHUP; returns a function
    that puts the previous signal handlers back (the benchmark may run inside a test)."""
    atexit.register(kill_all)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        kill_all()
        sys.exit(128 + signum)

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        atexit.unregister(kill_all)

    return restore
