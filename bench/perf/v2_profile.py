"""Where a bitswarm leecher's time goes on a v2-only torrent against v1 of the same data.

    .venv/bin/python -m bench.perf.v2_profile [--size 1GiB] [--runs 3] [--no-profile] [--hashing]

The v2 target of `bench perf p1 --meta v2` (v2.py) compares bitswarm's v2 rate with its v1
rate; this prints the two things that explain a miss without the libtorrent leecher's
runs: bitswarm's own v1 and v2 downloads from a libtorrent seeder, alternating `--runs`
times (each run once, however loaded the machine: the load average is printed beside), and
then one more v1 and one more v2 download with py-spy on the bitswarm leecher (every
thread, `profiles.stacks_table`), as Markdown for bench/RESULTS.md. `--hashing` adds the
in-process cost of one 1 MiB piece's check, SHA-1 against the v2 merkle hash: thread CPU
time alone, and wall time for 1 GiB of pieces hashed in a thread beside a thread that runs
Python with a system call every 200 iterations (as an event loop does), which shows what
the v2 check's 64 GIL releases per piece (one per 16 KiB leaf) cost next to the loop.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable

from bitswarm.merkle import block_hashes, piece_hash
from bitswarm.storage.verify import sha1_piece, v2_piece_root
from bitswarm_lab.peers.torrent_files import parse_size
from bitswarm_lab.peers.transfer import PEER_CLASSES

from .profiles import stacks_table
from .report import human_size, loadavg, median
from .transfers import TransferBench, transfer_once

__all__ = ["main"]

_SEEDER = "libtorrent"
_LEECHER = "bitswarm"


def _rates(bench: TransferBench, size: int, runs: int) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {"v1": [], "v2": []}
    seeder, leecher = PEER_CLASSES[_SEEDER], PEER_CLASSES[_LEECHER]
    for run in range(1, runs + 1):
        for meta in ("v1", "v2"):  # alternate, so drift hits both alike
            torrent = bench.torrent(size, meta)
            result = transfer_once(seeder, leecher, torrent, netns=False,
                                   timeout=bench.timeout(size))  # fmt: skip
            rates[meta].append(result.mb_per_s)
            line = (f"v2_profile: {meta} run {run}: {result.mb_per_s:.1f} MB/s, leecher CPU "
                    f"{result.cpu_seconds:.2f} s, load {loadavg()}")  # fmt: skip
            print(line, file=sys.stderr, flush=True)
    return rates


def _cpu_us(job: Callable[[], object], n: int = 100, repeat: int = 15) -> float:
    """Best thread CPU time of one call, in µs (scheduling on a loaded machine left out)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        for _ in range(n):
            job()
        best = min(best, (time.thread_time() - start) / n)
    return best * 1e6


def _beside_busy_thread(check: Callable[[bytes], object], piece: bytes, pieces: int) -> str:
    """Hash `pieces` pieces in a thread while this one runs Python and small syscalls."""
    done = threading.Event()

    def worker() -> None:
        for _ in range(pieces):
            check(piece)
        done.set()

    r, w = os.pipe()
    started = time.perf_counter()
    thread = threading.Thread(target=worker)
    thread.start()
    iterations = 0
    while not done.is_set():
        for _ in range(200):
            iterations += 1
        os.write(w, b"x")  # releases and takes back the GIL, as the loop's recv/send do
        os.read(r, 1)
    thread.join()
    seconds = time.perf_counter() - started
    os.close(r)
    os.close(w)
    return f"{seconds:.2f} s, the busy thread at {iterations / seconds / 1e6:.1f} M iterations/s"


def _hashing(piece_size: int) -> None:
    piece = os.urandom(piece_size)
    leaves = block_hashes(piece)
    print(f"\nthread CPU per {human_size(piece_size)} piece (best of 15 × 100):")
    for name, job in (
        ("SHA-1 (v1 check)", lambda: sha1_piece(piece)),
        ("v2 check (v2_piece_root: leaves + tree)", lambda: v2_piece_root(piece, piece_size)),
        ("the 16 KiB leaves alone (block_hashes)", lambda: block_hashes(piece)),
        ("the tree alone (piece_hash)", lambda: piece_hash(leaves, piece_size)),
    ):
        print(f"  {name}: {_cpu_us(job):.0f} µs")
    pieces = (1 << 30) // piece_size
    print("1 GiB of pieces hashed in a thread beside a busy Python thread:")
    for _ in range(4):  # alternate: the machine's load drifts
        v1 = _beside_busy_thread(sha1_piece, piece, pieces)
        v2 = _beside_busy_thread(lambda data: v2_piece_root(data, piece_size), piece, pieces)
        print(f"  SHA-1: {v1}; v2: {v2}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.v2_profile")
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--piece-size", type=parse_size, default=parse_size("1MiB"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--hashing", action="store_true", help="in-process hash costs too")
    args = parser.parse_args(argv)
    bench = TransferBench(args.runs, args.piece_size)
    print(f"load average at start: {loadavg()}")
    if args.runs > 0:
        rates = _rates(bench, args.size, args.runs)
        v1, v2 = median(rates["v1"]), median(rates["v2"])
        for meta in ("v1", "v2"):
            per_run = " / ".join(f"{r:.0f}" for r in rates[meta])
            print(f"bitswarm {meta}, {human_size(args.size)}: {per_run} MB/s")
        print(f"median v2 / v1: {v2:.0f} / {v1:.0f} MB/s = {v2 / v1:.2f}×")
    if not args.no_profile:
        for meta in ("v1", "v2"):
            result = bench.profiled(_SEEDER, _LEECHER, args.size, "leecher", meta)
            if result.profile is None:
                print(f"{meta}: no profile taken")
                continue
            tables, note = stacks_table(result.profile, top=15)
            print(f"\n### {meta}: {result.leecher_mb_per_s()[0]:.0f} MB/s under the sampler, "
                  f"load {loadavg()}, {result.profile.path}\n\n{note}\n\n{tables}")  # fmt: skip
    if args.hashing:
        _hashing(args.piece_size)
    print(f"load average at end: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
