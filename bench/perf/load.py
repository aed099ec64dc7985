"""How much CPU other programs took while a benchmark ran: to spot a disturbed figure.

Other developers run things on this 2-core machine at the same time, so a figure can be
bent by work that is not ours. `LoadWatch` measures, over one measured interval, the CPU
the whole machine used (/proc/stat) minus the CPU used by this process and its
descendants (the peers it started), sampled from /proc/PID/stat every quarter second. The
difference is "other CPU": a run whose other CPU exceeds a threshold is re-run.

Processes of ours that end between two samples lose their last quarter second; the peers
are stopped only after the watch has ended, so that error is small and errs on the side of
calling a run disturbed.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["DISTURBED_CORES", "LoadFigures", "LoadWatch", "process_cpu_seconds"]

_TICKS = os.sysconf("SC_CLK_TCK")
_KTHREADD = 2  # the parent of every kernel thread
DISTURBED_CORES = 0.3  # other programs used more than 30% of one core on average


def _machine_busy_seconds() -> float:
    """CPU seconds all CPUs spent running tasks since boot: user, nice and system time.

    Interrupt and softirq time (our own loopback traffic, mostly) and steal are left out.
    """
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields]
    # user nice system idle iowait irq softirq steal guest guest_nice; guest is in user
    return (values[0] + values[1] + values[2]) / _TICKS


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # after comm, which may hold spaces


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a live process (proc(5) fields 14 and 15), or None if gone."""
    rest = _stat_fields(pid)
    if rest is None:
        return None
    return (int(rest[11]) + int(rest[12])) / _TICKS


def _our_tree(root: int) -> dict[int, float]:
    """CPU seconds of `root`, every live descendant and every kernel thread, by PID."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        rest = _stat_fields(int(entry.name))
        if rest is None:
            continue
        pid = int(entry.name)
        parents[pid] = int(rest[1])
        cpu[pid] = (int(rest[11]) + int(rest[12])) / _TICKS
    ours: dict[int, float] = {}
    for pid in cpu:
        walk, seen = pid, 0
        while walk > 1 and seen < 64:
            if walk in (root, _KTHREADD):
                ours[pid] = cpu[pid]
                break
            walk = parents.get(walk, 0)
            seen += 1
    return ours


@dataclass(frozen=True, slots=True)
class LoadFigures:
    seconds: float  # wall time watched
    machine_cpu: float  # CPU seconds the whole machine used
    our_cpu: float  # CPU seconds this process, its descendants and kernel threads used
    loadavg_start: str

    @property
    def other_cores(self) -> float:
        """Average number of cores other programs kept busy (0.5 = half a core)."""
        return max(0.0, self.machine_cpu - self.our_cpu) / max(self.seconds, 1e-9)

    @property
    def disturbed(self) -> bool:
        return self.other_cores > DISTURBED_CORES


class LoadWatch:
    """`with LoadWatch() as watch: ...` then `watch.figures` (see the module docstring)."""

    def __init__(self, interval: float = 0.25) -> None:
        self._interval = interval
        self._root = os.getpid()
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._busy0 = 0.0
        self._loadavg = ""
        self.figures: LoadFigures | None = None

    def _sample(self) -> None:
        for pid, cpu in _our_tree(self._root).items():
            self._first.setdefault(pid, 0.0)  # a process born while watching starts at 0
            self._last[pid] = cpu

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> LoadWatch:
        try:
            self._loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        except OSError:
            self._loadavg = "unknown"
        self._first = _our_tree(self._root)
        self._last = dict(self._first)
        self._busy0 = _machine_busy_seconds()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="load-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        seconds = time.monotonic() - self._started
        machine = _machine_busy_seconds() - self._busy0
        ours = sum(self._last[pid] - self._first.get(pid, 0.0) for pid in self._last)
        self.figures = LoadFigures(seconds, machine, ours, self._loadavg)
