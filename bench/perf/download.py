"""P1 (download rate) of the Performance issue, as a report section.

P1: bitswarm and libtorrent each download the same payload from the same kind of seeder,
one seeder process per run, started the same way (bench/transfer/one_to_one.py's `one_run`);
the ratio is bitswarm's median rate over libtorrent's. The libtorrent seeder is the
target; aria2 and Transmission seeders are recorded (Transmission only in a network
namespace, and so slow that a smaller payload is used).
The libtorrent-seeder pair is measured a second time beside `stress-ng --cpu 1`
(bench/perf/stress.py; issue 15: ≥ 0.9× libtorrent while another program keeps a core
busy), in the same alternation as the quiet runs.
When the target is missed, one more transfer is made with py-spy on the bitswarm leecher
(`profile_block`, shared with P3 in cost.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .profiles import stacks_table
from .report import TargetReport, Verdict, fmt_ratio, human_size, median, table
from .stress import stress_unavailable
from .transfers import Measured, TransferBench

if TYPE_CHECKING:
    from bitswarm_lab.peers.transfer import TransferResult

__all__ = ["BUFFERED", "p1_report", "profile_block", "rss_text", "rss_values"]

_MB = 1e6
_GIB = float(1 << 30)
# `bitswarm download --no-direct-io` (through the page cache), recorded beside the default
# (O_DIRECT writes since issue 15)
BUFFERED = "bitswarm-buffered"
STRESS = "stress-ng --cpu 1"


def rss_values(peaks: list[int]) -> list[float]:
    """The peak RSS figures that exist: the harness reports 0 when its last sample of the
    leecher was taken as it exited (a zombie's /proc status has no VmHWM)."""
    return [float(peak) for peak in peaks if peak > 0]


def rss_text(peaks: list[int]) -> str:
    """'median (max)' in MB over the runs with a figure, 'n/a' when none has one."""
    known = rss_values(peaks)
    if not known:
        return "n/a"
    missing = len(peaks) - len(known)
    gap = f", {missing} run{'s' if missing > 1 else ''} unsampled" if missing else ""
    if len(known) == 1:
        return f"{known[0] / _MB:.0f}{gap}"
    return f"{median(known) / _MB:.0f} (max {max(known) / _MB:.0f}{gap})"


def _rates(runs: list[Measured[TransferResult]]) -> float:
    return median(r.value.mb_per_s for r in runs)


def _row(label: str, runs: list[Measured[TransferResult]], versus: str) -> list[str]:
    values = [r.value for r in runs]
    per_run = " / ".join(f"{v.mb_per_s:.0f}" for v in values)
    cpu_gib = median(v.cpu_seconds / (v.size / _GIB) for v in values)
    other = max(r.load.other_cores for r in runs)
    flag = " (disturbed)" if any(r.disturbed for r in runs) else ""
    rss = rss_text([v.peak_rss_bytes for v in values])
    rate = median(v.mb_per_s for v in values)
    return [label, human_size(values[0].size), per_run, f"{rate:.1f}", versus,
            f"{cpu_gib:.2f}", rss, f"{other:.2f}{flag}"]  # fmt: skip


def profile_block(bench: TransferBench, size: int, why: str) -> list[str]:
    result = bench.profiled("libtorrent", "bitswarm", size, "leecher")
    if result.profile is None:
        return []
    tables, note = stacks_table(result.profile)
    return [
        f"Profile ({why}): one more libtorrent → bitswarm download of {human_size(size)} "
        f"({result.leecher_mb_per_s()[0]:.0f} MB/s under the sampler) with py-spy on the "
        f"bitswarm leecher. {note}",
        tables,
    ]


def p1_report(
    bench: TransferBench,
    size: int,
    slow_size: int,
    command: str,
    seeders: tuple[str, ...] = ("libtorrent", "aria2", "transmission"),
) -> TargetReport:
    report = TargetReport("P1", "P1 download", command)
    rows: list[list[str]] = []
    extra: list[Verdict] = []
    for seeder in seeders:
        this_size = slow_size if seeder == "transmission" else size
        reason = bench.unavailable(seeder, "bitswarm") or bench.unavailable(seeder, "libtorrent")
        if reason is not None:
            report.blocks.append(f"{seeder} seeder not measured: {reason}.")
            continue
        leechers = (
            ("bitswarm", BUFFERED, "libtorrent")
            if seeder == "libtorrent"
            else ("bitswarm", "libtorrent")
        )
        stressed = seeder == "libtorrent" and stress_unavailable() is None
        for run in range(1, bench.runs + 1):  # alternate, so drift hits all alike
            for leecher in leechers:
                bench.pair(seeder, leecher, this_size, run)
            if stressed:
                for leecher in ("bitswarm", "libtorrent"):
                    bench.pair(seeder, leecher, this_size, run, stress=True)
        ours = bench.pair(seeder, "bitswarm", this_size)
        theirs = bench.pair(seeder, "libtorrent", this_size)
        ratio = _rates(ours) / _rates(theirs)
        rows.append(_row(f"{seeder} → **bitswarm**", ours, fmt_ratio(ratio)))
        if BUFFERED in leechers:
            buffered = bench.pair(seeder, BUFFERED, this_size)
            buffered_ratio = _rates(buffered) / _rates(theirs)
            rows.append(_row(f"{seeder} → **bitswarm --no-direct-io**", buffered,
                             fmt_ratio(buffered_ratio)))  # fmt: skip
            extra.append(Verdict(
                f"P1 download from {seeder} with `--no-direct-io` (page cache, not the default)",
                "recorded",
                f"{_rates(buffered):.0f} vs {_rates(theirs):.0f} MB/s = "
                f"{fmt_ratio(buffered_ratio)}",
                None,
            ))  # fmt: skip
        rows.append(_row(f"{seeder} → libtorrent", theirs, "1.00×"))
        if stressed:
            ours_s = bench.pair(seeder, "bitswarm", this_size, stress=True)
            theirs_s = bench.pair(seeder, "libtorrent", this_size, stress=True)
            ratio_s = _rates(ours_s) / _rates(theirs_s)
            rows.append(_row(f"{seeder} → **bitswarm**, {STRESS}", ours_s, fmt_ratio(ratio_s)))
            rows.append(_row(f"{seeder} → libtorrent, {STRESS}", theirs_s, "1.00×"))
            extra.append(Verdict(
                f"P1 download from {seeder}, {human_size(this_size)}, beside `{STRESS}`",
                "≥ 0.9× libtorrent beside the same",
                f"{_rates(ours_s):.0f} vs {_rates(theirs_s):.0f} MB/s = {fmt_ratio(ratio_s)}",
                ratio_s >= 0.9,
            ))  # fmt: skip
        elif seeder == "libtorrent":
            report.blocks.append(f"Not measured beside `{STRESS}`: {stress_unavailable()}.")
        where = " (network namespace)" if seeder == "transmission" else ""
        report.verdicts.append(Verdict(
            f"P1 download from {seeder}, {human_size(this_size)}{where}",
            "≥ 1.0× libtorrent" if seeder == "libtorrent" else "recorded",
            f"{_rates(ours):.0f} vs {_rates(theirs):.0f} MB/s = {fmt_ratio(ratio)}",
            ratio >= 1.0 if seeder == "libtorrent" else None,
        ))  # fmt: skip
    report.verdicts += extra
    header = [
        "seeder → leecher",
        "size",
        "MB/s per run",
        "median MB/s",
        "× libtorrent leecher",
        "leecher CPU s/GiB",
        "leecher peak RSS MB: median (max)",
        "other programs' CPU (cores)",
    ]
    report.blocks.append(table(header, rows, "lrrrrrrr"))
    report.blocks.append(
        f"{bench.runs} runs of each pair, bitswarm and libtorrent alternating. Before each "
        "leecher starts, the bench waits until the machine has handed the memory freed by "
        "the previous run back to its host (bench/transfer/memory_state.py), so every leecher "
        "writes into memory in the same state. bitswarm writes pieces with O_DIRECT, past the "
        "page cache, by default (issue 15); `--no-direct-io` writes through the page cache, "
        "as libtorrent does here (see P3 for what the page cache costs on this machine). "
        "Rows marked `stress-ng --cpu 1` ran with that program started before the "
        "seeder and stopped after the leecher finished (one core kept busy), alternating "
        "with the others; the stress process is the bench's own, so its CPU does not mark "
        "a run disturbed. Rate = payload bytes ÷ "
        "seconds from the leecher's start to its verified completion (process start-up "
        "included for both). Loopback, one seeder, 1 MiB pieces."
        + (" The Transmission rows run in a network namespace, which Transmission needs (it "
           "refuses loopback peers), with a smaller payload because it is slow."
           if "transmission" in seeders else "")
        + (f" A run is made again (up to {bench.retries} times) when other programs kept "
           "more than 0.3 cores busy during it; '(disturbed)' marks a figure measured so."
           if bench.retries else " Runs disturbed by other programs were not made again "
           "(`--retries 0`): '(disturbed)' marks them.")
    )  # fmt: skip
    if report.verdicts and report.verdicts[0].met is False:
        report.blocks += profile_block(bench, size, "P1 not met")
    return report
