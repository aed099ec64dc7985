"""``python -m bench mse``: the encrypted download figure of issue 13 (MSE/PE).

A libtorrent seeder with encryption forced (out/in `pe_forced`, RC4 only) and bitswarm
downloading with ``--encryption required``, beside bitswarm's own plain download
(``--encryption disabled``, libtorrent plaintext only) in the same run, alternating so
that drift hits both alike; libtorrent leechers the same two ways for reference. The
target: the encrypted rate at least 0.8x the plain one. CPU seconds per GiB are the
leecher's at completion. Loopback, one seeder, 1 MiB pieces, the payload cached in
bench/out/cache (as `python -m bench transfer`).

With ``--profile LEVEL``, one more libtorrent → bitswarm download at that level is sampled
by py-spy (`perf.sampling.StackSampler`) and summarised as tables of the functions that
held the CPU (`perf.profiles.stacks_table`); its rate is not one of the measured ones.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time

from bitswarm_lab.peers.base import Endpoint, PeerSpec, Role
from bitswarm_lab.peers.netns import free_port
from bitswarm_lab.peers.transfer import PEER_CLASSES, TransferResult, run_transfer

from . import OUT
from .perf.profiles import stacks_table
from .perf.sampling import StackSampler
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


def _profiled(size: int, piece: int, encryption: str) -> tuple[float, str, str]:
    """One more download sampled by py-spy: (MB/s under the sampler, tables, note)."""
    torrent = cached_torrent(size, piece)
    workdir = OUT / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-mse-profile-{os.getpid()}"
    seed_dir = workdir / "seed"
    seed_dir.mkdir(parents=True)
    out = OUT / "perf" / f"{time.strftime('%Y%m%d-%H%M%S')}-mse-{encryption}-leecher.raw"
    out.parent.mkdir(parents=True, exist_ok=True)
    timeout = 120 + size / 2e6
    try:
        os.link(torrent.path.parent / torrent.name, seed_dir / torrent.name)
        seed_spec = PeerSpec(
            Role.SEED, torrent.path, seed_dir, workdir / "seeder",
            Endpoint("127.0.0.1", free_port("127.0.0.1")), encryption=encryption,
        )  # fmt: skip
        with PEER_CLASSES["libtorrent"](seed_spec) as seeder:
            seeder.wait_complete(timeout)
            memory_state.settle()
            leech_spec = PeerSpec(
                Role.LEECH, torrent.path, workdir / "leecher-data", workdir / "leecher",
                Endpoint("127.0.0.1", free_port("127.0.0.1")), peers=(seed_spec.listen,),
                encryption=encryption,
            )  # fmt: skip
            with PEER_CLASSES["bitswarm"](leech_spec) as leecher:
                assert leecher.process is not None
                sampler = StackSampler(leecher.process.pid, out)
                try:
                    seconds = leecher.wait_complete(timeout)
                finally:
                    sampled = sampler.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    tables, note = stacks_table(sampled, top=15)
    return size / seconds / 1e6, tables, f"{note} Collapsed stacks: {out}"


def _table(results: dict[tuple[str, str], list[TransferResult]], leechers: tuple[str, ...]) -> None:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench mse", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=_parse_size, default=1 << 30)
    parser.add_argument("--piece-size", type=_parse_size, default=1 << 20)
    parser.add_argument("--no-libtorrent", action="store_true", help="bitswarm leechers only")
    parser.add_argument(
        "--profile",
        choices=LEVELS,
        default=None,
        help="then one more bitswarm download at this level, sampled by py-spy",
    )
    args = parser.parse_args(argv)
    leechers = ("bitswarm",) if args.no_libtorrent else ("bitswarm", "libtorrent")
    results: dict[tuple[str, str], list[TransferResult]] = {}
    for run in range(1, args.runs + 1):  # --runs 0: only the profile
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
    if results:
        _table(results, leechers)
    if args.profile is not None:
        rate, tables, note = _profiled(args.size, args.piece_size, args.profile)
        print(f"\nProfile: libtorrent → bitswarm ({args.profile}), {rate:.0f} MB/s under the "
              f"sampler. {note}\n\n{tables}")  # fmt: skip
    return 0
