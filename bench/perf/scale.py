"""P6: idle cost of one bitswarm process seeding 1,000 torrents to 500 connected peers.

Two child processes (bench/perf/scale_procs.py): the host, one `Session` seeding every
torrent of a cached set (1,000 × 64 KiB v1 torrents by default), and the idle peers, 500
TCP connections that handshake, say `interested` and then only keep the connection alive.
Measured on the host, from /proc/PID/stat and /proc/PID/status:

1. once every torrent is seeding and nothing is connected: CPU over `windows` windows of
   `window_seconds` (median), RSS and threads;
2. with the 500 peers connected (checked on both sides, before and after): the same.

CPU is utime + stime of the whole process (every thread) over the window, as a percentage
of one core. Then the event loop's thread is profiled with cProfile for `profile_seconds`
(profiles.py says where the time goes); the figures above are taken without it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bitswarm.aio.disk_pool import IO_THREADS, MAX_THREADS, usable_cores
from bitswarm.aio.peer import READ_BUFFER, READ_BUFFER_START
from bitswarm.session import SessionConfig
from bitswarm_lab.peers.process import ManagedProcess

from .. import OUT
from .load import process_cpu_seconds
from .profiles import profile_table
from .report import TargetReport, Verdict, human_size, table

__all__ = ["IdleFigures", "ScaleResult", "p6_report", "run_scale"]

_PROCS = Path(__file__).with_name("scale_procs.py")  # run as a script: it needs only bitswarm
Record = dict[str, Any]


class _Events:
    """The JSON lines of one child, in order, with a way to wait for the next match."""

    def __init__(self) -> None:
        self._records: list[Record] = []
        self._seen = 0  # records before this index were returned or skipped by `wait`
        self._lock = threading.Lock()

    def feed(self, line: str) -> None:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            return  # not a status line: it stays in the log file only
        if isinstance(record, dict):
            with self._lock:
                self._records.append(record)

    def wait(
        self, predicate: Callable[[Record], bool], timeout: float, process: ManagedProcess
    ) -> Record:
        """The first record after the last one returned that matches `predicate`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                fresh = self._records[self._seen :]
            for offset, record in enumerate(fresh):
                if predicate(record):
                    self._seen += offset + 1
                    return record
            if process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{process.name}: no matching line\n{process.log_tail()}")


_STACK_KIB = 8192  # glibc's default thread stack (ulimit -s): one anonymous 8 MiB mapping


def _thread_stack_rss(pid: int) -> int:
    """RSS of the process's 8 MiB anonymous mappings, i.e. its threads' stacks (bytes)."""
    total, in_stack = 0, False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and not head[0].endswith(":"):
            start, end = (int(x, 16) for x in head[0].split("-"))
            in_stack = (end - start) // 1024 == _STACK_KIB and len(head) == 5
        elif in_stack and head and head[0] == "Rss:":
            total += int(head[1]) * 1024
    return total


def _status_of(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (bytes) and Threads of a live process."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
        elif key == "Threads":
            out[key] = int(value)
    return out


@dataclass(frozen=True, slots=True)
class IdleFigures:
    cpu_percent: tuple[float, ...]  # per window, % of one core
    rss_bytes: int
    peak_rss_bytes: int
    threads: int
    stack_rss_bytes: int  # of those threads' stacks
    loadavg: str

    @property
    def median_cpu_percent(self) -> float:
        ordered = sorted(self.cpu_percent)
        return ordered[len(ordered) // 2]


@dataclass(slots=True)
class ScaleResult:
    torrents: int
    torrent_size: int
    peers: int
    add_seconds: float
    window_seconds: float
    no_peers: IdleFigures
    with_peers: IdleFigures
    peers_received_bytes: int
    profile_tables: str = ""
    profile_note: str = ""
    notes: list[str] = field(default_factory=list)


def _idle_windows(pid: int, windows: int, seconds: float) -> IdleFigures:
    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    shares: list[float] = []
    for _ in range(windows):
        before, started = process_cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        after, ended = process_cpu_seconds(pid), time.monotonic()
        if before is None or after is None:
            raise RuntimeError("the host process ended while being measured")
        shares.append(100.0 * (after - before) / (ended - started))
    status = _status_of(pid)
    return IdleFigures(
        tuple(shares),
        status["VmRSS"],
        status["VmHWM"],
        status["Threads"],
        _thread_stack_rss(pid),
        loadavg,
    )


def _ensure_data(folder: Path, torrents: int, size: int) -> None:
    data = folder / "data"
    have = len(list((folder / "torrents").glob("*.torrent"))) if folder.is_dir() else 0
    if have == torrents and all(p.stat().st_size == size for p in data.iterdir()):
        return
    print(f"perf: making {torrents} torrents of {size} bytes in {folder} ...", file=sys.stderr)
    process = ManagedProcess(
        [sys.executable, str(_PROCS), "make", "--dir", str(folder), "--count", str(torrents),
         "--size", str(size)],
        name="p6-make", log_dir=folder,
    )  # fmt: skip
    process.start()
    while process.poll() is None:
        time.sleep(0.1)
    if process.poll() != 0:
        raise RuntimeError(f"making the torrents failed\n{process.log_tail()}")


def _child(argv: list[str], name: str, workdir: Path, events: _Events) -> ManagedProcess:
    process = ManagedProcess(
        [sys.executable, str(_PROCS), *argv], name=name, log_dir=workdir, on_line=events.feed
    )
    process.start()
    return process


def _ask(
    process: ManagedProcess, events: _Events, ok: Callable[[Record], bool], timeout: float
) -> Record:
    """SIGUSR1 the child until a status line satisfying `ok` arrives."""
    deadline = time.monotonic() + timeout
    while True:
        process.signal(signal.SIGUSR1)
        record = events.wait(lambda r: r.get("event") == "status", 10, process)
        if ok(record) or time.monotonic() >= deadline:
            return record
        time.sleep(1.0)


def run_scale(
    *,
    torrents: int = 1000,
    torrent_size: int = 64 * 1024,
    peers: int = 500,
    windows: int = 3,
    window_seconds: float = 30.0,
    settle_seconds: float = 12.0,
    profile_seconds: float = 30.0,
) -> ScaleResult:
    folder = OUT / "cache" / f"p6-{torrents}x{torrent_size}"
    _ensure_data(folder, torrents, torrent_size)
    workdir = OUT / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-p6-{os.getpid()}"
    workdir.mkdir(parents=True)
    host_events, peer_events = _Events(), _Events()
    host = _child(["host", "--dir", str(folder), "--max-connections", str(peers + 100),
                   "--profile-out", str(workdir / "host.pstats")],
                  "p6-host", workdir, host_events)  # fmt: skip
    idle: ManagedProcess | None = None
    try:
        ready = host_events.wait(lambda r: r.get("event") == "ready", 900, host)
        if ready["seeding"] != torrents:
            raise RuntimeError(f"only {ready['seeding']} of {torrents} torrents are seeding")
        time.sleep(settle_seconds)
        alone = _idle_windows(host.pid, windows, window_seconds)

        idle = _child(["peers", "--dir", str(folder), "--port", str(ready["port"]),
                       "--count", str(peers)], "p6-peers", workdir, peer_events)  # fmt: skip
        connected = peer_events.wait(lambda r: r.get("event") == "connected", 300, idle)
        if connected["open"] != peers:
            raise RuntimeError(
                f"only {connected['open']} of {peers} peers connected: "
                f"{connected.get('first_failure')}"
            )
        seen = _ask(host, host_events, lambda r: r["connections"] == peers, 30)
        if seen["connections"] != peers:
            raise RuntimeError(f"the host counts {seen['connections']} of {peers} connections")
        time.sleep(settle_seconds)
        busy = _idle_windows(host.pid, windows, window_seconds)
        after = _ask(host, host_events, lambda r: True, 10)
        still = _ask(idle, peer_events, lambda r: True, 10)
        if after["connections"] != peers or still["open"] != peers:
            raise RuntimeError(f"connections dropped while measuring: host {after}, peers {still}")

        result = ScaleResult(
            torrents,
            torrent_size,
            peers,
            float(ready["add_seconds"]),
            window_seconds,
            alone,
            busy,
            int(still["received_bytes"]),
        )
        if profile_seconds > 0:
            host.signal(signal.SIGUSR2)
            host_events.wait(lambda r: r.get("event") == "profiling", 10, host)
            time.sleep(profile_seconds)
            host.signal(signal.SIGUSR2)
            done = host_events.wait(lambda r: r.get("event") == "profiled", 60, host)
            result.profile_tables, result.profile_note = profile_table(
                Path(done["path"]), profile_seconds
            )
        return result
    finally:
        if idle is not None:
            idle.stop()
        host.stop(grace=30)


def p6_report(result: ScaleResult, command: str) -> TargetReport:
    alone, busy = result.no_peers, result.with_peers
    report = TargetReport("P6", "P6 scale", command)
    cpu = busy.median_cpu_percent
    report.verdicts += [
        Verdict(f"P6 idle CPU, {result.torrents:,} seeding torrents and {result.peers} "
                "connected peers", "< 5 % of one core", f"{cpu:.1f} %", cpu < 5.0),
        Verdict("P6 RSS of that process", "recorded",
                f"{busy.rss_bytes / 1e6:.0f} MB ({alone.rss_bytes / 1e6:.0f} MB before the "
                "peers connected)", None),
    ]  # fmt: skip

    def row(label: str, figures: IdleFigures) -> list[str]:
        return [label, " / ".join(f"{c:.2f}" for c in figures.cpu_percent),
                f"{figures.median_cpu_percent:.2f}", f"{figures.rss_bytes / 1e6:.0f}",
                f"{figures.threads:,}", f"{figures.stack_rss_bytes / 1e6:.0f}",
                figures.loadavg]  # fmt: skip

    header = [
        "bitswarm session, idle",
        f"CPU % of a core per {result.window_seconds:.0f} s",
        "median",
        "RSS MB",
        "threads",
        "thread stacks RSS MB",
        "load average at start",
    ]
    report.blocks.append(table(header, [
        row(f"{result.torrents:,} torrents seeding, no peers", alone),
        row(f"{result.torrents:,} torrents seeding, {result.peers} peers connected", busy),
    ], "lrrrrrl"))  # fmt: skip
    per_peer = (busy.rss_bytes - alone.rss_bytes) / max(result.peers, 1)
    report.blocks.append(
        f"Setup: one `Session` on 127.0.0.1 (max_connections raised to {result.peers + 100}: "
        f"the default is {SessionConfig().max_connections}) seeding {result.torrents:,} v1 "
        f"torrents of {human_size(result.torrent_size)} (16 KiB pieces), added one by one "
        f"without resume data, so each was checked: {result.add_seconds:.1f} s for all. "
        f"Then a second process opened {result.peers} TCP connections spread evenly over "
        f"the torrents (connection i to torrent i × {result.torrents:,} ÷ {result.peers}), "
        "each a BEP 3 handshake (BEP 10 "
        "bit set), an extension handshake and `interested`, then only a keep-alive a minute; "
        "no block is ever requested, so the host only holds torrents and connections. "
        f"The idle peers received {result.peers_received_bytes:,} bytes in all. CPU is the "
        "host's utime + stime (all threads) over each window, after a settling pause; "
        "connections were counted on both sides before and after."
    )
    pool_threads = min(MAX_THREADS, usable_cores() + IO_THREADS)
    report.blocks.append(
        f"Memory: {busy.threads:,} threads for {result.torrents:,} torrents — every "
        "torrent's `DiskWorker` uses the session's one `DiskPool` (`bitswarm/aio/disk_pool.py`"
        f", at most {pool_threads} threads here, started on demand); the stacks of all the "
        f"process's threads hold {busy.stack_rss_bytes / 1e6:.0f} MB of RSS. The "
        f"connections added {per_peer / 1024:.0f} KiB of RSS each; a `PeerProtocol` starts "
        f"with a {READ_BUFFER_START // 1024} KiB read buffer and doubles it, up to "
        f"{READ_BUFFER // 1024} KiB, only when a read fills it (`bitswarm/aio/peer.py`)."
    )
    if result.profile_tables:
        why = "P6 not met" if cpu >= 5.0 else "where the idle CPU goes"
        report.blocks += [f"Profile ({why}): {result.profile_note}", result.profile_tables]
    return report
