"""The v2 download rate (issue 13, BEP 52): the same payload as a v2-only torrent and as v1.

    .venv/bin/python -m bench perf p1 --meta v2 [--runs 3] [--size 1GiB]

A libtorrent seeder serves P1's cached payload (bench/out/cache/) twice per run: by its v1
torrent and by a v2-only torrent libtorrent makes of the same file
(`create_torrent.v2_only`, piece layers included). bitswarm downloads each, and so does a
libtorrent leecher, alternating within each run so that drift on this shared machine hits
every pair alike; the target is bitswarm's v2 median rate at least 0.9× its v1 median rate.
A v2 piece costs 64 SHA-256 leaf hashes (one per 16 KiB block) and 63 inner hashes where a
v1 piece costs one SHA-1, all in the disk pool's threads (`storage.verify.piece_is_valid`).
Where bitswarm's time goes in each: `python -m bench.perf.v2_profile` (py-spy on the leecher).
"""

from __future__ import annotations

import hashlib

from bitswarm_lab.peers.torrent_files import TorrentFile

from .. import OUT
from ..transfer.one_to_one import cached_torrent
from .download import _row
from .report import TargetReport, Verdict, fmt_ratio, human_size, median, table
from .transfers import TransferBench

__all__ = ["V2_TARGET", "cached_v2_torrent", "p1_v2_report"]

V2_TARGET = 0.9
_SEEDER = "libtorrent"


def cached_v2_torrent(size: int, piece_size: int) -> TorrentFile:
    """The v2-only torrent of the cached payload, made once by libtorrent and kept."""
    import libtorrent as lt

    from bitswarm.bencode import decode_spans

    v1 = cached_torrent(size, piece_size)  # writes the payload if it is not cached yet
    payload = v1.path.parent / v1.name
    path = v1.path.parent / f"payload-{size}-piece-{piece_size}-v2.torrent"
    if not path.is_file() or path.stat().st_mtime < payload.stat().st_mtime:
        creator = lt.create_torrent(lt.list_files(str(payload)), piece_size,
                                    lt.create_torrent.v2_only)  # fmt: skip
        creator.set_creator("bitswarm bench")
        lt.set_piece_hashes(creator, str(payload.parent))
        path.write_bytes(lt.bencode(creator.generate()))
    data = path.read_bytes()
    start, end = decode_spans(data).spans[b"info"]
    assert OUT in path.parents
    return TorrentFile(
        path=path,
        # BEP 52: trackers see the v2 info-hash truncated to 20 bytes
        info_hash=hashlib.sha256(data[start:end]).hexdigest()[:40],
        name=v1.name,
        total_size=size,
        piece_length=piece_size,
    )


def p1_v2_report(bench: TransferBench, size: int, command: str) -> TargetReport:
    report = TargetReport("P1", "v2 download (BEP 52) against v1, same data", command)
    for leecher in ("bitswarm", "libtorrent"):
        reason = bench.unavailable(_SEEDER, leecher)
        if reason is not None:
            report.blocks.append(f"not measured: {reason}.")
            return report
    for run in range(1, bench.runs + 1):  # alternate, so drift hits all alike
        for leecher in ("bitswarm", "libtorrent"):
            for meta in ("v1", "v2"):
                bench.pair(_SEEDER, leecher, size, run, meta=meta)
    rates: dict[tuple[str, str], float] = {}
    rows = []
    for leecher in ("bitswarm", "libtorrent"):
        v1 = bench.pair(_SEEDER, leecher, size, meta="v1")
        v2 = bench.pair(_SEEDER, leecher, size, meta="v2")
        for meta, runs in (("v1", v1), ("v2", v2)):
            rates[leecher, meta] = median(r.value.mb_per_s for r in runs)
        ratio = rates[leecher, "v2"] / rates[leecher, "v1"]
        name = f"**{leecher}**" if leecher == "bitswarm" else leecher
        rows.append(_row(f"{_SEEDER} → {name}, v1", v1, "1.00×"))
        rows.append(_row(f"{_SEEDER} → {name}, v2-only", v2, fmt_ratio(ratio)))
    ours = rates["bitswarm", "v2"] / rates["bitswarm", "v1"]
    report.verdicts.append(Verdict(
        f"v2 download from {_SEEDER}, {human_size(size)}", f"≥ {V2_TARGET}× bitswarm's v1",
        f"{rates['bitswarm', 'v2']:.0f} vs {rates['bitswarm', 'v1']:.0f} MB/s = "
        f"{fmt_ratio(ours)}",
        ours >= V2_TARGET,
    ))  # fmt: skip
    theirs = rates["bitswarm", "v2"] / rates["libtorrent", "v2"]
    report.verdicts.append(Verdict(
        "v2 download, bitswarm against libtorrent as leecher", "recorded",
        f"{rates['bitswarm', 'v2']:.0f} vs {rates['libtorrent', 'v2']:.0f} MB/s = "
        f"{fmt_ratio(theirs)}",
        None,
    ))  # fmt: skip
    header = ["seeder → leecher, torrent", "size", "MB/s per run", "median MB/s",
              "× same leecher's v1", "leecher CPU s/GiB", "leecher peak RSS MB: median (max)",
              "other programs' CPU (cores)"]  # fmt: skip
    report.blocks.append(table(header, rows, "lrrrrrrr"))
    report.blocks.append(
        f"{bench.runs} runs; in each, bitswarm then libtorrent download the v1 torrent and "
        "then the v2-only torrent of the same payload from a fresh libtorrent seeder (1 MiB "
        "pieces, loopback). Rate = payload bytes ÷ seconds from the leecher's start to its "
        "verified completion. A run is made again (up to twice) when other programs kept more "
        "than 0.3 cores busy during it; '(disturbed)' marks a figure measured under such load."
    )
    return report
