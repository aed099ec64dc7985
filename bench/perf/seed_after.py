"""Seeding right after a download: what writing past the page cache costs the uploads.

    .venv/bin/python -m bench.perf.seed_after [--runs 3] [--size 1GiB]

bitswarm writes downloaded pieces with O_DIRECT by default (issue 15), so a download no
longer leaves its data in the page cache, and a seed that follows it reads from the
device where a `--no-direct-io` download (or libtorrent's) reads from memory. This bench
measures that case: a bitswarm leecher A downloads the payload from a libtorrent seeder
and stays as a seed (`--seed-time`); the libtorrent seeder is stopped; then a libtorrent
leecher B downloads the same payload from A alone. B's rate is A's upload rate, from the
data A has just written. A runs with its default (O_DIRECT) and with `--no-direct-io`,
alternating; medians of `--runs`. Loopback, 1 MiB pieces.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from contextlib import ExitStack

from bitswarm_lab.peers.base import Endpoint, PeerSpec, Role
from bitswarm_lab.peers.netns import free_port
from bitswarm_lab.peers.torrent_files import parse_size
from bitswarm_lab.peers.transfer import PEER_CLASSES

from .. import OUT
from ..transfer import memory_state
from ..transfer.one_to_one import cached_torrent
from .report import loadavg

_LOOPBACK = "127.0.0.1"
VARIANTS = (("bitswarm", "default (O_DIRECT)"), ("bitswarm-buffered", "--no-direct-io"))


def _endpoint() -> Endpoint:
    return Endpoint(_LOOPBACK, free_port(_LOOPBACK))


def chain(leecher: str, size: int, piece_size: int) -> tuple[float, float]:
    """One run: (A's download MB/s from libtorrent, B's download MB/s from A)."""
    torrent = cached_torrent(size, piece_size)
    workdir = OUT / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-seed-after-{os.getpid()}"
    seed_dir = workdir / "seed"
    seed_dir.mkdir(parents=True)
    timeout = 120 + size / 2e6
    try:
        os.link(torrent.path.parent / torrent.name, seed_dir / torrent.name)
        with ExitStack() as stack:
            s_spec = PeerSpec(Role.SEED, torrent.path, seed_dir, workdir / "s", _endpoint())
            seeder = stack.enter_context(PEER_CLASSES["libtorrent"](s_spec))
            seeder.wait_complete(timeout)
            memory_state.settle()
            a_spec = PeerSpec(
                Role.LEECH, torrent.path, workdir / "a-data", workdir / "a", _endpoint(),
                peers=(s_spec.listen,), seed_after=True,
            )  # fmt: skip
            a = stack.enter_context(PEER_CLASSES[leecher](a_spec))
            a_seconds = a.wait_complete(timeout)
            seeder.stop()  # B gets every byte from A
            memory_state.settle()
            b_spec = PeerSpec(
                Role.LEECH, torrent.path, workdir / "b-data", workdir / "b", _endpoint(),
                peers=(a_spec.listen,),
            )  # fmt: skip
            b = stack.enter_context(PEER_CLASSES["libtorrent"](b_spec))
            b_seconds = b.wait_complete(timeout)
        return size / a_seconds / 1e6, size / b_seconds / 1e6
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.seed_after")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--piece-size", type=parse_size, default=parse_size("1MiB"))
    args = parser.parse_args(argv)
    print(f"load average at start: {loadavg()}", flush=True)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in VARIANTS}
    for run in range(1, args.runs + 1):
        for name, label in VARIANTS:
            down, up = chain(name, args.size, args.piece_size)
            results[name].append((down, up))
            print(f"run {run}, A {label}: A downloaded at {down:.0f} MB/s, B from A "
                  f"{up:.0f} MB/s (load {loadavg()})", flush=True)  # fmt: skip
    print("\n| A (bitswarm) writes | A's download MB/s per run | B from A, MB/s per run | "
          "median B MB/s |\n|---|---:|---:|---:|")  # fmt: skip
    for name, label in VARIANTS:
        runs = results[name]
        print(f"| {label} | {' / '.join(f'{d:.0f}' for d, _ in runs)} | "
              f"{' / '.join(f'{u:.0f}' for _, u in runs)} | "
              f"{statistics.median(u for _, u in runs):.0f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
