"""Watching one peer process while it transfers: its Python stacks, CPU split and memory.

`StackSampler` runs `py-spy record` (non-blocking, so the target is not paused) and notes
the target's user and system CPU over the same interval, because py-spy counts a thread
inside a system call as busy: the split tells copying in the kernel (system) from Python
work (user), and a thread merely waiting in pwrite for the kernel's dirty-page writeback
from either. `MemoryTrace` samples the target's RSS and peak RSS together with the
machine's dirty + writeback page-cache memory, to show whether a peer's memory follows the
disk falling behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = [
    "PYSPY_RATE",
    "MemoryTrace",
    "Sampled",
    "StackSampler",
    "TracePoint",
    "cpu_split",
    "dirty_threshold_bytes",
]

PYSPY_RATE = 100.0  # samples per second
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a live process; (0, 0) once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0, 0.0
    rest = text[text.rindex(")") + 2 :].split()
    return int(rest[11]) / _TICKS, int(rest[12]) / _TICKS


def dirty_threshold_bytes() -> int:
    """The page-cache dirty memory at which the kernel makes writers wait (vmstat)."""
    for line in Path("/proc/vmstat").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "nr_dirty_threshold":
            return int(value) * _PAGE
    return 0


@dataclass(frozen=True, slots=True)
class Sampled:
    path: Path  # py-spy collapsed stacks
    seconds: float
    user_seconds: float  # the target's CPU over the sampled interval
    system_seconds: float


class StackSampler:
    """`py-spy record` of one process until `stop()` (see the module docstring).

    A thread reads the target's CPU every 0.1 s, so that a target which exits before
    `stop()` (a leecher done downloading) still gets its CPU split and sampled interval.
    """

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        self._pid = pid
        program = Path(sys.executable).with_name("py-spy")
        self._log = (out.parent / f"{out.name}.log").open("wb")
        self._cpu0 = cpu_split(pid)
        self._cpu = self._cpu0
        self._process = subprocess.Popen(
            [str(program), "record", "-p", str(pid), "-r", str(int(PYSPY_RATE)), "-f", "raw",
             "--nonblocking", "-o", str(out)],
            stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._started = self._alive_at = time.monotonic()
        self._done = threading.Event()
        self._watch = threading.Thread(target=self._follow, name="cpu-follow", daemon=True)
        self._watch.start()
        self._result: Sampled | None = None

    def _follow(self) -> None:
        while not self._done.wait(0.1):
            now, cpu = time.monotonic(), cpu_split(self._pid)
            if cpu == (0.0, 0.0):
                return  # gone: keep the last figures
            self._cpu, self._alive_at = cpu, now

    def stop(self) -> Sampled:
        """Stop sampling (py-spy writes its file on SIGINT); idempotent."""
        if self._result is not None:
            return self._result
        self._done.set()
        self._watch.join()
        cpu = cpu_split(self._pid)
        if cpu != (0.0, 0.0):
            self._cpu, self._alive_at = cpu, time.monotonic()
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()
        self._result = Sampled(
            self.out,
            self._alive_at - self._started,
            max(0.0, self._cpu[0] - self._cpu0[0]),
            max(0.0, self._cpu[1] - self._cpu0[1]),
        )
        return self._result


@dataclass(frozen=True, slots=True)
class TracePoint:
    seconds: float  # since the trace began
    rss_bytes: int
    peak_rss_bytes: int
    dirty_bytes: int  # the machine's Dirty + Writeback page-cache memory


def _process_memory(pid: int) -> tuple[int, int] | None:
    rss = hwm = -1
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    return (rss, hwm) if rss >= 0 and hwm >= 0 else None  # a zombie has neither


def _dirty_bytes() -> int:
    total = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(("Dirty:", "Writeback:")):
            total += int(line.split()[1]) * 1024
    return total


class MemoryTrace:
    """`with MemoryTrace(pid) as trace:` samples every `interval` s into `trace.points`."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-trace", daemon=True)
        self._started = 0.0
        self.points: list[TracePoint] = []

    def _sample(self) -> None:
        memory = _process_memory(self._pid)
        if memory is not None:
            self.points.append(TracePoint(time.monotonic() - self._started, memory[0],
                                          memory[1], _dirty_bytes()))  # fmt: skip

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    @property
    def peak_rss_bytes(self) -> int:
        return max((p.peak_rss_bytes for p in self.points), default=0)

    def __enter__(self) -> MemoryTrace:
        self._started = time.monotonic()
        self._sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
