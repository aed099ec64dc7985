"""A child program under the harness's control: logs, CPU and memory figures, a sure end.

Each peer program runs as a `ManagedProcess`: in its own session (so a stop can signal the
whole process group), killed by the kernel if the harness itself dies, optionally inside a
network namespace (`ip netns exec` execs the program, so the PID we hold is the program's
own), with stdout and stderr kept in log files.
While it runs, CPU time comes from /proc/PID/stat (utime + stime) and peak memory from
/proc/PID/status (VmHWM); once it ends we reap it with wait4 and take both from its rusage.

`JsonLineFeed` collects the JSON progress lines that lt_runner and bitswarm print.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["JsonLineFeed", "LineHandler", "ManagedProcess", "ResourceUsage"]

LineHandler = Callable[[str], None]
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: the child only calls it
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the forked child: get SIGKILL if the harness dies (kill -9 included).

    The setting survives `ip netns exec` (no set-user-ID program), so a harness killed
    mid-test leaves no peer behind; opentracker drops it when it changes user.
    """
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    cpu_seconds: float
    peak_rss_bytes: int


def _read_proc_usage(pid: int) -> ResourceUsage | None:
    """utime+stime and VmHWM of a live process, or None when /proc has no entry any more.

    A process that is exiting (its memory already released, not yet reaped) has no VmHWM
    line: its peak then reads 0, which means "unknown", not "none" (see `_later`).
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Field 2 (comm) may hold spaces and parentheses: the rest starts after the last ')'.
    # Fields 14 and 15 (utime, stime) are then at offsets 11 and 12 (proc(5)).
    rest = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(rest[11]) + int(rest[12])) / _CLOCK_TICKS
    peak_kib = 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            peak_kib = int(line.split()[1])
            break
    return ResourceUsage(cpu, peak_kib * 1024)


def _later(previous: ResourceUsage, sample: ResourceUsage) -> ResourceUsage:
    """A new /proc sample: its CPU time, and the higher peak. A peak is a high-water mark,
    so it never drops; a sample taken while the process exits has none and used to replace
    the real figure with 0 (the benchmarks' "unsampled" runs)."""
    return ResourceUsage(sample.cpu_seconds, max(previous.peak_rss_bytes, sample.peak_rss_bytes))


class ManagedProcess:
    """One child program; `stop()` always leaves it reaped, whatever state it was in."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        log_dir: Path,
        netns: str | None = None,
        cwd: Path | None = None,
        on_line: LineHandler | None = None,
    ) -> None:
        prefix = ["ip", "netns", "exec", netns] if netns else []
        self.argv = [*prefix, *argv]
        self.name = name
        self.stdout_path = log_dir / f"{name}.stdout.log"
        self.stderr_path = log_dir / f"{name}.stderr.log"
        self._cwd = cwd
        self._on_line = on_line
        self._popen: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._files: list[IO[bytes]] = []
        self._returncode: int | None = None
        self._usage = ResourceUsage(0.0, 0)

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} was not started")
        return self._popen.pid

    def start(self) -> None:
        self.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        stdout_file = self.stdout_path.open("wb")
        stderr_file = self.stderr_path.open("wb")
        self._files = [stdout_file, stderr_file]
        try:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if self._on_line else stdout_file,
                stderr=stderr_file,
                cwd=self._cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except BaseException:
            for file in self._files:
                file.close()
            raise
        if self._on_line is not None:
            self._reader = threading.Thread(
                target=self._read_lines, args=(stdout_file,), name=f"{self.name}-stdout"
            )
            self._reader.daemon = True
            self._reader.start()

    def _read_lines(self, log: IO[bytes]) -> None:
        assert self._popen is not None and self._popen.stdout is not None
        assert self._on_line is not None
        for raw in self._popen.stdout:
            log.write(raw)
            log.flush()
            self._on_line(raw.decode("utf-8", "replace").rstrip("\n"))

    def poll(self) -> int | None:
        """The exit status once the process ended (reaping it), else None."""
        if self._returncode is not None or self._popen is None:
            return self._returncode
        try:
            pid, wait_status, rusage = os.wait4(self._popen.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: no rusage, keep the last sample
            self._returncode = self._popen.returncode if self._popen.returncode is not None else -1
            return self._returncode
        if pid == 0:
            sample = _read_proc_usage(self._popen.pid)
            if sample is not None:
                self._usage = _later(self._usage, sample)
            return None
        self._returncode = os.waitstatus_to_exitcode(wait_status)
        self._popen.returncode = self._returncode  # so Popen never waits on it again
        self._usage = ResourceUsage(rusage.ru_utime + rusage.ru_stime, rusage.ru_maxrss * 1024)
        return self._returncode

    def usage(self) -> ResourceUsage:
        """CPU seconds and peak RSS: live from /proc, or final from rusage once reaped."""
        self.poll()
        return self._usage

    def running(self) -> bool:
        return self._popen is not None and self.poll() is None

    def signal(self, signum: int) -> None:
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the process group, SIGKILL after `grace` seconds, then reap.

        The group is signalled only while its leader is unreaped, so the ID cannot have
        been reused by a process that is not ours.
        """
        if self._popen is None:
            return
        if self.poll() is None:
            self._signal_group(signal.SIGTERM)
            deadline = time.monotonic() + grace
            while self.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            if self.poll() is None:
                self._signal_group(signal.SIGKILL)
                while self.poll() is None:
                    time.sleep(0.01)
        if self._reader is not None:
            self._reader.join(timeout=2)
        if self._popen.stdout is not None:
            self._popen.stdout.close()
        for file in self._files:
            file.close()

    def _signal_group(self, signum: int) -> None:
        assert self._popen is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signum)

    def log_tail(self, lines: int = 15) -> str:
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            try:
                text = path.read_text(errors="replace").splitlines()[-lines:]
            except FileNotFoundError:
                continue
            if text:
                parts.append(f"--- {path.name} (last {len(text)} lines)\n" + "\n".join(text))
        return "\n".join(parts) or f"--- {self.name}: no output"


class JsonLineFeed:
    """What a child printed as one JSON object per line; the reader thread feeds it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[tuple[float, dict[str, Any]]] = []

    def feed(self, line: str) -> None:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            return  # not a progress line (a warning, say): it stays in the log file only
        if isinstance(record, dict):
            with self._lock:
                self._records.append((time.monotonic(), record))

    def latest(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._records[-1][1]) if self._records else {}

    def last(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """The latest record matching `predicate`."""
        with self._lock:
            for _, record in reversed(self._records):
                if predicate(record):
                    return dict(record)
        return None

    def first(
        self, predicate: Callable[[dict[str, Any]], bool]
    ) -> tuple[float, dict[str, Any]] | None:
        """Arrival time and content of the first record matching `predicate`."""
        with self._lock:
            records = list(self._records)
        for arrived, record in records:
            if predicate(record):
                return arrived, record
        return None
