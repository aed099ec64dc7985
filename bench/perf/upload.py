"""P2 (upload) of the Performance issue, as a report section.

One seeder (bitswarm or libtorrent) serves libtorrent leechers that dial it and nobody else
(transfers.fan_out): first one leecher, then 8 at once. The one-leecher ratio is the
leecher's median rate from a bitswarm seeder over its rate from a libtorrent seeder. For 8
leechers the issue asks that the per-leecher rate not collapse; read here as: the aggregate
rate (all leechers' bytes over the time until the last one finished) from bitswarm ≥ 1.0×
the same from libtorrent, and in every run the slowest leecher gets at least half the
fastest one's rate (nobody is starved). The seeder's CPU
seconds per GiB uploaded are shown beside. 8 leechers fetch a smaller payload each, so their
writes (8 copies) stay below the kernel's dirty-page limit and the disk does not decide.
"""

from __future__ import annotations

from bitswarm.core.torrent import CoreConfig

from .profiles import stacks_table
from .report import TargetReport, Verdict, fmt_ratio, human_size, median, table
from .transfers import FanOutResult, Measured, TransferBench

__all__ = ["p2_report"]

STARVED = 0.5  # a leecher below half the fastest one's rate is starved


def _one_row(label: str, runs: list[Measured[FanOutResult]], versus: str) -> list[str]:
    values = [r.value for r in runs]
    per_run = " / ".join(f"{v.leecher_mb_per_s()[0]:.0f}" for v in values)
    flag = " (disturbed)" if any(r.disturbed for r in runs) else ""
    return [label, human_size(values[0].size), per_run,
            f"{median(v.leecher_mb_per_s()[0] for v in values):.1f}", versus,
            f"{median(v.seeder_cpu_per_gib for v in values):.2f}",
            f"{max(r.load.other_cores for r in runs):.2f}{flag}"]  # fmt: skip


def _spread(value: FanOutResult) -> float:
    rates = value.leecher_mb_per_s()
    return min(rates) / max(rates)


def _many_row(label: str, runs: list[Measured[FanOutResult]]) -> list[str]:
    values = [r.value for r in runs]
    every = [rate for v in values for rate in v.leecher_mb_per_s()]
    per_run = " / ".join(f"{v.aggregate_mb_per_s:.0f}" for v in values)
    spreads = " / ".join(f"{_spread(v):.2f}" for v in values)
    flag = " (disturbed)" if any(r.disturbed for r in runs) else ""
    return [label, human_size(values[0].size), per_run,
            f"{min(every):.0f} / {median(every):.0f} / {max(every):.0f}", spreads,
            f"{median(v.seeder_cpu_per_gib for v in values):.2f}",
            f"{max(r.load.other_cores for r in runs):.2f}{flag}"]  # fmt: skip


def _starved(value: FanOutResult) -> int:
    rates = value.leecher_mb_per_s()
    return sum(rate < STARVED * max(rates) for rate in rates)


def _starved_note(
    ours: list[Measured[FanOutResult]], theirs: list[Measured[FanOutResult]], leechers: int
) -> str:
    counts = [_starved(r.value) for r in ours]
    config = CoreConfig()
    return (
        f"Starved leechers (below {STARVED}× the fastest) of the bitswarm seeder, per run: "
        f"{', '.join(str(c) for c in counts)} of {leechers}; of the libtorrent seeder: "
        f"{', '.join(str(_starved(r.value)) for r in theirs)}. A bitswarm seed unchokes up to "
        f"`CoreConfig.seed_unchoke_slots` = {config.seed_unchoke_slots} interested peers (one "
        f"of them the optimistic unchoke, `bitswarm/swarm/choker.py`) and refills a slot as "
        f"soon as it frees (`TorrentCore._refill`), not at the next rechoke (every "
        f"{config.rechoke_interval:.0f} s)."
    )


def p2_report(
    bench: TransferBench, size: int, many_size: int, leechers: int, command: str
) -> TargetReport:
    report = TargetReport("P2", "P2 upload", command)
    one_ours = bench.fan_outs("bitswarm", "libtorrent", 1, size)
    one_theirs = bench.fan_outs("libtorrent", "libtorrent", 1, size)
    many_ours = bench.fan_outs("bitswarm", "libtorrent", leechers, many_size)
    many_theirs = bench.fan_outs("libtorrent", "libtorrent", leechers, many_size)

    def one_rate(runs: list[Measured[FanOutResult]]) -> float:
        return median(r.value.leecher_mb_per_s()[0] for r in runs)

    def aggregate(runs: list[Measured[FanOutResult]]) -> float:
        return median(r.value.aggregate_mb_per_s for r in runs)

    def per_leecher(runs: list[Measured[FanOutResult]]) -> float:
        return median(rate for r in runs for rate in r.value.leecher_mb_per_s())

    ratio = one_rate(one_ours) / one_rate(one_theirs)
    many_ratio = aggregate(many_ours) / aggregate(many_theirs)
    worst = min(_spread(r.value) for r in many_ours)
    report.verdicts += [
        Verdict("P2 upload to one libtorrent leecher", "≥ 1.0× a libtorrent seeder",
                f"{one_rate(one_ours):.0f} vs {one_rate(one_theirs):.0f} MB/s = "
                f"{fmt_ratio(ratio)}", ratio >= 1.0),
        Verdict(f"P2 upload to {leechers} libtorrent leechers at once",
                f"aggregate ≥ 1.0× a libtorrent seeder's, slowest leecher ≥ {STARVED}× the "
                "fastest", f"aggregate {aggregate(many_ours):.0f} vs "
                f"{aggregate(many_theirs):.0f} MB/s = {fmt_ratio(many_ratio)}; median leecher "
                f"{per_leecher(many_ours):.0f} vs {per_leecher(many_theirs):.0f} MB/s; slowest "
                f"÷ fastest {worst:.2f}", many_ratio >= 1.0 and worst >= STARVED),
    ]  # fmt: skip
    header = [
        "seeder → one libtorrent leecher",
        "size",
        "MB/s per run",
        "median MB/s",
        "× libtorrent seeder",
        "seeder CPU s/GiB",
        "other programs' CPU (cores)",
    ]
    report.blocks.append(table(header, [
        _one_row("**bitswarm**", one_ours, fmt_ratio(ratio)),
        _one_row("libtorrent", one_theirs, "1.00×"),
    ], "lrrrrrr"))  # fmt: skip
    header = [
        f"seeder → {leechers} libtorrent leechers",
        "size each",
        "aggregate MB/s per run",
        "per-leecher MB/s min / median / max",
        "slowest ÷ fastest per run",
        "seeder CPU s/GiB",
        "other programs' CPU (cores)",
    ]
    report.blocks.append(table(header, [
        _many_row("**bitswarm**", many_ours), _many_row("libtorrent", many_theirs),
    ], "lrrrrrr"))  # fmt: skip
    report.blocks.append(
        f"{bench.runs} runs each. A leecher's rate is payload ÷ seconds from its start to its "
        "verified completion; aggregate = all leechers' bytes ÷ time from the first start to "
        "the last completion. Seeder CPU is counted from the first leecher's start to the "
        f"last completion. The {leechers} leechers fetch {human_size(many_size)} each so "
        "that their copies together stay below the kernel's dirty page-cache threshold and "
        "the disk does not decide the figure."
    )
    if worst < STARVED:
        report.blocks.append(_starved_note(many_ours, many_theirs, leechers))
    if ratio < 1.0:
        profiled = bench.profiled("bitswarm", "libtorrent", size, "seeder")
        if profiled.profile is not None:
            tables, note = stacks_table(profiled.profile)
            report.blocks += [
                f"Profile (P2 not met): one more bitswarm → libtorrent upload of "
                f"{human_size(size)} ({profiled.leecher_mb_per_s()[0]:.0f} MB/s under the "
                f"sampler) with py-spy on the bitswarm seeder. {note}",
                tables,
            ]
    return report
