"""P1 (download rate) and P3 (download cost) of the Performance issue, as report sections.

P1: bitswarm and libtorrent each download the same payload from the same kind of seeder,
one seeder process per run, started the same way (bench/transfer_bench.py's `one_run`);
the ratio is bitswarm's median rate over libtorrent's. The libtorrent seeder is the
target; aria2 and Transmission seeders are recorded (Transmission only in a network
namespace, and so slow that a smaller payload is used).
P3: from the libtorrent-seeder runs of P1, the leechers' CPU seconds per GiB and peak RSS,
plus one bigger download for peak RSS (a cache bounded by a setting, not the torrent size).
When a target is missed, one more transfer is made with py-spy on the bitswarm leecher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perf_profile import stacks_table
from perf_report import TargetReport, Verdict, fmt_ratio, human_size, median, table
from perf_transfer import PYSPY_RATE, Measured, TransferBench

if TYPE_CHECKING:
    from tests.peers.transfer import TransferResult

__all__ = ["p1_report", "p3_report"]

_MB = 1e6
_GIB = float(1 << 30)
RSS_LIMIT = 200 * _MB


def _rates(runs: list[Measured[TransferResult]]) -> float:
    return median(r.value.mb_per_s for r in runs)


def _row(label: str, runs: list[Measured[TransferResult]], versus: str) -> list[str]:
    values = [r.value for r in runs]
    per_run = " / ".join(f"{v.mb_per_s:.0f}" for v in values)
    cpu_gib = median(v.cpu_seconds / (v.size / _GIB) for v in values)
    rss = median(v.peak_rss_bytes for v in values)
    rss_text = f"{rss / _MB:.0f}" if rss > 0 else "n/a"  # the harness had no sample
    other = max(r.load.other_cores for r in runs)
    flag = " (disturbed)" if any(r.disturbed for r in runs) else ""
    return [label, human_size(values[0].size), per_run, f"{median(v.mb_per_s for v in values):.1f}",
            versus, f"{cpu_gib:.2f}", rss_text, f"{other:.2f}{flag}"]  # fmt: skip


def _profile_block(bench: TransferBench, size: int, why: str) -> list[str]:
    result = bench.profiled("libtorrent", "bitswarm", size, "leecher")
    if result.profile is None:
        return []
    tables, note = stacks_table(result.profile[0], PYSPY_RATE, result.profile[1])
    return [
        f"Profile ({why}): one more libtorrent → bitswarm download of {human_size(size)} "
        f"({result.leecher_mb_per_s()[0]:.0f} MB/s under the sampler) with py-spy on the "
        f"bitswarm leecher. {note} A thread inside a system call (pwrite, recv) counts as "
        "busy: that is kernel time spent for us (copying into the page cache).",
        tables,
    ]


def p1_report(bench: TransferBench, size: int, slow_size: int, command: str) -> TargetReport:
    report = TargetReport("P1", "P1 download", command)
    rows: list[list[str]] = []
    for seeder in ("libtorrent", "aria2", "transmission"):
        this_size = slow_size if seeder == "transmission" else size
        reason = bench.unavailable(seeder, "bitswarm") or bench.unavailable(seeder, "libtorrent")
        if reason is not None:
            report.blocks.append(f"{seeder} seeder not measured: {reason}.")
            continue
        ours = bench.pair(seeder, "bitswarm", this_size)
        theirs = bench.pair(seeder, "libtorrent", this_size)
        ratio = _rates(ours) / _rates(theirs)
        rows.append(_row(f"{seeder} → **bitswarm**", ours, fmt_ratio(ratio)))
        rows.append(_row(f"{seeder} → libtorrent", theirs, "1.00×"))
        where = " (network namespace)" if seeder == "transmission" else ""
        report.verdicts.append(Verdict(
            f"P1 download from {seeder}, {human_size(this_size)}{where}",
            "≥ 1.0× libtorrent" if seeder == "libtorrent" else "recorded",
            f"{_rates(ours):.0f} vs {_rates(theirs):.0f} MB/s = {fmt_ratio(ratio)}",
            ratio >= 1.0 if seeder == "libtorrent" else None,
        ))  # fmt: skip
    header = ["seeder → leecher", "size", "MB/s per run", "median MB/s", "× libtorrent leecher",
              "leecher CPU s/GiB", "leecher peak RSS MB", "other programs' CPU (cores)"]
    report.blocks.append(table(header, rows, "lrrrrrrr"))
    report.blocks.append(
        f"{bench.runs} runs of each pair, one after another. Rate = payload bytes ÷ "
        "seconds from the leecher's start to its verified completion (process start-up "
        "included for both). Loopback, one seeder, 1 MiB pieces. The Transmission rows "
        "run in a network namespace, which Transmission needs (it refuses loopback peers), "
        "with a smaller payload because it is slow. A run is made again when other "
        "programs kept more than 0.3 cores busy during it."
    )
    if report.verdicts and report.verdicts[0].met is False:
        report.blocks += _profile_block(bench, size, "P1 not met")
    return report


def p3_report(
    bench: TransferBench, size: int, big_size: int, big_runs: int, keep: bool, command: str
) -> TargetReport:
    report = TargetReport("P3", "P3 cost", command)
    ours = [r.value for r in bench.pair("libtorrent", "bitswarm", size)]
    theirs = [r.value for r in bench.pair("libtorrent", "libtorrent", size)]
    big_ours = [r.value for r in bench.pair("libtorrent", "bitswarm", big_size, big_runs)]
    big_theirs = [r.value for r in bench.pair("libtorrent", "libtorrent", big_size, big_runs)]
    if not keep:
        bench.forget_payload(big_size)

    def cpu_gib(values: list[TransferResult]) -> float:
        return median(v.cpu_seconds / (v.size / _GIB) for v in values)

    def rss(values: list[TransferResult]) -> float:
        return median(v.peak_rss_bytes for v in values)

    rows = []
    for label, values in (("**bitswarm**", ours), ("libtorrent", theirs),
                          ("**bitswarm**", big_ours), ("libtorrent", big_theirs)):
        rows.append([
            label, human_size(values[0].size), str(len(values)),
            f"{median(v.cpu_seconds for v in values):.2f}", f"{cpu_gib(values):.2f}",
            f"{rss(values) / _MB:.0f}", f"{median(v.mb_per_s for v in values):.0f}",
        ])  # fmt: skip
    cpu_ratio = cpu_gib(ours) / cpu_gib(theirs)
    report.verdicts += [
        Verdict("P3 CPU per GiB downloaded (from libtorrent)", "≤ 1.5× libtorrent",
                f"{cpu_gib(ours):.2f} vs {cpu_gib(theirs):.2f} s/GiB = {fmt_ratio(cpu_ratio)}",
                cpu_ratio <= 1.5),
        Verdict(f"P3 peak RSS, {human_size(size)} download", "≤ 200 MB",
                f"{rss(ours) / _MB:.0f} MB (libtorrent {rss(theirs) / _MB:.0f} MB)",
                rss(ours) <= RSS_LIMIT),
        Verdict(f"P3 peak RSS, {human_size(big_size)} download", "≤ 200 MB",
                f"{rss(big_ours) / _MB:.0f} MB (libtorrent {rss(big_theirs) / _MB:.0f} MB)",
                rss(big_ours) <= RSS_LIMIT),
    ]  # fmt: skip
    header = ["leecher (libtorrent seeder)", "size", "runs", "CPU s", "CPU s/GiB",
              "peak RSS MB", "MB/s"]
    report.blocks.append(table(header, rows, "lrrrrrr"))
    report.blocks.append(
        f"The {human_size(size)} rows are P1's libtorrent-seeder runs; CPU is the leecher's "
        "user + system time from its start to verified completion, peak RSS its VmHWM then. "
        "MB = 10^6 bytes."
    )
    if cpu_ratio > 1.5 or any(v.met is False for v in report.verdicts[1:]):
        report.blocks += _profile_block(bench, size, "P3 not met")
    return report
