"""Transfer benchmark: one seeder, one leecher, real programs, wall time to verified data.

    python -m bench transfer SEEDER LEECHER [--size 256MiB] [--piece-size 1MiB]
                             [--runs N] [--netns] [--json FILE]

SEEDER and LEECHER are bitswarm, libtorrent, aria2 or transmission (Transmission always runs
in a network namespace: it refuses loopback peers). The payload (pseudo-random, so nothing
compresses) and its v1 torrent, made by libtorrent, are cached under bench/out/cache/. Each
run hard-links the payload into a fresh seeder folder, waits for the seeder to verify it,
then times the leecher from its start to verified completion, and takes the leecher's CPU
seconds and peak RSS at that moment; the leecher's copy is then compared byte for byte.
Prints one Markdown row per run and the median; --json appends the figures to a file.

The wiring lives in bitswarm_lab.peers (the interop harness), so the benchmark and the tests set
peers up the same way. `bitswarm` is driven through its CLI (`bitswarm seed|download`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bitswarm_lab.peers.base import HarnessError, Peer
from bitswarm_lab.peers.netns import netns_unavailable_reason, sweep_stale_namespaces
from bitswarm_lab.peers.opentracker import Opentracker
from bitswarm_lab.peers.torrent_files import (
    TorrentFile,
    load_torrent,
    make_torrent,
    parse_size,
    write_payload,
)
from bitswarm_lab.peers.transfer import PEER_CLASSES, TransferResult, run_transfer

from .. import OUT
from . import memory_state

HEADER = (
    "| seeder → leecher | size | run | seconds | MB/s | leecher CPU s | leecher peak RSS MiB |\n"
    "|---|---:|---:|---:|---:|---:|---:|"
)


def human_size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def cached_torrent(size: int, piece_size: int) -> TorrentFile:
    """The payload of `size` bytes and its torrent, made once and kept in bench/out/cache/."""
    folder = OUT / "cache" / f"{size}"
    payload = folder / f"payload-{size}.bin"
    torrent_path = folder / f"payload-{size}-piece-{piece_size}.torrent"
    if not payload.is_file() or payload.stat().st_size != size:
        print(f"writing the {human_size(size)} payload to {payload} ...", file=sys.stderr)
        partial = payload.with_suffix(".partial")
        write_payload(partial, size, seed=size)
        partial.replace(payload)  # only a complete payload is ever cached
        torrent_path.unlink(missing_ok=True)
    if torrent_path.is_file() and torrent_path.stat().st_mtime >= payload.stat().st_mtime:
        return load_torrent(torrent_path)
    print(f"hashing it into {torrent_path.name} ...", file=sys.stderr)
    return make_torrent(payload, torrent_path, piece_size)


def check_available(seeder: type[Peer], leecher: type[Peer], netns: bool) -> str | None:
    """Why this pair cannot run here (one line a person can act on), or None."""
    for peer_class in (seeder, leecher):
        reason = peer_class.unavailable_reason()
        if reason is not None:
            return f"cannot run {peer_class.program}: {reason}"
    if not leecher.dials_peers and Opentracker.unavailable_reason() is not None:
        return f"{leecher.program} finds peers only through a tracker, and opentracker is missing"
    if netns and (reason := netns_unavailable_reason()) is not None:
        return f"a network namespace is needed but {reason}"
    return None


def one_run(
    seeder: type[Peer], leecher: type[Peer], torrent: TorrentFile, netns: bool, timeout: float
) -> TransferResult:
    """Seed a hard link of the cached payload from a fresh folder; leech into another."""
    workdir = OUT / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{seeder.program}-{os.getpid()}"
    seed_dir = workdir / "seed"
    seed_dir.mkdir(parents=True)
    try:
        os.link(torrent.path.parent / torrent.name, seed_dir / torrent.name)
        return run_transfer(
            seeder,
            leecher,
            torrent,
            seed_dir,
            workdir,
            use_netns=netns,
            timeout=timeout,
            before_leecher=memory_state.settle,  # the same memory state for every leecher
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def row(label: str, size: int, run: str, seconds: float, cpu: float, rss: int) -> str:
    return (
        f"| {label} | {human_size(size)} | {run} | {seconds:.2f} | {size / seconds / 1e6:.1f} "
        f"| {cpu:.2f} | {rss / (1 << 20):.0f} |"
    )


def append_json(path: Path, record: dict[str, Any]) -> None:
    records: list[Any] = json.loads(path.read_text()) if path.is_file() else []
    records.append(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=2) + "\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench transfer",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("seeder", choices=sorted(PEER_CLASSES))
    parser.add_argument("leecher", choices=sorted(PEER_CLASSES))
    parser.add_argument("--size", type=parse_size, default=parse_size("256MiB"))
    parser.add_argument("--piece-size", type=parse_size, default=parse_size("1MiB"))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--netns", action="store_true", help="run every peer in a namespace")
    parser.add_argument("--json", type=Path, help="append the figures to this JSON file")
    parser.add_argument(
        "--timeout", type=float, help="seconds per phase (default: 60 + 1 s per 2 MB)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    args = parse_args(words)
    seeder, leecher = PEER_CLASSES[args.seeder], PEER_CLASSES[args.leecher]
    netns = args.netns or seeder.needs_netns or leecher.needs_netns
    problem = check_available(seeder, leecher, netns)
    if problem is not None:
        print(f"bench transfer: {problem}", file=sys.stderr)
        return 2
    sweep_stale_namespaces()
    torrent = cached_torrent(args.size, args.piece_size)
    timeout = args.timeout or 60 + torrent.total_size / 2e6
    label = f"{seeder.program} → {leecher.program}{' (netns)' if netns else ''}"
    print(HEADER)
    results: list[TransferResult] = []
    for index in range(1, args.runs + 1):
        try:
            result = one_run(seeder, leecher, torrent, netns, timeout)
        except HarnessError as exc:
            print(f"bench transfer: run {index} failed: {exc}", file=sys.stderr)
            return 1
        results.append(result)
        print(
            row(label, result.size, str(index), result.seconds, result.cpu_seconds,
                result.peak_rss_bytes),
            flush=True,
        )  # fmt: skip
    median_seconds = statistics.median(r.seconds for r in results)
    median_cpu = statistics.median(r.cpu_seconds for r in results)
    median_rss = int(statistics.median(r.peak_rss_bytes for r in results))
    print(row(label, torrent.total_size, "median", median_seconds, median_cpu, median_rss))
    if args.json is not None:
        append_json(
            args.json,
            {
                "seeder": seeder.program,
                "leecher": leecher.program,
                "size": torrent.total_size,
                "piece_size": torrent.piece_length,
                "netns": netns,
                "runs": [
                    {
                        "seconds": r.seconds,
                        "mb_per_s": r.mb_per_s,
                        "leecher_cpu_seconds": r.cpu_seconds,
                        "leecher_peak_rss_bytes": r.peak_rss_bytes,
                        "seeder_ready_seconds": r.seeder_ready_seconds,
                    }
                    for r in results
                ],
                "median_seconds": median_seconds,
                "median_mb_per_s": torrent.total_size / median_seconds / 1e6,
                "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "host": platform.node(),
                "cpus": os.cpu_count(),
                "command": shlex.join(["python", "-m", "bench", "transfer", *words]),
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
