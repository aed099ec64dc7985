"""Where a leecher's CPU per GiB goes: bitswarm's by thread and kind of work, libtorrent's too.

    .venv/bin/python -m bench leecher-profile [--runs 3] [--size 1GiB] [--rate 250]

P3 (CPU per GiB downloaded) is a ratio of two totals; this says what makes up bitswarm's.
Every run is a download of the cached 1 GiB torrent from a fresh libtorrent seeder on
loopback, through the harness as P1/P3 run it (bench/perf/leecher_threads.py `one_run`):

1. bitswarm and libtorrent leechers, alternating, `--runs` times each: every thread's user
   and system CPU from /proc/PID/task/*/stat, sampled every 50 ms until completion. For
   bitswarm the main thread is the event loop (network, wire, picker, requests) and the
   other threads are the disk pool (SHA-1, writes); for libtorrent the main thread is the
   harness's Python driver, its work is in its own threads.
2. One more bitswarm leecher started under `py-spy record --gil` (start-up included), which
   samples only the thread holding the GIL: the event loop thread's samples are its Python
   work, sorted into the kinds below by the functions on their stacks (first rule that
   matches). The loop thread's user CPU per GiB is split in those proportions; its system
   CPU is the kernel's (receiving, and loopback TCP, whose receive side runs inside the
   sender's system calls).

Prints a Markdown table (medians of step 1; shares from step 2). py-spy's own overhead
slows the profiled run; its shares, not its duration, are used.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path

from bitswarm_lab.peers.bitswarm_peer import BitswarmPeer
from bitswarm_lab.peers.process import LineHandler, ManagedProcess
from bitswarm_lab.peers.torrent_files import parse_size

from .. import OUT
from .leecher_threads import one_run
from .report import loadavg

__all__ = ["KINDS", "kind_of", "main", "shares"]

# (kind, rule): the first whose needle is on the stack (any frame) names the sample.
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("start-up: imports, argument parsing, session set-up",
     ("_find_and_load", "build_parser")),
    ("piece done: hand-off to the disk pool, haves", (
        "TorrentRuntime._verify", "TorrentCore.piece_checked", "DiskWorker.",
        "TorrentRuntime._flush", "TorrentCore.recycle")),
    ("wire: parsing received messages", ("PeerConnection.receive_data",)),
    ("requests: picking and sending the next blocks", ("TorrentCore._request_more",)),
    ("core: blocks into piece buffers, picker bookkeeping", (
        "TorrentCore.handle_blocks", "TorrentCore.handle_peer_event")),
    ("timers: once a second (choker, rates, announces)", (
        "TorrentRuntime.tick", "Session._tick", "TorrentRuntime._on_timer")),
    ("peer protocol glue (aio/peer.py, session/torrent.py)", (
        "PeerProtocol.", "MseStream.", "TorrentRuntime.peer_events")),
    ("event loop and transports (asyncio)", ("BaseEventLoop.run_forever",)),
)  # fmt: skip
_OTHER = "other (before the loop starts: CLI, logging, exit)"


def kind_of(frames: list[str]) -> str:
    """The kind of work of one sample's stack (outermost frame first)."""
    for kind, needles in KINDS:
        if any(needle in frame for frame in frames for needle in needles):
            return kind
    return _OTHER


def shares(raw: Path) -> tuple[dict[str, float], int]:
    """Each kind's share of the main thread's GIL samples in a py-spy raw file, and the
    number of samples. The main thread is the one py-spy names MainThread."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        if not n.isdigit() or "MainThread" not in frames[0]:
            continue
        counts[kind_of(frames[1:])] += int(n)
    total = sum(counts.values())
    return {kind: count / total for kind, count in counts.items()} if total else {}, total


def _profiled_class(out: Path, rate: int) -> type[BitswarmPeer]:
    """A bitswarm leecher started by py-spy, so that its start-up is sampled too."""

    class PySpyBitswarm(BitswarmPeer):
        program = "bitswarm-py-spy"

        def _spawn(
            self, argv: list[str], *, on_line: LineHandler | None = None, cwd: Path | None = None
        ) -> ManagedProcess:
            spy = str(Path(sys.executable).with_name("py-spy"))
            wrapped = [spy, "record", "--gil", "--threads", "--nonblocking", "-r", str(rate),
                       "-f", "raw", "-o", str(out), "--", *argv]  # fmt: skip
            return super()._spawn(wrapped, on_line=on_line, cwd=cwd)

        def stop(self) -> None:
            # A `--no-seed` leecher exits once complete, and py-spy then writes its file;
            # the harness's SIGTERM to the group would end py-spy before it wrote anything.
            deadline = time.monotonic() + 60
            while self.process is not None and self.process.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            super().stop()

    return PySpyBitswarm


def _row(what: str, ours: float | str, theirs: float | str = "") -> str:
    def cell(v: float | str) -> str:
        return f"{v:.2f}" if isinstance(v, float) else v

    return f"| {what} | {cell(ours)} | {cell(theirs)} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.leecher_profile")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each leecher")
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--piece-size", type=parse_size, default=parse_size("1MiB"))
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    args = parser.parse_args(argv)
    began = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"load average at start: {loadavg()}", flush=True)
    runs: dict[str, list[dict[str, float]]] = {"bitswarm": [], "libtorrent": []}
    for run in range(1, args.runs + 1):
        for name, results in runs.items():
            r = one_run(name, args.size, args.piece_size)
            results.append(r)
            print(f"run {run} {name}: {r['mb_s']:.0f} MB/s, {r['cpu']:.2f} CPU s/GiB "
                  f"(load {loadavg()})", flush=True)  # fmt: skip
    raw = OUT / "perf" / f"{time.strftime('%Y%m%d-%H%M%S')}-leecher-gil.raw"
    raw.parent.mkdir(parents=True, exist_ok=True)
    one_run("bitswarm", args.size, args.piece_size, _profiled_class(raw, args.rate))
    split, samples = shares(raw)
    med = {who: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for who, rs in runs.items()}
    ours, theirs = med["bitswarm"], med["libtorrent"]
    lines = [
        f"Command: `python -m bench leecher-profile --runs {args.runs}` (began {began}; "
        f"load average at the end {loadavg()}). CPU s per GiB downloaded, medians of "
        f"{args.runs} alternating runs; the Python kinds split the loop thread's user CPU by "
        f"{samples} py-spy `--gil` samples of one more bitswarm run.",
        "",
        "| where the CPU goes (s/GiB) | bitswarm | libtorrent |",
        "|---|---:|---:|",
        _row("**whole process** (user + system, at completion)", ours["cpu"], theirs["cpu"]),
        _row("main thread, user", ours["main_user"], theirs["main_user"]),
    ]
    order = [kind for kind, _ in KINDS] + [_OTHER]
    lines.extend(
        _row(f"&nbsp;&nbsp;{kind}", split[kind] * ours["main_user"])
        for kind in sorted(split, key=order.index)
    )
    lines += [
        _row("main thread, system (kernel)", ours["main_sys"], theirs["main_sys"]),
        _row("other threads, user", ours["others_user"], theirs["others_user"]),
        _row("other threads, system", ours["others_sys"], theirs["others_sys"]),
        _row("MB/s", f"{ours['mb_s']:.0f}", f"{theirs['mb_s']:.0f}"),
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
