"""Where a leecher's CPU per GiB goes, by thread: A/B runs of leechers, alternating.

    .venv/bin/python -m bench.perf.leecher_threads [--runs 3] [--size 1GiB]
                                                   [LEECHER ...]

LEECHER is a name of the harness (bitswarm_lab.peers.transfer.PEER_CLASSES): by default
`bitswarm` (O_DIRECT writes, the default since issue 15), `bitswarm-buffered`
(`--no-direct-io`, the old default) and `libtorrent`. Each run starts a fresh libtorrent
seeder, waits for the machine's freed memory to settle (bench/transfer/memory_state.py),
then times one leecher while sampling its threads' CPU from /proc/PID/task/*/stat every
50 ms; the last sample before completion is kept. The main thread is the event loop's
for bitswarm (the disk pool's threads are the others); libtorrent's main thread is its
Python driver, the work is in its own threads. Prints one line per run and the medians:
MB/s, CPU s/GiB (user + system, from the harness at completion), and of it the main
thread's and the other threads'. Issue 15 judged each change of the write path by these.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from bitswarm_lab.peers.base import Endpoint, Peer, PeerSpec, Role
from bitswarm_lab.peers.netns import free_port
from bitswarm_lab.peers.torrent_files import parse_size
from bitswarm_lab.peers.transfer import PEER_CLASSES

from .. import OUT
from ..transfer import memory_state
from ..transfer.one_to_one import cached_torrent
from .report import loadavg

_TICKS = os.sysconf("SC_CLK_TCK")
_LOOPBACK = "127.0.0.1"
_GIB = float(1 << 30)
DEFAULT_LEECHERS = ("bitswarm", "bitswarm-buffered", "libtorrent")


def thread_cpu_split(pid: int) -> dict[int, tuple[float, float]]:
    """CPU seconds (user, system) of each live thread of `pid`, by thread id."""
    out: dict[int, tuple[float, float]] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            raw = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        fields = raw.rsplit(")", 1)[1].split()
        out[int(tid)] = (int(fields[11]) / _TICKS, int(fields[12]) / _TICKS)
    return out


def one_run(
    leecher: str, size: int, piece_size: int, peer_class: type[Peer] | None = None
) -> dict[str, float]:
    """MB/s, CPU s/GiB, and the main and other threads' CPU s/GiB of one download
    (user + system, and each apart). `peer_class` runs the leecher instead of
    `PEER_CLASSES[leecher]` (a profiled variant)."""
    torrent = cached_torrent(size, piece_size)
    workdir = OUT / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-threads-{os.getpid()}"
    seed_dir = workdir / "seed"
    seed_dir.mkdir(parents=True)
    try:
        os.link(torrent.path.parent / torrent.name, seed_dir / torrent.name)
        with ExitStack() as stack:
            s_spec = PeerSpec(Role.SEED, torrent.path, seed_dir, workdir / "s",
                              Endpoint(_LOOPBACK, free_port(_LOOPBACK)))  # fmt: skip
            seeder = stack.enter_context(PEER_CLASSES["libtorrent"](s_spec))
            seeder.wait_complete(120 + size / 2e6)
            memory_state.settle()
            spec = PeerSpec(Role.LEECH, torrent.path, workdir / "data", workdir / "l",
                            Endpoint(_LOOPBACK, free_port(_LOOPBACK)),
                            peers=(s_spec.listen,))  # fmt: skip
            peer = stack.enter_context((peer_class or PEER_CLASSES[leecher])(spec))
            assert peer.process is not None
            pid = peer.process.pid
            last: dict[int, tuple[float, float]] = {}
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    last.update(thread_cpu_split(pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                seconds = peer.wait_complete(120 + size / 2e6)
            finally:
                done.set()
                sampler.join()
            usage = peer.usage_at_completion
            assert usage is not None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    gib = size / _GIB
    main_user, main_sys = last.get(pid, (0.0, 0.0))
    all_user = sum(user for user, _ in last.values())
    all_sys = sum(system for _, system in last.values())
    return {
        "mb_s": size / seconds / 1e6,
        "cpu": usage.cpu_seconds / gib,
        "main": (main_user + main_sys) / gib,
        "others": (all_user + all_sys - main_user - main_sys) / gib,
        "main_user": main_user / gib,
        "main_sys": main_sys / gib,
        "others_user": (all_user - main_user) / gib,
        "others_sys": (all_sys - main_sys) / gib,
    }


def _line(what: str, r: dict[str, float]) -> str:
    return (f"{what}: {r['mb_s']:6.1f} MB/s, CPU {r['cpu']:.2f} s/GiB (main thread "
            f"{r['main']:.2f}, other threads {r['others']:.2f})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.leecher_threads")
    parser.add_argument("leechers", nargs="*", help=f"any of {', '.join(sorted(PEER_CLASSES))}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--piece-size", type=parse_size, default=parse_size("1MiB"))
    args = parser.parse_args(argv)
    leechers: list[str] = args.leechers or list(DEFAULT_LEECHERS)
    unknown = [name for name in leechers if name not in PEER_CLASSES]
    if unknown:
        parser.error(f"unknown leecher {unknown[0]!r}: any of {', '.join(sorted(PEER_CLASSES))}")
    print(f"load average at start: {loadavg()}", flush=True)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in leechers}
    for run in range(1, args.runs + 1):
        for name in leechers:
            r = one_run(name, args.size, args.piece_size)
            results[name].append(r)
            print(_line(f"run {run} {name:18s}", r) + f" (load {loadavg()})", flush=True)
    for name, runs in results.items():
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(_line(f"median {name:18s}", med))
    return 0


if __name__ == "__main__":
    sys.exit(main())
