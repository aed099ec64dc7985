"""A lab run told three ways: a text table, a JSON document, and the progress plot.

The table gives T_all, T_min with its three Kumar–Ross terms, E, and per peer its program,
address, limits, completion time, bytes sent (as copies of the file: a seeder far above 1.0
in a seed-limited swarm sent pieces twice) and CPU time. The JSON holds the same figures
plus every progress sample; the plot (progress_plot.py, matplotlib) draws the samples with
`title_of` above them.
"""

from __future__ import annotations

from typing import Any

from .kumar_ross import DistributionBound
from .rates import format_rate
from .swarm_run import LabResult, PeerOutcome

__all__ = ["format_bytes", "result_json", "result_text", "title_of"]


def format_bytes(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} B"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _terms(bound: DistributionBound) -> str:
    download = f"{bound.download_term:.2f} s" if bound.download_term > 0 else "- (unlimited)"
    return (
        f"F/u_s {bound.seed_term:.2f} s, N*F/(u_s+sum u_i) {bound.swarm_term:.2f} s, "
        f"F/d_min {download}"
    )


def title_of(result: LabResult) -> str:
    plan = result.plan
    e = result.efficiency
    tail = (
        f"T_all {result.t_all:.1f} s, T_min {result.bound.t_min:.1f} s, E {e:.2f}"
        if result.t_all is not None and e is not None
        else f"unfinished, T_min {result.bound.t_min:.1f} s"
    )
    return f"{plan.describe()}, {format_bytes(plan.size)}: {tail}"


def result_text(result: LabResult) -> str:
    plan = result.plan
    seed_up = {format_rate(peer.up_bps) for peer in plan.seeders}
    lines = [
        f"bitswarm lab: {plan.describe()}; {format_bytes(plan.size)} in "
        f"{format_bytes(plan.piece_size)} pieces; tracker {plan.tracker}",
        f"limits: seeders up {', '.join(sorted(seed_up))}; leechers up "
        f"{format_rate(plan.leechers[0].up_bps)}, down {format_rate(plan.leechers[0].down_bps)}",
        f"seeders ready after {result.seeders_ready:.2f} s (verified and listed by the tracker)",
        f"T_all  {_seconds(result.t_all)} s   (the last leecher verified, after the leechers' "
        "start)",
        f"T_min  {result.bound.t_min:.2f} s   ({result.bound.bottleneck.value}; "
        f"{_terms(result.bound)})",
        f"E      {result.efficiency:.3f}" if result.efficiency is not None else "E      -",
        "",
        f"{'peer':<5} {'program':<12} {'address':<12} {'up':>9} {'down':>9} {'done s':>7} "
        f"{'sent MiB':>9} {'copies':>6} {'CPU s':>6}",
    ]
    lines.extend(_peer_row(peer, plan.size) for peer in result.peers)
    if result.failure is not None:
        lines += ["", f"FAILED: {result.failure}"]
    if result.workdir is not None:
        lines.append(f"logs and data kept in {result.workdir}")
    return "\n".join(lines)


def _peer_row(peer: PeerOutcome, size: int) -> str:
    sent = f"{peer.sent_bytes / (1 << 20):.1f}" if peer.sent_bytes is not None else "-"
    copies = f"{peer.sent_bytes / size:.2f}" if peer.sent_bytes is not None else "-"
    cpu = f"{peer.cpu_seconds:.1f}" if peer.cpu_seconds is not None else "-"
    plan = peer.plan
    return (
        f"{plan.name:<5} {plan.impl:<12} {peer.address:<12} {format_rate(plan.up_bps):>9} "
        f"{format_rate(plan.down_bps):>9} {_seconds(peer.completed):>7} {sent:>9} "
        f"{copies:>6} {cpu:>6}"
    )


def result_json(result: LabResult, *, samples: bool = True) -> dict[str, Any]:
    plan = result.plan
    bound = result.bound
    return {
        "swarm": plan.describe(),
        "size": plan.size,
        "piece_size": plan.piece_size,
        "tracker": plan.tracker,
        "t_all": result.t_all,
        "t_min": bound.t_min,
        "terms": {
            "seed_upload": bound.seed_term,
            "swarm_upload": bound.swarm_term,
            "slowest_download": bound.download_term or None,  # None: no download limit
        },
        "bottleneck": bound.bottleneck.value,
        "efficiency": result.efficiency,
        "seeders_ready": result.seeders_ready,
        "failure": result.failure,
        "workdir": str(result.workdir) if result.workdir is not None else None,
        "peers": [
            {
                "name": peer.plan.name,
                "role": peer.plan.role.value,
                "impl": peer.plan.impl,
                "address": peer.address,
                "up_bps": peer.plan.up_bps,
                "down_bps": peer.plan.down_bps,
                "completed": peer.completed,
                "sent_bytes": peer.sent_bytes,
                "cpu_seconds": peer.cpu_seconds,
                **({"samples": [list(point) for point in peer.samples]} if samples else {}),
            }
            for peer in result.peers
        ],
    }
