"""``python -m bench mse``: the encrypted download figure of issue 13 (MSE/PE).

A libtorrent seeder with encryption forced (out/in `pe_forced`, RC4 only) and bitswarm
downloading with ``--encryption required``, beside bitswarm's own plain download
(``--encryption disabled``, libtorrent plaintext only) in the same run, alternating so
that drift hits both alike; libtorrent leechers the same two ways for reference. The
target: the encrypted rate at least 0.8x the plain one. CPU seconds per GiB are the
leecher's at completion. Loopback, one seeder, 1 MiB pieces, the payload cached in
bench/out/cache (as `python -m bench transfer`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time

from bitswarm_lab.peers.transfer import PEER_CLASSES, TransferResult, run_transfer

from . import OUT
from .transfer import memory_state
from .transfer.one_to_one import cached_torrent

__all__ = ["main"]

_GIB = float(1 << 30)
LEVELS = ("required", "disabled")  # encrypted, then the plain baseline


def _parse_size(text: str) -> int:
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def _once(leecher: str, size: int, piece: int, encryption: str) -> TransferResult:
    torrent = cached_torrent(size, piece)
    workdir = OUT / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-mse-{os.getpid()}"
    seed_dir = workdir / "seed"
    seed_dir.mkdir(parents=True)
    try:
        os.link(torrent.path.parent / torrent.name, seed_dir / torrent.name)
        return run_transfer(
            PEER_CLASSES["libtorrent"], PEER_CLASSES[leecher], torrent, seed_dir, workdir,
            timeout=120 + size / 2e6, before_leecher=memory_state.settle, encryption=encryption,
        )  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench mse", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=_parse_size, default=1 << 30)
    parser.add_argument("--piece-size", type=_parse_size, default=1 << 20)
    parser.add_argument("--no-libtorrent", action="store_true", help="bitswarm leechers only")
    args = parser.parse_args(argv)
    leechers = ("bitswarm",) if args.no_libtorrent else ("bitswarm", "libtorrent")
    results: dict[tuple[str, str], list[TransferResult]] = {}
    for run in range(1, args.runs + 1):
        for leecher in leechers:
            for level in LEVELS:
                r = _once(leecher, args.size, args.piece_size, level)
                results.setdefault((leecher, level), []).append(r)
                print(
                    f"mse: libtorrent → {leecher} ({level}) run {run}: {r.seconds:.2f} s, "
                    f"{r.mb_per_s:.1f} MB/s, CPU {r.cpu_seconds:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )
    print("| libtorrent seeder → leecher | encryption | MB/s per run | median MB/s "
          "| CPU s/GiB (median) | × own plain |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|")
    for leecher in leechers:
        plain = statistics.median(r.mb_per_s for r in results[(leecher, "disabled")])
        for level in LEVELS:
            runs = results[(leecher, level)]
            rate = statistics.median(r.mb_per_s for r in runs)
            cpu = statistics.median(r.cpu_seconds / (r.size / _GIB) for r in runs)
            per_run = " / ".join(f"{r.mb_per_s:.0f}" for r in runs)
            label = "RC4 (forced both sides)" if level == "required" else "plaintext"
            print(f"| {leecher} | {label} | {per_run} | {rate:.1f} | {cpu:.2f} "
                  f"| {rate / plain:.2f}× |")  # fmt: skip
    return 0
